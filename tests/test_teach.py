"""The teaching view on a tiny random model: the journey ends where render does, its numbers
and pictures, phase retrieval's progress, slerp against lerp (how the pictures are drawn:
tests/test_pictures.py; the slider help: tests/studio/test_help.py)."""

from __future__ import annotations

import base64
import io
import json
import math
from types import SimpleNamespace

import pytest
import torch
from PIL import Image

from riff import interp, pictures, teach
from riff.render import render_clip
from riff.request import PromptEnd, Settings

FAST = Settings(num_inference_steps=6, griffin_lim_iters=4)
END = PromptEnd("rock drum beat, 120 bpm", seed=3, negative_prompt="noise", guidance=5.0)
PHASE_ITERS = (0, 4, 16, 48)


@pytest.fixture(scope="module")
def journey(tiny_model, narrow_seed) -> teach.Journey:
    return teach.journey(tiny_model, END, FAST, narrow_seed, previews=3, phase_iters=PHASE_ITERS)


def test_the_journey_ends_on_the_clip_render_makes(tiny_model, narrow_seed, journey):
    clip = render_clip(tiny_model, END, FAST, narrow_seed)
    assert journey.pixels.shape == clip.pixels.shape
    assert float((journey.pixels - clip.pixels).abs().max()) <= 0.05
    assert journey.sample_rate == clip.params.sample_rate
    torch.testing.assert_close(journey.audio, clip.waveform, rtol=0, atol=1e-5)


def test_a_masked_journey_with_another_scheduler_ends_on_its_clip_too(tiny_model, narrow_seed):
    settings = Settings(num_inference_steps=6, griffin_lim_iters=4, scheduler="dpm++")
    end = PromptEnd("solo piano", seed=7, denoising=0.5)
    steps = []
    seen = teach.journey(
        tiny_model,
        end,
        settings,
        narrow_seed,
        previews=2,
        mask="keep_low",
        phase_iters=(0,),
        on_step=lambda i, n: steps.append((i, n)),
    )
    clip = render_clip(tiny_model, end, settings, narrow_seed, mask="keep_low")
    assert float((seen.pixels - clip.pixels).abs().max()) <= 0.05
    assert steps == [(i + 1, seen.steps_run) for i in range(seen.steps_run)]


@pytest.mark.parametrize("steps, strength", [(6, 0.75), (50, 0.75), (20, 0.3), (6, 1.0)])
def test_start_step_and_steps_run_are_the_strengths(tiny_model, steps, strength):
    offset = tiny_model.scheduler.config.get("steps_offset", 0)
    start = interp.start_step(steps, strength, offset)
    sched = tiny_model.make_scheduler()
    sched.set_timesteps(steps)
    assert 0 < len(sched.timesteps) - start  # every case runs at least one step
    if (steps, strength) == (50, 0.75):
        assert (start, len(sched.timesteps) - start) == (13, 38)  # the reference's numbers


def test_the_journey_says_where_it_starts(tiny_model, journey):
    offset = tiny_model.scheduler.config.get("steps_offset", 0)
    start = interp.start_step(6, END.denoising, offset)
    sched = tiny_model.make_scheduler()
    sched.set_timesteps(6)
    assert (journey.start, journey.num_inference_steps) == (start, 6)
    assert journey.steps_run == len(sched.timesteps) - start == len(journey.timesteps)
    assert journey.timesteps == [int(t) for t in sched.timesteps[start:]]
    noised = journey.pictures[2]
    assert noised.title == "noised latent"
    assert f"strength 0.75 starts at step {start} of 6: {journey.steps_run} steps run" in noised.caption


