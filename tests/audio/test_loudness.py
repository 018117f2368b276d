"""Loudness (`riff.audio.loudness`): BS.1770 integrated loudness, normalisation once per track,
and the true-peak limiter."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import sine

from riff.audio.loudness import MAX_LIMIT_DB, integrated_loudness, limit, normalize_loudness, true_peak


def test_loudness_of_a_full_scale_1k_sine_is_about_minus_3_lufs():
    # BS.1770: a 0 dBFS 997 Hz sine in one channel reads -3.01 LUFS.
    tone = sine(997.0, seconds=3.0, sample_rate=48000, amplitude=1.0)
    assert integrated_loudness(tone, 48000) == pytest.approx(-3.01, abs=0.05)


def test_normalize_loudness_hits_the_target_once_for_the_whole_track():
    quiet, loud = sine(440.0, 2.0, amplitude=0.01), sine(440.0, 2.0, amplitude=0.1)
    track = normalize_loudness(torch.cat([quiet, loud], dim=1), 44100, -20.0)
    assert integrated_loudness(track, 44100) == pytest.approx(-20.0, abs=0.1)
    # The 20 dB step between the halves survives.
    ratio = track[:, 44100 * 2 + 1000 :].abs().max() / track[:, 1000 : 44100 * 2 - 1000].abs().max()
    assert float(ratio) == pytest.approx(10.0, rel=0.02)
    assert torch.equal(normalize_loudness(torch.zeros(1, 44100), 44100), torch.zeros(1, 44100))


def test_normalize_loudness_never_clips():
    spiky = torch.zeros(1, 44100 * 2)
    spiky[0, ::4410] = 1.0
    out = normalize_loudness(spiky, 44100, -6.0, peak_db=-1.0)
    assert float(out.abs().max()) <= 10 ** (-1 / 20) + 1e-6


def peaky(seconds: float = 4.0, every: float = 0.5) -> torch.Tensor:
    """Quiet tone with short loud hits, like drums over a pad: a high crest factor."""
    rate = 44100
    tone = sine(220.0, seconds, rate, amplitude=0.1)
    hits = torch.zeros_like(tone)
    t = torch.arange(int(0.02 * rate)) / rate
    burst = 0.45 * torch.sin(2 * torch.pi * 1000 * t) * torch.exp(-t / 0.005)
    for start in range(0, tone.shape[-1] - burst.numel(), int(every * rate)):
        hits[0, start : start + burst.numel()] += burst
    return tone + hits


def test_the_limiter_meets_the_target_and_holds_the_true_peak():
    track = peaky()
    out = normalize_loudness(track, 44100, -14.0)
    assert integrated_loudness(out, 44100) == pytest.approx(-14.0, abs=0.3)
    assert true_peak(out, 44100) <= 10 ** (-1 / 20) * 1.0001
    # A peak-capped gain, as before the limiter, stays far below the target.
    capped = track * (10 ** (-1 / 20) / true_peak(track, 44100))
    assert integrated_loudness(capped, 44100) < -17.0


def test_the_limiter_leaves_quiet_audio_alone_and_keeps_the_stereo_image():
    quiet = sine(440.0, 1.0, amplitude=0.5)
    assert torch.equal(limit(quiet, 44100), quiet)
    stereo = torch.cat([peaky(2.0), 0.5 * peaky(2.0)]) * 3
    out = limit(stereo, 44100)
    assert true_peak(out, 44100) <= 10 ** (-1 / 20) * 1.0001
    loud = stereo[0].abs() > 0.01
    torch.testing.assert_close(out[1][loud] / out[0][loud], torch.full_like(out[0][loud], 0.5))


def test_a_track_that_needs_too_much_limiting_is_delivered_quieter():
    track = peaky(every=0.25)
    track[0, 1000] = 1.0  # one peak far above everything: 6 dB of limiting is not enough
    out = normalize_loudness(track * 0.05, 44100, -14.0)
    assert true_peak(out, 44100) <= 10 ** (-1 / 20) * 1.0001
    gain_at_the_spike = float(out[0, 1000] / (track[0, 1000] * 0.05))
    gain_elsewhere = float(out[0, 30000] / (track[0, 30000] * 0.05))
    assert 20 * math.log10(gain_elsewhere / gain_at_the_spike) <= MAX_LIMIT_DB + 0.1
