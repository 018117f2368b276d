"""riff studio: the Gradio app over the riff library (locally or on Hugging Face Spaces).

This file only wires: layout, events, and turning ValueError into gr.Error. The work lives in
riff.studio.Engine.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import inspect
import logging
import os
import random
import threading

import gradio as gr
from gradio.utils import get_upload_folder

from riff.models import SCHEDULERS
from riff.render import MAX_SEED, PromptEnd, WalkRequest
from riff.runtime import keep_large_buffers
from riff.seeds import DEFAULT_SEED, SEED_DIR, mask_names, seed_image_names
from riff.studio import Engine, Result, request_from_dict, request_to_dict
from riff.trust import bundled_mask, bundled_seed, public_message, uploaded

try:  # On ZeroGPU Spaces this borrows a GPU per call; elsewhere it is a no-op.
    import spaces

    gpu = spaces.GPU(duration=120)
except ImportError:

    def gpu(fn):
        return fn


EXAMPLES = [
    # Phrases the bundled model learned (see its dataset's captions); any model reads them.
    ["church organ playing a bach chorale", 12, "string quartet playing a bach chorale", 40],
    ["jazz trio with upright bass", 7, "bossa nova drums", 8],
    ["harp playing a folk melody", 3, "house drum beat, 120 bpm", 21],
    ["solo piano, slow, minor", 100, "hip hop drums", 101],
]
NO_MASK = "none"


def ui_errors(fn):
    """Show ValueError (bad input, model trouble) as one line in the page, not a traceback."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generator(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except ValueError as error:
                raise gr.Error(public_message(str(error))) from None

        return generator

    @functools.wraps(fn)
    def plain(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ValueError as error:
            raise gr.Error(public_message(str(error))) from None

    return plain


def _session(request: gr.Request | None) -> str | None:
    return getattr(request, "session_hash", None)


def _progress(progress: gr.Progress):
    """Adapt riff's (clips done, clips, step, steps) reports to a Gradio progress bar."""

    def report(done: int, clips: int, step: int, steps: int) -> None:
        fraction = (done + (step / steps if steps else 0)) / clips
        label = f"clip {min(done + 1, clips)}/{clips}" + (f", step {step}/{steps}" if steps else "")
        progress(fraction, desc=label)

    return report


def _uploaded(path: str) -> str:
    """A file input's path, only if it is an upload (Gradio's own check is restored in
    `build_app`; this holds even where that check is skipped)."""
    return str(uploaded(path, [get_upload_folder()]))


def _seed_choice(seed_image: str | None, upload: str | None) -> str:
    """An uploaded image or audio file wins over the picked bundled seed."""
    return _uploaded(upload) if upload else bundled_seed(seed_image or DEFAULT_SEED)


def _outputs(result: Result, seeds_note: str):
    downloads = [p for p in (result.settings, result.archive, result.picture) if p is not None]
    state = {"clips": [str(p) for p in result.clips]}
    return (
        str(result.track),
        [(str(p), caption) for p, caption in result.images],
        str(result.picture) if result.picture else None,
        [str(p) for p in downloads] or None,
        seeds_note if result.done else f"{seeds_note} · rendering: {len(result.clips)} clip(s) ready",
        state,
    )


def build_demo(engine: Engine, cache_examples: bool = False) -> gr.Blocks:
    """The studio's page over `engine` (models load lazily, on the first render)."""

    def steps_or_default(steps: int | None) -> int:
        return engine.default_steps if steps is None else int(steps)

    @gpu
    @ui_errors
    def interpolate(
        start_prompt: str,
        start_seed: int,
        end_prompt: str,
        end_seed: int,
        num_clips: int = 5,
        num_inference_steps: int | None = None,
        denoising: float = 0.75,
        guidance: float = 7.0,
        seed_image: str = DEFAULT_SEED,
        start_negative_prompt: str = "",
        end_negative_prompt: str = "",
        end_denoising: float | None = None,
        end_guidance: float | None = None,
        alpha_curve: str = "linear",
        crossfade_ms: float = 250.0,
        mask: str = NO_MASK,
        scheduler: str = "default",
        seed_upload: str | None = None,
        request: gr.Request = None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio's way)
    ):
        """Render a walk from the start prompt and seed to the end ones; yields the track so far."""
        if not start_prompt.strip() or not end_prompt.strip():
            raise ValueError("both prompts are needed: write what the start and the end should sound like")
        walk = WalkRequest(
            start=PromptEnd(
                start_prompt, int(start_seed), start_negative_prompt or "", float(denoising), float(guidance)
            ),
            end=PromptEnd(
                end_prompt,
                int(end_seed),
                end_negative_prompt or "",
                float(end_denoising if end_denoising is not None else denoising),
                float(end_guidance if end_guidance is not None else guidance),
            ),
            num_clips=int(num_clips),
            num_inference_steps=steps_or_default(num_inference_steps),
            seed_image=_seed_choice(seed_image, seed_upload),
            mask=None if mask in (None, "", NO_MASK) else bundled_mask(mask),
            alpha_curve=alpha_curve,
            crossfade_ms=float(crossfade_ms),
            scheduler=scheduler,
        )
        note = f"Seeds used: start {walk.start.seed}, end {walk.end.seed}"
        for result in engine.walk(walk, _session(request), _progress(progress)):
            yield *_outputs(result, note), request_to_dict(walk), engine.status()

    @gpu
    @ui_errors
    def generate(
        prompt: str,
        seed: int = 0,
        num_seeds: int = 4,
        negative_prompt: str = "",
        num_inference_steps: int | None = None,
        denoising: float = 0.75,
        guidance: float = 7.0,
        seed_image: str = DEFAULT_SEED,
        request: gr.Request = None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio's way)
    ):
        """Text to audio: one clip per seed, seed, seed + 1, ..."""
        if not prompt.strip():
            raise ValueError("write a prompt first")
        if not 1 <= int(num_seeds) <= 16:
            raise ValueError(f"number of seeds must be in 1..16, got {num_seeds}")
        end = PromptEnd(prompt, int(seed), negative_prompt or "", float(denoising), float(guidance))
        walk = WalkRequest(
            start=end,
            end=end,
            num_clips=1,
            num_inference_steps=steps_or_default(num_inference_steps),
            seed_image=bundled_seed(seed_image or DEFAULT_SEED),
            crossfade_ms=0,
        )
        seeds = [int(seed) + i for i in range(int(num_seeds))]
        if seeds[-1] > MAX_SEED:
            raise ValueError(f"seeds must stay at most {MAX_SEED}")
        for result in engine.seeds(end, seeds, walk, _session(request), _progress(progress)):
            yield _outputs(result, f"Seeds used: {seeds[0]}..{seeds[-1]}")

    @gpu
    @ui_errors
    def audio_to_audio(
        audio: str,
        prompt: str,
        start_s: float = 0.0,
        duration_s: float = 15.0,
        end_prompt: str = "",
        seed: int = 0,
        denoising: float = 0.5,
        guidance: float = 7.0,
        num_inference_steps: int | None = None,
        request: gr.Request = None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio's way)
    ):
        """Restyle a region of a song clip by clip, optionally walking to a second prompt."""
        if not audio:
            raise ValueError("upload a song first")
        if not prompt.strip():
            raise ValueError("write a prompt first")
        start = PromptEnd(prompt, int(seed), "", float(denoising), float(guidance))
        end = dataclasses.replace(start, prompt=end_prompt) if end_prompt and end_prompt.strip() else start
        walk = WalkRequest(
            start=start,
            end=end,
            num_clips=1,
            num_inference_steps=steps_or_default(num_inference_steps),
            crossfade_ms=250.0,
        )
        for result in engine.restyle(
            _uploaded(audio), float(start_s), float(duration_s), walk, _session(request), _progress(progress)
        ):
            yield _outputs(result, f"Seed used: {start.seed}")

    @ui_errors
    def audio_to_image(audio: str, stereo: bool = False, request: gr.Request = None):
        """Encode audio as a riffusion-format spectrogram image."""
        if not audio:
            raise ValueError("upload an audio file first")
        path, info = engine.audio_to_image(_uploaded(audio), bool(stereo), _session(request))
        return str(path), info, str(path)

    @ui_errors
    def image_to_audio(image: str, seed: int = 0, request: gr.Request = None):
        """Decode a spectrogram image to audio, honouring its metadata."""
        if not image:
            raise ValueError("upload a spectrogram image first")
        path, info = engine.image_to_audio(_uploaded(image), int(seed), _session(request))
        if info["note"]:
            gr.Warning(info["note"])
        return str(path), info

    def play_clip(state: dict | None, selected: gr.SelectData):
        clips = (state or {}).get("clips", [])
        return clips[selected.index] if 0 <= selected.index < len(clips) else None

    def reuse(settings: dict | None):
        if not settings:
            raise gr.Error("render a walk first; its settings can then be reused")
        walk = request_from_dict(settings)
        s, e = walk.start, walk.end
        return (
            s.prompt,
            s.seed,
            s.negative_prompt,
            s.denoising,
            s.guidance,
            e.prompt,
            e.seed,
            e.negative_prompt,
            e.denoising,
            e.guidance,
            walk.num_clips,
            walk.num_inference_steps,
            walk.alpha_curve,
            walk.crossfade_ms,
            walk.seed_image if walk.seed_image in seed_image_names() else DEFAULT_SEED,
            walk.mask or NO_MASK,
            walk.scheduler,
        )

    seeds = seed_image_names()
    with gr.Blocks(title="riff studio", delete_cache=(1800, 3600)) as demo:
        gr.Markdown(
            "# riff studio\nMusic from text, through spectrogram diffusion. Two prompts, two seeds: "
            "riff walks between them and plays the walk as one track."
        )
        status = gr.Markdown(engine.status(), elem_id="model-status")
        settings_state = gr.State(None)
        clip_state = gr.State(None)

        with gr.Tab("Interpolation explorer"):
            ends = []
            with gr.Row():
                for side, prompt, seed in (
                    ("Start", "solo piano, slow, minor", 0),
                    ("End", "rock drum beat, 120 bpm", 1),
                ):
                    with gr.Column(variant="panel"):
                        gr.Markdown(f"### {side}")
                        p = gr.Textbox(
                            label=f"{side} prompt", value=prompt, lines=2, elem_id=f"{side.lower()}-prompt"
                        )
                        n = gr.Textbox(label="Negative prompt", value="", placeholder="what to avoid")
                        with gr.Row():
                            # Distinct labels: they head the examples table, which breaks on duplicates.
                            s = gr.Number(
                                label=f"{side} seed",
                                value=seed,
                                precision=0,
                                minimum=0,
                                maximum=MAX_SEED,
                                scale=4,
                            )
                            dice = gr.Button("Random", scale=1, min_width=60, elem_id=f"{side.lower()}-dice")
                        d = gr.Slider(0.05, 1.0, value=0.75, step=0.05, label="Denoising strength")
                        g = gr.Slider(0.0, 20.0, value=7.0, step=0.5, label="Guidance")
                        dice.click(lambda: random.randint(0, MAX_SEED), None, s, api_visibility="private")
                        ends.append((p, n, s, d, g))
            (sp, sn, ss, sd, sg), (ep, en, es, ed, eg) = ends
            # Filled below, once the outputs the cached examples need exist: shown by the prompts.
            examples_slot = gr.Column()
            with gr.Accordion("Walk settings", open=True):
                with gr.Row():
                    num_clips = gr.Slider(1, 32, value=5, step=1, label="Clips")
                    steps = gr.Slider(5, 100, value=engine.default_steps, step=1, label="Inference steps")
                    curve = gr.Dropdown(["linear", "power", "smooth"], value="linear", label="Alpha curve")
                    crossfade = gr.Slider(0, 1000, value=250, step=10, label="Crossfade (ms)")
                    scheduler = gr.Dropdown(list(SCHEDULERS), value="default", label="Scheduler")
                with gr.Row():
                    with gr.Column(scale=3):
                        seed_gallery = gr.Gallery(
                            [(str(SEED_DIR / f"{n}.png"), n) for n in seeds],
                            label="Seed images (click to pick)",
                            columns=7,
                            height=160,
                            allow_preview=False,
                        )
                    with gr.Column(scale=2):
                        seed_pick = gr.Dropdown(seeds, value=DEFAULT_SEED, label="Seed image")
                        seed_upload = gr.File(
                            label="…or your own image or audio as the seed",
                            file_types=["image", "audio"],
                            type="filepath",
                        )
                        mask = gr.Dropdown(
                            [NO_MASK, *mask_names()],
                            value=NO_MASK,
                            label="Mask (white repaints, black keeps)",
                        )
            with gr.Row():
                go = gr.Button("Generate", variant="primary", elem_id="generate")
                stop = gr.Button("Cancel", variant="stop")
                reuse_btn = gr.Button("Reuse these settings")
            note = gr.Markdown("")
            with gr.Row():
                track = gr.Audio(label="Stitched track", type="filepath", interactive=False, elem_id="track")
                clip_player = gr.Audio(
                    label="Selected clip", type="filepath", interactive=False, autoplay=True
                )
            loop = gr.Checkbox(label="Loop the track", value=False)
            gallery = gr.Gallery(label="Clips (click one to play it)", columns=6, height=260, elem_id="clips")
            picture = gr.Image(label="Whole track", type="filepath", interactive=False)
            downloads = gr.File(
                label="Downloads: settings (JSON), spectrogram PNGs with metadata, picture",
                file_count="multiple",
            )

            walk_inputs = [
                sp,
                ss,
                ep,
                es,
                num_clips,
                steps,
                sd,
                sg,
                seed_pick,
                sn,
                en,
                ed,
                eg,
                curve,
                crossfade,
                mask,
                scheduler,
                seed_upload,
            ]
            walk_outputs = [track, gallery, picture, downloads, note, clip_state, settings_state, status]
            walk_event = go.click(
                interpolate, walk_inputs, walk_outputs, api_name="interpolate", concurrency_id="gpu"
            )
            stop.click(None, None, None, cancels=[walk_event])
            # The status line also says when the model failed to load on this first use.
            walk_event.then(engine.status, None, status, api_visibility="private")

            def pick_seed(selected: gr.SelectData) -> str:
                return seeds[selected.index]

            seed_gallery.select(pick_seed, None, seed_pick, api_visibility="private")
            gallery.select(play_clip, clip_state, clip_player, api_visibility="private")
            loop.change(lambda on: gr.update(loop=on), loop, track, api_visibility="private")
            reuse_btn.click(
                reuse,
                settings_state,
                [
                    sp,
                    ss,
                    sn,
                    sd,
                    sg,
                    ep,
                    es,
                    en,
                    ed,
                    eg,
                    num_clips,
                    steps,
                    curve,
                    crossfade,
                    seed_pick,
                    mask,
                    scheduler,
                ],
                api_visibility="private",
            )
            with examples_slot:
                gr.Examples(
                    EXAMPLES,
                    [sp, ss, ep, es],
                    walk_outputs,
                    fn=interpolate,
                    cache_examples=cache_examples,
                    cache_mode="lazy",
                    label="Prompt pairs that walk well",
                )

        with gr.Tab("Text to audio"):
            with gr.Row():
                t_prompt = gr.Textbox(label="Prompt", value="rock drum beat, 120 bpm", lines=2, scale=3)
                t_negative = gr.Textbox(label="Negative prompt", value="", scale=2)
            with gr.Row():
                t_seed = gr.Number(label="First seed", value=0, precision=0, minimum=0, maximum=MAX_SEED)
                t_count = gr.Slider(1, 16, value=4, step=1, label="Seeds (one clip each)")
                t_steps = gr.Slider(5, 100, value=engine.default_steps, step=1, label="Inference steps")
                t_denoising = gr.Slider(0.05, 1.0, value=0.75, step=0.05, label="Denoising strength")
                t_guidance = gr.Slider(0.0, 20.0, value=7.0, step=0.5, label="Guidance")
                t_seed_image = gr.Dropdown(seeds, value=DEFAULT_SEED, label="Seed image")
            t_go = gr.Button("Generate", variant="primary")
            t_note = gr.Markdown("")
            with gr.Row():
                t_track = gr.Audio(label="All clips, one after another", type="filepath", interactive=False)
                t_clip = gr.Audio(label="Selected clip", type="filepath", interactive=False, autoplay=True)
            t_gallery = gr.Gallery(label="Clips (click one to play it)", columns=8, height=220)
            t_picture = gr.Image(label="Spectrogram", type="filepath", interactive=False)
            t_files = gr.File(label="Downloads", file_count="multiple")
            t_state = gr.State(None)
            t_go.click(
                generate,
                [t_prompt, t_seed, t_count, t_negative, t_steps, t_denoising, t_guidance, t_seed_image],
                [t_track, t_gallery, t_picture, t_files, t_note, t_state],
                api_name="generate",
                concurrency_id="gpu",
            )
            t_gallery.select(play_clip, t_state, t_clip, api_visibility="private")

        with gr.Tab("Audio to audio"):
            with gr.Row():
                a_audio = gr.Audio(label="Song (any common format)", type="filepath", sources=["upload"])
                with gr.Column():
                    a_prompt = gr.Textbox(label="Restyle as", value="solo piano, slow", lines=2)
                    a_end = gr.Textbox(
                        label="…walking to (optional)", value="", placeholder="leave empty to keep one style"
                    )
            with gr.Row():
                a_start = gr.Number(label="Region start (s)", value=0.0, minimum=0)
                a_duration = gr.Number(label="Region length (s)", value=15.0, minimum=5.11)
                a_seed = gr.Number(label="Seed", value=0, precision=0, minimum=0, maximum=MAX_SEED)
                a_denoising = gr.Slider(
                    0.05, 1.0, value=0.5, step=0.05, label="Denoising strength (how far from the song)"
                )
                a_guidance = gr.Slider(0.0, 20.0, value=7.0, step=0.5, label="Guidance")
                a_steps = gr.Slider(5, 100, value=engine.default_steps, step=1, label="Inference steps")
            a_go = gr.Button("Restyle", variant="primary")
            a_note = gr.Markdown("")
            a_track = gr.Audio(label="Restyled region", type="filepath", interactive=False)
            a_gallery = gr.Gallery(label="Segments", columns=6, height=220)
            a_picture = gr.Image(label="Spectrogram", type="filepath", interactive=False)
            a_files = gr.File(label="Downloads", file_count="multiple")
            a_state = gr.State(None)
            a_go.click(
                audio_to_audio,
                [a_audio, a_prompt, a_start, a_duration, a_end, a_seed, a_denoising, a_guidance, a_steps],
                [a_track, a_gallery, a_picture, a_files, a_note, a_state],
                api_name="audio_to_audio",
                concurrency_id="gpu",
            )

        with gr.Tab("Spectrogram tools"):
            with gr.Row():
                with gr.Column(variant="panel"):
                    gr.Markdown("### Audio → image")
                    x_audio = gr.Audio(label="Audio", type="filepath", sources=["upload"])
                    x_stereo = gr.Checkbox(label="Stereo (G = left, B = right)")
                    x_go = gr.Button("Encode")
                    x_image = gr.Image(label="Spectrogram", type="filepath", interactive=False)
                    x_meta = gr.JSON(label="Metadata")
                    x_file = gr.File(label="PNG with metadata")
                    x_go.click(
                        audio_to_image,
                        [x_audio, x_stereo],
                        [x_image, x_meta, x_file],
                        api_name="audio_to_image",
                    )
                with gr.Column(variant="panel"):
                    gr.Markdown("### Image → audio")
                    y_image = gr.File(
                        label="Spectrogram image (PNG keeps its metadata)",
                        file_types=["image"],
                        type="filepath",
                    )
                    y_seed = gr.Number(label="Phase seed", value=0, precision=0, minimum=0, maximum=MAX_SEED)
                    y_go = gr.Button("Decode")
                    y_audio = gr.Audio(label="Audio", type="filepath", interactive=False)
                    y_meta = gr.JSON(label="Metadata used")
                    y_go.click(
                        image_to_audio,
                        [y_image, y_seed],
                        [y_audio, y_meta],
                        api_name="image_to_audio",
                        concurrency_id="gpu",
                    )

        def forget(request: gr.Request) -> None:
            engine.forget_session(_session(request))

        demo.unload(forget)  # Gradio fills in gr.Request only for a parameter annotated so
    demo.queue(default_concurrency_limit=1, max_size=32)
    return demo


def build_app(engine: Engine, cache_examples: bool = False):
    """The page and the riffusion-compatible REST route on one FastAPI server."""
    from fastapi import FastAPI

    from riff.rest import router

    app = FastAPI(title="riff")
    app.include_router(router(engine, gpu))
    demo = build_demo(engine, cache_examples)
    app = gr.mount_gradio_app(app, demo, path="/", allowed_paths=[str(engine.root)])
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
    uvicorn.run(
        build_app(engine, cache_examples=on_spaces), host=args.host, port=args.port, log_level="warning"
    )


if __name__ == "__main__":
    main()
