"""The interpolation explorer: what a visitor meets first. Two prompts and seeds, the length
(in clips or seconds) and Generate; then the examples, the folded settings, and the results."""

from __future__ import annotations

import random

import gradio as gr

from riff.audio.params import CLIP_SECONDS, CLIP_WIDTH
from riff.interp import ALPHA_CURVES
from riff.models import SCHEDULERS
from riff.request import MAX_SEED, PromptEnd, Settings, Walk, from_dict
from riff.seed_images import SEED_DIR, mask_names, seed_image_names
from riff.serve.engine import Engine
from riff.studio import widgets
from riff.studio.edge import NO_MASK, clip_width
from riff.studio.handlers import Studio
from riff.studio.help import explain
from riff.studio.walks import walk_fields
from riff.studio.widgets import SLIDER_CLIPS, Panel, inputs, results_panel
from riff.walk import continued_columns

EXAMPLES = [
    # Phrases the bundled model learned (see its dataset's captions); any model reads them.
    ["church organ playing a bach chorale", 12, "string quartet playing a bach chorale", 40],
    ["jazz trio with upright bass", 7, "bossa nova drums", 8],
    ["harp playing a folk melody", 3, "house drum beat, 120 bpm", 21],
    ["solo piano, slow, minor", 100, "hip hop drums", 101],
]


def end_fields(side: str, prompt: str, seed: int) -> dict:
    """One end's prompt and seed (with a dice), in sight."""
    key = side.lower()
    with gr.Column(variant="panel", min_width=240):
        fields = {
            "prompt": gr.Textbox(label=f"{side} prompt", value=prompt, lines=2, elem_id=f"{key}-prompt")
        }
        with gr.Row():
            # Distinct labels: they head the examples table, which breaks on duplicates.
            fields["seed"] = widgets.seed(f"{side} seed", seed, scale=4)
            dice = gr.Button("Random", scale=1, min_width=60, elem_id=f"{key}-dice")
    dice.click(lambda: random.randint(0, MAX_SEED), None, fields["seed"], api_visibility="private")
    return {f"{key}_{name}": widget for name, widget in fields.items()}


def end_details() -> dict:
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
                fields[denoising] = widgets.denoising(f"{side}: denoising strength")
                fields[guidance] = widgets.guidance(f"{side}: guidance")
    return fields


def track_seconds(clips: int, width: int | None = None, continuation: bool = False) -> float:
    """How long a walk of `clips` clips plays: each clip lasts its width's seconds, a continued
    clip adds only what it does not keep of the one before, crossfades are centred on the joins."""
    clip_s = CLIP_SECONDS * (width or CLIP_WIDTH) / CLIP_WIDTH
    latent = (width or CLIP_WIDTH) // 8
    kept_s = clip_s * continued_columns(latent) / latent if continuation else 0.0
    return clips * clip_s - (clips - 1) * kept_s


def length_s(clips: float, width: float | None = None, continuation: bool = False) -> float:
    """The seconds a walk's settings make, to one decimal (shown before rendering)."""
    return round(track_seconds(int(clips), clip_width(width), bool(continuation)), 1)


def clips_for(seconds: float | None, width: float | None = None, continuation: bool = False) -> int:
    """The fewest clips that make at least `seconds` of music (within the clips slider)."""
    for clips in range(1, SLIDER_CLIPS + 1):
        if length_s(clips, width, continuation) >= (seconds or 0) - 0.05:
            return clips
    return SLIDER_CLIPS


def walk_settings(engine: Engine, seeds: list[str]) -> dict:
    """The explorer's walk settings, folded: steps, curve, crossfade, scheduler, clip length,
    continuation, seed image, mask, and the beat grid under the seed image."""
    fields: dict = {}
    with gr.Accordion(
        "Walk settings: steps, curve, crossfade, clip length, seed image, mask, tempo and key", open=False
    ):
        with gr.Row():
            fields["num_inference_steps"] = widgets.steps(engine)
            fields["alpha_curve"] = gr.Dropdown(
                list(ALPHA_CURVES), value=Walk.alpha_curve, label="Alpha curve"
            )
            fields["crossfade_ms"] = widgets.crossfade(Walk.crossfade_ms)
            fields["scheduler"] = gr.Dropdown(list(SCHEDULERS), value=Settings.scheduler, label="Scheduler")
        with gr.Row():
            fields["width"] = widgets.clip_length()
            fields["continuation"] = widgets.continuation()
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
                fields["seed_image"] = widgets.seed_image(seeds)
                fields["seed_upload"] = gr.File(
                    label="…or your own image or audio as the seed",
                    file_types=["image", "audio"],
                    type="filepath",
                    elem_id="seed-upload",
                )
                fields["mask"] = gr.Dropdown(
                    [NO_MASK, *mask_names()], value=NO_MASK, label="Mask (white repaints, black keeps)"
                )
        fields |= widgets.beat_grid()
        fields |= widgets.lora(engine)

    def pick_seed(selected: gr.SelectData) -> str:
        return seeds[selected.index]

    gallery.select(pick_seed, None, fields["seed_image"], api_visibility="private")
    return fields


