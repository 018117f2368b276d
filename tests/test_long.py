"""Longer music: prompt chains, continuation, seamless loops and wider clips."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from riff.audio.stitch import stitch_clips
from riff.render import render, render_walk
from riff.request import Chain, Loop, PromptEnd, Settings, Variations, Walk, from_dict, to_dict
from riff.seed_images import seed_image, tile_image
from riff.track import stitch

FAST = Settings(num_inference_steps=4, batch_size=3, griffin_lim_iters=2)
A = PromptEnd("solo piano", seed=1)
B = PromptEnd("rock drum beat", seed=2, guidance=5.0)
C = PromptEnd("jazz saxophone", seed=3, denoising=0.6)


def test_a_chain_walks_every_hop_and_passes_through_every_end(tiny_model, narrow_seed):
    chain = Chain((A, B, C), clips_per_hop=2, seed_image=narrow_seed)
    assert chain.stops() == [(0, 0.0), (0, 0.5), (1, 0.0), (1, 0.5), (1, 1.0)]
    clips = list(render(tiny_model, chain, FAST))
    assert [c.index for c in clips] == list(range(chain.clip_count())) == list(range(5))
    # Each hop starts exactly where the one before ended: B at alpha 0 of hop 1 is the plain
    # render of B, the same as B at the end of a walk A -> B; the chain ends on plain C.
    a_to_b = list(render_walk(tiny_model, Walk(A, B, alphas=(1.0,), seed_image=narrow_seed), FAST))
    b_to_c = list(render_walk(tiny_model, Walk(B, C, alphas=(0.0, 1.0), seed_image=narrow_seed), FAST))
    torch.testing.assert_close(clips[2].pixels, a_to_b[0].pixels, atol=0.05, rtol=0)
    torch.testing.assert_close(clips[2].pixels, b_to_c[0].pixels, atol=0.05, rtol=0)
    torch.testing.assert_close(clips[4].pixels, b_to_c[1].pixels, atol=0.05, rtol=0)
    assert not torch.allclose(clips[1].pixels, clips[3].pixels, atol=1)


def test_a_two_end_chain_is_a_walk(tiny_model, narrow_seed):
    chain = list(render(tiny_model, Chain((A, B), clips_per_hop=3, seed_image=narrow_seed), FAST))
    walk = list(render(tiny_model, Walk(A, B, num_clips=4, seed_image=narrow_seed), FAST))
    for c, w in zip(chain, walk, strict=True):
        assert c.alpha == pytest.approx(w.alpha)
        torch.testing.assert_close(c.pixels, w.pixels, atol=0.05, rtol=0)


def test_continuation_keeps_the_end_of_the_clip_before(tiny_model, narrow_seed):
    walk = Walk(A, B, num_clips=3, seed_image=narrow_seed, continuation=True, crossfade_ms=50)
    clips = list(render(tiny_model, walk, FAST))
    kept = clips[1].kept // tiny_model.vae_scale
    assert clips[0].kept == 0 and kept == 2  # a quarter of the 8 latent columns
    for before, after in zip(clips, clips[1:]):
        # The kept part is the previous clip's end, untouched; the rest is repainted.
        torch.testing.assert_close(after.latent[..., :kept], before.latent[..., -kept:], atol=1e-5, rtol=0)
        assert not torch.allclose(after.latent[..., kept:], before.latent[..., kept:], atol=1e-2)
    plain = list(render(tiny_model, Walk(A, B, num_clips=3, seed_image=narrow_seed), FAST))
    torch.testing.assert_close(clips[0].pixels, plain[0].pixels)  # the first clip is a plain one
    # The track overlaps clips by their kept columns.
    params = clips[0].params
    overlap = params.num_samples(clips[1].kept)
    assert stitch(clips, walk).shape[-1] == 3 * clips[0].waveform.shape[-1] - 2 * overlap


def test_a_continued_join_is_cut_in_the_middle_of_the_shared_part():
    g = torch.Generator().manual_seed(0)
    first = torch.randn(1, 1000, generator=g)
    second = torch.cat([first[:, -200:], torch.randn(1, 800, generator=g)], dim=-1)
    track = stitch_clips([first, second], crossfade=0, kept=[0, 200])
    assert track.shape[-1] == 1800
    assert torch.equal(track[:, :900], first[:, :900])  # cut at the middle of the 200 shared
    assert torch.equal(track[:, 900:], second[:, 100:])
    # A crossfade longer than the shared part is held to half of it on each side.
    faded = stitch_clips([first, second], crossfade=1000, kept=[0, 200])
    assert torch.equal(faded[:, :800], first[:, :800]) and torch.equal(faded[:, 1000:], second[:, 200:])


@pytest.mark.parametrize("kept", [None, [0, 0, 300]])
def test_a_wrapped_track_is_the_repeated_clips_stitched(kept):
    """Played on repeat, a loop file is exactly the clips stitched round and round: the wrap
    is a join like every other."""
    g = torch.Generator().manual_seed(1)
    clips = [torch.randn(2, n, generator=g) for n in (1000, 1200, 900)]
    loop = stitch_clips(clips, crossfade=160, kept=kept, wrap=True)
    repeated = stitch_clips(clips * 3, crossfade=160, kept=(kept or [0, 0, 0]) * 3)
    period = loop.shape[-1]
    assert period == sum(c.shape[-1] for c in clips) - sum(kept or [0])
    torch.testing.assert_close(repeated[:, period : 2 * period], loop, atol=1e-5, rtol=0)


def test_a_loop_goes_round_a_circle_of_noise(tiny_model, narrow_seed):
    loop = Loop(A, clips=4, seed_image=narrow_seed, crossfade_ms=100)
    clips = list(render(tiny_model, loop, FAST))
    assert len(clips) == 4
    # Clip 0 is the plain render of its prompt end and seed; the others differ.
    plain = list(render(tiny_model, Variations(A, (A.seed,), seed_image=narrow_seed), FAST))
    torch.testing.assert_close(clips[0].pixels, plain[0].pixels, atol=0.05, rtol=0)
    assert not torch.allclose(clips[1].pixels, clips[0].pixels, atol=1)
    track = stitch(clips, loop)
    assert track.shape[-1] == sum(c.waveform.shape[-1] for c in clips)
    assert float(track.abs().max()) <= 1.0


def test_one_clip_loop_needs_no_second_seed(tiny_model, narrow_seed):
    from riff.request import MAX_SEED

    Loop(PromptEnd("x", seed=MAX_SEED), clips=1)
    with pytest.raises(ValueError, match="seed below"):
        Loop(PromptEnd("x", seed=MAX_SEED), clips=2)


def test_wider_clips_tile_the_seed_on_its_loop(tiny_model, narrow_seed):
    narrow = seed_image(narrow_seed)
    wide = seed_image(narrow_seed, width=160)
    assert wide.size == (160, 512)
    pixels = torch.tensor(list(wide.getdata())).reshape(512, 160, 3)
    torch.testing.assert_close(pixels[:, 64:128], pixels[:, :64])  # repeated, on the beat
    torch.testing.assert_close(pixels[:, 128:], pixels[:, :32])
    assert seed_image(narrow_seed, width=32).size == (32, 512)  # and cut
    assert narrow.size == (64, 512)
    clips = list(render(tiny_model, Walk(A, B, num_clips=2, seed_image=narrow_seed, width=128), FAST))
    params = clips[0].params
    assert clips[0].pixels.shape == (3, 512, 128)
    assert clips[0].waveform.shape[-1] == params.num_samples(128)


def test_tile_image_keeps_the_mode():
    image = Image.new("L", (10, 4), 7)
    assert tile_image(image, 25).mode == "L" and tile_image(image, 25).size == (25, 4)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: Chain((A,)), "2..16 prompts"),
        (lambda: Chain((A, B), clips_per_hop=0), "clips per hop"),
        (lambda: Loop(A, clips=0), "1..256"),
        (lambda: Walk(A, B, width=100), "multiple of 8"),
        (lambda: Variations(A, (1,), width=8), "at least 64"),
    ],
)
def test_bad_long_requests_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_new_kinds_round_trip_through_the_settings_json():
    for music in (
        Chain((A, B, C), clips_per_hop=3, continuation=True, width=1024),
        Loop(B, clips=3, crossfade_ms=40),
        Walk(A, B, continuation=True, width=768),
    ):
        assert from_dict(to_dict(music, FAST)) == (music, FAST)


def test_settings_files_of_earlier_releases_still_read():
    from riff.request import Variations

    music = Variations(A, (3, 4))
    data = to_dict(music, FAST)
    assert data["kind"] == "variations"
    assert from_dict({**data, "kind": "seeds"}) == (music, FAST)  # its name before
