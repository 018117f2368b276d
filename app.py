"""riff studio: the Gradio app over the riff library (locally or on Hugging Face Spaces).

This file only wires: layout, events, and turning ValueError into gr.Error. Each handler of
`Studio` unpacks widgets into a request (`riff.request`) and hands it to the engine
(`riff.serve.engine.Engine`); choices, defaults and limits come from the library.
"""

from __future__ import annotations

import argparse
import functools
import inspect
import logging
import math
import os
import random
import signal
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import torch
from gradio.data_classes import FileData
from gradio.exceptions import InvalidPathError
from gradio.utils import get_upload_folder
from PIL import Image

from riff.audio.files import wav_bytes
from riff.audio.image import params_from_image
from riff.audio.params import CLIP_SECONDS, CLIP_WIDTH
from riff.endless import Endless, Listener
from riff.interp import ALPHA_CURVES
from riff.models import SCHEDULERS
from riff.preview import ScrollingPicture, spectrogram_picture
from riff.render import continued_columns
from riff.request import (
    MAX_ENDS,
    MAX_GUIDANCE,
    MAX_SEED,
    MAX_SEEDS,
    Chain,
    Loop,
    PromptEnd,
    Restyle,
    Seeds,
    Settings,
    Walk,
    from_dict,
    to_dict,
)
from riff.runtime import give_back_memory, keep_large_buffers, set_threads
from riff.seeds import DEFAULT_SEED, SEED_DIR, mask_names, seed_image_names
from riff.serve.engine import EXAMPLES as EXAMPLES_SESSION
from riff.serve.engine import Busy, Chunk, Engine, Gone, Result, Stopped
from riff.serve.spaces import gpu_duration
from riff.serve.trust import bundled_mask, bundled_seed, client_address, public_message, uploaded
from riff.serve.uploads import keep_trimmed
from riff.teach import SLIDER_HELP, slerp_vs_lerp

try:  # On ZeroGPU Spaces a handler borrows a GPU per call, for as long as its request needs.
    import spaces

    def gpu(clips, width: str | None = "width"):
        """`spaces.GPU` with a duration read from the request (`riff.serve.spaces.gpu_duration`)."""
        return lambda fn: spaces.GPU(duration=gpu_duration(fn, clips, width=width))(fn)

except ImportError:

    def gpu(clips, width: str | None = "width"):
        return lambda fn: fn


EXAMPLES = [
    # Phrases the bundled model learned (see its dataset's captions); any model reads them.
    ["church organ playing a bach chorale", 12, "string quartet playing a bach chorale", 40],
    ["jazz trio with upright bass", 7, "bossa nova drums", 8],
    ["harp playing a folk melody", 3, "house drum beat, 120 bpm", 21],
    ["solo piano, slow, minor", 100, "hip hop drums", 101],
]
NO_MASK = "none"
# Phones: the examples table wraps its words instead of running off the screen, the seed
# thumbnails wrap onto two rows instead of scrolling out of sight, every tab's name shows (not
# behind "..."), and the explorer's prompts and Generate come first, without their help lines.
CSS = """
@media (max-width: 640px) {
  .overflow-menu > button { display: none !important; }
  .tab-wrapper { flex-wrap: wrap; height: auto !important; }
  .overflow-menu .overflow-dropdown {
    display: flex !important; flex-wrap: wrap; position: static !important; width: auto !important;
    min-width: 0 !important; box-shadow: none !important; border: none !important; padding: 0 !important;
  }
  .overflow-menu { flex-basis: 100%; }
  .overflow-menu .overflow-dropdown button { width: auto !important; }
  #walk-top .info-text, #walk-go .info-text { display: none; }
  #walk-go #generate { order: -1; }
  #walk-top, #walk-top > div { gap: 6px !important; }
  #walk-top > div { padding: 6px !important; }
  #walk-examples table { table-layout: fixed; width: 100%; }
  #walk-examples th, #walk-examples td { white-space: normal; overflow-wrap: anywhere; }
  #seed-gallery .grid-container { grid-template-columns: repeat(4, minmax(0, 1fr)) !important; }
  #seed-gallery .grid-wrap { height: auto !important; max-height: none !important; }
}
"""
WORKERS = 8  # Gradio threads per kind of event; the engine's queue decides who renders
SLIDER_CLIPS = 32  # the clips slider's range; longer walks are for the CLI and the API's callers
SLIDER_STEPS = (5, 100)


