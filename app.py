"""riff studio: the Gradio app over the riff library (locally or on Hugging Face Spaces).

This file only wires: layout, events, and turning ValueError into gr.Error. Each handler of
`Studio` unpacks widgets into a request (`riff.request`) and hands it to the engine
(`riff.studio.Engine`); choices, defaults and limits come from the library.
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
import threading
from dataclasses import dataclass

import gradio as gr
import torch
from gradio.exceptions import InvalidPathError
from gradio.utils import get_upload_folder
from PIL import Image

from riff.audio import wav_bytes
from riff.endless import Endless
from riff.gpu import gpu_duration
from riff.image import params_from_image
from riff.interp import ALPHA_CURVES
from riff.models import SCHEDULERS
from riff.params import CLIP_SECONDS, CLIP_WIDTH
from riff.preview import ScrollingPicture, spectrogram_picture
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
from riff.runtime import give_back_memory, keep_large_buffers
from riff.seeds import DEFAULT_SEED, SEED_DIR, mask_names, seed_image_names
from riff.studio import Busy, Engine, Result
from riff.teach import SLIDER_HELP, slerp_vs_lerp
from riff.trust import bundled_mask, bundled_seed, client_address, public_message, uploaded

try:  # On ZeroGPU Spaces a handler borrows a GPU per call, for as long as its request needs.
    import spaces

    def gpu(clips, width: str | None = "width"):
        """`spaces.GPU` with a duration read from the request (`riff.gpu.gpu_duration`)."""
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
# Phones: the examples table wraps its words instead of running off the screen, and the seed
# thumbnails wrap onto two rows instead of scrolling out of sight.
CSS = """
@media (max-width: 640px) {
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
    without server paths, not as a traceback."""

    def shown(error: Exception) -> gr.Error:
        return gr.Error(public_message(str(error)))

    def out_of_memory() -> gr.Error:
        logging.getLogger("riff").exception("out of memory")
        give_back_memory()
        return gr.Error("out of memory for this request: try fewer clips or steps")

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)  # Gradio reads the signature and the annotations
        def generator(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except (ValueError, Busy) as error:
                raise shown(error) from None
            except torch.OutOfMemoryError:
                raise out_of_memory() from None

        return generator

    @functools.wraps(fn)
    def plain(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (ValueError, Busy) as error:
            raise shown(error) from None
        except torch.OutOfMemoryError:
            raise out_of_memory() from None

    return plain


def _session(request: gr.Request | None) -> str | None:
    return getattr(request, "session_hash", None)


def _progress(progress: gr.Progress):
    """Adapt riff's progress reports (`riff.render.Progress`) to a Gradio progress bar."""

    def report(done: float, clips: int, step: int, steps: int) -> None:
        label = f"clip {min(int(done) + 1, clips)}/{clips}" + (f", step {step}/{steps}" if steps else "")
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
        str(result.track),
        [(str(p), caption) for p, caption in result.images],
        str(result.picture) if result.picture else None,
        [str(p) for p in downloads] or None,
        note if result.done else f"{note} · rendering: {len(result.clips)} clip(s) ready",
        {"clips": [str(p) for p in result.clips], "track": str(result.track), "name": result.name},
    )


