"""Interpolation helpers: lerp, slerp, alpha curves, img2img start step. Pure torch."""

from __future__ import annotations

import math

import torch

ALPHA_CURVES = ("linear", "power", "smooth")


def lerp(v0: torch.Tensor, v1: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """Linear interpolation, exact at t = 0 and t = 1 (torch.lerp switches sides at 0.5).

    Args:
        v0, v1: tensors of one shape.
        t: a float, or a 1-D tensor of B values for a batch.
    Returns:
        v0's shape, or (B, *v0.shape) for a 1-D t.
    """
    t = torch.as_tensor(t, dtype=v0.dtype, device=v0.device)
    if t.ndim:
        return torch.lerp(v0[None], v1[None], t.reshape(-1, *([1] * v0.ndim)))
    return torch.lerp(v0, v1, t)


def slerp(
    v0: torch.Tensor, v1: torch.Tensor, t: torch.Tensor | float, dot_threshold: float = 0.9995
) -> torch.Tensor:
    """Spherical interpolation between two tensors of one shape, treated as vectors.

    Falls back to lerp when they are nearly parallel (|cos| > dot_threshold), where the
    spherical formula divides by almost zero (Shoemake 1985; the reference's rule, in torch).

    Args:
        v0, v1: tensors of one shape.
        t: a float, or a 1-D tensor of B values for a batch.
    Returns:
        v0's shape, or (B, *v0.shape) for a 1-D t; v0's dtype.
    """
    a, b = v0.double(), v1.double()
    t = torch.as_tensor(t, dtype=torch.float64, device=v0.device)
    batched = t.ndim > 0
    t = t.reshape(-1, *([1] * a.ndim)) if batched else t
    cos = float((a * b).sum() / (a.norm() * b.norm()).clamp(min=1e-12))
    if abs(cos) > dot_threshold:
        out = torch.lerp(a, b, t)
    else:
        theta = math.acos(max(-1.0, min(1.0, cos)))
        out = (torch.sin((1 - t) * theta) * a + torch.sin(t * theta) * b) / math.sin(theta)
    return out.to(v0.dtype)


def alpha_curve(num: int, curve: str = "linear", power: float = 2.0) -> list[float]:
    """Alphas from 0 to 1 for a walk of `num` clips.

    Curves: "linear"; "power", the reference's symmetric power curve (|2a-1|^power, lingering
    at the ends for power > 1, hurrying through them for power < 1); "smooth", smoothstep.
    """
    if num < 1:
        raise ValueError(f"a walk needs at least one clip, got {num}")
    if curve not in ALPHA_CURVES:
        raise ValueError(f"unknown alpha curve {curve!r}: choose one of {', '.join(ALPHA_CURVES)}")
    if power <= 0:
        raise ValueError(f"alpha power must be positive, got {power}")
    alphas = (
        torch.linspace(0, 1, num, dtype=torch.float64) if num > 1 else torch.zeros(1, dtype=torch.float64)
    )
    if curve == "power":
        shifted = alphas * 2 - 1
        alphas = (shifted.abs() ** power * shifted.sign() + 1) / 2
    elif curve == "smooth":
        alphas = alphas * alphas * (3 - 2 * alphas)
    return [float(a) for a in alphas]


def start_step(num_inference_steps: int, strength: float, steps_offset: int = 0) -> int:
    """Index into the scheduler's timesteps where img2img starts, as the reference computes it
    (38 of PNDM's 51 timesteps run at 50 steps, strength 0.75, offset 1)."""
    if not 0.0 < strength <= 1.0:
        raise ValueError(f"denoising strength must be in (0, 1], got {strength}")
    init = min(int(num_inference_steps * strength) + steps_offset, num_inference_steps)
    return max(num_inference_steps - init + steps_offset, 0)
