"""The page's handlers without a server: progress as the page shows it, the endless riff's
status line between chunks."""

from __future__ import annotations

import gradio as gr

from riff.studio.edge import progress_bar
from riff.studio.handlers import Studio


def test_progress_names_the_clip_being_denoised():
    labels: list[tuple[float, str]] = []
    report = progress_bar(lambda fraction, desc: labels.append((fraction, desc)))
    report(0.05, 5, 1, 20)  # clip 1, first step
    report(1.0, 5, 20, 20)  # clip 1, last step: still clip 1, not clip 2
    report(1.0, 5, 0, 0)  # clip 1 is audio; clip 2 is next
    report(2.5, 5, 10, 20)  # a batch of clips 2-5 half way
    assert [desc for _, desc in labels] == [
        "clip 1/5, step 1/20",
        "clip 1/5, step 20/20",
        "clip 2/5",
        "clip 3/5, step 10/20",
    ]
    assert [fraction for fraction, _ in labels] == [0.01, 0.2, 0.2, 0.5]


def test_the_pages_status_line_follows_the_listener_between_chunks(engine):
    studio = Studio(engine)
    assert studio.endless_status() == (gr.skip(), gr.skip())  # nothing plays yet: no change
    stream = studio.endless("piano", clips_per_seed=1, num_inference_steps=2)
    _, _, first = next(stream)
    assert first.startswith("Playing 'piano' · seed 0 → 1 · ") and " s heard, " in first
    status, timer = studio.endless_status()  # a tick, no chunk: the same listener's line
    assert status.startswith("Playing 'piano'") and " s buffered" in status and timer == gr.skip()
    stream.close()  # Stop, or the limit: the player plays out its buffer
    status, timer = studio.endless_status()
    assert status.endswith("left to play; no more is coming") and timer == gr.skip()
    assert isinstance(studio.endless_stopped(), gr.Timer)
    assert studio.endless_status() == (gr.skip(), gr.skip())
