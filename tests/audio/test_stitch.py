"""The stream stitcher and level (`riff.audio.stitch`): the stitched track, a chunk at a time,
at one steady level."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import sine

from riff.audio.loudness import integrated_loudness, true_peak
from riff.audio.stitch import (
    StreamLevel,
    TrackStream,
    equal_power_fades,
    stitch_clips,
    stitch_loops,
    stitch_overlapping,
)


@pytest.mark.parametrize("kept, hinted", [(0, False), (0, True), (300, False), (300, True)])
def test_the_stream_is_the_stitched_track(kept, hinted):
    g = torch.Generator().manual_seed(0)
    clips = [torch.randn(2, 2000 + 13 * i, generator=g) for i in range(6)]
    keeps = [0] + [kept] * 5
    stream = TrackStream(crossfade=400)
    chunks = []
    for i, clip in enumerate(clips):
        following = keeps[i + 1] if hinted and i + 1 < len(clips) else None
        chunks.append(stream.push(clip, keeps[i], following))
    chunks.append(stream.finish())
    assert torch.equal(torch.cat(chunks, dim=-1), stitch_clips(clips, 400, keeps))
    if hinted:
        assert chunks[0].shape[-1] > 0  # a hint lets the first clip play before the second


def test_the_stream_level_meets_its_target_and_never_clips():
    rate = 44100
    quiet, loud = 0.05 * sine(440.0, 2.0), 0.9 * sine(440.0, 2.0)
    level = StreamLevel(rate)
    first = level(quiet)
    assert integrated_loudness(first, rate) == pytest.approx(-14.0, abs=0.2)
    gains = [level.gain]
    for chunk in (loud, quiet, loud):
        out = level(chunk)
        assert true_peak(out, rate) <= 10 ** (-1 / 20) * 1.001
        gains.append(level.gain)
    assert gains == sorted(gains, reverse=True) and gains[1] < gains[0]  # lowered, never raised
    assert torch.equal(StreamLevel(rate)(torch.zeros(1, 100)), torch.zeros(1, 100))


def test_equal_power_fades_keep_power_constant():
    out, into = equal_power_fades(1000)
    torch.testing.assert_close(out**2 + into**2, torch.ones(1000))
    assert out[0] > 0.99 and into[-1] > 0.99


def test_stitch_loops_keeps_the_grid_and_has_no_jump():
    a, b = sine(220.0, 1.0), sine(330.0, 1.0)
    track = stitch_loops([a, b, a], crossfade=4410)
    assert track.shape == (1, 3 * a.shape[1])
    # Far from the joins each clip is untouched, at its own place.
    torch.testing.assert_close(track[:, 10000:30000], a[:, 10000:30000])
    torch.testing.assert_close(track[:, 44100 + 10000 : 44100 + 30000], b[:, 10000:30000])
    # No click: the largest sample step at a join stays within what an equal-power mix of
    # the two clips can make (sqrt 2 times the steeper clip's own largest step).
    steps = track.diff().abs()
    inside = max(float(a.diff().abs().max()), float(b.diff().abs().max()))
    assert float(steps.max()) <= inside * math.sqrt(2) * 1.01
    hard = stitch_loops([a, b], crossfade=0)
    torch.testing.assert_close(hard, torch.cat([a, b], dim=1))


def test_stitch_overlapping_shortens_by_the_overlap():
    a, b = sine(220.0, 1.0), sine(220.0, 1.0)
    track = stitch_overlapping([a, b], crossfade=1000)
    assert track.shape == (1, 2 * 44100 - 1000)
    with pytest.raises(ValueError, match="nothing to stitch"):
        stitch_overlapping([], 10)