class Studio:
    """The page's handlers over one engine. Parameter names are the named API's."""

    def __init__(self, engine: Engine, trusted_proxies: int = 0) -> None:
        self.engine = engine
        self.trusted_proxies = trusted_proxies  # proxies whose X-Forwarded-For is believed

    def _session(self, request: gr.Request | None) -> str | None:
        """The caller's session, its client (address) made known to the engine's caps."""
        session = _session(request)
        if request is not None and session is not None:
            host = getattr(getattr(request, "client", None), "host", None)
            forwarded = (getattr(request, "headers", None) or {}).get("x-forwarded-for")
            self.engine.identify(session, client_address(host, forwarded, self.trusted_proxies))
        return session

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
        """Render a walk from the start prompt and seed to the end ones; yields the track so far."""
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
        note = f"Seeds used: start {walk.start.seed}, end {walk.end.seed}"
        for result in self.engine.render(walk, settings, self._session(request), _progress(progress)):
            yield *_outputs(result, note), to_dict(walk, settings), self.engine.status()

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
        """Text to audio: one clip per seed, seed, seed + 1, ..."""
        end = PromptEnd(_prompt(prompt), int(seed), negative_prompt or "", denoising, guidance)
        seeds = Seeds.counting(end, int(num_seeds), seed_image=bundled_seed(seed_image or DEFAULT_SEED))
        settings = _settings(num_inference_steps)
        note = f"Seeds used: {seeds.seeds[0]}..{seeds.seeds[-1]}"
        for result in self.engine.render(seeds, settings, self._session(request), _progress(progress)):
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
        for result in self.engine.render(chain, settings, self._session(request), _progress(progress)):
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
        """A seamless loop: the track repeats with no seam (download it or switch on looping)."""
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
        for result in self.engine.render(
            music, _settings(num_inference_steps), self._session(request), _progress(progress)
        ):
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
        for chunk in chunks:
            rate = chunk.clip.params.sample_rate
            yield wav_bytes(chunk.audio, rate), scroll.add(chunk.clip), chunk.status()

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
        pictures = [(p.image, p.caption) for p in shown.pictures]
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
        self.engine.cancel(self._session(request))
        return "Stopped: the render ended at its next step; what it had made stays above"

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
        for result in self.engine.restyle(
            song, restyle, settings, self._session(request), _progress(progress)
        ):
            yield _outputs(result, f"Seed used: {start.seed}")

    @ui_errors
    def audio_to_image(self, audio: str, stereo: bool = False, request: gr.Request = None):
        """Encode audio as a riffusion-format spectrogram image."""
        if not audio:
            raise ValueError("upload an audio file first")
        path, info = self.engine.audio_to_image(_uploaded(audio), bool(stereo), self._session(request))
        with Image.open(path) as image:  # shown with its axes; the PNG itself is the download
            picture = spectrogram_picture([image.convert("RGB")], params_from_image(image)[0], joins=False)
        return picture, info, str(path)

    @ui_errors
    def decode_encoded(self, png: str | None, seed: int = 0, request: gr.Request = None):
        """Decode the image just encoded, without downloading and uploading it."""
        if not png:
            raise ValueError("encode an audio file first")
        own = self.engine.own_file(png, self._session(request))
        path, info = self.engine.image_to_audio(own, int(seed), self._session(request))
        return str(path), info

    @ui_errors
    def image_to_audio(self, image: str, seed: int = 0, request: gr.Request = None):
        """Decode a spectrogram image to audio, honouring its metadata."""
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

    def outputs(self) -> list:
        return [self.track, self.gallery, self.picture, self.downloads, self.note, self.state]


def results_panel(
    studio: Studio, track_label: str, columns: int, elem_ids: bool = False, loop: bool = False
) -> Panel:
    """The note, the track (with a loop switch if `loop`) and a player for the clicked clip,
    the clips' spectrograms, the whole track's picture, the downloads, and the track kept in
    the format the listener picks."""
    note = gr.Markdown("")
    with gr.Row():
        track = gr.Audio(
            label=track_label, type="filepath", interactive=False, elem_id="track" if elem_ids else None
        )
        player = gr.Audio(label="Selected clip", type="filepath", interactive=False, autoplay=True)
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
    return Panel(track, gallery, picture, downloads, note, state)


def _end_fields(side: str, prompt: str, seed: int) -> dict:
    """One end's widgets: prompt, negative prompt, seed with a dice, denoising, guidance."""
    key = side.lower()
    with gr.Column(variant="panel"):
        gr.Markdown(f"### {side}")
        fields = {
            "prompt": gr.Textbox(label=f"{side} prompt", value=prompt, lines=2, elem_id=f"{key}-prompt"),
            "negative_prompt": gr.Textbox(label="Negative prompt", value="", placeholder="what to avoid"),
        }
        with gr.Row():
            # Distinct labels: they head the examples table, which breaks on duplicates.
            fields["seed"] = gr.Number(
                label=f"{side} seed", value=seed, precision=0, minimum=0, maximum=MAX_SEED, scale=4
            )
            dice = gr.Button("Random", scale=1, min_width=60, elem_id=f"{key}-dice")
        fields["denoising"] = gr.Slider(
            0.05, 1.0, value=PromptEnd.denoising, step=0.05, label="Denoising strength"
        )
        fields["guidance"] = _guidance()
    dice.click(lambda: random.randint(0, MAX_SEED), None, fields["seed"], api_visibility="private")
    start = side == "Start"
    names = {
        "denoising": "denoising" if start else "end_denoising",
        "guidance": "guidance" if start else "end_guidance",
    }
    return {names.get(name, f"{key}_{name}"): widget for name, widget in fields.items()}


