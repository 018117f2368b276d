"""What one caller of the studio or its API may ask for: bounded work on a shared server.

The library and the CLI take whatever their operator asks; a public studio must not. Each limit
has a public default and an environment variable, `RIFF_MAX_<NAME>` (e.g. `RIFF_MAX_CLIPS=64`).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass

from riff.audio.params import CLIP_WIDTH
from riff.request import Music, Restyle


@dataclass(frozen=True)
class Limits:
    clips: int = 32  # clips of one walk or text-to-audio request
    steps: int = 100  # denoising steps
    prompt_chars: int = 1000  # each prompt and negative prompt
    upload_mb: float = 50.0  # one uploaded file
    audio_s: float = 600.0  # audio read from an upload (a restyle's region included)
    image_pixels: int = 512 * 16384  # an uploaded image, checked before it is decoded
    seed_width: int = 2048  # a seed image's columns once 512 high (20 s)
    work: int = 32 * 100  # clips x steps x (seed width / 512), per request
    body_kb: int = 64  # a REST request's body
    queue: int = 32  # requests waiting for the model
    keep_s: float = 3600.0  # results are deleted this long after they were made, page or not
    endless_s: float = 1800.0  # music one press of an endless riff makes before it stops
    # In the machine's own units (see `riff.serve.budget`): estimated from a calibration, per request.
    request_s: float = 60.0  # wall time: one request under a minute on a 2-core CPU Space
    request_mb: float = 4000.0  # peak working memory above what the server holds at rest
    # Per client (an address): so that one caller cannot fill the queue.
    client_queue: int = 4  # its requests running or waiting at once
    client_endless: int = 1  # its endless riffs playing at once
    # Disk: what results keep (oldest finished results deleted first) and what one upload sends.
    session_mb: float = 500.0  # one session's results
    disk_mb: float = 4000.0  # the whole server's results
    upload_request_mb: float = 60.0  # one upload request, all its files together (a song and a seed)
    upload_files: int = 8  # files in one upload request
    client_upload_mb: float = 500.0  # what one client uploads within an hour
    cache_mb: float = 2000.0  # Gradio's cache of uploads and served files (oldest files go first)
    up_next: int = 1024  # prompts queued for endless riffs, one per session (oldest forgotten)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Limits:
        """The defaults, with any `RIFF_MAX_<NAME>` variable in `environ` taking precedence.

        Raises:
            ValueError: a variable that is not a positive number.
        """
        values = {}
        for field in dataclasses.fields(cls):
            key = f"RIFF_MAX_{field.name.upper()}"
            if key in environ:
                kind = int if field.type in ("int", int) else float
                try:
                    values[field.name] = kind(environ[key])
                except ValueError:
                    raise ValueError(f"{key} must be a number, got {environ[key]!r}") from None
                if values[field.name] <= 0:
                    raise ValueError(f"{key} must be positive, got {environ[key]!r}")
        return cls(**values)

    @classmethod
    def none(cls) -> Limits:
        """No limit at all: the CLI's, whose operator owns the machine."""
        return cls(**{field.name: math.inf for field in dataclasses.fields(cls)})

    def check(self, music: Music, steps: int, seed_width: int = CLIP_WIDTH) -> None:
        """Refuse, in one line and before any work, a request beyond these limits.

        Args:
            steps: the denoising steps it will run (the settings' or the model's).
            seed_width: columns of the seed image (a restyle's segments are clip-wide).
        """
        for end in music.prompt_ends():
            for text in (end.prompt, end.negative_prompt):
                if len(text) > self.prompt_chars:
                    raise ValueError(
                        f"a prompt of {len(text)} characters is too long: at most {self.prompt_chars}"
                    )
        if steps > self.steps:
            raise ValueError(f"{steps} inference steps are too many here: at most {self.steps}")
        clips = music.clip_count()
        if isinstance(music, Restyle):
            # Its segments are bounded by the audio and the work limits, not by `clips`.
            if music.duration_s > self.audio_s:
                raise ValueError(
                    f"a region of {music.duration_s:g} s is too long here: at most {self.audio_s:g} s"
                )
        elif clips > self.clips:
            raise ValueError(f"{clips} clips are too many here: at most {self.clips}")
        if seed_width > self.seed_width:
            raise ValueError(
                f"a seed image {seed_width} columns wide is too wide here: at most {self.seed_width}"
            )
        work = clips * steps * seed_width / CLIP_WIDTH
        if work > self.work:
            raise ValueError(
                f"{clips} clips x {steps} steps of a {seed_width}-column seed is too much work for one "
                f"request here: make it at most {self.work} clip-steps of 512 columns"
            )

    def check_image(self, width: int, height: int) -> None:
        """Refuse an uploaded image by its header, before it is decoded (decompression bombs)."""
        if width * height > self.image_pixels:
            raise ValueError(
                f"an image of {width} x {height} pixels is too large here: at most {self.image_pixels}"
            )

    def check_audio(self, seconds: float) -> None:
        """Refuse uploaded audio by its header, before it is read."""
        if seconds > self.audio_s:
            raise ValueError(f"{seconds:.0f} s of audio is too long here: at most {self.audio_s:g} s")
