"""What every handler of the page shares: widgets' values turned into a request's fields, errors
into one line (`ui_errors`), a GPU borrowed per call on ZeroGPU (`gpu`), and the per-page state
(`Handlers`)."""

from __future__ import annotations

import functools
import inspect
import logging
import math
from collections.abc import Iterator
from pathlib import Path

import gradio as gr
import torch
from gradio.utils import get_upload_folder

from riff.audio.params import CLIP_WIDTH
from riff.endless import Listener
from riff.grid import Key, parse_key
from riff.request import Settings
from riff.runtime import give_back_memory
from riff.serve.engine import Busy, Chunk, Engine, Gone, Result, Stopped
from riff.serve.spaces import gpu_duration
from riff.serve.trust import bundled_mask, client_address, public_message, uploaded

try:  # On ZeroGPU Spaces a handler borrows a GPU per call, for as long as its request needs.
    import spaces

    def gpu(clips, width: str | None = "width"):
        """`spaces.GPU` with a duration read from the request (`riff.serve.spaces.gpu_duration`)."""
        return lambda fn: spaces.GPU(duration=gpu_duration(fn, clips, width=width))(fn)

except ImportError:

    def gpu(clips, width: str | None = "width"):
        return lambda fn: fn


NO_MASK = "none"
NOTHING_MADE = "Stopped before the first clip was done: nothing was made"  # Cancel, Stop
NO_LORA = "none"  # no LoRA picked: the model as it is
AS_THE_SEED = "as the seed"  # no key asked for: the seed image's own
FIT_BARS = "as many as fit"  # no bar count asked for: as many as fit one 5.11 s clip
KEY_NAMES = tuple(Key(tonic, minor).name for minor in (False, True) for tonic in range(12))
WORKERS = 8  # Gradio threads per kind of event; the engine's queue decides who renders


def ui_errors(fn):
    """Show ValueError (bad input, model trouble) and a full queue as one line in the page,
    without server paths, not as a traceback; a library's own error (RuntimeError) as one line
    without its text, which goes to the log."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)  # Gradio reads the signature and the annotations
        def generator(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except (ValueError, RuntimeError) as error:  # Busy and out of memory are RuntimeErrors
                if isinstance(error, (Gone, Stopped)):
                    raise
                raise _shown(error) from None

        return generator

    @functools.wraps(fn)
    def plain(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (ValueError, RuntimeError) as error:  # Busy and out of memory are RuntimeErrors
            if isinstance(error, (Gone, Stopped)):
                raise
            raise _shown(error) from None

    return plain


def _shown(error: Exception) -> gr.Error:
    """The one line the page shows for `error` (see `ui_errors`)."""
    if isinstance(error, (ValueError, Busy)):
        return gr.Error(public_message(str(error)))
    # torch's and its libraries' own text (istft arguments, allocation sizes, "MKL FFT error:
    # Not enough memory") is for the log, not for the caller.
    if isinstance(error, torch.OutOfMemoryError) or "memory" in str(error).lower():
        logging.getLogger("riff").exception("out of memory")
        give_back_memory()
        return gr.Error("out of memory for this request: try fewer clips or steps")
    logging.getLogger("riff").exception("render failed")
    return gr.Error("the render failed on the server; try again, or with a smaller request")


def session_of(request: gr.Request | None) -> str | None:
    return getattr(request, "session_hash", None)


def progress_bar(progress: gr.Progress):
    """Adapt riff's progress reports (`riff.render.Progress`) to a Gradio progress bar."""

    def report(done: float, clips: int, step: int, steps: int) -> None:
        # The clip being denoised: at its last step it is still that clip, not the next one.
        working = min(max(math.ceil(done), 1) if steps else int(done) + 1, clips)
        label = f"clip {working}/{clips}" + (f", step {step}/{steps}" if steps else "")
        progress(done / clips, desc=label)

    return report


def uploaded_path(path: str) -> str:
    """A file input's path, only if it is an upload (Gradio's own check is restored in
    `riff.studio.server.build_app`; this holds even where that check is skipped)."""
    return str(uploaded(path, [get_upload_folder()]))


def settings_for(
    steps: int | None,
    bpm: float | None = None,
    key: str | None = None,
    meter: str | None = "4/4",
    bars: int | str | None = None,
    lora: str | None = None,
    lora_scale: float | None = 1.0,
    **fields,
) -> Settings:
    """The settings of a render from its widgets: steps, the beat grid (`grid_fields`), the LoRA
    picked (by name: the engine finds it in its LoRA folder, or refuses it) and the rest.

    Raises:
        ValueError: a bad value, in one line (`Settings` checks the grid before any work).
    """
    grid = grid_fields(bpm, key, meter, bars)
    loras = (
        ()
        if lora in (None, "", NO_LORA)
        else ((str(lora), 1.0 if lora_scale is None else float(lora_scale)),)
    )
    return Settings(num_inference_steps=None if steps is None else int(steps), **grid, loras=loras, **fields)