def _walk_settings(engine: Engine, seeds: list[str]) -> dict:
    """The explorer's walk settings: clips, steps, curve, crossfade, scheduler, seed image, mask."""
    fields: dict = {}
    with gr.Accordion("Walk settings", open=True):
        with gr.Row():
            fields["num_clips"] = gr.Slider(1, SLIDER_CLIPS, value=Walk.num_clips, step=1, label="Clips")
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
                )
                fields["mask"] = gr.Dropdown(
                    [NO_MASK, *mask_names()], value=NO_MASK, label="Mask (white repaints, black keeps)"
                )

    def pick_seed(selected: gr.SelectData) -> str:
        return seeds[selected.index]

    gallery.select(pick_seed, None, fields["seed_image"], api_visibility="private")
    return fields


def explorer_tab(studio: Studio, status: gr.Markdown, cache_examples: bool) -> None:
    """Two prompt ends, the walk settings, Generate / Cancel / Reuse, the results."""
    fields: dict = {}
    with gr.Row():
        fields |= _end_fields("Start", "solo piano, slow, minor", 0)
        fields |= _end_fields("End", "rock drum beat, 120 bpm", 1)
    examples_slot = gr.Column(elem_id="walk-examples")  # filled once the outputs it needs exist
    fields |= _walk_settings(studio.engine, seed_image_names())
    _explain(fields)
    with gr.Row():
        go = gr.Button("Generate", variant="primary", elem_id="generate")
        stop = gr.Button("Cancel", variant="stop")
        reuse = gr.Button("Reuse these settings")
    panel = results_panel(studio, "Stitched track", columns=6, elem_ids=True, loop=True)
    settings = gr.State(None)
    outputs = [*panel.outputs(), settings, status]
    event = go.click(
        studio.interpolate,
        _inputs(studio.interpolate, fields),
        outputs,
        api_name="interpolate",
        concurrency_id="gpu",
        show_progress_on=[panel.track],  # one bar, not one per output
    )
    stop.click(studio.cancel, None, panel.note, cancels=[event], api_visibility="private", queue=False)
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
        gr.Examples(
            EXAMPLES,
            [fields[n] for n in names],
            outputs,
            fn=studio.interpolate,
            cache_examples=cache_examples,
            cache_mode="lazy",
            label="Prompt pairs that walk well",
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
        label=f"Clip length (columns; {CLIP_WIDTH} = {CLIP_SECONDS:.2f} s)",
        info="wider clips are longer music from one seed image, tiled on its beat; work grows with width",
    )


def _continuation() -> gr.Checkbox:
    return gr.Checkbox(
        label="Continue each clip from the last",
        value=Walk.continuation,
        info="each clip keeps the previous clip's last quarter and goes on from it (clips render one by one)",
    )


def _guidance() -> gr.Slider:
    return gr.Slider(0.0, MAX_GUIDANCE, value=PromptEnd.guidance, step=0.5, label="Guidance")


def _steps(engine: Engine) -> gr.Slider:
    return gr.Slider(*SLIDER_STEPS, value=engine.default_steps, step=1, label="Inference steps")


def text_tab(studio: Studio) -> None:
    """One prompt, a clip per seed."""
    fields: dict = {}
    with gr.Row():
        fields["prompt"] = gr.Textbox(label="Prompt", value="rock drum beat, 120 bpm", lines=2, scale=3)
        fields["negative_prompt"] = gr.Textbox(label="Negative prompt", value="", scale=2)
    with gr.Row():
        fields["seed"] = gr.Number(label="First seed", value=0, precision=0, minimum=0, maximum=MAX_SEED)
        fields["num_seeds"] = gr.Slider(1, MAX_SEEDS, value=4, step=1, label="Seeds (one clip each)")
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
        fields["clips_per_hop"] = gr.Slider(1, 16, value=Chain.clips_per_hop, step=1, label="Clips per hop")
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
        fields["clips"] = gr.Slider(1, 16, value=Loop.clips, step=1, label="Clips round the loop")
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
            1, 16, value=Endless.clips_per_seed, step=1, label="Clips from one seed to the next"
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
    status = gr.Markdown("", elem_id="endless-status")
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
    stop.click(studio.cancel, None, status, cancels=[event], api_visibility="private", queue=False)
    queue.click(studio.queue_next, up_next, status, api_name="up_next", show_progress="hidden")


