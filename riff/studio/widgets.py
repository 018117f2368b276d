"""The page's shared controls, each declared once: steps, guidance, denoising, seeds, seed
image, crossfade, clip length, continuation, the beat grid (tempo, tap tempo, key, meter, bars),
a LoRA and its scale;
a tab's render button and its results panel."""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import gradio as gr

from riff.audio.params import CLIP_SECONDS, CLIP_WIDTH
from riff.grid import MAX_BPM, METERS, MIN_BPM
from riff.lora import SCALES
from riff.request import MAX_GUIDANCE, MAX_SEED, PromptEnd, Walk
from riff.seed_images import DEFAULT_SEED, seed_image_names
from riff.serve.engine import Engine
from riff.studio.edge import AS_THE_SEED, FIT_BARS, KEY_NAMES, NO_LORA, Handlers
from riff.studio.help import explain

SLIDER_CLIPS = 32  # the clips slider's range; longer walks are for the CLI and the API's callers
SLIDER_STEPS = (5, 100)
MENU_BARS = 16  # bars per clip the list offers; the API takes any count the width allows


def steps(engine: Engine) -> gr.Slider:
    return gr.Slider(*SLIDER_STEPS, value=engine.default_steps, step=1, precision=0, label="Inference steps")


def guidance(label: str = "Guidance") -> gr.Slider:
    return gr.Slider(0.0, MAX_GUIDANCE, value=PromptEnd.guidance, step=0.5, label=label)


def denoising(label: str = "Denoising strength", value: float = PromptEnd.denoising) -> gr.Slider:
    return gr.Slider(0.05, 1.0, value=value, step=0.05, label=label)


def seed(label: str = "Seed", value: int = 0, **layout) -> gr.Number:
    return gr.Number(label=label, value=value, precision=0, minimum=0, maximum=MAX_SEED, **layout)


def seed_image(seeds: list[str] | None = None) -> gr.Dropdown:
    """The bundled seed images by name (`seeds`: their names, read once by the caller)."""
    return gr.Dropdown(seed_image_names() if seeds is None else seeds, value=DEFAULT_SEED, label="Seed image")


def crossfade(value: float, label: str = "Crossfade (ms)") -> gr.Slider:
    return gr.Slider(0, 1000, value=value, step=10, label=label)


def clip_length() -> gr.Slider:
    return gr.Slider(
        CLIP_WIDTH // 2,
        4 * CLIP_WIDTH,
        value=CLIP_WIDTH,
        step=64,
        precision=0,
        label=f"Clip length (columns; {CLIP_WIDTH} = {CLIP_SECONDS:.2f} s)",
        info="wider clips are longer music from one seed image, tiled on its beat; work grows with width",
    )


def continuation() -> gr.Checkbox:
    return gr.Checkbox(
        label="Continue each clip from the last",
        value=Walk.continuation,
        info="each clip keeps the previous clip's last quarter and goes on from it (clips render one by one)",
    )


# Tap tempo in the page itself: each tap's time is kept for 3 s; two taps or more set the tempo
# box to their mean interval's tempo, within the tempos riff renders.
TAP_JS = f"""(bpm) => {{
  const now = performance.now();
  const taps = (window.riffTaps || []).filter((t) => now - t < 3000);
  taps.push(now);
  window.riffTaps = taps;
  if (taps.length < 2) return bpm;
  const beat = (taps[taps.length - 1] - taps[0]) / (taps.length - 1);
  return Math.min({MAX_BPM:g}, Math.max({MIN_BPM:g}, Math.round(60000 / beat)));
}}"""


def beat_grid() -> dict:
    """The beat grid's controls in a row, by the handlers' parameter names: tempo (empty or 0:
    as the seed image plays) with a tap-tempo button, key, meter and bars per clip."""
    fields: dict = {}
    with gr.Row(elem_classes="beat-grid"):
        fields["bpm"] = gr.Number(
            None, label="Tempo (bpm)", minimum=0, maximum=MAX_BPM, placeholder="as the seed", min_width=100
        )
        tap = gr.Button("Tap tempo", size="sm", min_width=80, scale=0)
        fields["key"] = gr.Dropdown(
            [AS_THE_SEED, *KEY_NAMES], value=AS_THE_SEED, label="Key", allow_custom_value=True, min_width=120
        )
        fields["meter"] = gr.Dropdown(list(METERS), value="4/4", label="Meter", min_width=80)
        # A list, not a number box: an emptied number box sends 0, which is no bar count.
        fields["bars"] = gr.Dropdown(
            [FIT_BARS, *range(1, MENU_BARS + 1)],
            value=FIT_BARS,
            label="Bars per clip",
            allow_custom_value=True,
            min_width=100,
        )
    tap.click(None, fields["bpm"], fields["bpm"], js=TAP_JS, api_visibility="private", queue=False)
    return fields


def lora(engine: Engine) -> dict:
    """The LoRA picker and its scale, by the handlers' parameter names: the adapters the
    server's operator put in its LoRA folder, by name; greyed out, saying so, where there are none."""
    names = engine.loras.names()
    with gr.Row(elem_classes="lora"):
        fields = {
            "lora": gr.Dropdown(
                [NO_LORA, *names],
                value=NO_LORA,
                label="LoRA (a style fine-tuned into the model)",
                interactive=bool(names),
                info=None if names else "none on this server: start it with --lora-dir FOLDER to offer some",
            ),
            "lora_scale": gr.Slider(
                *SCALES, value=1.0, step=0.05, label="LoRA scale", interactive=bool(names)
            ),
        }
    return fields


def inputs(handler, fields: dict) -> list:
    """The components for a handler's parameters, in its order (request and progress are
    Gradio's to fill)."""
    names = [n for n in inspect.signature(handler).parameters if n not in ("request", "progress")]
    return [fields[n] for n in names]


@dataclass
class Panel:
    """One results panel: what every render tab shows (see `riff.studio.edge.panel_values`)."""

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
    studio: Handlers, track_label: str, columns: int, elem_ids: bool = False, loop: bool = False
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


def render_button(
    studio: Handlers, label: str, handler, fields: dict, track_label: str, columns: int, loop: bool = False
) -> Panel:
    """A render button over a tab's fields, its results panel below; the API is named after
    the handler."""
    explain(fields)
    with gr.Row():
        go = gr.Button(label, variant="primary")
        stop = gr.Button("Cancel", variant="stop")
    panel = results_panel(studio, track_label, columns, loop=loop)
    panel.forget_kept(go.click)
    event = go.click(
        handler,
        inputs(handler, fields),
        panel.outputs(),
        api_name=handler.__name__,
        concurrency_id="gpu",
        show_progress_on=[panel.track],
    )
    stop.click(studio.cancel, None, panel.note, cancels=[event], api_visibility="private", queue=False)
    return panel
