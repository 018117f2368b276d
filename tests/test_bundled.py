"""The model shipped in the repository: the default everywhere, loads offline, makes music."""

from __future__ import annotations

import json
import os

import pytest
import torch

from riff.models import (
    BUNDLED_MODEL,
    REFERENCE_STEPS,
    display_name,
    load_model,
    model_name,
    recommended_steps,
    shared_name,
)


@pytest.fixture(scope="module")
def bundled():
    return load_model(device="cpu")


def test_the_bundled_model_is_the_default(monkeypatch):
    monkeypatch.delenv("RIFF_MODEL", raising=False)
    assert model_name(None, os.environ) == str(BUNDLED_MODEL)
    assert display_name(model_name()) == "riff-small (bundled)"
    monkeypatch.setenv("RIFF_MODEL", "riffusion/riffusion-model-v1")
    assert model_name(None, os.environ) == "riffusion/riffusion-model-v1"  # as the entry points pass it


def test_a_shared_name_never_holds_a_path_on_this_machine(tmp_path):
    folder = tmp_path / "my-riff"
    folder.mkdir()
    assert shared_name(str(BUNDLED_MODEL)) == "riff-small"
    assert shared_name("riffusion/riffusion-model-v1") == "riffusion/riffusion-model-v1"
    assert shared_name(str(folder)) == shared_name(f"{folder}/") == "my-riff"
    assert shared_name("/srv/models/gone") == shared_name("C:\\models\\gone") == "gone"
    assert shared_name("~/models/mine") == shared_name("./models/mine") == "mine"


def test_it_is_small_fp16_and_says_how_it_was_made():
    from safetensors.torch import load_file

    files = list(BUNDLED_MODEL.rglob("*.safetensors"))
    assert {f.parent.name for f in files} == {"unet", "vae", "text_encoder"}
    assert sum(f.stat().st_size for f in files) < 40e6
    for f in files:
        assert {t.dtype for t in load_file(f).values()} == {torch.float16}, f
    about = json.loads((BUNDLED_MODEL / "riff.json").read_text())
    assert about["made_by"] == "riff train" and about["training_clips"] > 0
    assert (BUNDLED_MODEL / "training" / "loss.png").is_file()


def test_recommended_steps():
    assert recommended_steps(str(BUNDLED_MODEL)) < REFERENCE_STEPS
    assert recommended_steps("riffusion/riffusion-model-v1") == REFERENCE_STEPS


def test_it_loads_offline_and_renders_audio_from_a_seed_image(bundled, narrow_seed):
    from riff.render import render_clip
    from riff.request import PromptEnd, Settings

    assert bundled.describe().startswith("riff-small (bundled) on cpu")
    end = PromptEnd("solo piano, slow, minor", seed=1)
    clip = render_clip(bundled, end, Settings(num_inference_steps=6), narrow_seed)
    assert clip.pixels.shape == (3, 512, 64)
    assert torch.isfinite(clip.waveform).all() and clip.waveform.abs().max() > 1e-3


@pytest.mark.slow
def test_prompts_steer_it_drums_have_onsets_piano_has_pitches(bundled):
    """A drum prompt gives sharper onsets (column energy jumps) and a piano prompt steadier
    pitched lines than each other, over a few seeds: the text conditioning works."""
    from riff.train.evaluate import generate_images

    prompts = ["rock drum beat, 120 bpm"] * 3 + ["solo piano, slow, minor"] * 3
    images = generate_images(bundled, prompts, list(range(6)), steps=12)
    gray = images.mean(dim=1) / 255.0  # (6, 512, 512)
    energy = gray.mean(dim=1)
    onsets = torch.relu(energy[:, 1:] - energy[:, :-1]).mean(dim=1)
    assert onsets[:3].min() > onsets[3:].max()
