"""The page's help texts: every control has one line that says what it does to the sound."""

from __future__ import annotations

from riff.studio.help import SLIDER_HELP


def test_slider_help_covers_every_control():
    controls = {
        "prompt",
        "negative_prompt",
        "seed",
        "denoising",
        "guidance",
        "num_inference_steps",
        "scheduler",
        "alpha_curve",
        "crossfade_ms",
        "num_clips",
        "seed_image",
        "mask",
        "width",
        "continuation",
        "clips_per_hop",
        "clips",
        "bpm",
        "key",
        "meter",
        "bars",
    }
    assert controls <= set(SLIDER_HELP)
    for text in SLIDER_HELP.values():
        assert text.endswith(".") and text.count(". ") == 0 and len(text) < 160
