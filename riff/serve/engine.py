"""The studio's engine: one lazily loaded model and the work behind every tab and endpoint,
writing its results as files into a per-session folder. The UI and the REST route only unpack
inputs and call these."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import soundfile as sf
import torch
from PIL import Image

from riff.audio.decode import Spectrogram, decode, image_from_waveform, metadata
from riff.audio.files import READABLE, WRITABLE, audio_seconds, load_audio, save_audio
from riff.audio.image import save_image
from riff.audio.loudness import normalize_loudness
from riff.audio.params import CLIP_WIDTH, SpectrogramParams
from riff.beats import check_seed
from riff.endless import Endless, Listener, StreamLevel, TrackStream
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
from riff.preview import spectrogram_picture
from riff.render import Clip, Progress, continued_columns, render, render_restyle, render_walk, stitch
from riff.request import Chain, Loop, Music, PromptEnd, Restyle, Seeds, Settings, Walk, to_dict
from riff.seeds import image_size, mask_tensor, open_image, seed_image
from riff.serve import budget
from riff.serve.limits import Limits
from riff.serve.trust import session_dir
from riff.serve.upnext import UpNext
from riff.serve.workqueue import Busy, WorkQueue  # noqa: F401 (Busy: part of the engine's API)
from riff.teach import Journey, journey

log = logging.getLogger(__name__)
# The session the page's examples render under: rendered once, shared by every visitor, who may
# play and keep their files (`Engine.own_file`) but not change them.
EXAMPLES = "examples"


@dataclass
class Result:
    """What a render has produced so far; `done` once the last clip is in."""

    folder: Path
    track: Path | None = None
    clips: list[Path] = field(default_factory=list)  # one WAV per clip
    images: list[tuple[Path, str]] = field(default_factory=list)  # PNG and caption per clip
    picture: Path | None = None  # the whole track's spectrogram with axes
    settings: Path | None = None  # the request as JSON
    archive: Path | None = None  # every PNG (with metadata) in one zip
    done: bool = False
    name: str = "track"  # for files a listener keeps: from the prompts (`track_name`)

    def named_track(self) -> Path | None:
        """The finished track under its name ("solo-piano-to-rock-drums.wav"), so that the
        player's own download is named after the prompts too; None until it is done."""
        if not self.done or self.track is None:
            return None
        named = self.folder / "named" / f"{self.name}{self.track.suffix}"
        if not named.exists():
            named.parent.mkdir(exist_ok=True)
            try:
                os.link(self.track, named)
            except OSError:
                shutil.copyfile(self.track, named)
        return named


def track_name(music: Music) -> str:
    """A file name for a render, from its prompts: "solo-piano-to-rock-drums"."""
    ends = music.prompt_ends()
    words = [ends[0].prompt] if len({e.prompt for e in ends}) == 1 else [ends[0].prompt, ends[-1].prompt]
    slug = "-to-".join("-".join(re.findall(r"[a-z0-9]+", w.lower())[:5]) for w in words)
    suffix = {Loop: "-loop", Restyle: "-restyle"}.get(type(music), "")
    return (slug[:80].strip("-") or "riff") + suffix


def caption(music: Music, clip: Clip) -> str:
    """What a clip is, under its spectrogram."""
    if isinstance(music, Seeds):
        return f"seed {music.seeds[clip.index]}"
    if isinstance(music, Chain):
        hop, alpha = music.stops()[clip.index]
        return f"clip {clip.index + 1} · hop {hop + 1} · alpha {alpha:.2f}"
    if isinstance(music, Loop):
        return f"clip {clip.index + 1} of {music.clips}"
    return f"clip {clip.index + 1} · alpha {clip.alpha:.2f}"


