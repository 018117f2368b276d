"""The studio's engine: one lazily loaded model, one queue of turns on it, and the work behind
every tab and endpoint, stopped within a UNet step when its caller cancels or leaves. What it
makes goes into per-session folders (`riff.serve.sessions`) as files (`riff.serve.results`);
the UI and the REST route only unpack inputs and call these."""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from riff.audio.files import READABLE, audio_seconds, load_audio, save_audio
from riff.audio.params import CLIP_WIDTH
from riff.beats import check_seed
from riff.endless import Endless
from riff.grid import clip_columns
from riff.models import (
    Model,
    display_name,
    load_model,
    model_name,
    pick_device,
    recommended_steps,
    shared_name,
)
from riff.render import render, render_restyle, render_walk
from riff.request import Chain, Loop, Music, PromptEnd, Restyle, Settings, Variations, Walk
from riff.seed_images import image_size, mask_tensor, seed_image
from riff.serve import budget, results
from riff.serve.chunks import Chunk, Chunker
from riff.serve.codec import Codec
from riff.serve.limits import Limits
from riff.serve.loras import LoraFolder
from riff.serve.results import Result
from riff.serve.sessions import EXAMPLES, Gone, Sessions, Stopped
from riff.serve.workqueue import Busy, WorkQueue
from riff.teach import Journey, journey
from riff.walk import Clip, Progress

# What the page and the REST route use besides the engine, importable from here as before.
__all__ = ["EXAMPLES", "Busy", "Chunk", "Engine", "Gone", "Result", "Stopped", "WorkQueue"]

log = logging.getLogger(__name__)


class LazyModel:
    """A model, loaded on first use; once it has failed to load, the same one line each time."""

    def __init__(
        self, model: str | Model | None = None, device: str | None = None, compile: bool | str | None = None
    ) -> None:
        self._model = model if isinstance(model, Model) else None
        self.name = model.name if isinstance(model, Model) else model_name(model)
        self._device, self._compile = device, compile
        self._error: str | None = None
        self._lock = threading.Lock()

    def get(self) -> Model:
        """The loaded model.

        Raises:
            ValueError: one line saying why it cannot be loaded and how to fix it.
        """
        with self._lock:
            if self._model is None:
                if self._error is not None:
                    raise ValueError(self._error)
                try:
                    self._model = load_model(self.name, self._device, compile=self._compile)
                except ValueError as error:
                    self._error = str(error)
                    raise
            return self._model

    def status(self) -> str:
        """Which model, on which device and dtype, or why it is not available."""
        if self._model is not None:
            return f"Model: {self._model.describe()}"
        if self._error is not None:
            return f"Model not available: {self._error}"
        device = pick_device(self._device).type
        return f"Model: {display_name(self.name)} (loads on first use, on {device})"

    @functools.cached_property
    def default_steps(self) -> int:
        """Denoising steps the model recommends (see `recommended_steps`), read once."""
        return recommended_steps(self.name)

    def device(self) -> torch.device:
        """The loaded model's device, or the one it would load on (asking loads nothing)."""
        return self._model.device if self._model is not None else pick_device(self._device)