def lora_values(settings: Settings) -> dict:
    """The page's LoRA fields for `settings` (its first LoRA; a JSON's path shows by its name)."""
    if not settings.loras:
        return {"lora": NO_LORA, "lora_scale": 1.0}
    name, scale = settings.loras[0]
    return {"lora": Path(name).name, "lora_scale": scale}


def grid_fields(bpm: float | None, key: str | None, meter: str | None, bars: int | str | None) -> dict:
    """`Settings`' beat-grid fields from the page's: an empty or 0 tempo and "as the seed" ask
    for none, `FIT_BARS` (or none) for as many bars as fit a clip; bad values are left for
    `Settings` to refuse."""
    if bars in (FIT_BARS, ""):
        bars = None
    if bars is not None:
        if isinstance(bars, bool) or not float(bars).is_integer():
            raise ValueError(f"bars must be a whole number of at least 1, got {bars!r}")
        bars = int(bars)
    return {
        "bpm": None if bpm in (None, "", 0) else float(bpm),
        "key": None if key in (None, "", AS_THE_SEED) else key,
        "meter": meter or "4/4",
        "bars": bars,
    }


def grid_values(settings: Settings) -> dict:
    """The page's beat-grid fields for `settings`: the inverse of `grid_fields`."""
    return {
        "bpm": settings.bpm,
        "key": parse_key(settings.key).name if settings.key else AS_THE_SEED,  # as the dropdown lists it
        "meter": settings.meter,
        "bars": FIT_BARS if settings.bars is None else settings.bars,
    }


def prompt_text(text: str | None, what: str = "write a prompt first") -> str:
    if not text or not text.strip():
        raise ValueError(what)
    return text


def mask_path(name: str | None) -> str | None:
    return None if name in (None, "", NO_MASK) else bundled_mask(name)


def clip_width(width: int | float | None) -> int | None:
    """A clip width from its slider; the seed image's own (None) at one clip."""
    return None if width is None or int(width) == CLIP_WIDTH else int(width)


def prompt_rows(table: list[list] | None) -> list[tuple[str, int]]:
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


def panel_values(result: Result, note: str):
    """The results panel's values for a render so far (see `riff.studio.widgets.Panel`)."""
    downloads = [p for p in (result.settings, result.archive, result.picture) if p is not None]
    return (
        str(result.named_track() or result.track),
        [(str(p), caption) for p, caption in result.images],
        str(result.picture) if result.picture else None,
        [str(p) for p in downloads] or None,
        note if result.done else f"{note} · rendering: {len(result.clips)} clip(s) ready",
        {
            "clips": [str(p) for p in result.clips],
            "track": str(result.track),
            "name": result.name,
            "grid": result.grid,
            "loop": result.loop,
        },
    )


class Handlers:
    """The page's handlers over one engine, and what they keep per page (session). Each kind of
    work adds its handlers (`riff.studio.handlers.Studio`); parameter names are the named API's."""

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
        session = session_of(request)
        if request is not None and session is not None:
            host = getattr(getattr(request, "client", None), "host", None)
            forwarded = (getattr(request, "headers", None) or {}).get("x-forwarded-for")
            self.engine.identify(session, client_address(host, forwarded, self.trusted_proxies))
        return session

    def _results(self, music, settings: Settings, session: str | None, progress) -> Iterator[Result]:
        """The engine's results of a render (`Engine.render`)."""
        return self._counted(self.engine.render(music, settings, session, progress_bar(progress)), session)

    def _counted(self, results: Iterator[Result], session: str | None) -> Iterator[Result]:
        """`results`, counting the clips made so far (Cancel says whether anything was)."""
        self._made[session] = 0
        for result in results:
            self._made[session] = len(result.clips)
            yield result

    def forget(self, session: str | None) -> None:
        """Drop what the page kept for a session that closed."""
        for kept in (self._made, self._encoded, self._listening):
            kept.pop(session, None)

    @ui_errors
    def export(self, saved: dict | None, audio_format: str = "wav", request: gr.Request = None) -> str:
        """The finished track as a file named after its prompts (and its tempo and key, tagged
        with them), in the chosen format."""
        if not saved or not saved.get("track"):
            raise ValueError("render something first")
        session = self._session(request)
        grid, loop = saved.get("grid"), bool(saved.get("loop"))
        path = self.engine.export(saved["track"], saved["name"], f".{audio_format}", session, grid, loop)
        return str(path)

    def cancel(self, request: gr.Request = None) -> str:
        """Stop this page's render at its next step (Cancel, Stop)."""
        session = self._session(request)
        self.engine.cancel(session)
        made = self._made.get(session, 0)
        if not made:
            return NOTHING_MADE
        return f"Stopped: the render ended at its next step; the {made} clip(s) it made stay above"
