"""Audio I/O, resampling, stitching and loudness."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import sine

from riff.audio import files as audio
from riff.audio.files import load_audio, resample, save_audio
from riff.audio.loudness import MAX_LIMIT_DB, integrated_loudness, limit, normalize_loudness, true_peak
from riff.audio.stitch import equal_power_fades, stitch_loops, stitch_overlapping


def test_resample_keeps_a_tone_and_its_length():
    t = torch.arange(48000, dtype=torch.float64) / 48000
    tone = torch.sin(2 * math.pi * 1000 * t)[None]
    out = resample(tone, 48000, 44100)
    assert out.shape == (1, 44100)
    expected = torch.sin(2 * math.pi * 1000 * torch.arange(44100, dtype=torch.float64) / 44100)
    assert float((out[0, 500:-500] - expected[500:-500]).abs().max()) < 1e-5


def test_resample_removes_content_above_the_new_nyquist():
    t = torch.arange(96000, dtype=torch.float64) / 96000
    high = torch.sin(2 * math.pi * 30000 * t)[None]
    assert float(resample(high, 96000, 44100)[0, 500:-500].abs().max()) < 1e-3


audio_sinc = audio._kaiser_sinc


@pytest.mark.parametrize("rate", [44101, 22051, 16001, 11026])
def test_coprime_rates_resample_per_sample_not_per_phase(tmp_path, rate, monkeypatch):
    """A file at 44,101 Hz once asked the polyphase table for 15.6 GB: such rates now take the
    per-sample way, whose table is the same few phases whatever the rates."""
    built = []
    monkeypatch.setattr(audio, "_kaiser_sinc", lambda t, taps: built.append(t.numel()) or audio_sinc(t, taps))
    t = torch.arange(rate, dtype=torch.float64) / rate
    path = save_audio(tmp_path / "odd.ogg", torch.sin(2 * math.pi * 440 * t).float()[None], rate)
    out = load_audio(path, 44100)
    assert abs(out.shape[-1] - 44100) < 600  # vorbis pads a little
    assert max(built) <= (audio.DIRECT_PHASES + 1) * (2 * math.ceil(32 / 0.97) + 1)
    expected = torch.sin(2 * math.pi * 440 * torch.arange(out.shape[-1]) / 44100)
    assert float(torch.corrcoef(torch.stack([out[0, 2000:-2000], expected[2000:-2000]]))[0, 1]) > 0.999


@pytest.mark.parametrize("rates", [(48000, 44100), (96000, 44100), (22050, 44100), (8000, 44100)])
def test_per_sample_resampling_is_the_polyphase_filter(rates, monkeypatch):
    """Both ways evaluate one filter: common rates keep their polyphase table (and the golden
    values), and the per-sample way gives the same samples."""
    x = torch.randn(2, 9000, generator=torch.Generator().manual_seed(0))
    table = resample(x, *rates)
    monkeypatch.setattr(audio, "MAX_TABLE_ENTRIES", 0)
    assert float((resample(x, *rates) - table).abs().max()) < 1e-5


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg", ".mp3"])
def test_save_and_load_every_format(tmp_path, suffix):
    tone = sine(440.0, seconds=1.0)
    path = save_audio(tmp_path / f"x{suffix}", torch.cat([tone, tone * 0.5]), 44100)
    back = load_audio(path, 22050)
    assert back.shape[0] == 2
    assert abs(back.shape[1] - 22050) < 2000  # lossy codecs pad a little
    mono = load_audio(path, 44100, channels=1)
    assert mono.shape[0] == 1


def test_unreadable_audio_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all")
    with pytest.raises(ValueError, match="cannot read audio"):
        load_audio(bad, 44100)
    with pytest.raises(ValueError, match="cannot write"):
        save_audio(tmp_path / "x.xyz", torch.zeros(1, 10), 44100)


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