def ui_errors(fn):
    """Show ValueError (bad input, model trouble) and a full queue as one line in the page,
    without server paths, not as a traceback; a library's own error (RuntimeError) as one line
    without its text, which goes to the log."""

    def shown(error: Exception) -> gr.Error:
        return gr.Error(public_message(str(error)))

    def out_of_memory() -> gr.Error:
        logging.getLogger("riff").exception("out of memory")
        give_back_memory()
        return gr.Error("out of memory for this request: try fewer clips or steps")

    def internal(error: RuntimeError) -> gr.Error:
        # torch's and its libraries' own text (istft arguments, allocation sizes, "MKL FFT
        # error: Not enough memory") is for the log, not for the caller.
        if "memory" in str(error).lower():
            return out_of_memory()
        logging.getLogger("riff").exception("render failed")
        return gr.Error("the render failed on the server; try again, or with a smaller request")

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)  # Gradio reads the signature and the annotations
        def generator(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except (ValueError, Busy) as error:
                raise shown(error) from None
            except torch.OutOfMemoryError:
                raise out_of_memory() from None
            except (Gone, Stopped):
                raise
            except RuntimeError as error:
                raise internal(error) from None

        return generator

    @functools.wraps(fn)
    def plain(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (ValueError, Busy) as error:
            raise shown(error) from None
        except torch.OutOfMemoryError:
            raise out_of_memory() from None
        except (Gone, Stopped):
            raise
        except RuntimeError as error:
            raise internal(error) from None

    return plain


def _session(request: gr.Request | None) -> str | None:
    return getattr(request, "session_hash", None)


def _progress(progress: gr.Progress):
    """Adapt riff's progress reports (`riff.render.Progress`) to a Gradio progress bar."""

    def report(done: float, clips: int, step: int, steps: int) -> None:
        # The clip being denoised: at its last step it is still that clip, not the next one.
        working = min(max(math.ceil(done), 1) if steps else int(done) + 1, clips)
        label = f"clip {working}/{clips}" + (f", step {step}/{steps}" if steps else "")
        progress(done / clips, desc=label)

    return report


def _uploaded(path: str) -> str:
    """A file input's path, only if it is an upload (Gradio's own check is restored in
    `build_app`; this holds even where that check is skipped)."""
    return str(uploaded(path, [get_upload_folder()]))


def _settings(steps: int | None, **fields) -> Settings:
    return Settings(num_inference_steps=None if steps is None else int(steps), **fields)


def _prompt(text: str | None, what: str = "write a prompt first") -> str:
    if not text or not text.strip():
        raise ValueError(what)
    return text


def _mask(name: str | None) -> str | None:
    return None if name in (None, "", NO_MASK) else bundled_mask(name)


def _width(width: int | float | None) -> int | None:
    """A clip width from its slider; the seed image's own (None) at one clip."""
    return None if width is None or int(width) == CLIP_WIDTH else int(width)


def _rows(table: list[list] | None) -> list[tuple[str, int]]:
    """(prompt, seed) from a table's rows; blank rows are skipped, a missing seed counts on."""
    rows: list[tuple[str, int]] = []
    for row in table or []:
        prompt = str(row[0]).strip() if row and row[0] is not None else ""
        if not prompt:
            continue
        seed = row[1] if len(row) > 1 and row[1] not in (None, "") else len(rows)
        try:
            rows.append((prompt, int(float(seed))))
        except (TypeError, ValueError):
            raise ValueError(f"the seed of {prompt!r} is not a whole number: {seed!r}") from None
    return rows


def _outputs(result: Result, note: str):
    """The results panel's values for a render so far (see `Panel`)."""
    downloads = [p for p in (result.settings, result.archive, result.picture) if p is not None]
    return (
        str(result.named_track() or result.track),
        [(str(p), caption) for p, caption in result.images],
        str(result.picture) if result.picture else None,
        [str(p) for p in downloads] or None,
        note if result.done else f"{note} · rendering: {len(result.clips)} clip(s) ready",
        {"clips": [str(p) for p in result.clips], "track": str(result.track), "name": result.name},
    )


def _walk_request(
    start_prompt: str,
    start_seed: int,
    end_prompt: str,
    end_seed: int,
    num_clips: int = Walk.num_clips,
    num_inference_steps: int | None = None,
    denoising: float = PromptEnd.denoising,
    guidance: float = PromptEnd.guidance,
    seed_image: str = DEFAULT_SEED,
    start_negative_prompt: str = "",
    end_negative_prompt: str = "",
    end_denoising: float | None = None,
    end_guidance: float | None = None,
    alpha_curve: str = Walk.alpha_curve,
    crossfade_ms: float = Walk.crossfade_ms,
    mask: str = NO_MASK,
    scheduler: str = Settings.scheduler,
    seed_upload: str | None = None,
    continuation: bool = Walk.continuation,
    width: int = CLIP_WIDTH,
) -> tuple[Walk, Settings]:
    """The walk and settings the explorer's fields ask for (`Studio.interpolate`'s parameters)."""
    both = "both prompts are needed: write what the start and the end should sound like"
    walk = Walk(
        start=PromptEnd(
            _prompt(start_prompt, both), int(start_seed), start_negative_prompt or "", denoising, guidance
        ),
        end=PromptEnd(
            _prompt(end_prompt, both),
            int(end_seed),
            end_negative_prompt or "",
            denoising if end_denoising is None else end_denoising,
            guidance if end_guidance is None else end_guidance,
        ),
        num_clips=int(num_clips),
        alpha_curve=alpha_curve,
        crossfade_ms=float(crossfade_ms),
        # An upload wins over the picked bundled seed.
        seed_image=_uploaded(seed_upload) if seed_upload else bundled_seed(seed_image or DEFAULT_SEED),
        mask=_mask(mask),
        width=_width(width),
        continuation=bool(continuation),
    )
    settings = _settings(num_inference_steps, scheduler=scheduler)
    return walk, settings


_WALK_FIELDS = tuple(inspect.signature(_walk_request).parameters)


class Studio:
    """The page's handlers over one engine. Parameter names are the named API's."""

    def __init__(self, engine: Engine, trusted_proxies: int = 0) -> None:
        self.engine = engine
        self.trusted_proxies = trusted_proxies  # proxies whose X-Forwarded-For is believed
        self._made: dict[str | None, int] = {}  # clips the session's latest render has made
        self._encoded: dict[str | None, str] = {}  # the image each page's tools tab encoded last
        self._examples: dict[tuple, tuple] = {}  # an example's finished outputs, by its request
        # Each page's endless riff: its listener, and the chunk it last sent (for the status)
        self._listening: dict[str | None, tuple[Listener, Chunk | None]] = {}

    def _session(self, request: gr.Request | None) -> str | None:
        """The caller's session, its client (address) made known to the engine's caps."""
        session = _session(request)
        if request is not None and session is not None:
            host = getattr(getattr(request, "client", None), "host", None)
            forwarded = (getattr(request, "headers", None) or {}).get("x-forwarded-for")
            self.engine.identify(session, client_address(host, forwarded, self.trusted_proxies))
        return session

    def _results(self, music, settings: Settings, session: str | None, progress) -> Iterator[Result]:
        """The engine's results of a render (`Engine.render`)."""
        return self._counted(self.engine.render(music, settings, session, _progress(progress)), session)

    def _counted(self, results: Iterator[Result], session: str | None) -> Iterator[Result]:
        """`results`, counting the clips made so far (Cancel says whether anything was)."""
        self._made[session] = 0
        for result in results:
            self._made[session] = len(result.clips)
            yield result

    def forget(self, session: str | None) -> None:
        """Drop what the page kept for a session that closed."""
        for kept in (self._made, self._encoded):
            kept.pop(session, None)

    @gpu("num_clips")
    @ui_errors
    def interpolate(
        self,
        start_prompt: str,
        start_seed: int,
        end_prompt: str,
        end_seed: int,
        num_clips: int = Walk.num_clips,
        num_inference_steps: int | None = None,
        denoising: float = PromptEnd.denoising,
        guidance: float = PromptEnd.guidance,
        seed_image: str = DEFAULT_SEED,
        start_negative_prompt: str = "",
        end_negative_prompt: str = "",
        end_denoising: float | None = None,
        end_guidance: float | None = None,
        alpha_curve: str = Walk.alpha_curve,
        crossfade_ms: float = Walk.crossfade_ms,
        mask: str = NO_MASK,
        scheduler: str = Settings.scheduler,
        seed_upload: str | None = None,
        continuation: bool = Walk.continuation,
        width: int = CLIP_WIDTH,
        request: gr.Request = None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio's way)
    ):
        """Render a walk: music that morphs from a start prompt and seed to an end prompt and
        seed over several clips (about 5 s each), joined with crossfades into one track.
        The track is given as an audio file (a URL).

        Args:
            start_prompt: what the music sounds like at the start.
            start_seed: random seed of the start, 0 or more.
            end_prompt: what the music sounds like at the end.
            end_seed: random seed of the end, 0 or more.
            num_clips: clips along the walk, 2 to 32; the track is about 5 s per clip.
            num_inference_steps: denoising steps per clip; empty means the model's own
                recommendation (about 20); more is slower and rarely better. 5 to 100.
            denoising: how far each clip departs from the seed image, 0 to 1 (0.75 default).
            guidance: how strongly the prompt steers, about 1 to 15 (7 default).
            seed_image: name of the bundled seed image that sets the rhythm (e.g. "og_beat").
            start_negative_prompt: what the start should avoid; empty for nothing.
            end_negative_prompt: what the end should avoid; empty for nothing.
            end_denoising: denoising at the end (empty: the same as the start).
            end_guidance: guidance at the end (empty: the same as the start).
            alpha_curve: how the walk moves between the ends: "linear", "power" or "smooth".
            crossfade_ms: crossfade between clips in milliseconds.
            mask: name of an inpainting mask (empty or "none" for none).
            scheduler: denoising scheduler name (the default is fine).
            seed_upload: an uploaded seed image instead of a bundled one (usually empty).
            continuation: start each clip from the one before (smoother joins).
            width: clip width in spectrogram columns (512 is about 5 s).
        """
        given = dict(locals())
        walk, settings = _walk_request(**{name: given[name] for name in _WALK_FIELDS})
        session = self._session(request)
        note = f"Seeds used: start {walk.start.seed}, end {walk.end.seed}"
        for result in self._results(walk, settings, session, progress):
            yield *_outputs(result, note), to_dict(walk, settings), self.engine.status()

    @gpu(lambda _: Walk.num_clips, width=None)
    @ui_errors
    def example(
        self,
        start_prompt: str,
        start_seed: int,
        end_prompt: str,
        end_seed: int,
        request: gr.Request = None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio's way)
    ):
        """An example walk: rendered on its first click, with progress, then kept for every
        visitor; its files are the examples' own, which each page may play and keep."""
        walk, settings = _walk_request(start_prompt, start_seed, end_prompt, end_seed)
        session = self._session(request)
        kept = self._examples.get((walk, settings))
        if kept is not None and Path(kept[0]).is_file():
            self._made[session] = len(kept[5]["clips"])
            yield *kept, self.engine.status()
            return
        # Not yet, or swept since: render it (rarely twice, if two pages click it at once).
        note = f"Seeds used: start {walk.start.seed}, end {walk.end.seed}"
        results = self.engine.render(walk, settings, EXAMPLES_SESSION, _progress(progress))
        for result in self._counted(results, session):
            kept = (*_outputs(result, note), to_dict(walk, settings))
            yield *kept, self.engine.status()
        self._examples[(walk, settings)] = kept

    @gpu("num_seeds", width=None)
    @ui_errors
    def generate(
        self,
        prompt: str,
        seed: int = 0,
        num_seeds: int = 4,
        negative_prompt: str = "",
        num_inference_steps: int | None = None,
        denoising: float = PromptEnd.denoising,
        guidance: float = PromptEnd.guidance,
        seed_image: str = DEFAULT_SEED,
        request: gr.Request = None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio's way)
    ):
        """Text to audio: render short music clips (about 5 s each) from a text prompt, one
        clip per seed (seed, seed + 1, ...), joined into one track, given as an audio file (a
        URL).

        Args:
            prompt: what the music should sound like, e.g. "funky synth solo" (at most 1000
                characters).
            seed: first random seed, 0 or more; the same prompt and seed give the same clip.
            num_seeds: how many clips (one per seed), 1 to 32; the track is about 5 s per clip.
            negative_prompt: what the music should avoid; empty for nothing.
            num_inference_steps: denoising steps per clip; empty means the model's own
                recommendation (about 20); more is slower and rarely better. 5 to 100.
            denoising: how far each clip departs from the seed image, 0 to 1 (0.75 default).
            guidance: how strongly the prompt steers, about 1 to 15 (7 default).
            seed_image: name of the bundled seed image that sets the rhythm (e.g. "og_beat").
        """
        end = PromptEnd(_prompt(prompt), int(seed), negative_prompt or "", denoising, guidance)
        seeds = Seeds.counting(end, int(num_seeds), seed_image=bundled_seed(seed_image or DEFAULT_SEED))
        settings = _settings(num_inference_steps)
        note = f"Seeds used: {seeds.seeds[0]}..{seeds.seeds[-1]}"
        for result in self._results(seeds, settings, self._session(request), progress):
            yield _outputs(result, note)

    @gpu(lambda a: a["clips_per_hop"] * max(len(a["prompts"] or []) - 1, 1) + 1)
    @ui_errors
    def chain(
        self,
        prompts: list[list],
        clips_per_hop: int = Chain.clips_per_hop,
        continuation: bool = Chain.continuation,
        num_inference_steps: int | None = None,
        denoising: float = PromptEnd.denoising,
        guidance: float = PromptEnd.guidance,
        crossfade_ms: float = Chain.crossfade_ms,
        seed_image: str = DEFAULT_SEED,
        width: int = CLIP_WIDTH,
        request: gr.Request = None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio's way)
    ):
        """A prompt chain: rows of (prompt, seed), each hop starting where the one before ended."""
        ends = tuple(PromptEnd(p, s, "", denoising, guidance) for p, s in _rows(prompts))
        chain = Chain(
            ends,
            int(clips_per_hop),
            seed_image=bundled_seed(seed_image or DEFAULT_SEED),
            crossfade_ms=float(crossfade_ms),
            width=_width(width),
            continuation=bool(continuation),
        )
        settings = _settings(num_inference_steps)
        note = "Seeds used: " + ", ".join(str(e.seed) for e in ends)
        for result in self._results(chain, settings, self._session(request), progress):
            yield _outputs(result, note)

    @gpu("clips")
    @ui_errors
    def loop(
        self,
        prompt: str,
        seed: int = 0,
        clips: int = Loop.clips,
        num_inference_steps: int | None = None,
        denoising: float = PromptEnd.denoising,
        guidance: float = PromptEnd.guidance,
        crossfade_ms: float = Loop.crossfade_ms,
        seed_image: str = DEFAULT_SEED,
        width: int = CLIP_WIDTH,
        request: gr.Request = None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio's way)
    ):
        """A seamless loop: music from a prompt whose end runs into its start with no seam, for
        playing on repeat, given as an audio file (a URL).

        Args:
            prompt: what the loop should sound like.
            seed: random seed, 0 or more.
            clips: clips in the loop, 1 to 32 (about 5 s each).
            num_inference_steps: denoising steps per clip; empty means the model's own
                recommendation (about 20); more is slower and rarely better. 5 to 100.
            denoising: how far each clip departs from the seed image, 0 to 1 (0.75 default).
            guidance: how strongly the prompt steers, about 1 to 15 (7 default).
            seed_image: name of the bundled seed image that sets the rhythm (e.g. "og_beat").
            crossfade_ms: crossfade between clips (and round the loop) in milliseconds.
            width: clip width in spectrogram columns (512 is about 5 s).
        """
        end = PromptEnd(_prompt(prompt), int(seed), "", denoising, guidance)
        music = Loop(
            end,
            int(clips),
            seed_image=bundled_seed(seed_image or DEFAULT_SEED),
            crossfade_ms=float(crossfade_ms),
            width=_width(width),
        )
        note = (
            f"Seed used: {end.seed} (and {end.seed + 1} round the loop)"
            if music.clips > 1
            else f"Seed used: {end.seed}"
        )
        for result in self._results(music, _settings(num_inference_steps), self._session(request), progress):
            yield _outputs(result, note)

    @ui_errors
    def endless(
        self,
        prompt: str,
        seed: int = 0,
        clips_per_seed: int = Endless.clips_per_seed,
        num_inference_steps: int | None = None,
        denoising: float = PromptEnd.denoising,
        guidance: float = PromptEnd.guidance,
        seed_image: str = DEFAULT_SEED,
        request: gr.Request = None,
    ):
        """An endless riff, streamed: yields audio chunks, the scrolling spectrogram and what
        plays, until Stop, the page closes, or the studio's limit of music per press."""
        session = self._session(request)
        music = Endless(
            PromptEnd(_prompt(prompt), int(seed), "", denoising, guidance),
            int(clips_per_seed),
            seed_image=bundled_seed(seed_image or DEFAULT_SEED),
        )
        self.engine.up_next.forget(session)
        scroll = ScrollingPicture()
        chunks = self.engine.endless(
            music, _settings(num_inference_steps), lambda: self.engine.up_next.take(session), session
        )
        listener = Listener()
        self._listening[session] = (listener, None)
        try:
            for chunk in chunks:
                rate = chunk.clip.params.sample_rate
                listener.release(chunk.audio.shape[-1] / rate)
                self._listening[session] = (listener, chunk)
                yield wav_bytes(chunk.audio, rate), scroll.add(chunk.clip), chunk.status(listener)
        finally:
            listener.finish()

    def endless_started(self, request: gr.Request = None):
        """Play was pressed: forget the page's last riff and tick the status line (`endless_status`)."""
        self._listening.pop(_session(request), None)
        return gr.Timer(active=True)

    def endless_status(self, request: gr.Request = None):
        """The endless riff's status line now, between chunks too: what the listener has heard and
        has buffered, or that the player waits. The timer stops once all of it has played."""
        listener, chunk = self._listening.get(_session(request), (None, None))
        if listener is None or chunk is None:
            return gr.skip(), gr.skip()  # not started yet
        status = chunk.status(listener)
        if listener.finished and listener.buffered <= 0:
            self._listening.pop(_session(request), None)
            return status, gr.Timer(active=False)
        return status, gr.skip()

    def endless_stopped(self, request: gr.Request = None):
        """Stop was pressed: the status line keeps Stop's word."""
        self._listening.pop(_session(request), None)
        return gr.Timer(active=False)

    @gpu(lambda _: 1, width=None)
    @ui_errors
    def teach(
        self,
        prompt: str,
        seed: int = 0,
        denoising: float = PromptEnd.denoising,
        guidance: float = PromptEnd.guidance,
        num_inference_steps: int | None = None,
        seed_image: str = DEFAULT_SEED,
        request: gr.Request = None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio's way)
    ):
        """The teaching view: one clip's journey from seed image to sound, the numbers behind it,
        and why a walk slerps its noise."""
        end = PromptEnd(_prompt(prompt), int(seed), "", denoising, guidance)
        settings = _settings(num_inference_steps)
        image = bundled_seed(seed_image or DEFAULT_SEED)
        shown, wav = self.engine.teach(end, settings, image, self._session(request), _progress(progress))
        noise = slerp_vs_lerp(end.seed, (end.seed + 1) % (MAX_SEED + 1))
        pictures = [
            (p.image, p.caption if p.caption.startswith(p.title) else f"{p.title}: {p.caption}")
            for p in shown.pictures
        ]
        numbers = {**shown.to_dict(images=False), "noise_walk": noise.to_dict(images=False)}
        return pictures, str(wav), shown.audio_caption, noise.image, noise.caption, numbers

    @ui_errors
    def export(self, saved: dict | None, audio_format: str = "wav", request: gr.Request = None) -> str:
        """The finished track as a file named after its prompts, in the chosen format."""
        if not saved or not saved.get("track"):
            raise ValueError("render something first")
        path = self.engine.export(saved["track"], saved["name"], f".{audio_format}", self._session(request))
        return str(path)

    def cancel(self, request: gr.Request = None) -> str:
        """Stop this page's render at its next step (Cancel, Stop)."""
        session = self._session(request)
        self.engine.cancel(session)
        made = self._made.get(session, 0)
        if not made:
            return "Stopped before the first clip was done: nothing was made"
        return f"Stopped: the render ended at its next step; the {made} clip(s) it made stay above"

    @ui_errors
    def queue_next(self, up_next: str, request: gr.Request = None) -> str:
        """Queue the prompt an endless riff moves to at its next seed."""
        prompt = self.engine.up_next.put(
            self._session(request), _prompt(up_next, "write the prompt to move to")
        )
        return f"Up next: {prompt.strip()!r}, from the next seed on"

    @gpu(
        lambda a: (
            math.ceil(float(a["duration_s"]) / (CLIP_SECONDS - Restyle.crossfade_ms / 1000))
            * (2 if a["keep_stereo"] else 1)
        ),
        width=None,
    )
    @ui_errors
    def audio_to_audio(
        self,
        audio: str,
        prompt: str,
        start_s: float = Restyle.start_s,
        duration_s: float = Restyle.duration_s,
        end_prompt: str = "",
        seed: int = 0,
        denoising: float = 0.5,
        guidance: float = PromptEnd.guidance,
        num_inference_steps: int | None = None,
        keep_stereo: bool = False,
        request: gr.Request = None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio's way)
    ):
        """Restyle a region of a song clip by clip, optionally walking to a second prompt."""
        if not audio:
            raise ValueError("upload a song first")
        start = PromptEnd(_prompt(prompt), int(seed), "", denoising, guidance)
        end = (
            PromptEnd(end_prompt, start.seed, "", denoising, guidance)
            if (end_prompt or "").strip()
            else start
        )
        restyle = Restyle(
            start, end, start_s=float(start_s), duration_s=float(duration_s), stereo=bool(keep_stereo)
        )
        settings = _settings(num_inference_steps)
        song = _uploaded(audio)
        session = self._session(request)
        results = self.engine.restyle(song, restyle, settings, session, _progress(progress))
        for result in self._counted(results, session):
            yield _outputs(result, f"Seed used: {start.seed}")

    @ui_errors
    def audio_to_image(self, audio: str, stereo: bool = False, request: gr.Request = None):
        """Encode an audio file as a riffusion-format spectrogram image (PNG; time across,
        pitch up), the picture the model draws: the PNG file (a URL) that image_to_audio turns
        back into sound.

        Args:
            audio: the audio file to encode (WAV, MP3, FLAC, OGG; at most 600 s, 50 MB).
            stereo: keep left and right (in the image's green and blue) instead of mixing to mono.
        """
        if not audio:
            raise ValueError("upload an audio file first")
        session = self._session(request)
        path, info = self.engine.audio_to_image(_uploaded(audio), bool(stereo), session)
        self._encoded[session] = str(path)  # what "Decode this image" decodes: the page's copy
        # of the PNG (the File output's value as an input) is Gradio's, not the studio's
        with Image.open(path) as image:  # shown with its axes; the PNG itself is the download
            picture = spectrogram_picture([image.convert("RGB")], params_from_image(image)[0], joins=False)
        return picture, info, str(path)

    @ui_errors
    def decode_encoded(self, png: str | None, seed: int = 0, request: gr.Request = None):
        """Decode the image just encoded, without downloading and uploading it."""
        session = self._session(request)
        if not png or session not in self._encoded:
            raise ValueError("encode an audio file first")
        own = self.engine.own_file(self._encoded[session], session)
        path, info = self.engine.image_to_audio(own, int(seed), self._session(request))
        return str(path), info

    @ui_errors
    def image_to_audio(self, image: str, seed: int = 0, request: gr.Request = None):
        """Decode a riffusion-format spectrogram image (a PNG from audio_to_image or from the
        model) back to audio, honouring the settings written in its metadata: an audio file (a
        URL).

        Args:
            image: the spectrogram image, 512 pixels high.
            seed: random seed of the phase reconstruction, 0 or more (changes little).
        """
        if not image:
            raise ValueError("upload a spectrogram image first")
        path, info = self.engine.image_to_audio(_uploaded(image), int(seed), self._session(request))
        if info["note"]:
            gr.Warning(info["note"])
        return str(path), info


def walk_fields(walk: Walk, settings: Settings) -> dict:
    """A walk's values for the explorer's fields, by `Studio.interpolate`'s parameter names:
    the inverse of what it builds ("Reuse these settings")."""
    return {
        "start_prompt": walk.start.prompt,
        "start_seed": walk.start.seed,
        "start_negative_prompt": walk.start.negative_prompt,
        "denoising": walk.start.denoising,
        "guidance": walk.start.guidance,
        "end_prompt": walk.end.prompt,
        "end_seed": walk.end.seed,
        "end_negative_prompt": walk.end.negative_prompt,
        "end_denoising": walk.end.denoising,
        "end_guidance": walk.end.guidance,
        "num_clips": walk.num_clips,
        "num_inference_steps": settings.num_inference_steps,
        "alpha_curve": walk.alpha_curve,
        "crossfade_ms": walk.crossfade_ms,
        "seed_image": walk.seed_image if walk.seed_image in seed_image_names() else DEFAULT_SEED,
        "mask": walk.mask or NO_MASK,
        "scheduler": settings.scheduler,
        "continuation": walk.continuation,
        "width": walk.width or CLIP_WIDTH,
    }


def _inputs(handler, fields: dict) -> list:
    """The components for a handler's parameters, in its order (request and progress are
    Gradio's to fill)."""
    names = [n for n in inspect.signature(handler).parameters if n not in ("request", "progress")]
    return [fields[n] for n in names]


@dataclass
class Panel:
    """One results panel: what every render tab shows (see `_outputs`)."""

    track: gr.Audio
    gallery: gr.Gallery
    picture: gr.Image
    downloads: gr.File
    note: gr.Markdown
    state: gr.State
    kept: gr.File  # the track saved in a format: not an output of a render

    def outputs(self) -> list:
        return [self.track, self.gallery, self.picture, self.downloads, self.note, self.state]

    def forget_kept(self, trigger) -> None:
        """A new render's track is not the one saved before: offer nothing until it is saved."""
        trigger(lambda: None, None, self.kept, api_visibility="private", queue=False, show_progress="hidden")


def results_panel(
    studio: Studio, track_label: str, columns: int, elem_ids: bool = False, loop: bool = False
) -> Panel:
    """The note, the track (with a loop switch if `loop`) and a player for the clicked clip,
    the clips' spectrograms, the whole track's picture, the downloads, and the track kept in
    the format the listener picks."""
    note = gr.Markdown("", label="Note")  # labels name the outputs on the API page
    with gr.Row():
        track = gr.Audio(
            label=track_label, type="filepath", interactive=False, elem_id="track" if elem_ids else None
        )
        player = gr.Audio(
            label="Selected clip",
            type="filepath",
            interactive=False,
            autoplay=True,
            elem_id="clip-player" if elem_ids else None,
        )
    if loop:
        looping = gr.Checkbox(label="Loop the track", value=False)
        looping.change(lambda on: gr.update(loop=on), looping, track, api_visibility="private")
    gallery = gr.Gallery(
        label="Clips (click one to play it)",
        columns=columns,
        height=240,
        elem_id="clips" if elem_ids else None,
    )
    picture = gr.Image(label="Whole track", type="filepath", interactive=False)
    downloads = gr.File(
        label="Downloads: settings (JSON), spectrogram PNGs with metadata, picture", file_count="multiple"
    )
    state = gr.State(None)

    with gr.Row():
        audio_format = gr.Dropdown(
            ["wav", "flac", "mp3", "ogg"],
            value="wav",
            label="Keep the track as",
            info="WAV and FLAC are lossless; MP3 and OGG are small",
            scale=1,
        )
        keep = gr.Button("Save the track", scale=1)
        kept = gr.File(label="The track, named after its prompts", scale=3)
    keep.click(studio.export, [state, audio_format], kept, api_visibility="private")

    def play(clips: dict | None, selected: gr.SelectData):
        paths = (clips or {}).get("clips", [])
        return paths[selected.index] if 0 <= selected.index < len(paths) else None

    gallery.select(play, state, player, api_visibility="private")
    return Panel(track, gallery, picture, downloads, note, state, kept)


def _end_fields(side: str, prompt: str, seed: int) -> dict:
    """One end's prompt and seed (with a dice), in sight."""
    key = side.lower()
    with gr.Column(variant="panel", min_width=240):
        fields = {
            "prompt": gr.Textbox(label=f"{side} prompt", value=prompt, lines=2, elem_id=f"{key}-prompt")
        }
        with gr.Row():
            # Distinct labels: they head the examples table, which breaks on duplicates.
            fields["seed"] = gr.Number(
                label=f"{side} seed", value=seed, precision=0, minimum=0, maximum=MAX_SEED, scale=4
            )
            dice = gr.Button("Random", scale=1, min_width=60, elem_id=f"{key}-dice")
    dice.click(lambda: random.randint(0, MAX_SEED), None, fields["seed"], api_visibility="private")
    return {f"{key}_{name}": widget for name, widget in fields.items()}


def _end_details() -> dict:
    """Both ends' negative prompts, denoising and guidance, folded."""
    fields: dict = {}
    with gr.Accordion("Each end: negative prompt, strength, guidance", open=False), gr.Row():
        for side, denoising, guidance in (
            ("Start", "denoising", "guidance"),
            ("End", "end_denoising", "end_guidance"),
        ):
            with gr.Column(variant="panel", min_width=240):
                fields[f"{side.lower()}_negative_prompt"] = gr.Textbox(
                    label=f"{side}: negative prompt", value="", placeholder="what to avoid"
                )
                fields[denoising] = gr.Slider(
                    0.05, 1.0, value=PromptEnd.denoising, step=0.05, label=f"{side}: denoising strength"
                )
                fields[guidance] = _guidance(f"{side}: guidance")
    return fields


def track_seconds(clips: int, width: int | None = None, continuation: bool = False) -> float:
    """How long a walk of `clips` clips plays: each clip lasts its width's seconds, a continued
    clip adds only what it does not keep of the one before, crossfades are centred on the joins."""
    clip_s = CLIP_SECONDS * (width or CLIP_WIDTH) / CLIP_WIDTH
    latent = (width or CLIP_WIDTH) // 8
    kept_s = clip_s * continued_columns(latent) / latent if continuation else 0.0
    return clips * clip_s - (clips - 1) * kept_s


def _length_s(clips: float, width: float | None = None, continuation: bool = False) -> float:
    """The seconds a walk's settings make, to one decimal (shown before rendering)."""
    return round(track_seconds(int(clips), _width(width), bool(continuation)), 1)


def _clips_for(seconds: float | None, width: float | None = None, continuation: bool = False) -> int:
    """The fewest clips that make at least `seconds` of music (within the clips slider)."""
    for clips in range(1, SLIDER_CLIPS + 1):
        if _length_s(clips, width, continuation) >= (seconds or 0) - 0.05:
            return clips
    return SLIDER_CLIPS


def _walk_settings(engine: Engine, seeds: list[str]) -> dict:
    """The explorer's walk settings, folded: steps, curve, crossfade, scheduler, clip length,
    continuation, seed image, mask."""
    fields: dict = {}
    with gr.Accordion("Walk settings: steps, curve, crossfade, clip length, seed image, mask", open=False):
        with gr.Row():
            fields["num_inference_steps"] = _steps(engine)
            fields["alpha_curve"] = gr.Dropdown(
                list(ALPHA_CURVES), value=Walk.alpha_curve, label="Alpha curve"
            )
            fields["crossfade_ms"] = gr.Slider(
                0, 1000, value=Walk.crossfade_ms, step=10, label="Crossfade (ms)"
            )
            fields["scheduler"] = gr.Dropdown(list(SCHEDULERS), value=Settings.scheduler, label="Scheduler")
        with gr.Row():
            fields["width"] = _clip_length()
            fields["continuation"] = _continuation()
        with gr.Row():
            with gr.Column(scale=3):
                gallery = gr.Gallery(
                    [(str(SEED_DIR / f"{n}.png"), n) for n in seeds],
                    label="Seed images (click to pick)",
                    columns=7,
                    height=160,
                    allow_preview=False,
                    elem_id="seed-gallery",
                )
            with gr.Column(scale=2):
                fields["seed_image"] = gr.Dropdown(seeds, value=DEFAULT_SEED, label="Seed image")
                fields["seed_upload"] = gr.File(
                    label="…or your own image or audio as the seed",
                    file_types=["image", "audio"],
                    type="filepath",
                    elem_id="seed-upload",
                )
                fields["mask"] = gr.Dropdown(
                    [NO_MASK, *mask_names()], value=NO_MASK, label="Mask (white repaints, black keeps)"
                )

    def pick_seed(selected: gr.SelectData) -> str:
        return seeds[selected.index]

    gallery.select(pick_seed, None, fields["seed_image"], api_visibility="private")
    return fields


def explorer_tab(studio: Studio, status: gr.Markdown, cache_examples: bool) -> None:
    """What a visitor meets first: the two prompts, the length and Generate; then the examples,
    the folded settings, and the results."""
    fields: dict = {}
    with gr.Row(elem_id="walk-top"):
        fields |= _end_fields("Start", "solo piano, slow, minor", 0)
        fields |= _end_fields("End", "rock drum beat, 120 bpm", 1)
    with gr.Row(elem_id="walk-go"):
        fields["num_clips"] = gr.Slider(
            1,
            SLIDER_CLIPS,
            value=Walk.num_clips,
            step=1,
            precision=0,
            label=f"Length in clips ({CLIP_SECONDS:.2f} s each)",
            scale=2,
        )
        length = gr.Number(
            _length_s(Walk.num_clips),
            precision=1,
            minimum=0,
            label="Length (s)",
            info="type the seconds you want: the walk takes the clips that make them",
            elem_id="walk-length",
            scale=1,
        )
        go = gr.Button("Generate", variant="primary", elem_id="generate", scale=1)
        stop = gr.Button("Cancel", variant="stop", scale=1)
        reuse = gr.Button("Reuse these settings", scale=1)
    fields |= _end_details()
    examples_slot = gr.Column(elem_id="walk-examples")  # filled once the outputs it needs exist
    fields |= _walk_settings(studio.engine, seed_image_names())
    _explain(fields)
    # Seconds in, clips out; the seconds shown are always what the clips make.
    sizing = [fields["num_clips"], fields["width"], fields["continuation"]]
    for widget in sizing:
        widget.change(_length_s, sizing, length, api_visibility="private", show_progress="hidden")
    length.submit(_clips_for, [length, *sizing[1:]], fields["num_clips"], api_visibility="private")
    panel = results_panel(studio, "Stitched track", columns=6, elem_ids=True, loop=True)
    settings = gr.State(None)
    outputs = [*panel.outputs(), settings, status]
    panel.forget_kept(go.click)
    event = go.click(
        studio.interpolate,
        _inputs(studio.interpolate, fields),
        outputs,
        api_name="interpolate",
        concurrency_id="gpu",
        show_progress_on=[panel.track],  # one bar, not one per output
    )
    # The status line also says when the model failed to load on this first use.
    event.then(studio.engine.status, None, status, api_visibility="private", show_progress="hidden")
    reused = list(walk_fields(Walk(PromptEnd("x"), PromptEnd("x")), Settings()))

    def reuse_settings(saved: dict | None):
        if not saved:
            raise gr.Error("render a walk first; its settings can then be reused")
        values = walk_fields(*from_dict(saved))
        return [values[name] for name in reused]

    reuse.click(reuse_settings, settings, [fields[n] for n in reused], api_visibility="private")
    with examples_slot:
        names = ("start_prompt", "start_seed", "end_prompt", "end_seed")
        examples = gr.Examples(EXAMPLES, [fields[n] for n in names], label="Prompt pairs that walk well")
    played = []
    panel.forget_kept(examples.load_input_event.then)
    if cache_examples:  # a click fills the fields and plays the example (rendered once, then kept)
        played = [
            examples.load_input_event.then(
                studio.example,
                [fields[n] for n in names],
                outputs,
                api_visibility="private",
                concurrency_id="gpu",
                show_progress_on=[panel.track],
            )
        ]
    stop.click(
        studio.cancel, None, panel.note, cancels=[event, *played], api_visibility="private", queue=False
    )


def _render_button(
    studio: Studio, label: str, handler, fields: dict, track_label: str, columns: int, loop: bool = False
) -> Panel:
    """A render button over a tab's fields, its results panel below; the API is named after
    the handler."""
    _explain(fields)
    with gr.Row():
        go = gr.Button(label, variant="primary")
        stop = gr.Button("Cancel", variant="stop")
    panel = results_panel(studio, track_label, columns, loop=loop)
    panel.forget_kept(go.click)
    event = go.click(
        handler,
        _inputs(handler, fields),
        panel.outputs(),
        api_name=handler.__name__,
        concurrency_id="gpu",
        show_progress_on=[panel.track],
    )
    stop.click(studio.cancel, None, panel.note, cancels=[event], api_visibility="private", queue=False)
    return panel


def _clip_length() -> gr.Slider:
    return gr.Slider(
        CLIP_WIDTH // 2,
        4 * CLIP_WIDTH,
        value=CLIP_WIDTH,
        step=64,
        precision=0,
        label=f"Clip length (columns; {CLIP_WIDTH} = {CLIP_SECONDS:.2f} s)",
        info="wider clips are longer music from one seed image, tiled on its beat; work grows with width",
    )


def _continuation() -> gr.Checkbox:
    return gr.Checkbox(
        label="Continue each clip from the last",
        value=Walk.continuation,
        info="each clip keeps the previous clip's last quarter and goes on from it (clips render one by one)",
    )


def _guidance(label: str = "Guidance") -> gr.Slider:
    return gr.Slider(0.0, MAX_GUIDANCE, value=PromptEnd.guidance, step=0.5, label=label)


def _steps(engine: Engine) -> gr.Slider:
    return gr.Slider(*SLIDER_STEPS, value=engine.default_steps, step=1, precision=0, label="Inference steps")


def text_tab(studio: Studio) -> None:
    """One prompt, a clip per seed."""
    fields: dict = {}
    with gr.Row():
        fields["prompt"] = gr.Textbox(label="Prompt", value="rock drum beat, 120 bpm", lines=2, scale=3)
        fields["negative_prompt"] = gr.Textbox(label="Negative prompt", value="", scale=2)
    with gr.Row():
        fields["seed"] = gr.Number(label="First seed", value=0, precision=0, minimum=0, maximum=MAX_SEED)
        fields["num_seeds"] = gr.Slider(
            1, MAX_SEEDS, value=4, step=1, precision=0, label="Seeds (one clip each)"
        )
        fields["num_inference_steps"] = _steps(studio.engine)
        fields["denoising"] = gr.Slider(
            0.05, 1.0, value=PromptEnd.denoising, step=0.05, label="Denoising strength"
        )
        fields["guidance"] = _guidance()
        fields["seed_image"] = gr.Dropdown(seed_image_names(), value=DEFAULT_SEED, label="Seed image")
    _render_button(studio, "Generate", studio.generate, fields, "All clips, one after another", columns=8)


def chain_tab(studio: Studio) -> None:
    """A prompt chain through a table of prompts and seeds."""
    fields: dict = {
        "prompts": gr.Dataframe(
            [["solo piano, slow, minor", 0], ["jazz saxophone, smooth", 1], ["rock drum beat, 120 bpm", 2]],
            headers=["Prompt", "Seed"],
            datatype=["str", "number"],
            column_count=2,
            type="array",
            interactive=True,
            label=f"Prompts in order (2 to {MAX_ENDS}; add or remove rows)",
            elem_id="chain-prompts",
        )
    }
    with gr.Row():
        fields["clips_per_hop"] = gr.Slider(
            1, 16, value=Chain.clips_per_hop, step=1, precision=0, label="Clips per hop"
        )
        fields["continuation"] = _continuation()
        fields["num_inference_steps"] = _steps(studio.engine)
        fields["denoising"] = gr.Slider(
            0.05, 1.0, value=PromptEnd.denoising, step=0.05, label="Denoising strength"
        )
        fields["guidance"] = _guidance()
    with gr.Row():
        fields["crossfade_ms"] = gr.Slider(0, 1000, value=Chain.crossfade_ms, step=10, label="Crossfade (ms)")
        fields["seed_image"] = gr.Dropdown(seed_image_names(), value=DEFAULT_SEED, label="Seed image")
        fields["width"] = _clip_length()
    _render_button(studio, "Render the chain", studio.chain, fields, "Chain", columns=6)


def loop_tab(studio: Studio) -> None:
    """A seamless loop of one prompt."""
    fields: dict = {}
    with gr.Row():
        fields["prompt"] = gr.Textbox(label="Prompt", value="lofi hip hop beat, mellow", lines=2, scale=3)
        fields["seed"] = gr.Number(label="Seed", value=0, precision=0, minimum=0, maximum=MAX_SEED)
        # Four clips: one 5 s clip is a short loop, and its picture one blurred banner.
        fields["clips"] = gr.Slider(1, 16, value=4, step=1, precision=0, label="Clips round the loop")
    with gr.Row():
        fields["num_inference_steps"] = _steps(studio.engine)
        fields["denoising"] = gr.Slider(
            0.05, 1.0, value=PromptEnd.denoising, step=0.05, label="Denoising strength"
        )
        fields["guidance"] = _guidance()
        fields["crossfade_ms"] = gr.Slider(
            0, 1000, value=Loop.crossfade_ms, step=10, label="Crossfade (ms), the wrap too"
        )
        fields["seed_image"] = gr.Dropdown(seed_image_names(), value=DEFAULT_SEED, label="Seed image")
        fields["width"] = _clip_length()
    _render_button(
        studio, "Render the loop", studio.loop, fields, "Loop (repeats seamlessly)", columns=6, loop=True
    )


def endless_tab(studio: Studio) -> None:
    """An endless riff: plays until Stop; a prompt queued up next takes over at the next seed."""
    fields: dict = {}
    with gr.Row():
        fields["prompt"] = gr.Textbox(
            label="Prompt", value="lofi hip hop beat, mellow", lines=2, scale=3, elem_id="endless-prompt"
        )
        fields["seed"] = gr.Number(label="First seed", value=0, precision=0, minimum=0, maximum=MAX_SEED)
        fields["clips_per_seed"] = gr.Slider(
            1, 16, value=Endless.clips_per_seed, step=1, precision=0, label="Clips from one seed to the next"
        )
    with gr.Row():
        fields["num_inference_steps"] = _steps(studio.engine)
        fields["denoising"] = gr.Slider(
            0.05, 1.0, value=PromptEnd.denoising, step=0.05, label="Denoising strength"
        )
        fields["guidance"] = _guidance()
        fields["seed_image"] = gr.Dropdown(seed_image_names(), value=DEFAULT_SEED, label="Seed image")
    _explain(fields)
    with gr.Row():
        play = gr.Button("Play", variant="primary", elem_id="endless-play")
        stop = gr.Button("Stop", variant="stop", elem_id="endless-stop")
    with gr.Row():
        up_next = gr.Textbox(
            label="Up next", placeholder="a prompt to move to at the next seed", scale=4, elem_id="up-next"
        )
        queue = gr.Button("Queue it", scale=1, elem_id="queue-next")
    status = gr.Markdown("", elem_id="endless-status", label="Status")
    audio = gr.Audio(
        label="Endless riff", streaming=True, autoplay=True, interactive=False, elem_id="endless-audio"
    )
    picture = gr.Image(label="Spectrogram, scrolling with the music", type="pil", interactive=False)
    event = play.click(
        studio.endless,
        _inputs(studio.endless, fields),
        [audio, picture, status],
        api_name="endless",
        concurrency_id="endless",  # its clips take turns on the model with every other render
        concurrency_limit=WORKERS,  # the engine caps them per client
        show_progress="hidden",
    )
    # The line changes between chunks too, from the listener's clock (a stall shows as one).
    timer = gr.Timer(1.0, active=False)
    play.click(studio.endless_started, None, timer, api_visibility="private", queue=False)
    timer.tick(
        studio.endless_status,
        None,
        [status, timer],
        api_visibility="private",
        queue=False,
        show_progress="hidden",
    )
    stop.click(studio.cancel, None, status, cancels=[event], api_visibility="private", queue=False)
    stop.click(studio.endless_stopped, None, timer, api_visibility="private", queue=False)
    queue.click(studio.queue_next, up_next, status, api_name="up_next", show_progress="hidden")


TEACH_STEPS = (  # the journey's pictures by title, as steps a class follows in order: the
    # step's name, its pictures' titles, and how many pictures it shows side by side
    ("1. Seed", ("seed image", "latent"), 2),
    ("2. Noise", ("noised latent",), 1),
    ("3. Denoising", ("after",), 4),
    ("4. Spectrogram", ("spectrogram", "mel to linear"), 2),
    ("5. Sound", ("phase retrieval",), 1),
)
TEACH_TITLES = (
    "The seed image and its latent",
    "Noise, as much as the strength asks",
    "The model's guesses as it denoises, step by step",
    "The spectrogram and its linear magnitudes",
    "Phase retrieval and the sound",
)


def _journey_steps(pictures: list | None) -> list:
    """The journey's pictures (from its gallery) per step: its picture slots (the unused ones
    hidden) and the captions."""
    shown: list = []
    for _, titles, slots in TEACH_STEPS:
        mine = [(p, c) for p, c in pictures or [] if any((c or "").startswith(t) for t in titles)]
        paths = [p for p, _ in mine][:slots]
        paths += [None] * (slots - len(paths))
        shown += [gr.Image(value=p, visible=p is not None) for p in paths]
        shown.append("\n".join(f"- {c}" for _, c in mine))
    return shown


def teach_tab(studio: Studio) -> None:
    """One clip's journey as steps a class can follow: each step's pictures whole, its captions
    beside them, a Next button to the following step."""
    gr.Markdown(
        "How one clip is made, in five steps: the seed image and its latent, the noise the strength "
        "adds, the model's guesses as it denoises, the spectrogram and its linear magnitudes, and "
        "phase retrieval to the sound. Under each control a line says what it does to the sound."
    )
    fields: dict = {}
    with gr.Row():
        fields["prompt"] = gr.Textbox(label="Prompt", value="jazz trio with upright bass", lines=2, scale=3)
        fields["seed"] = gr.Number(label="Seed", value=0, precision=0, minimum=0, maximum=MAX_SEED)
        go = gr.Button("Show the journey", variant="primary", elem_id="teach-go", scale=1)
    with gr.Accordion("Strength, guidance, steps, seed image", open=False):
        with gr.Row():
            fields["denoising"] = gr.Slider(
                0.05, 1.0, value=PromptEnd.denoising, step=0.05, label="Denoising strength"
            )
            fields["guidance"] = _guidance()
            fields["num_inference_steps"] = _steps(studio.engine)
            fields["seed_image"] = gr.Dropdown(seed_image_names(), value=DEFAULT_SEED, label="Seed image")
    # Every picture in one gallery: what the API returns; the steps below show them whole.
    pictures = gr.Gallery(label="The journey", type="filepath", visible=False)
    parts: list = []
    with gr.Walkthrough(selected=0, elem_id="journey") as walkthrough:
        for n, ((name, _, side_by_side), title) in enumerate(zip(TEACH_STEPS, TEACH_TITLES)):
            with gr.Step(name, id=n, elem_id=f"journey-step-{n + 1}"):
                gr.Markdown(f"### {title}")
                with gr.Row():  # each picture whole, side by side
                    parts += [
                        gr.Image(
                            label=f"{title} ({k + 1})", type="filepath", interactive=False, show_label=False
                        )
                        for k in range(side_by_side)
                    ]
                parts.append(gr.Markdown("", label=f"{title}: what it shows"))
                if n == len(TEACH_STEPS) - 1:
                    with gr.Row():
                        audio = gr.Audio(label="The sound", type="filepath", interactive=False)
                        said = gr.Markdown("", label="The sound: what it is")
                nxt = gr.Button("Next step →", size="sm")
                nxt.click(
                    lambda n=n: gr.Walkthrough(selected=n + 1),
                    None,
                    walkthrough,
                    api_visibility="private",
                    queue=False,
                )
        with gr.Step(f"{len(TEACH_STEPS) + 1}. Why slerp", id=len(TEACH_STEPS)):
            with gr.Row():
                with gr.Column():
                    noise = gr.Image(
                        label="Why slerp: the noise's norm along a walk", type="pil", interactive=False
                    )
                    why = gr.Markdown("", label="Why slerp")
                numbers = gr.JSON(label="The numbers")
    _explain(fields)
    event = go.click(
        studio.teach,
        _inputs(studio.teach, fields),
        [pictures, audio, said, noise, why, numbers],
        api_name="teach",
        concurrency_id="gpu",
        show_progress_on=[audio],
    )
    event.then(_journey_steps, pictures, parts, api_visibility="private", show_progress="hidden")


def _explain(fields: dict) -> None:
    """Every control's tooltip: what it does to the sound (`riff.teach.SLIDER_HELP`)."""
    for name, component in fields.items():
        key = name if name in SLIDER_HELP else name.removeprefix("start_").removeprefix("end_")
        key = {"seed_upload": "seed_image"}.get(key, key)
        if key in SLIDER_HELP and not getattr(component, "info", None):
            component.info = SLIDER_HELP[key]


def restyle_tab(studio: Studio) -> None:
    """A song's region restyled segment by segment."""
    fields: dict = {}
    with gr.Row():
        fields["audio"] = gr.Audio(
            label="Song (any common format): trim it on its waveform to pick the region",
            type="filepath",
            sources=["upload"],
            editable=True,
        )
        with gr.Column():
            fields["prompt"] = gr.Textbox(label="Restyle as", value="solo piano, slow", lines=2)
            fields["end_prompt"] = gr.Textbox(
                label="…walking to (optional)", value="", placeholder="leave empty to keep one style"
            )
    with gr.Row():
        fields["start_s"] = gr.Number(label="Region start (s)", value=Restyle.start_s, minimum=0)
        fields["duration_s"] = gr.Number(label="Region length (s)", value=Restyle.duration_s, minimum=5.11)
        fields["seed"] = gr.Number(label="Seed", value=0, precision=0, minimum=0, maximum=MAX_SEED)
        fields["denoising"] = gr.Slider(
            0.05, 1.0, value=0.5, step=0.05, label="Denoising strength (how far from the song)"
        )
        fields["guidance"] = _guidance()
        fields["num_inference_steps"] = _steps(studio.engine)
        fields["keep_stereo"] = gr.Checkbox(
            label="Keep stereo",
            value=False,
            info="left and right restyled side by side: twice the work; pictures show left in green, "
            "right in blue, cyan where both sound alike",
        )
    _render_button(studio, "Restyle", studio.audio_to_audio, fields, "Restyled region", columns=6)


def tools_tab(studio: Studio) -> None:
    """Audio to a spectrogram image and back, metadata shown and honoured."""
    with gr.Row():
        with gr.Column(variant="panel"):
            gr.Markdown("### Audio → image")
            audio = gr.Audio(label="Audio", type="filepath", sources=["upload"])
            stereo = gr.Checkbox(
                label="Stereo (G = left, B = right)",
                info="left in green, right in blue: where both sides sound alike the picture is cyan",
            )
            go = gr.Button("Encode")
            image = gr.Image(label="Spectrogram, with its axes", type="pil", interactive=False)
            meta = gr.JSON(label="Metadata")
            png = gr.File(label="PNG with metadata")
            again = gr.Button("Decode this image →", elem_id="decode-encoded")
            go.click(studio.audio_to_image, [audio, stereo], [image, meta, png], api_name="audio_to_image")
        with gr.Column(variant="panel"):
            gr.Markdown("### Image → audio")
            upload = gr.File(
                label="Spectrogram image (PNG keeps its metadata)", file_types=["image"], type="filepath"
            )
            seed = gr.Number(label="Phase seed", value=0, precision=0, minimum=0, maximum=MAX_SEED)
            go = gr.Button("Decode")
            decoded = gr.Audio(label="Audio", type="filepath", interactive=False)
            used = gr.JSON(label="Metadata used")
            go.click(
                studio.image_to_audio,
                [upload, seed],
                [decoded, used],
                api_name="image_to_audio",
                concurrency_id="gpu",
            )
    again.click(
        studio.decode_encoded, [png, seed], [decoded, used], api_visibility="private", concurrency_id="gpu"
    )


def _final(outputs) -> tuple:
    """The last values a page handler yields (its finished render)."""
    *_, last = outputs
    return last


def _file(path: str | None) -> FileData | None:
    """A file the tool returns: served by the page, so the assistant gets a URL."""
    return FileData(path=path, orig_name=Path(path).name) if path else None


def tools(studio: Studio) -> None:
    """The page's safe endpoints as MCP tools (and API endpoints named tool_*): typed, each
    returning its file as a URL (one output: Gradio's MCP server flattens no more), under the page's limits (they call its handlers). The
    page's own endpoints are kept off the tool list: their galleries and states mean nothing
    to an assistant."""

    def generate(
        prompt: str,
        seed: int = 0,
        num_seeds: int = 1,
        negative_prompt: str = "",
        num_inference_steps: int | None = None,
        request: gr.Request = None,
    ) -> FileData:
        track, *_ = _final(
            studio.generate(
                prompt,
                seed,
                num_seeds,
                negative_prompt,
                num_inference_steps,
                request=request,
            )
        )
        return _file(track)

    def interpolate(
        start_prompt: str,
        start_seed: int,
        end_prompt: str,
        end_seed: int,
        num_clips: int = Walk.num_clips,
        num_inference_steps: int | None = None,
        request: gr.Request = None,
    ) -> FileData:
        outputs = studio.interpolate(
            start_prompt,
            start_seed,
            end_prompt,
            end_seed,
            num_clips,
            num_inference_steps,
            request=request,
        )
        track, *_ = _final(outputs)
        return _file(track)

    def loop(
        prompt: str,
        seed: int = 0,
        clips: int = Loop.clips,
        num_inference_steps: int | None = None,
        request: gr.Request = None,
    ) -> FileData:
        outputs = studio.loop(prompt, seed, clips, num_inference_steps, request=request)
        track, *_ = _final(outputs)
        return _file(track)

    def audio_to_image(audio: FileData, stereo: bool = False, request: gr.Request = None) -> FileData:
        _, _, png = studio.audio_to_image(_path(audio), stereo, request=request)
        return _file(png)

    def image_to_audio(image: FileData, seed: int = 0, request: gr.Request = None) -> FileData:
        path, _ = studio.image_to_audio(_path(image), seed, request=request)
        return _file(path)

    for tool, handler in (
        (generate, Studio.generate),
        (interpolate, Studio.interpolate),
        (loop, Studio.loop),
        (audio_to_image, Studio.audio_to_image),
        (image_to_audio, Studio.image_to_audio),
    ):
        tool.__doc__ = handler.__doc__
        tool._mcp_type = "tool"
        gr.api(tool, api_name=f"tool_{tool.__name__}", concurrency_id="gpu")


def _only_tools(demo: gr.Blocks) -> None:
    """Keep every endpoint but the tools off the MCP tool list (the API page still lists them):
    Gradio lists as tools only functions whose MCP type, when set, is "tool"."""
    for block_fn in demo.fns.values():
        fn = getattr(block_fn.fn, "__func__", block_fn.fn)
        if fn is not None and getattr(fn, "_mcp_type", None) != "tool":
            fn._mcp_type = "none"


def _call_only_tools(demo: gr.Blocks) -> None:
    """Gradio's MCP server hides the other endpoints from its tool list but still calls them
    by name (and lists them in its schema): drop them from its name table, so that only the
    tools are tools."""
    server = getattr(demo, "mcp_server_obj", None)
    if server is None:
        return
    server.tool_to_endpoint = {
        name: endpoint
        for name, endpoint in server.tool_to_endpoint.items()
        if getattr(server.get_block_fn_from_endpoint_name(endpoint).fn, "_mcp_type", None) == "tool"
    }


def _path(file) -> str:
    return file["path"] if isinstance(file, dict) else getattr(file, "path", file)


def build_demo(engine: Engine, cache_examples: bool = False, trusted_proxies: int = 0) -> gr.Blocks:
    """The studio's page over `engine` (models load lazily, on the first render).

    Args:
        trusted_proxies: proxies in front of the server whose X-Forwarded-For names the caller
            (Spaces: 1); 0 trusts the connection's own address only.
    """
    studio = Studio(engine, trusted_proxies)
    keep = int(engine.limits.keep_s)  # Gradio's copies of what it served go on riff's schedule
    with gr.Blocks(title="riff studio", delete_cache=(max(60, min(1800, keep // 2)), keep)) as demo:
        gr.Markdown(
            "# riff studio\nMusic from text, through spectrogram diffusion. Two prompts, two seeds: "
            "riff walks between them and plays the walk as one track."
        )
        status = gr.Markdown(engine.status(), elem_id="model-status", label="Model status")
        tools(studio)  # first, so the tools take the handlers' names
        with gr.Tab("Interpolation explorer"):
            explorer_tab(studio, status, cache_examples)
        with gr.Tab("Text to audio"):
            text_tab(studio)
        with gr.Tab("Prompt chain"):
            chain_tab(studio)
        with gr.Tab("Loop"):
            loop_tab(studio)
        with gr.Tab("Endless riff"):
            endless_tab(studio)
        with gr.Tab("How it works"):
            teach_tab(studio)
        with gr.Tab("Audio to audio"):
            restyle_tab(studio)
        with gr.Tab("Spectrogram tools"):
            tools_tab(studio)

        def forget(request: gr.Request) -> None:
            engine.forget_session(_session(request))
            studio.forget(_session(request))

        demo.unload(forget)  # Gradio fills in gr.Request only for a parameter annotated so
        # The status as it is when the page opens (the page is built once, before any load).
        demo.load(engine.status, None, status, api_visibility="private", show_progress="hidden", queue=False)
    # The engine's queue hands out the model one clip at a time, fairly and with per-client caps;
    # Gradio's limit only bounds the threads that wait for it.
    demo.queue(default_concurrency_limit=WORKERS, max_size=engine.limits.queue)
    _plain_path_errors(demo)
    _only_tools(demo)
    return demo


def _plain_path_errors(demo: gr.Blocks) -> None:
    """A file input naming a server file is answered in one line that names no folder (Gradio's
    own message names the path and the app's folders)."""
    preprocess = demo.preprocess_data

    @functools.wraps(preprocess)
    async def checked(*args, **kwargs):
        try:
            return await preprocess(*args, **kwargs)
        except InvalidPathError:
            logging.getLogger("riff").warning("refused a file input that was not uploaded")
            raise gr.Error("that file was not uploaded here: upload it first") from None

    demo.preprocess_data = checked


def build_app(
    engine: Engine, cache_examples: bool = False, trusted_proxies: int = 0, mcp_server: bool | None = None
):
    """The page and the riffusion-compatible REST route on one FastAPI server; with
    `mcp_server` (default: $GRADIO_MCP_SERVER) the page's endpoints are also MCP tools at
    /gradio_api/mcp/."""
    from fastapi import FastAPI
    from starlette.middleware.cors import CORSMiddleware

    from riff.serve.rest import router
    from riff.serve.uploads import UploadCap

    app = FastAPI(title="riff")
    # Any page may call the API (riffusion's web app lives elsewhere), but never with its
    # visitor's cookies: no credentials. Gradio's own CORS layer defers to this one.
    origins = [o.strip() for o in os.environ.get("RIFF_CORS_ORIGINS", "*").split(",") if o.strip()]
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_credentials=False,
        allow_methods=["GET", "POST"],
        allow_headers=["*"],
    )
    app.include_router(router(engine, gpu(lambda _: 1, width=None), trusted_proxies))
    limits = engine.limits
    app.add_middleware(
        UploadCap,
        max_bytes=limits.upload_request_mb * 1e6,
        max_files=limits.upload_files,
        client_bytes=limits.client_upload_mb * 1e6,
        trusted_proxies=trusted_proxies,
    )
    demo = build_demo(engine, cache_examples, trusted_proxies)
    app = gr.mount_gradio_app(
        app,
        demo,
        path="/",
        allowed_paths=[str(engine.root)],
        max_file_size=int(engine.limits.upload_mb * 1e6),
        css=CSS,
        mcp_server=mcp_server,
    )
    _call_only_tools(demo)
    # Gradio refuses file inputs that were not uploaded only in a Blocks marked launched, which
    # mount_gradio_app never does: without this, {"path": "/etc/passwd"} would be copied into
    # the cache and served back.
    demo.has_launched = True
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="riff studio")
    parser.add_argument(
        "--model", default=None, help="hub id or local diffusers folder (default: $RIFF_MODEL)"
    )
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: best available)")
    on_spaces = bool(os.environ.get("SPACE_ID"))
    parser.add_argument(
        "--host", default=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0" if on_spaces else "127.0.0.1")
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument(
        "--trusted-proxies",
        type=int,
        default=int(os.environ.get("RIFF_TRUSTED_PROXIES", "1" if on_spaces else "0")),
        help="proxies in front whose X-Forwarded-For names the caller (Spaces: 1; default 0 elsewhere)",
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch's CPU threads (default: $RIFF_THREADS, else chosen)"
    )
    parser.add_argument(
        "--mcp",
        action="store_true",
        default=None,
        help="also serve the endpoints as MCP tools at /gradio_api/mcp/ (default: $GRADIO_MCP_SERVER)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    keep_large_buffers()
    try:
        set_threads(args.threads)  # before any work: a shared CPU stays usable (README, "CPU threads")
    except ValueError as error:
        parser.error(str(error))
    import uvicorn

    # Results go inside Gradio's cache, which Gradio serves as they are: copied out of a
    # folder of riff's own, every file a page is handed (a growing track is handed several
    # times) would be stored twice.
    cache = Path(gr.utils.get_upload_folder())
    cache.mkdir(parents=True, exist_ok=True)
    engine = Engine(args.model, args.device, root=tempfile.mkdtemp(prefix="riff-studio-", dir=cache))

    def preload() -> None:
        # Load while the page is already up; a failure is kept and shown as one line.
        try:
            print(f"riff: {engine.model.describe()} ready", flush=True)
        except ValueError as error:
            print(f"riff: {error}", flush=True)

    threading.Thread(target=preload, daemon=True).start()
    keep_trimmed(cache, engine.limits.cache_mb * 1e6, skip=engine.root)  # the engine trims its own
    print(f"riff studio on http://{args.host}:{args.port}", flush=True)
    # uvicorn stops on SIGTERM as on SIGINT, then raises the signal again with the handler it
    # found: the default one would end the process here, skipping the clean-up below.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        uvicorn.run(
            build_app(engine, cache_examples=True, trusted_proxies=args.trusted_proxies, mcp_server=args.mcp),
            host=args.host,
            port=args.port,
            log_level="warning",
            timeout_graceful_shutdown=5,  # Gradio's event streams never end on their own
        )
    finally:
        engine.close()  # no results outlive the server


def _exit_on_sigterm(signum, frame) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    main()
