"""slerp, lerp, alpha curves, start steps."""

from __future__ import annotations

import pytest
import torch

from riff.interp import alpha_curve, lerp, slerp, start_step


def test_slerp_endpoints_are_exact():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(4, 8, 8, generator=g), torch.randn(4, 8, 8, generator=g)
    assert torch.equal(slerp(a, b, 0.0), a)
    torch.testing.assert_close(slerp(a, b, 1.0), b, rtol=0, atol=1e-6)


def test_slerp_keeps_the_norm_of_gaussian_noise_where_lerp_loses_it():
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(4, 64, 64, generator=g), torch.randn(4, 64, 64, generator=g)
    middle = slerp(a, b, 0.5)
    assert middle.norm() / a.norm() == pytest.approx(1.0, abs=0.02)
    assert lerp(a, b, 0.5).norm() / a.norm() < 0.75


def test_slerp_batched_matches_one_by_one():
    g = torch.Generator().manual_seed(2)
    a, b = torch.randn(4, 8, 8, generator=g), torch.randn(4, 8, 8, generator=g)
    t = torch.tensor([0.0, 0.3, 1.0])
    batch = slerp(a, b, t)
    assert batch.shape == (3, 4, 8, 8)
    for i, ti in enumerate(t.tolist()):
        torch.testing.assert_close(batch[i], slerp(a, b, ti))


def test_slerp_of_nearly_parallel_vectors_falls_back_to_lerp():
    a = torch.ones(16)
    b = a * 2 + 1e-6
    out = slerp(a, b, 0.25)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, lerp(a, b, 0.25))
    anti = slerp(a, -a, 0.5)  # opposite: also parallel, no division by zero
    assert torch.isfinite(anti).all()


def test_lerp_is_exact_at_both_ends():
    a, b = torch.tensor([0.1, 0.7]), torch.tensor([0.3, -5.0])
    out = lerp(a, b, torch.tensor([0.0, 1.0]))
    assert torch.equal(out[0], a) and torch.equal(out[1], b)


def test_alpha_curves():
    assert alpha_curve(5) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert alpha_curve(1) == [0.0]
    power = alpha_curve(5, "power", 2.0)
    assert power[0] == 0.0 and power[-1] == 1.0 and power[2] == 0.5
    assert power[1] > 0.25 and power[3] < 0.75  # lingers near the ends... symmetric
    smooth = alpha_curve(5, "smooth")
    assert smooth == sorted(smooth) and smooth[1] < 0.25
    with pytest.raises(ValueError, match="unknown alpha curve"):
        alpha_curve(3, "zigzag")
    with pytest.raises(ValueError, match="at least one clip"):
        alpha_curve(0)


def test_start_step_matches_the_reference():
    # 50 steps, strength 0.75, PNDM offset 1: 51 timesteps, start at 13 -> 38 UNet calls.
    assert start_step(50, 0.75, 1) == 13
    assert start_step(50, 1.0, 1) == 1
    assert start_step(10, 0.5, 0) == 5
    with pytest.raises(ValueError, match="strength"):
        start_step(50, 0.0)
