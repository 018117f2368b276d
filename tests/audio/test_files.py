"""Audio in and out (`riff.audio.files`): resampling, every format, broken and long files."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import sine

from riff.audio import files as audio
from riff.audio.files import load_audio, resample, save_audio


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


def test_broken_audio_is_a_clear_error(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "text.wav").write_text("not audio")
    sf.write(tmp_path / "zero.wav", np.zeros((0, 1), dtype=np.float32), 44100)
    nan = np.full((4410, 1), np.nan, dtype=np.float32)
    sf.write(tmp_path / "nan.wav", nan, 44100, subtype="FLOAT")
    for name, match in [
        ("empty.wav", "cannot read audio"),
        ("text.wav", "cannot read audio"),
        ("zero.wav", "no audio samples"),
        ("nan.wav", "not numbers"),
    ]:
        with pytest.raises(ValueError, match=match):
            load_audio(tmp_path / name, 44100)


def test_audio_is_read_only_as_far_as_asked(tmp_path):
    sf.write(tmp_path / "long.wav", np.zeros((8000 * 30, 8), dtype=np.float32), 8000)  # 8 channels, 8 kHz
    waveform = load_audio(tmp_path / "long.wav", 44100, 1, max_seconds=2.0)
    assert waveform.shape == (1, 2 * 44100)