class Engine:
    """Loads the model on first use and renders requests into session folders, one at a time."""

    def __init__(
        self,
        model: str | Model | None = None,
        device: str | None = None,
        root: str | Path | None = None,
        limits: Limits | None = None,
        calibration: budget.Calibration | None = None,
        lora_dir: str | Path | None = None,
        compile: bool | str | None = None,
    ) -> None:
        self._model = LazyModel(model, device, compile)  # compile: as `riff.models.load_model`
        self.loras = LoraFolder(lora_dir)  # the adapters requests may name
        limits = limits or Limits.from_env()
        self.sessions = Sessions(root, limits)
        self.up_next = self.sessions.up_next  # what each session's endless riff moves to next
        self.queue = WorkQueue(limits.queue, limits.client_queue, limits.client_endless)
        self.calibration = calibration  # measured on first use where not given
        sessions = self.sessions
        self.codec = codec = Codec(sessions, self._model.device)
        # The sessions' and the codec tools' methods the page and REST call, as the engine's own.
        self.session_folder, self.trim, self.sweep = sessions.folder, sessions.trim, sessions.sweep
        self.close, self.forget_session, self.identify = sessions.close, sessions.forget, sessions.identify
        self.client, self.own_file, self.cancel = sessions.client, sessions.own_file, sessions.cancel
        self.audio_to_image, self.image_to_audio, self.export = (
            codec.audio_to_image,
            codec.image_to_audio,
            codec.export,
        )

    @property
    def limits(self) -> Limits:
        """What one caller may ask for (`riff.serve.limits`); set anew, it bounds the sessions too."""
        return self.sessions.limits

    @limits.setter
    def limits(self, limits: Limits) -> None:
        self.sessions.limits = limits

    @property
    def model(self) -> Model:
        """The loaded model; loads it on first use (`LazyModel.get`)."""
        return self._model.get()

    def status(self) -> str:
        """Which model, on which device and dtype, or why it is not available."""
        return self._model.status()

    @property
    def default_steps(self) -> int:
        """Denoising steps the model recommends (see `recommended_steps`), read once."""
        return self._model.default_steps

    @property
    def root(self) -> Path:
        """Where session folders go: a fresh temporary folder, made on first use."""
        return self.sessions.root

    # Each request checked, admitted, afforded, then its clips in turns on the model.
    def _checked(self, music: Music, settings: Settings, width: int = CLIP_WIDTH) -> tuple[int, Settings]:
        """The request's denoising steps, once it is checked against the limits, and its
        settings with the LoRAs it names resolved to this server's folders."""
        steps = settings.steps(self.default_steps)
        self.limits.check(music, steps, width)
        return steps, self.loras.resolve(settings)

    def afford(self, music: Music, steps: int, width: int = CLIP_WIDTH, batch: int = 1) -> None:
        """Refuse, before it starts and in one line saying what would fit (ValueError), a request
        this machine cannot do within the time and memory budget, by its calibrated cost."""
        limits = self.limits
        if limits.request_s == float("inf") and limits.request_mb == float("inf"):
            return
        encodes = isinstance(music, Restyle)  # a restyle encodes each segment's image too
        at_most = (limits.request_s, limits.request_mb)
        budget.check(self.measured(), music.clip_count(), steps, width, *at_most, batch, encodes)

    def measured(self) -> budget.Calibration:
        """This machine's calibration: given, or measured once on the model's device (a turn on
        the model, a quarter-width clip at 2 and 4 steps)."""
        if self.calibration is None:
            model = self.model
            with self.queue.turn():
                if self.calibration is None:
                    self.calibration = budget.calibrate(model)
                    log.info("calibrated: %s", self.calibration)
        return self.calibration

    def _turns(self, clips: Iterator[Clip], session: str | None) -> Iterator[Clip]:
        """`clips`, each in its own turn on the model, stopped between clips too."""
        return self.queue.each_in_turn(clips, lambda: self.sessions.check(session))

    def clips(
        self,
        music: Walk | Variations,
        settings: Settings,
        session: str | None = None,
        progress: Progress | None = None,
        client: str | None = None,
    ) -> Iterator[Clip]:
        """The one service path of the studio and the API: the request checked against the
        limits, and its seed image and mask read, now, before the model loads; then its clips,
        rendered in order in its turn on the model, as they are iterated. `client` names the
        caller for its caps where no session does (REST)."""
        width = clip_width(music.seed_image, settings, music.width, self.limits)
        steps, settings = self._checked(music, settings, width)
        seed_image(music.seed_image)
        if music.mask is not None:
            mask_tensor(music.mask, (8, 8))

        def rendered() -> Iterator[Clip]:
            with self.queue.admit(client or self.client(session)):
                self.afford(music, steps, width, settings.batch_size)  # admitted, before any work
                watch = self.sessions.watch(session, progress)
                yield from self._turns(render(self.model, music, settings, watch), session)

        return rendered()

    def render(
        self,
        music: Walk | Variations | Chain | Loop,
        settings: Settings,
        session: str | None = None,
        progress: Progress | None = None,
    ) -> Iterator[Result]:
        """Render music into a session folder, yielding the growing result after every clip
        (the track so far plays while the rest renders), then the finished one."""
        yield from self._write(self.clips(music, settings, session, progress), music, settings, session)

    def _write(
        self, clips: Iterator[Clip], music: Music, settings: Settings, session: str | None
    ) -> Iterator[Result]:
        """`results.write` into a fresh folder of the session."""
        try:
            with self.sessions.writing(session) as folder:
                yield from results.write(folder, clips, music, settings, shared_name(self._model.name))
        finally:
            getattr(clips, "close", lambda: None)()  # its turn and admission go back now, not at GC

    def endless(
        self,
        endless: Endless,
        settings: Settings,
        up_next: Callable[[], str | None] = lambda: None,
        session: str | None = None,
        progress: Progress | None = None,
    ) -> Iterator[Chunk]:
        """Music without end, chunk by chunk, until the consumer stops, the page leaves, or
        `limits.endless_s` of music is made. Each hop takes its own turn on the model, so other
        renders interleave; `up_next` is asked for the next prompt before each hop."""
        seed_image(endless.seed_image)  # a bad seed fails now, before the model loads
        watch = self.sessions.watch(session, progress)  # once: a page gone between hops stays gone
        with self.queue.admit(self.client(session), endless=True):
            start, after, chunker, began = endless.end, None, Chunker(endless.crossfade_ms), time.monotonic()
            while True:
                walk = endless.hop(start, up_next())
                width = walk.width or seed_width(walk.seed_image, self.limits)
                steps, resolved = self._checked(walk, settings, width)
                self.afford(walk, steps, width, settings.batch_size)
                clips = render_walk(self.model, walk, resolved, watch, after=after)
                for clip in self._turns(clips, session):
                    after = clip  # the next hop starts from the last clip of this one
                    audio = chunker(clip)
                    yield Chunk(audio, clip, walk, chunker.music_s, time.monotonic() - began)
                    if chunker.music_s >= self.limits.endless_s:
                        return
                start = walk.end

    def teach(
        self,
        end: PromptEnd,
        settings: Settings,
        seed_image_name: str,
        session: str | None = None,
        progress: Progress | None = None,
    ) -> tuple[Journey, Path]:
        """One clip's journey for the teaching view (`riff.teach.journey`), in its turn on the
        model; returns it and its audio as a WAV in the session's folder."""
        music = Variations(end, (end.seed,), seed_image=seed_image_name)
        width = clip_width(seed_image_name, settings, None, self.limits)
        steps, settings = self._checked(music, settings, width)
        watch = self.sessions.watch(session, progress)
        with self.queue.admit(self.client(session)):
            self.afford(music, steps, width)
            with self.queue.turn():
                on_step = lambda i, n: watch(i / n, 1, i, n)  # noqa: E731
                shown = journey(self.model, end, settings, seed_image_name, on_step=on_step)
        wav = save_audio(self.session_folder(session) / "journey.wav", shown.audio, shown.sample_rate)
        return shown, wav

    def restyle(
        self,
        audio: str | Path,
        restyle: Restyle,
        settings: Settings,
        session: str | None = None,
        progress: Progress | None = None,
    ) -> Iterator[Result]:
        """Audio to audio: restyle a region of a song segment by segment."""
        steps, resolved = self._checked(restyle, settings)
        self.limits.check_audio(audio_seconds(audio))
        end = restyle.start_s + restyle.duration_s
        with self.queue.admit(self.client(session)):
            self.afford(restyle, steps, CLIP_WIDTH, settings.batch_size)
            channels = 2 if restyle.stereo else 1
            song = load_audio(audio, self.model.params.sample_rate, channels, max_seconds=end)
            clips = render_restyle(
                self.model, song, restyle, resolved, self.sessions.watch(session, progress)
            )
            yield from self._write(self._turns(clips, session), restyle, settings, session)

    def clip(self, walk: Walk, settings: Settings, client: str | None = None) -> Clip:
        """The first clip of a walk, rendered in its turn (the REST route's one-clip requests),
        within `client`'s caps."""
        with contextlib.closing(self.clips(walk, settings, client=client)) as clips:
            return next(clips)


def clip_width(seed_image: str, settings: Settings, width: int | None, limits: Limits) -> int:
    """Columns a clip of the request is: as asked, else with a tempo its bars' (the seed then a
    pattern on the grid), else the seed image's; a seed that cannot go on the grid fails here."""
    grid = settings.grid()
    check_seed(seed_image, grid, width)
    return width or (clip_columns(grid) if grid else seed_width(seed_image, limits))


def seed_width(name: str, limits: Limits) -> int:
    """Columns of a seed image once 512 high, from an image's header (a bomb is refused before
    it is decoded); audio seeds are one clip wide."""
    path = Path(name)
    if not path.is_file() or path.suffix.lower() in READABLE:
        return CLIP_WIDTH
    width, height = image_size(path)
    limits.check_image(width, height)
    return max(8, round(width * CLIP_WIDTH / max(height, 1)))