@dataclass
class Chunk:
    """The next piece of an endless riff."""

    audio: torch.Tensor  # (channels, samples) the stream's next samples, at its steady level
    clip: Clip  # the clip they come from
    walk: Walk  # the hop it belongs to
    music_s: float  # seconds of music streamed so far
    wall_s: float  # seconds spent making it

    def status(self, listener: Listener) -> str:
        """What plays, what its listener has heard and has buffered, and whether the riff keeps
        up with them."""
        walk = self.walk
        change = f" → {walk.end.prompt!r}" if walk.end.prompt != walk.start.prompt else ""
        return (
            f"Playing {walk.start.prompt!r}{change} · seed {walk.start.seed} → {walk.end.seed} · "
            f"{self.music_s:.0f} s of music made · {listener.status()}"
        )


class Gone(RuntimeError):
    """The page that asked for a render has closed."""


class Stopped(RuntimeError):
    """The listener stopped the render (Cancel, Stop)."""


class Engine:
    """Loads the model on first use and renders requests into session folders, one at a time."""

    def __init__(
        self,
        model: str | Model | None = None,
        device: str | None = None,
        root: str | Path | None = None,
        limits: Limits | None = None,
        calibration: budget.Calibration | None = None,
    ) -> None:
        self._model = model if isinstance(model, Model) else None
        self._name = model.name if isinstance(model, Model) else model_name(model)
        self._device = device
        self._error: str | None = None
        self._lock = threading.Lock()
        self._root = Path(root) if root is not None else None
        self.limits = limits or Limits.from_env()
        self.queue = WorkQueue(self.limits.queue, self.limits.client_queue, self.limits.client_endless)
        self.calibration = calibration  # measured on first use where not given
        self._clients: dict[str, str] = {}  # session -> client (an address), newest last
        # What each session's endless riff moves to next (`Studio.queue_next`).
        self.up_next = UpNext(self.limits.prompt_chars, self.limits.up_next, self.limits.endless_s)
        self._swept = 0.0
        self._gone: set[str] = set()  # sessions whose page has closed
        self._stopped: set[str] = set()  # sessions whose listener pressed Cancel or Stop
        self._active: set[Path] = set()  # result folders a render is writing

    @property
    def model(self) -> Model:
        """The loaded model; loads it on first use.

        Raises:
            ValueError: one line saying why it cannot be loaded and how to fix it.
        """
        with self._lock:
            if self._model is None:
                if self._error is not None:
                    raise ValueError(self._error)
                try:
                    self._model = load_model(self._name, self._device)
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
        return f"Model: {display_name(self._name)} (loads on first use, on {device})"

    @property
    def root(self) -> Path:
        """Where session folders go: a fresh temporary folder, made on first use (a CLI render
        writes none)."""
        if self._root is None:
            self._root = Path(tempfile.mkdtemp(prefix="riff-studio-"))
        return self._root

    @functools.cached_property
    def default_steps(self) -> int:
        """Denoising steps the model recommends (see `recommended_steps`), read once."""
        return recommended_steps(self._name)

    def session_folder(self, session: str | None) -> Path:
        """A fresh folder for one render of one session.

        Raises:
            ValueError: a malformed session id (see `trust.session_dir`).
        """
        base = session_dir(self.root, session)
        self.sweep()
        base.mkdir(parents=True, exist_ok=True)
        self.trim(base)
        return Path(tempfile.mkdtemp(dir=base))

    def trim(self, session: Path) -> None:
        """Delete the oldest finished results, the session's own first, until the session keeps
        at most `limits.session_mb` and the server `limits.disk_mb` (a render under way keeps
        its folder)."""
        results = []
        for folder in self.root.glob("*/*"):
            try:
                size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
                results.append((folder.stat().st_mtime, folder, size))
            except OSError:
                continue  # removed meanwhile
        results.sort()
        mine = sum(size for _, folder, size in results if folder.parent == session)
        total = sum(size for _, _, size in results)
        for _, folder, size in results:
            over_mine = folder.parent == session and mine > self.limits.session_mb * 1e6
            if not (over_mine or total > self.limits.disk_mb * 1e6) or folder in self._active:
                continue
            shutil.rmtree(folder, ignore_errors=True)
            total -= size
            mine -= size if folder.parent == session else 0

    def sweep(self, now: float | None = None) -> None:
        """Delete results older than `limits.keep_s` (callers that never open a page never
        close one either), at most once a minute."""
        now = time.time() if now is None else now
        if now - self._swept < 60:
            return
        self._swept = now
        for done in self.root.glob("*/*"):
            try:
                if now - done.stat().st_mtime > self.limits.keep_s:
                    shutil.rmtree(done, ignore_errors=True)
                    if not any(done.parent.iterdir()):
                        done.parent.rmdir()
            except OSError:
                continue  # another request removed it first

    def close(self) -> None:
        """Delete every result (the server is shutting down)."""
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)

    def forget_session(self, session: str | None) -> None:
        """Delete everything a session rendered; a malformed session id deletes nothing."""
        try:
            folder = session_dir(self.root, session)
        except ValueError:
            log.warning("not forgetting a malformed session id %r", str(session)[:40])
            return
        if session is not None:
            with self._lock:
                self._gone.add(session)  # its render, if one runs, stops at its next step
                self._clients.pop(session, None)
        self.up_next.forget(session)
        shutil.rmtree(folder, ignore_errors=True)

    def cancel(self, session: str | None) -> None:
        """Stop the session's render at its next UNet step; the next render runs as usual."""
        if session is not None:
            with self._lock:
                self._stopped.add(session)

    def identify(self, session: str | None, client: str | None) -> None:
        """Remember which client (an address) a session's requests come from, for its caps."""
        if session is None or client is None:
            return
        with self._lock:
            self._clients.pop(session, None)
            self._clients[session] = client
            while len(self._clients) > 4096:  # sessions that never said goodbye
                del self._clients[next(iter(self._clients))]

    def client(self, session: str | None) -> str | None:
        """The client a session's requests come from; a session stands for itself otherwise."""
        return self._clients.get(session, session) if session is not None else None

    def afford(self, music: Music, steps: int, width: int = CLIP_WIDTH) -> None:
        """Refuse, before it starts, a request this machine cannot do within the time and memory
        budget (`limits.request_s`, `limits.request_mb`), by its calibrated cost.

        Raises:
            ValueError: one line, with the most clips that would fit.
        """
        if self.limits.request_s == float("inf") and self.limits.request_mb == float("inf"):
            return
        budget.check(
            self.measured(), music.clip_count(), steps, width, self.limits.request_s, self.limits.request_mb
        )

    def measured(self) -> budget.Calibration:
        """This machine's calibration: given, or measured once on the model's device (a turn on
        the model, a quarter-width clip at 2 and 4 steps)."""
        if self.calibration is None:
            model = self.model
            # A quarter-width clip keeps the measurement short; costs scale with the columns.
            music = Seeds(PromptEnd("calibration", denoising=1.0), (0,), width=CLIP_WIDTH // 4)

            def one_clip(steps: int) -> None:
                list(render(model, music, Settings(num_inference_steps=steps, batch_size=1)))

            with self.queue.turn():
                if self.calibration is None:
                    self.calibration = budget.measure(one_clip, model.device.type, scale=4)
                    log.info("calibrated: %s", self.calibration)
        return self.calibration

    def _check(self, session: str | None) -> None:
        """Raise if the session's page has gone or its listener stopped the render."""
        if session is not None and session in self._gone:
            raise Gone(f"session {session[:12]} left: render stopped")
        if session is not None and session in self._stopped:
            raise Stopped(f"session {session[:12]} cancelled: render stopped")

    def _watch(self, session: str | None, progress: Progress | None) -> Progress:
        """A progress callback that also stops the render (within one UNet step) once the
        session's page has gone (nobody is left to hear it) or its listener cancelled."""
        if session is not None:
            with self._lock:
                self._gone.discard(session)  # a new render from a page that came back
                self._stopped.discard(session)

        def report(done: float, clips: int, step: int, steps: int) -> None:
            self._check(session)
            if progress is not None:
                progress(done, clips, step, steps)

        return report

    def clips(
        self,
        music: Walk | Seeds,
        settings: Settings,
        session: str | None = None,
        progress: Progress | None = None,
        client: str | None = None,
    ) -> Iterator[Clip]:
        """The one service path of the CLI, the studio and the API: the request checked against
        the limits, and its seed image and mask read, now, before the model loads; then its
        clips, rendered in order in its turn on the model, as they are iterated. `client` names
        the caller for its caps where no session does (REST)."""
        grid = settings.grid()  # with a tempo, the seed is a pattern and its bars set the width
        check_seed(music.seed_image, grid, music.width)
        width = music.width or (clip_columns(grid) if grid else self._seed_width(music.seed_image))
        self.limits.check(music, settings.steps(self.default_steps), width)
        seed_image(music.seed_image)
        if music.mask is not None:
            mask_tensor(music.mask, (8, 8))
        return self._render(music, settings, session, progress, width, client)

    def _render(
        self,
        music: Walk | Seeds | Chain | Loop,
        settings: Settings,
        session: str | None,
        progress: Progress | None,
        width: int,
        client: str | None = None,
    ) -> Iterator[Clip]:
        with self.queue.admit(client or self.client(session)):
            self.afford(music, settings.steps(self.default_steps), width)  # admitted, before any work
            yield from self._turns(
                render(self.model, music, settings, self._watch(session, progress)), session
            )

    def _turns(self, clips: Iterator[Clip], session: str | None) -> Iterator[Clip]:
        """`clips`, each made in its own turn on the model: whoever asked for a turn meanwhile
        goes first, and nothing holds the model while a clip is written or sent."""
        with contextlib.closing(clips):
            while True:
                with self.queue.turn():
                    clip = next(clips, None)
                if clip is None:
                    return
                self._check(session)  # also between clips, not only at UNet steps
                yield clip

    def render(
        self,
        music: Walk | Seeds | Chain | Loop,
        settings: Settings,
        session: str | None = None,
        progress: Progress | None = None,
    ) -> Iterator[Result]:
        """Render music into a session folder, yielding the growing result after every clip
        (the track so far plays while the rest renders), then the finished one."""
        yield from self._collect(self.clips(music, settings, session, progress), music, settings, session)

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
        watch = self._watch(session, progress)  # once: a page gone between hops stays gone
        with self.queue.admit(self.client(session), endless=True):
            yield from self._hops(endless, settings, up_next, session, watch)

    def _hops(
        self,
        endless: Endless,
        settings: Settings,
        up_next: Callable[[], str | None],
        session: str | None,
        watch: Progress,
    ) -> Iterator[Chunk]:
        start, after = endless.end, None
        stream: TrackStream | None = None
        level: StreamLevel | None = None
        began, made = time.monotonic(), 0.0
        while True:
            walk = endless.hop(start, up_next())
            width = walk.width or self._seed_width(walk.seed_image)
            self.limits.check(walk, settings.steps(self.default_steps), width)
            self.afford(walk, settings.steps(self.default_steps), width)
            for clip in self._turns(render_walk(self.model, walk, settings, watch, after=after), session):
                params = clip.params
                if stream is None or level is None:
                    stream = TrackStream(int(endless.crossfade_ms / 1000 * params.sample_rate))
                    level = StreamLevel(params.sample_rate)
                kept = params.num_samples(clip.kept) if clip.kept else 0
                following = continued_columns(clip.pixels.shape[-1] // self.model.vae_scale)
                next_kept = params.num_samples(following * self.model.vae_scale)
                audio = level(stream.push(clip.waveform, kept, next_kept))
                made += audio.shape[-1] / params.sample_rate
                after = clip
                yield Chunk(audio, clip, walk, made, time.monotonic() - began)
                if made >= self.limits.endless_s:
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
        music = Seeds(end, (end.seed,), seed_image=seed_image_name)
        width = self._seed_width(seed_image_name)
        self.limits.check(music, settings.steps(self.default_steps), width)
        watch = self._watch(session, progress)
        with self.queue.admit(self.client(session)):
            self.afford(music, settings.steps(self.default_steps), width)
            with self.queue.turn():
                shown = journey(
                    self.model, end, settings, seed_image_name, on_step=lambda i, n: watch(i / n, 1, i, n)
                )
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
        self.limits.check(restyle, settings.steps(self.default_steps))
        self.limits.check_audio(audio_seconds(audio))
        end = restyle.start_s + restyle.duration_s
        with self.queue.admit(self.client(session)):
            self.afford(restyle, settings.steps(self.default_steps))
            song = load_audio(
                audio, self.model.params.sample_rate, 2 if restyle.stereo else 1, max_seconds=end
            )
            clips = render_restyle(self.model, song, restyle, settings, self._watch(session, progress))
            yield from self._collect(self._turns(clips, session), restyle, settings, session)

    def clip(self, walk: Walk, settings: Settings, client: str | None = None) -> Clip:
        """The first clip of a walk, rendered in its turn (the REST route's one-clip requests),
        within `client`'s caps."""
        with contextlib.closing(self.clips(walk, settings, client=client)) as clips:
            return next(clips)

    def _seed_width(self, name: str) -> int:
        """Columns of a seed image once 512 high, from an image's header (a bomb is refused
        before it is decoded); audio seeds are one clip wide."""
        path = Path(name)
        if not path.is_file() or path.suffix.lower() in READABLE:
            return CLIP_WIDTH
        width, height = image_size(path)
        self.limits.check_image(width, height)
        return max(8, round(width * CLIP_WIDTH / max(height, 1)))

    def _collect(
        self, clips: Iterator[Clip], music: Music, settings: Settings, session: str | None
    ) -> Iterator[Result]:
        result = Result(self.session_folder(session), name=track_name(music))
        self._active.add(result.folder)
        try:
            yield from self._fill(result, clips, music, settings)
        except Stopped:
            raise  # what was made stays: the page still shows and plays it
        except Exception:
            shutil.rmtree(result.folder, ignore_errors=True)  # a failed render leaves nothing
            raise
        finally:
            self._active.discard(result.folder)
            getattr(clips, "close", lambda: None)()  # its turn and admission go back now, not at GC

    def _fill(
        self,
        result: Result,
        clips: Iterator[Clip],
        music: Music,
        settings: Settings,
    ) -> Iterator[Result]:
        done: list[Clip] = []
        images: list[Image.Image] = []
        for clip in clips:
            done.append(clip)
            label = caption(music, clip)
            image = clip.image()
            images.append(image)
            png = result.folder / f"clip_{clip.index:03d}.png"
            save_image(image, png)
            wav = save_audio(
                result.folder / f"clip_{clip.index:03d}.wav",
                normalize_loudness(clip.waveform, clip.params.sample_rate),
                clip.params.sample_rate,
            )
            result.images.append((png, label))
            result.clips.append(wav)
            if len(done) & (len(done) - 1) == 0:
                self._track(result, done, music)
            yield result
        if result.track is None or not result.track.stem.endswith(f"_{len(done):03d}"):
            self._track(result, done, music)
        params = done[0].params
        result.picture = result.folder / "spectrogram.png"
        spectrogram_picture(images, params).save(result.picture)
        result.settings = result.folder / "settings.json"
        if getattr(music, "seed_image", None) and Path(music.seed_image).name != music.seed_image:
            music = dataclasses.replace(music, seed_image=Path(music.seed_image).name)  # no server path
        result.settings.write_text(
            json.dumps({"model": shared_name(self._name), **to_dict(music, settings)}, indent=2)
        )
        result.archive = result.folder / "spectrograms.zip"
        with zipfile.ZipFile(result.archive, "w") as archive:
            for png, _ in result.images:
                archive.write(png, png.name)
            archive.write(result.settings, result.settings.name)
        result.done = True
        yield result

    @staticmethod
    def _track(result: Result, done: list[Clip], music: Music) -> None:
        """Write the track so far as `track_<clips>.wav`, in place of the one before.

        The growing track is written after clips 1, 2, 4, 8, ... and the last, not after every
        clip: each write stitches and measures the whole track, so writing it every time took
        time and disk growing with the square of its length (a 60 s restyle wrote 156 MB);
        doubling keeps both within twice the final track's.
        """
        before = result.track
        track = stitch(done, music)
        result.track = save_audio(
            result.folder / f"track_{len(done):03d}.wav", track, done[0].params.sample_rate
        )
        if before is not None and before != result.track:
            before.unlink(missing_ok=True)

    def audio_to_image(
        self, audio: str | Path, stereo: bool = False, session: str | None = None
    ) -> tuple[Path, dict]:
        """Encode a file's audio as a spectrogram PNG; returns the path and its metadata."""
        params = SpectrogramParams(stereo=stereo)
        self.limits.check_audio(audio_seconds(audio))
        waveform = load_audio(audio, params.sample_rate, params.channels)
        image = image_from_waveform(waveform, params)
        path = save_image(image, self.session_folder(session) / (Path(audio).stem + ".png"))
        return path, metadata(image)

    def export(self, track: str | Path, name: str, suffix: str, session: str | None) -> Path:
        """The session's finished track as `<name><suffix>` (.wav, .flac, .mp3, .ogg), beside it."""
        if suffix not in WRITABLE:
            raise ValueError(f"cannot write {suffix!r}: choose one of {', '.join(WRITABLE)}")
        source = self.own_file(track, session)
        safe = "-".join(re.findall(r"[A-Za-z0-9]+", name))[:80] or "riff"
        data, rate = sf.read(str(source), dtype="float32", always_2d=True)
        mine = session_dir(self.root, session).resolve() in source.parents
        folder = source.parent if mine else self.session_folder(session)  # examples stay as they are
        return save_audio(folder / f"{safe}{suffix}", torch.from_numpy(data.T.copy()), rate)

    def own_file(self, path: str | Path, session: str | None) -> Path:
        """`path`, if it is a file the session's own renders wrote, or one of the examples'.

        Raises:
            ValueError: anything else (another session's file, a server path).
        """
        resolved = Path(path).resolve()
        for owner in (session, EXAMPLES):
            if session_dir(self.root, owner).resolve() in resolved.parents and resolved.is_file():
                return resolved
        raise ValueError("that file is not one this page made")

    def image_to_audio(
        self, image_path: str | Path, seed: int = 0, session: str | None = None
    ) -> tuple[Path, dict]:
        """Decode a spectrogram image (its metadata honoured) to a WAV; returns it and the
        metadata, with "note" saying what was done to the stored level, if anything."""
        self.limits.check_image(*image_size(Path(image_path)))
        image = open_image(Path(image_path))
        spectrogram = Spectrogram.from_image(image)
        # What it decodes to, bounded like audio read: a 1 s hop makes each column a second.
        self.limits.check_audio(spectrogram.params.num_samples(image.width) / spectrogram.params.sample_rate)
        device = self.model.device if self._model is not None else pick_device(self._device)
        [(_, clip)] = decode([spectrogram], seed=seed, device=device)
        path = save_audio(
            self.session_folder(session) / (Path(image_path).stem + ".wav"),
            clip.waveform,
            clip.params.sample_rate,
        )
        return path, {**metadata(image), "note": clip.note}
