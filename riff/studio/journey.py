"""How it works: one clip's journey as steps a class can follow, from seed image to sound, and
why a walk slerps its noise."""

from __future__ import annotations

import gradio as gr

from riff.studio import widgets
from riff.studio.handlers import Studio
from riff.studio.help import explain
from riff.studio.widgets import inputs

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


def journey_steps(pictures: list | None) -> list:
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


def _walkthrough() -> tuple[list, tuple]:
    """The journey's steps, each with a Next button, then why slerp. Returns each step's
    picture slots and caption (`journey_steps` fills them), and the teaching view's other outputs:
    the sound, what it is, the noise's picture, why slerp, the numbers."""
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
    return parts, (audio, said, noise, why, numbers)


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
        fields["seed"] = widgets.seed()
        go = gr.Button("Show the journey", variant="primary", elem_id="teach-go", scale=1)
    with gr.Accordion("Strength, guidance, steps, seed image, tempo, key and LoRA", open=False):
        with gr.Row():
            fields["denoising"] = widgets.denoising()
            fields["guidance"] = widgets.guidance()
            fields["num_inference_steps"] = widgets.steps(studio.engine)
            fields["seed_image"] = widgets.seed_image()
        fields |= widgets.beat_grid()
        fields |= widgets.lora(studio.engine)
    # Every picture in one gallery: what the API returns; the steps below show them whole.
    pictures = gr.Gallery(label="The journey", type="filepath", visible=False)
    parts, (audio, said, noise, why, numbers) = _walkthrough()
    explain(fields)
    event = go.click(
        studio.teach,
        inputs(studio.teach, fields),
        [pictures, audio, said, noise, why, numbers],
        api_name="teach",
        concurrency_id="gpu",
        show_progress_on=[audio],
    )
    event.then(journey_steps, pictures, parts, api_visibility="private", show_progress="hidden")
