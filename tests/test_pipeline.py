"""The pipeline's strength -> timesteps and its one step callback."""

from __future__ import annotations

import pytest
import torch

from riff import interp, pipeline
from riff.audio.image import pixels_from_image
from riff.seed_images import seed_image


@pytest.mark.parametrize("steps, strength", [(6, 0.75), (10, 0.3), (8, 1.0)])
def test_timesteps_start_where_the_strength_says(tiny_model, steps, strength):
    scheduler = tiny_model.make_scheduler()
    start = pipeline.start_step(scheduler, steps, strength)
    assert start == interp.start_step(steps, strength, scheduler.config.steps_offset)
    run = pipeline.timesteps(scheduler, steps, strength)
    assert torch.equal(run, scheduler.timesteps[start:]) and len(run) > 0
    with pytest.raises(ValueError, match="strength"):
        pipeline.timesteps(tiny_model.make_scheduler(), steps, 0.0)


def test_denoise_shows_every_step_to_its_one_callback(tiny_model, narrow_seed):
    init = pipeline.encode_image(tiny_model, pixels_from_image(seed_image(narrow_seed)))
    embeddings = pipeline.encode_prompts(tiny_model, ["drums", ""])
    seen: list[pipeline.Step] = []
    args = (tiny_model, init, embeddings[:1], embeddings[1:], pipeline.latent_noise(2, tuple(init.shape)))
    start = pipeline.start_step(tiny_model.scheduler, 6, 0.75)
    latents = pipeline.denoise(*args, torch.tensor([7.0]), start, 6, callback=seen.append)
    run = len(pipeline.timesteps(tiny_model.make_scheduler(), 6, 0.75))
    assert [(s.index, s.run) for s in seen] == [(i, run) for i in range(run)]
    assert torch.equal(seen[-1].output.prev_sample, latents)
    assert torch.equal(latents, pipeline.denoise(*args, torch.tensor([7.0]), start, 6))