def _length() -> tuple[gr.Slider, gr.Number]:
    """The walk's length in clips, and in seconds (typed in, or shown as the clips make it)."""
    clips = gr.Slider(
        1,
        SLIDER_CLIPS,
        value=Walk.num_clips,
        step=1,
        precision=0,
        label=f"Length in clips ({CLIP_SECONDS:.2f} s each)",
        scale=2,
    )
    seconds = gr.Number(
        length_s(Walk.num_clips),
        precision=1,
        minimum=0,
        label="Length (s)",
        info="type the seconds you want: the walk takes the clips that make them",
        elem_id="walk-length",
        scale=1,
    )
    return clips, seconds


def _sized_in_seconds(fields: dict, length: gr.Number) -> None:
    """Seconds in, clips out; the seconds shown are always what the clips make."""
    sizing = [fields["num_clips"], fields["width"], fields["continuation"]]
    for widget in sizing:
        widget.change(length_s, sizing, length, api_visibility="private", show_progress="hidden")
    length.submit(clips_for, [length, *sizing[1:]], fields["num_clips"], api_visibility="private")


def _reuse(button: gr.Button, settings: gr.State, fields: dict) -> None:
    """ "Reuse these settings": the last walk's settings back into the fields."""
    reused = list(walk_fields(Walk(PromptEnd("x"), PromptEnd("x")), Settings()))

    def reuse_settings(saved: dict | None):
        if not saved:
            raise gr.Error("render a walk first; its settings can then be reused")
        values = walk_fields(*from_dict(saved))
        return [values[name] for name in reused]

    button.click(reuse_settings, settings, [fields[n] for n in reused], api_visibility="private")


def _examples(studio: Studio, fields: dict, panel: Panel, outputs: list, cache_examples: bool) -> list:
    """The examples table; with `cache_examples`, a click also plays the example (rendered once,
    then kept). Returns the events that play one (Cancel stops them)."""
    names = ("start_prompt", "start_seed", "end_prompt", "end_seed")
    examples = gr.Examples(EXAMPLES, [fields[n] for n in names], label="Prompt pairs that walk well")
    panel.forget_kept(examples.load_input_event.then)
    if not cache_examples:
        return []
    return [
        examples.load_input_event.then(
            studio.example,
            [fields[n] for n in names],
            outputs,
            api_visibility="private",
            concurrency_id="gpu",
            show_progress_on=[panel.track],
        )
    ]


def explorer_tab(studio: Studio, status: gr.Markdown, cache_examples: bool) -> None:
    """What a visitor meets first: the two prompts, the length and Generate; then the examples,
    the folded settings, and the results."""
    fields: dict = {}
    with gr.Row(elem_id="walk-top"):
        fields |= end_fields("Start", "solo piano, slow, minor", 0)
        fields |= end_fields("End", "rock drum beat, 120 bpm", 1)
    with gr.Row(elem_id="walk-go"):
        fields["num_clips"], length = _length()
        go = gr.Button("Generate", variant="primary", elem_id="generate", scale=1)
        stop = gr.Button("Cancel", variant="stop", scale=1)
        reuse = gr.Button("Reuse these settings", scale=1)
    fields |= end_details()
    examples_slot = gr.Column(elem_id="walk-examples")  # filled once the outputs it needs exist
    fields |= walk_settings(studio.engine, seed_image_names())
    explain(fields)
    _sized_in_seconds(fields, length)
    panel = results_panel(studio, "Stitched track", columns=6, elem_ids=True, loop=True)
    settings = gr.State(None)
    outputs = [*panel.outputs(), settings, status]
    panel.forget_kept(go.click)
    event = go.click(
        studio.interpolate,
        inputs(studio.interpolate, fields),
        outputs,
        api_name="interpolate",
        concurrency_id="gpu",
        show_progress_on=[panel.track],  # one bar, not one per output
    )
    # The status line also says when the model failed to load on this first use.
    event.then(studio.engine.status, None, status, api_visibility="private", show_progress="hidden")
    _reuse(reuse, settings, fields)
    with examples_slot:
        played = _examples(studio, fields, panel, outputs, cache_examples)
    stop.click(
        studio.cancel, None, panel.note, cancels=[event, *played], api_visibility="private", queue=False
    )
