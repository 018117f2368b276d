"""Joining clips into one track with equal-power crossfades."""

from __future__ import annotations

import math

import torch


def equal_power_fades(length: int, device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Fade-out and fade-in gains over `length` samples with out^2 + in^2 = 1."""
    phase = (torch.arange(length, dtype=torch.float32, device=device) + 0.5) / length * (math.pi / 2)
    return torch.cos(phase), torch.sin(phase)


def stitch_loops(clips: list[torch.Tensor], crossfade: int) -> torch.Tensor:
    """Join loop-shaped clips (each one a whole number of bars) on an unbroken beat grid.

    Every clip keeps exactly its own length in the track. Each join is a crossfade of
    `crossfade` samples centred on the boundary: the outgoing clip continues into its own
    beginning (it is a loop) while the incoming one rises out of its own end, so the tempo never
    shifts, unlike an overlap that pulls each clip earlier by the fade length.

    Args:
        clips: (channels, samples) each, same channels.
        crossfade: fade length in samples; 0 gives hard cuts.
    Returns:
        (channels, sum of clip lengths).
    """
    _check(clips, crossfade)
    half = crossfade // 2
    total = sum(c.shape[-1] for c in clips)
    track = torch.zeros(clips[0].shape[0], total + 2 * half, dtype=clips[0].dtype, device=clips[0].device)
    fade_out, fade_in = equal_power_fades(2 * half, clips[0].device)
    offset = 0
    for i, clip in enumerate(clips):
        if half > clip.shape[-1]:
            raise ValueError(f"crossfade of {crossfade} samples is longer than a clip ({clip.shape[-1]})")
        # The clip wrapped around by `half` on each side: [end tail, clip, head].
        piece = torch.cat([clip[:, clip.shape[-1] - half :], clip, clip[:, :half]], dim=-1)
        gain = torch.ones(piece.shape[-1], dtype=piece.dtype, device=piece.device)
        if half:
            if i > 0:
                gain[: 2 * half] = fade_in
            else:
                gain[:half] = 0  # nothing before the first clip
            if i < len(clips) - 1:
                gain[-2 * half :] = fade_out
            else:
                gain[-half:] = 0
        track[:, offset : offset + piece.shape[-1]] += piece * gain
        offset += clip.shape[-1]
    return track[:, half : half + total]


def stitch_overlapping(clips: list[torch.Tensor], crossfade: int) -> torch.Tensor:
    """Join clips whose last `crossfade` samples cover the same moment as the next clip's first
    ones (cut from a source with that overlap), crossfading across it.

    Returns:
        (channels, sum of clip lengths - (len(clips) - 1) * crossfade).
    """
    _check(clips, crossfade)
    fade_out, fade_in = equal_power_fades(crossfade, clips[0].device)
    track = clips[0]
    for clip in clips[1:]:
        if crossfade > min(track.shape[-1], clip.shape[-1]):
            raise ValueError(f"crossfade of {crossfade} samples is longer than a clip ({clip.shape[-1]})")
        if crossfade == 0:
            track = torch.cat([track, clip], dim=-1)
            continue
        joint = track[:, -crossfade:] * fade_out + clip[:, :crossfade] * fade_in
        track = torch.cat([track[:, :-crossfade], joint, clip[:, crossfade:]], dim=-1)
    return track


def _check(clips: list[torch.Tensor], crossfade: int) -> None:
    if not clips:
        raise ValueError("nothing to stitch: no clips")
    if crossfade < 0:
        raise ValueError(f"crossfade must be >= 0 samples, got {crossfade}")
    if len({c.shape[0] for c in clips}) != 1:
        raise ValueError(f"clips differ in channels: {[tuple(c.shape) for c in clips]}")
