"""The walk on a tiny random model: batching, determinism, endpoints, masks, stitching."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from riff import pipeline
from riff.image import pixels_from_image
from riff.params import SpectrogramParams
from riff.render import PromptEnd, WalkRequest, render_clip, render_walk, stitch_walk
from riff.seeds import mask_names, seed_image, seed_image_names


@pytest.fixture(scope="module")
def request_(narrow_seed) -> WalkRequest:
    return WalkRequest(
        start=PromptEnd("solo piano, slow, minor", seed=3, negative_prompt="noise"),
        end=PromptEnd("rock drum beat, 120 bpm", seed=4, guidance=5.0),
        num_clips=3,
        num_inference_steps=6,
        seed_image=narrow_seed,
        batch_size=3,
        griffin_lim_iters=4,
        crossfade_ms=100,
    )


def test_bundled_seeds_and_masks_exist_and_have_the_format():
    names = seed_image_names()
    assert len(names) >= 5 and {"og_beat", "agile", "marim", "motorway", "vibes"} <= set(names)
    assert {"keep_low", "keep_beats", "gradient_lr"} <= set(mask_names())
    for name in names:
        assert seed_image(name).size == (512, 512)


def test_walk_clips_have_the_right_shapes_and_order(tiny_model, request_):
    clips = list(render_walk(tiny_model, request_))
    assert [c.index for c in clips] == [0, 1, 2]
    assert [c.alpha for c in clips] == [0.0, 0.5, 1.0]
    for clip in clips:
        assert clip.pixels.shape == (3, 512, 64)
        assert clip.waveform.shape == (1, 63 * 441)
        assert torch.isfinite(clip.waveform).all()
        assert clip.image().size == (64, 512)
    track = stitch_walk(clips, request_.crossfade_ms)
    assert track.shape == (1, 3 * 63 * 441)


def test_same_request_same_bytes(tiny_model, request_):
    first = list(render_walk(tiny_model, request_))
    second = list(render_walk(tiny_model, request_))
    for a, b in zip(first, second):
        assert torch.equal(a.pixels, b.pixels)
        assert torch.equal(a.waveform, b.waveform)
    other = list(
        render_walk(
            tiny_model, dataclasses.replace(request_, start=dataclasses.replace(request_.start, seed=99))
        )
    )
    assert not torch.equal(first[0].pixels, other[0].pixels)


def test_batched_walk_equals_clips_rendered_one_by_one(tiny_model, request_):
    batched = list(render_walk(tiny_model, request_))
    single = list(render_walk(tiny_model, dataclasses.replace(request_, batch_size=1)))
    for a, b in zip(batched, single):
        torch.testing.assert_close(a.pixels, b.pixels, rtol=0, atol=0.05)


def test_alpha_zero_is_the_plain_start_render(tiny_model, request_):
    walk = list(render_walk(tiny_model, dataclasses.replace(request_, alphas=(0.0,))))
    plain = render_clip(tiny_model, request_.start, request_)
    torch.testing.assert_close(walk[0].pixels, plain.pixels, rtol=0, atol=0.05)
    end = render_clip(tiny_model, request_.end, request_)
    walk_end = list(render_walk(tiny_model, dataclasses.replace(request_, alphas=(1.0,))))
    torch.testing.assert_close(walk_end[0].pixels, end.pixels, rtol=0, atol=0.05)


def test_negative_prompt_changes_the_result(tiny_model, request_):
    with_negative = render_clip(tiny_model, request_.start, request_)
    without = render_clip(tiny_model, dataclasses.replace(request_.start, negative_prompt=""), request_)
    assert float((with_negative.pixels - without.pixels).abs().max()) > 0.1


def test_long_prompts_keep_guidance_working(tiny_model):
    long_prompt = "warm analog synth pad with slow attack " * 10  # far over 77 tokens
    embeddings = pipeline.encode_prompts(tiny_model, [long_prompt, ""])
    windows = embeddings.shape[1] // tiny_model.tokenizer.model_max_length
    assert windows >= 2 and embeddings.shape[1] % tiny_model.tokenizer.model_max_length == 0
    # The tail of the long prompt matters: a different last word changes the last window only.
    other = pipeline.encode_prompts(tiny_model, [long_prompt + "drums", ""])
    again = pipeline.encode_prompts(tiny_model, [long_prompt + "piano", ""])
    width = tiny_model.tokenizer.model_max_length
    assert other.shape == again.shape
    torch.testing.assert_close(other[0, :width], again[0, :width], rtol=0, atol=0)
    assert float((other[0, -width:] - again[0, -width:]).abs().max()) > 1e-3
    # Guidance has something to compare: the empty prompt's embedding is another.
    assert float((embeddings[0] - embeddings[1]).abs().max()) > 1e-3


def test_mask_keeps_the_kept_region(tiny_model, narrow_seed):
    init = pipeline.encode_image(tiny_model, pixels_from_image(seed_image(narrow_seed)))
    mask = torch.ones(1, 1, *init.shape[-2:])
    mask[..., init.shape[-2] // 2 :, :] = 0  # keep the lower half (low frequencies)
    embeddings = pipeline.encode_prompts(tiny_model, ["drums", ""])
    noise = pipeline.latent_noise(0, tuple(init.shape))
    latents = pipeline.denoise(
        tiny_model, init, embeddings[:1], embeddings[1:], noise, torch.tensor([7.0]), 2, 6, mask=mask
    )
    kept = mask[0, 0] == 0
    torch.testing.assert_close(latents[0][:, kept], init[0][:, kept])
    assert float((latents[0][:, ~kept] - init[0][:, ~kept]).abs().max()) > 0.01


def test_walk_with_a_bundled_mask_and_dpm_scheduler(tiny_model, request_):
    plain = list(render_walk(tiny_model, dataclasses.replace(request_, num_clips=2)))
    dpm = list(render_walk(tiny_model, dataclasses.replace(request_, scheduler="dpm++", num_clips=2)))
    masked = list(render_walk(tiny_model, dataclasses.replace(request_, mask="keep_low", num_clips=2)))
    assert len(dpm) == 2 and float((dpm[0].pixels - plain[0].pixels).abs().max()) > 1.0
    # The mask reaches the walk (what it keeps is test_mask_keeps_the_kept_region's business:
    # this random autoencoder smears any region over the whole image).
    assert float((masked[1].pixels - plain[1].pixels).abs().max()) > 1.0


def test_progress_reports_every_clip_and_step(tiny_model, request_):
    seen = []
    list(render_walk(tiny_model, request_, lambda *a: seen.append(a)))
    assert seen[-1] == (3, 3, 0, 0)
    steps = [s for s in seen if s[3]]
    assert steps and max(s[2] for s in steps) == steps[0][3]


def test_lerped_strength_groups_clips_by_start_step(tiny_model, request_):
    request = dataclasses.replace(request_, end=dataclasses.replace(request_.end, denoising=0.4), num_clips=4)
    clips = list(render_walk(tiny_model, request))
    assert [c.index for c in clips] == [0, 1, 2, 3]
    # Weaker denoising keeps more of the seed image.
    seed = pixels_from_image(seed_image(request.seed_image))
    distance = [float((c.pixels - seed).abs().mean()) for c in clips]
    assert distance[-1] < distance[0]


@pytest.mark.parametrize(
    "change,match",
    [
        ({"num_clips": 0}, "num_clips"),
        ({"batch_size": 0}, "batch_size"),
        ({"scheduler": "euler"}, "scheduler"),
        ({"alpha_curve": "zigzag"}, "alpha curve"),
        ({"crossfade_ms": -1}, "crossfade"),
        ({"alphas": (0.5, 2.0)}, "alphas"),
    ],
)
def test_bad_requests_are_rejected(request_, change, match):
    with pytest.raises(ValueError, match=match):
        dataclasses.replace(request_, **change)


@pytest.mark.parametrize(
    "change,match",
    [({"seed": -1}, "seed"), ({"denoising": 0.0}, "denoising"), ({"guidance": 99.0}, "guidance")],
)
def test_bad_prompt_ends_are_rejected(change, match):
    with pytest.raises(ValueError, match=match):
        PromptEnd("x", **change)


def test_unknown_seed_image_and_mask(tiny_model, request_):
    with pytest.raises(ValueError, match="unknown seed image"):
        list(render_walk(tiny_model, dataclasses.replace(request_, seed_image="nope")))
    with pytest.raises(ValueError, match="unknown mask"):
        list(render_walk(tiny_model, dataclasses.replace(request_, mask="nope")))


def test_audio_file_as_seed(tmp_path):
    from riff.audio import save_audio

    tone = torch.sin(torch.arange(44100 * 6) / 44100 * 2 * torch.pi * 220)[None] * 0.5
    path = save_audio(tmp_path / "tone.wav", tone, 44100)
    image = seed_image(str(path))
    assert image.size == (512, 512)


def test_models_load_errors_are_one_line(tmp_path):
    from riff.models import load_model

    with pytest.raises(ValueError, match="not a diffusers model folder"):
        load_model(str(tmp_path))
    with pytest.raises(ValueError, match="cannot load model") as error:
        load_model("nobody/no-such-model-anywhere")
    assert "\n" not in str(error.value)


def test_render_seeds_gives_one_distinct_clip_per_seed(tiny_model, request_):
    from riff.render import render_seeds

    clips = list(
        render_seeds(tiny_model, request_.start, [5, 6, 5], dataclasses.replace(request_, batch_size=2))
    )
    assert [c.index for c in clips] == [0, 1, 2]
    assert not torch.equal(clips[0].pixels, clips[1].pixels)
    torch.testing.assert_close(clips[0].pixels, clips[2].pixels, rtol=0, atol=0.05)


def test_restyle_walks_over_segments_of_a_song(tiny_model, request_):
    from riff.render import render_restyle, restyle_segments, stitch_restyle

    song = torch.sin(torch.arange(44100 * 12) / 44100 * 2 * torch.pi * 330)[None] * 0.3
    segments = restyle_segments(song, 250, SpectrogramParams())
    assert len(segments) == 2 and all(s.shape[-1] == 511 * 441 for s in segments)
    request = dataclasses.replace(request_, num_inference_steps=4)
    clips = list(render_restyle(tiny_model, song, request))
    assert [c.alpha for c in clips] == [0.0, 1.0]
    track = stitch_restyle(clips, 250)
    assert track.shape[-1] == 2 * 511 * 441 - int(0.25 * 44100)
    with pytest.raises(ValueError, match="restyling needs at least"):
        restyle_segments(song[:, :44100], 250, SpectrogramParams())


def test_first_clip_renders_alone_then_full_batches():
    from riff.render import _batches

    assert [b.indices for b in _batches([3] * 6, 4)] == [[0], [1, 2, 3, 4], [5]]
    assert [b.indices for b in _batches([3, 3, 4, 4, 4], 4)] == [[0], [1], [2, 3, 4]]
    assert [b.indices for b in _batches([3], 4)] == [[0]]
