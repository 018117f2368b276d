"""The one walk loop (`riff.walk`): batches by start step, progress in clips and steps, and a
plan of one end, as the seeds of a `Variations` request are."""

from __future__ import annotations

import dataclasses

import torch

from riff import pipeline
from riff.audio.image import pixels_from_image
from riff.render import render_variations, render_walk
from riff.request import Settings, Variations, Walk
from riff.seed_images import seed_image
from riff.walk import Plan, batches_of, continued_columns, walk_clips

FAST = Settings(num_inference_steps=6, batch_size=3, griffin_lim_iters=4)


def walk(model, walk: Walk, settings: Settings = FAST, **changes) -> list:
    """The clips of `walk` with `changes` made to it."""
    return list(render_walk(model, dataclasses.replace(walk, **changes), settings))


def test_batched_walk_equals_clips_rendered_one_by_one(tiny_model, walk_):
    batched = walk(tiny_model, walk_)
    single = walk(tiny_model, walk_, dataclasses.replace(FAST, batch_size=1))
    for a, b in zip(batched, single):
        torch.testing.assert_close(a.pixels, b.pixels, rtol=0, atol=0.05)


def test_progress_reports_every_clip_and_step(tiny_model, walk_):
    seen = []
    settings = dataclasses.replace(FAST, batch_size=2)
    list(render_walk(tiny_model, walk_, settings, lambda *a: seen.append(a)))
    assert seen[-1] == (3, 3, 0, 0)
    steps = [s for s in seen if s[3]]
    # Steps count the schedule the user set: img2img at strength 0.75 starts part way in.
    assert {s[3] for s in steps} == {settings.num_inference_steps}
    first = pipeline.start_step(tiny_model.scheduler, settings.num_inference_steps, walk_.start.denoising)
    assert steps[0][2] == first + 1 and max(s[2] for s in steps) == settings.num_inference_steps
    # Clips done grows smoothly, through the batch of two clips too: never backwards.
    done = [s[0] for s in seen]
    assert done == sorted(done) and any(1 < d < 3 and d != 2 for d in done)


def test_lerped_strength_groups_clips_by_start_step(tiny_model, walk_):
    clips = walk(tiny_model, walk_, end=dataclasses.replace(walk_.end, denoising=0.4), num_clips=4)
    assert [c.index for c in clips] == [0, 1, 2, 3]
    # Weaker denoising keeps more of the seed image.
    seed = pixels_from_image(seed_image(walk_.seed_image))
    distance = [float((c.pixels - seed).abs().mean()) for c in clips]
    assert distance[-1] < distance[0]


def test_first_clip_renders_alone_then_full_batches():
    assert [b.indices for b in batches_of([3] * 6, 4)] == [[0], [1, 2, 3, 4], [5]]
    assert [b.indices for b in batches_of([3, 3, 4, 4, 4], 4)] == [[0], [1], [2, 3, 4]]
    assert [b.indices for b in batches_of([3], 4)] == [[0]]
    assert [b.start for b in batches_of([3, 3, 4, 4, 4], 4)] == [3, 3, 4]


def test_a_plan_of_one_end_renders_that_end_with_each_clips_noise(tiny_model, walk_):
    init = pipeline.encode_image(tiny_model, pixels_from_image(seed_image(walk_.seed_image)))
    shape = tuple(init.shape)

    def noise(i: int) -> torch.Tensor:
        return pipeline.latent_noise((7, 8)[i], shape)[0]

    plan = Plan((walk_.start,), ((0, 0.0), (0, 0.0)), init, noise=noise, phase_seed=7)
    clips = list(walk_clips(tiny_model, plan, FAST))
    seeds = list(render_variations(tiny_model, Variations(walk_.start, (7, 8), walk_.seed_image), FAST))
    for a, b in zip(clips, seeds, strict=True):
        assert torch.equal(a.pixels, b.pixels) and torch.equal(a.waveform, b.waveform)
    assert not torch.equal(clips[0].pixels, clips[1].pixels)


def test_continued_clips_keep_a_quarter_of_the_one_before():
    assert [continued_columns(w) for w in (1, 3, 8, 64)] == [1, 1, 2, 16]


def test_clips_sound_as_the_shared_decoder_hears_their_pixels(tiny_model, walk_):
    """The walk turns pixels into audio through `riff.audio.decode`, as the CLI's decode does:
    a clip's audio is its pixels' audio, phase seeded by the walk's first end."""
    from riff.audio.decode import waveforms_from_pixels

    settings = dataclasses.replace(FAST, batch_size=2)
    for clip in walk(tiny_model, walk_, settings):
        heard = waveforms_from_pixels(
            clip.pixels[None], tiny_model.params, walk_.start.seed, settings.griffin_lim_iters
        )[0]
        torch.testing.assert_close(clip.waveform, heard.float(), rtol=0, atol=1e-5)
