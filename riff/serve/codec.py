"""The studio's codec tools, no diffusion involved: audio to a spectrogram image and back, and a
finished track in another format, each written into the caller's session folder and bounded by
the server's limits before any work."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import soundfile as sf
import torch

from riff.audio.decode import Spectrogram, decode, image_from_waveform, metadata
from riff.audio.files import WRITABLE, audio_seconds, load_audio, save_audio
from riff.audio.image import save_image
from riff.audio.params import SpectrogramParams
from riff.audio.tags import file_name
from riff.grid import Grid
from riff.seed_images import image_size, open_image
from riff.serve.results import tag_track
from riff.serve.sessions import Sessions
from riff.serve.trust import session_dir


class Codec:
    """Conversions for the sessions of `sessions`; `device` says where phase retrieval runs."""

    def __init__(self, sessions: Sessions, device: Callable[[], torch.device]) -> None:
        self.sessions = sessions
        self.device = device

    def audio_to_image(
        self, audio: str | Path, stereo: bool = False, session: str | None = None
    ) -> tuple[Path, dict]:
        """Encode a file's audio as a spectrogram PNG; returns the path and its metadata."""
        params = SpectrogramParams(stereo=stereo)
        self.sessions.limits.check_audio(audio_seconds(audio))
        waveform = load_audio(audio, params.sample_rate, params.channels)
        image = image_from_waveform(waveform, params)
        path = save_image(image, self.sessions.folder(session) / (Path(audio).stem + ".png"))
        return path, metadata(image)

    def image_to_audio(
        self, image_path: str | Path, seed: int = 0, session: str | None = None
    ) -> tuple[Path, dict]:
        """Decode a spectrogram image (its metadata honoured) to a WAV; returns it and the
        metadata, with "note" saying what was done to the stored level, if anything."""
        limits = self.sessions.limits
        limits.check_image(*image_size(Path(image_path)))
        image = open_image(Path(image_path))
        spectrogram = Spectrogram.from_image(image)
        # What it decodes to, bounded like audio read: a 1 s hop makes each column a second.
        limits.check_audio(spectrogram.params.num_samples(image.width) / spectrogram.params.sample_rate)
        [(_, clip)] = decode([spectrogram], seed=seed, device=self.device())
        path = save_audio(
            self.sessions.folder(session) / (Path(image_path).stem + ".wav"),
            clip.waveform,
            clip.params.sample_rate,
        )
        return path, {**metadata(image), "note": clip.note}

    def export(
        self,
        track: str | Path,
        name: str,
        suffix: str,
        session: str | None,
        grid: Grid | None = None,
        loop: bool = False,
    ) -> Path:
        """The session's finished track as `<name><suffix>` (.wav, .flac, .mp3, .ogg), beside it;
        with a `grid`, as `<name>_<bpm>bpm_<key><suffix>`, tagged with its tempo and key (and a
        loop's WAV as a loop: `results.tag_track`)."""
        if suffix not in WRITABLE:
            raise ValueError(f"cannot write {suffix!r}: choose one of {', '.join(WRITABLE)}")
        source = self.sessions.own_file(track, session)
        safe = "-".join(re.findall(r"[A-Za-z0-9]+", name))[:80] or "riff"
        data, rate = sf.read(str(source), dtype="float32", always_2d=True)
        mine = session_dir(self.sessions.root, session).resolve() in source.parents
        folder = source.parent if mine else self.sessions.folder(session)  # examples stay as they are
        kept = f"{safe}{suffix}" if grid is None else file_name(safe, grid, suffix)
        path = save_audio(folder / kept, torch.from_numpy(data.T.copy()), rate)
        return path if grid is None else tag_track(path, grid, loop)