def teach_tab(studio: Studio) -> None:
    """One clip's journey, step by step, for a class."""
    gr.Markdown(
        "How one clip is made: the seed image, its latent, the noise the strength adds, the "
        "model's guesses as it denoises, the spectrogram, its linear magnitudes, phase "
        "retrieval, and the sound. Every control says what it does when you hover on it."
    )
    fields: dict = {}
    with gr.Row():
        fields["prompt"] = gr.Textbox(label="Prompt", value="jazz trio with upright bass", lines=2, scale=3)
        fields["seed"] = gr.Number(label="Seed", value=0, precision=0, minimum=0, maximum=MAX_SEED)
        fields["denoising"] = gr.Slider(
            0.05, 1.0, value=PromptEnd.denoising, step=0.05, label="Denoising strength"
        )
        fields["guidance"] = _guidance()
        fields["num_inference_steps"] = _steps(studio.engine)
        fields["seed_image"] = gr.Dropdown(seed_image_names(), value=DEFAULT_SEED, label="Seed image")
    go = gr.Button("Show the journey", variant="primary", elem_id="teach-go")
    pictures = gr.Gallery(
        label="The journey (click a picture for its caption)", columns=4, height=420, elem_id="journey"
    )
    with gr.Row():
        audio = gr.Audio(label="The sound", type="filepath", interactive=False)
        said = gr.Markdown("")
    with gr.Row():
        with gr.Column():
            noise = gr.Image(label="Why slerp: the noise's norm along a walk", type="pil", interactive=False)
            why = gr.Markdown("")
        numbers = gr.JSON(label="The numbers")
    _explain(fields)
    go.click(
        studio.teach,
        _inputs(studio.teach, fields),
        [pictures, audio, said, noise, why, numbers],
        api_name="teach",
        concurrency_id="gpu",
        show_progress_on=[pictures],
    )


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
            label="Keep stereo", value=False, info="left and right restyled side by side: twice the work"
        )
    _render_button(studio, "Restyle", studio.audio_to_audio, fields, "Restyled region", columns=6)


def tools_tab(studio: Studio) -> None:
    """Audio to a spectrogram image and back, metadata shown and honoured."""
    with gr.Row():
        with gr.Column(variant="panel"):
            gr.Markdown("### Audio → image")
            audio = gr.Audio(label="Audio", type="filepath", sources=["upload"])
            stereo = gr.Checkbox(label="Stereo (G = left, B = right)")
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
        status = gr.Markdown(engine.status(), elem_id="model-status")
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

        demo.unload(forget)  # Gradio fills in gr.Request only for a parameter annotated so
        # The status as it is when the page opens (the page is built once, before any load).
        demo.load(engine.status, None, status, api_visibility="private", show_progress="hidden", queue=False)
    # The engine's queue hands out the model one clip at a time, fairly and with per-client caps;
    # Gradio's limit only bounds the threads that wait for it.
    demo.queue(default_concurrency_limit=WORKERS, max_size=engine.limits.queue)
    _plain_path_errors(demo)
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


def build_app(engine: Engine, cache_examples: bool = False, trusted_proxies: int = 0):
    """The page and the riffusion-compatible REST route on one FastAPI server."""
    from fastapi import FastAPI
    from starlette.middleware.cors import CORSMiddleware

    from riff.rest import router
    from riff.uploads import UploadCap

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
    app.include_router(router(engine, gpu(lambda _: 1, width=None)))
    limits = engine.limits
    app.add_middleware(UploadCap, max_bytes=limits.upload_request_mb * 1e6, max_files=limits.upload_files)
    demo = build_demo(engine, cache_examples, trusted_proxies)
    app = gr.mount_gradio_app(
        app,
        demo,
        path="/",
        allowed_paths=[str(engine.root)],
        max_file_size=int(engine.limits.upload_mb * 1e6),
        css=CSS,
    )
    # Gradio refuses file inputs that were not uploaded only in a Blocks marked launched, which
    # mount_gradio_app never does: without this, {"path": "/etc/passwd"} would be copied into
    # the cache and served back.
    demo.has_launched = True
    return app


def main() -> None:
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
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    keep_large_buffers()
    import uvicorn

    engine = Engine(args.model, args.device)

    def preload() -> None:
        # Load while the page is already up; a failure is kept and shown as one line.
        try:
            print(f"riff: {engine.model.describe()} ready", flush=True)
        except ValueError as error:
            print(f"riff: {error}", flush=True)

    threading.Thread(target=preload, daemon=True).start()
    print(f"riff studio on http://{args.host}:{args.port}", flush=True)
    # uvicorn stops on SIGTERM as on SIGINT, then raises the signal again with the handler it
    # found: the default one would end the process here, skipping the clean-up below.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        uvicorn.run(
            build_app(engine, cache_examples=True, trusted_proxies=args.trusted_proxies),
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
