"""The tabs beside the explorer: text to audio, a prompt chain, a loop, the endless riff, a song
restyled, and the spectrogram tools. Each declares its fields by its handler's parameter names."""

from __future__ import annotations

import gradio as gr

from riff.endless import Endless
from riff.grid import MAX_BPM
from riff.request import MAX_ENDS, MAX_SEEDS, Chain, Loop, Restyle
from riff.studio import widgets
from riff.studio.edge import WORKERS
from riff.studio.handlers import Studio
from riff.studio.help import explain
from riff.studio.widgets import inputs, render_button


def text_tab(studio: Studio) -> None:
    """One prompt, a clip per seed."""
    fields: dict = {}
    with gr.Row():
        fields["prompt"] = gr.Textbox(label="Prompt", value="rock drum beat, 120 bpm", lines=2, scale=3)
        fields["negative_prompt"] = gr.Textbox(label="Negative prompt", value="", scale=2)
    with gr.Row():
        fields["seed"] = widgets.seed("First seed")
        fields["num_seeds"] = gr.Slider(
            1, MAX_SEEDS, value=4, step=1, precision=0, label="Seeds (one clip each)"
        )
        fields["num_inference_steps"] = widgets.steps(studio.engine)
        fields["denoising"] = widgets.denoising()
        fields["guidance"] = widgets.guidance()
        fields["seed_image"] = widgets.seed_image()
    fields |= widgets.beat_grid()
    fields |= widgets.lora(studio.engine)
    render_button(studio, "Generate", studio.generate, fields, "All clips, one after another", columns=8)


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
        fields["continuation"] = widgets.continuation()
        fields["num_inference_steps"] = widgets.steps(studio.engine)
        fields["denoising"] = widgets.denoising()
        fields["guidance"] = widgets.guidance()
    with gr.Row():
        fields["crossfade_ms"] = widgets.crossfade(Chain.crossfade_ms)
        fields["seed_image"] = widgets.seed_image()
        fields["width"] = widgets.clip_length()
    fields |= widgets.beat_grid()
    fields |= widgets.lora(studio.engine)
    render_button(studio, "Render the chain", studio.chain, fields, "Chain", columns=6)


def loop_tab(studio: Studio) -> None:
    """A seamless loop of one prompt."""
    fields: dict = {}
    with gr.Row():
        fields["prompt"] = gr.Textbox(label="Prompt", value="lofi hip hop beat, mellow", lines=2, scale=3)
        fields["seed"] = widgets.seed()
        # Four clips: one 5 s clip is a short loop, and its picture one blurred banner.
        fields["clips"] = gr.Slider(1, 16, value=4, step=1, precision=0, label="Clips round the loop")
    with gr.Row():
        fields["num_inference_steps"] = widgets.steps(studio.engine)
        fields["denoising"] = widgets.denoising()
        fields["guidance"] = widgets.guidance()
        fields["crossfade_ms"] = widgets.crossfade(Loop.crossfade_ms, "Crossfade (ms), the wrap too")
        fields["seed_image"] = widgets.seed_image()
        fields["width"] = widgets.clip_length()
    fields |= widgets.beat_grid()
    fields |= widgets.lora(studio.engine)
    render_button(
        studio, "Render the loop", studio.loop, fields, "Loop (repeats seamlessly)", columns=6, loop=True
    )


def endless_tab(studio: Studio) -> None:
    """An endless riff: plays until Stop; a prompt queued up next takes over at the next seed."""
    fields: dict = {}
    with gr.Row():
        fields["prompt"] = gr.Textbox(
            label="Prompt", value="lofi hip hop beat, mellow", lines=2, scale=3, elem_id="endless-prompt"
        )
        fields["seed"] = widgets.seed("First seed")
        fields["clips_per_seed"] = gr.Slider(
            1, 16, value=Endless.clips_per_seed, step=1, precision=0, label="Clips from one seed to the next"
        )
    with gr.Row():
        fields["num_inference_steps"] = widgets.steps(studio.engine)
        fields["denoising"] = widgets.denoising()
        fields["guidance"] = widgets.guidance()
        fields["seed_image"] = widgets.seed_image()
    fields |= widgets.beat_grid()
    fields |= widgets.lora(studio.engine)
    explain(fields)
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
        inputs(studio.endless, fields),
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
    # One handler: what was made is read before the riff's listener is forgotten. No progress on
    # the line: cancelling waits for the riff's current clip, and the line already says Stop's word.
    stop.click(
        studio.endless_stopped,
        None,
        [status, timer],
        cancels=[event],
        api_visibility="private",
        queue=False,
        show_progress="hidden",
    )
    queue.click(studio.queue_next, up_next, status, api_name="up_next", show_progress="hidden")


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
        fields["seed"] = widgets.seed()
        fields["denoising"] = widgets.denoising("Denoising strength (how far from the song)", 0.5)
        fields["guidance"] = widgets.guidance()
        fields["num_inference_steps"] = widgets.steps(studio.engine)
        fields["keep_stereo"] = gr.Checkbox(
            label="Keep stereo",
            value=False,
            info="left and right restyled side by side: twice the work; pictures show left in green, "
            "right in blue, cyan where both sound alike",
        )
    with gr.Row():
        fields["on_bars"] = gr.Checkbox(
            label="Cut on the song's bars",
            value=Restyle.on_bars,
            info="each segment whole bars of the song, joins on its bar lines",
        )
        fields["song_bpm"] = gr.Number(
            None, label="Song tempo (bpm)", minimum=0, maximum=MAX_BPM, placeholder="estimated"
        )
        fields["downbeat_s"] = gr.Number(None, label="First downbeat (s)", minimum=0, placeholder="estimated")
    fields |= widgets.lora(studio.engine)
    gr.on(  # an upload, a trim (its time 0 moves), the song cleared, or bars asked for
        [fields["audio"].change, fields["on_bars"].change],
        studio.song_beat,
        [fields["audio"], fields["on_bars"]],
        [fields["song_bpm"], fields["downbeat_s"]],
        api_name="song_beat",
        show_progress_on=[fields["song_bpm"], fields["downbeat_s"]],
    )
    render_button(studio, "Restyle", studio.audio_to_audio, fields, "Restyled region", columns=6)


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
            seed = widgets.seed("Phase seed")
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