def test_pictures_come_in_order_with_the_previews_between(journey):
    titles = [p.title for p in journey.pictures]
    previews = [f"after {n} of {journey.steps_run} steps" for n in journey.preview_steps]
    assert titles == [
        "seed image",
        "latent",
        "noised latent",
        *previews,
        "spectrogram",
        "mel to linear",
        "phase retrieval",
    ]
    assert len(journey.preview_steps) == 3
    assert journey.preview_steps == sorted(set(journey.preview_steps))
    assert 1 <= journey.preview_steps[0] and journey.preview_steps[-1] < journey.steps_run
    for picture in journey.pictures:
        assert picture.image.height == pictures.HEIGHT and picture.image.mode == "RGB"
        assert picture.caption


def test_preview_steps_are_evenly_spaced_and_capped():
    assert teach._preview_steps(38, 4) == [8, 15, 23, 30]
    assert teach._preview_steps(5, 9) == [1, 2, 3, 4, 5]
    assert teach._preview_steps(5, 0) == []


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction"])
def test_predicted_x0_matches_a_scheduler_that_reports_it(tiny_model, prediction_type):
    from diffusers import DDIMScheduler

    sched = DDIMScheduler.from_config(
        tiny_model.scheduler.config, prediction_type=prediction_type, clip_sample=False
    )
    sched.set_timesteps(10)
    generator = torch.Generator().manual_seed(0)
    latents, output = torch.randn(2, 1, 4, 8, 8, generator=generator)
    t = int(sched.timesteps[3])
    reported = sched.step(output, t, latents).pred_original_sample
    computed = teach._predicted_x0(sched, SimpleNamespace(prev_sample=None), latents, output, t)
    torch.testing.assert_close(computed, reported, rtol=1e-4, atol=1e-4)


def test_phase_retrieval_converges_as_iterations_grow(journey):
    iters = [i for i, _ in journey.convergence]
    values = [c for _, c in journey.convergence]
    assert iters == list(PHASE_ITERS)
    for fewer, more in zip(values, values[1:]):
        assert more <= fewer * 1.01 + 1e-4
    assert values[-1] < 0.8 * values[0]  # random phase (0 iterations) is far worse
    assert all(f"{v:.3f} after {i}" in journey.pictures[-1].caption for i, v in journey.convergence)


def test_to_dict_is_json_with_or_without_images(journey):
    data = json.loads(json.dumps(journey.to_dict()))
    assert data["start_step"] == journey.start and data["steps_run"] == journey.steps_run
    assert [c["iterations"] for c in data["convergence"]] == list(PHASE_ITERS)
    assert data["audio"]["sample_rate"] == journey.sample_rate
    assert [p["title"] for p in data["pictures"]] == [p.title for p in journey.pictures]
    png = Image.open(io.BytesIO(base64.b64decode(data["pictures"][0]["png"])))
    assert png.size == journey.pictures[0].image.size
    bare = json.loads(json.dumps(journey.to_dict(images=False)))
    assert all("png" not in p for p in bare["pictures"])


def test_slerp_keeps_the_norm_and_lerp_loses_a_third_of_it():
    walk = teach.slerp_vs_lerp(1, 2)
    assert len(walk.t) == len(walk.lerp_norms) == len(walk.slerp_norms) == 21
    assert walk.expected_norm == pytest.approx(128.0)
    assert walk.end_norm == pytest.approx(128.0, rel=0.02)
    for norm in walk.slerp_norms:
        assert norm == pytest.approx(walk.end_norm, rel=0.02)
    assert walk.lerp_norms[10] / walk.end_norm == pytest.approx(1 / math.sqrt(2), rel=0.05)
    assert walk.lerp_norms[0] == pytest.approx(walk.slerp_norms[0])
    assert walk.lerp_norms[-1] == pytest.approx(walk.slerp_norms[-1])
    assert "1/sqrt(2)" in walk.caption and walk.image.height == pictures.HEIGHT
    json.dumps(walk.to_dict())


def test_bad_input_is_refused_by_name(tiny_model, narrow_seed):
    with pytest.raises(ValueError, match="-1"):
        teach.journey(tiny_model, END, FAST, narrow_seed, previews=-1)
    with pytest.raises(ValueError, match="1"):
        teach.slerp_vs_lerp(1, 2, points=1)
