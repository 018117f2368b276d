"""Waveform <-> mel amplitudes (`riff.audio.spectrogram`): the filterbank, round trips through a PNG,
Griffin-Lim at its own grid, decoding in pieces and batches, and the format caches."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import png_roundtrip, sine

from riff.audio import spectrogram
from riff.audio.image import (
    image_from_mel,
    mel_from_image,
)
from riff.audio.memo import tensor_bytes
from riff.audio.params import SpectrogramParams
from riff.audio.spectrogram import Decoding, mel_filterbank, mel_from_waveform, phase_grid, waveform_from_mel

P = SpectrogramParams()
N = P.num_samples(512)


def spectral_convergence(a: torch.Tensor, b: torch.Tensor) -> float:
    """||a - g b|| / ||a|| with the least-squares gain g."""
    gain = (a * b).sum() / (b * b).sum()
    return float((a - gain * b).norm() / a.norm())


def test_filterbank_is_htk_triangles_without_norm():
    fb = mel_filterbank(P, P.n_fft // 2 + 1)
    assert fb.shape == (512, 8821)
    assert float(fb.max()) <= 1.0 + 1e-9 and float(fb.min()) == 0.0
    freqs = torch.linspace(0, 22050, 8821, dtype=torch.float64)
    # Nothing above max_frequency, and each filter peaks near its HTK centre.
    assert float(fb[:, freqs > 10000].sum()) == 0.0
    centre = 700 * (
        10 ** (torch.linspace(0, 2595 * np.log10(1 + 10000 / 700), 514)[1:-1].double() / 2595) - 1
    )
    peaks = freqs[fb.argmax(dim=1)]
    assert float((peaks - centre).abs().max()) <= 2.5  # one linear bin


@pytest.mark.parametrize(
    "name,make,bound",
    [
        # Bounds about 1.5x what the decoder reaches today: a regression trips them.
        ("sines", lambda: sine(440.0) + sine(1320.0, amplitude=0.2), 0.05),
        ("noise", lambda: 0.2 * torch.randn(1, N, generator=torch.Generator().manual_seed(1)), 0.055),
        ("clicks", lambda: torch.zeros(1, N).index_fill_(1, torch.arange(1000, N, 11025), 0.9), 0.045),
        (
            "chord and noise",
            lambda: (
                sine(220.0)
                + sine(277.2, amplitude=0.3)
                + sine(329.6, amplitude=0.3)
                + 0.02 * torch.randn(1, N, generator=torch.Generator().manual_seed(2))
            ),
            0.045,
        ),
    ],
)
def test_round_trip_through_png_keeps_the_spectrogram(name, make, bound):
    """Quality guard: mel spectral convergence of the decoded audio (reference: about 0.08 on
    real music, bench/bench_codec.py)."""
    waveform = make()[:, :N]
    mel = mel_from_waveform(waveform, P)
    decoded_mel, params, _ = mel_from_image(png_roundtrip(image_from_mel(mel, P)))
    # 8-bit quantisation alone: within a few percent.
    assert spectral_convergence(mel, decoded_mel) < 0.03
    audio = waveform_from_mel(decoded_mel, params, seed=0)
    assert audio.shape == (1, N)
    assert spectral_convergence(mel, mel_from_waveform(audio, P)) < bound


def test_the_ends_of_a_clip_decode_about_as_well_as_its_middle():
    """Its first and last frames see a reflection of the clip's ends; Griffin-Lim's last
    iterations run at the original rate, where that reflection aliases as the encoder's does
    (all at 21.6 kHz, this noise's end frames reach 0.096; the middle about 0.04)."""
    waveform = 0.2 * torch.randn(1, N, generator=torch.Generator().manual_seed(1))
    mel = mel_from_waveform(waveform, P)
    decoded = mel_from_waveform(waveform_from_mel(mel, P, seed=0), P)
    ends = [torch.cat([m[..., :8], m[..., -8:]], dim=-1) for m in (mel, decoded)]
    assert spectral_convergence(*ends) < 0.075


def test_decoding_is_seeded_and_batched():
    mel = mel_from_waveform(sine(330.0)[:, :N], P)
    mel2 = mel_from_waveform(0.1 * torch.randn(1, N, generator=torch.Generator().manual_seed(3)), P)
    a = waveform_from_mel(mel, P, seed=7, griffin_lim_iters=8)
    b = waveform_from_mel(mel, P, seed=7, griffin_lim_iters=8)
    c = waveform_from_mel(mel, P, seed=8, griffin_lim_iters=8)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    batch = waveform_from_mel(torch.stack([mel, mel2]), P, seed=7, griffin_lim_iters=8)
    assert batch.shape == (2, 1, N)
    torch.testing.assert_close(batch[0], a, rtol=0, atol=1e-4)


def test_phase_grid_keeps_every_frequency_the_image_holds():
    hop, win = phase_grid(P)
    assert (hop, win) == (216, 2160)  # 21.6 kHz, 5-smooth FFT size
    rate = P.sample_rate * hop / P.hop_length
    assert rate / win == P.sample_rate / P.win_length  # same bins: magnitudes carry over
    assert rate / 2 >= 1.05 * P.max_frequency
    # Nothing lower fits an image that reaches Nyquist: the original rate.
    full = SpectrogramParams(sample_rate=16000, max_frequency=8000)
    assert phase_grid(full) == (full.hop_length, full.win_length)
    # A low max_frequency still keeps about half the rate, so the reflected clip ends alias
    # little (at 2.4 kHz such a format decoded to SC 0.046 instead of 0.035).
    low = SpectrogramParams(max_frequency=1000, num_frequencies=128)
    assert phase_grid(low)[0] / low.hop_length >= 0.45


@pytest.mark.parametrize(
    "params",
    [
        SpectrogramParams(sample_rate=16000, max_frequency=8000),  # the original rate
        SpectrogramParams(max_frequency=16000),  # 36 kHz
        SpectrogramParams(sample_rate=22050),  # an odd window (2205 samples)
        # An even window that the first 5-smooth lower rate would make odd (225 samples).
        SpectrogramParams(sample_rate=16000, window_duration_ms=25, max_frequency=4000),
    ],
)
def test_other_formats_decode_at_their_own_grid(params):
    n = params.num_samples(300)
    waveform = (
        sine(440.0, sample_rate=params.sample_rate)[:, :n]
        + sine(5000.0, sample_rate=params.sample_rate, amplitude=0.2)[:, :n]
    )
    mel = mel_from_waveform(waveform, params)
    audio = waveform_from_mel(mel, params, seed=0, griffin_lim_iters=48)
    assert audio.shape == (1, n)
    assert spectral_convergence(mel, mel_from_waveform(audio, params)) < 0.1


def test_decoding_keeps_the_level():
    """The low-rate Griffin-Lim hands its spectrum to the original rate unscaled."""
    waveform = sine(440.0)[:, :N] + sine(2500.0, amplitude=0.1)[:, :N]
    audio = waveform_from_mel(mel_from_waveform(waveform, P), P, seed=0)
    rms = float(audio.pow(2).mean().sqrt())
    assert rms == pytest.approx(float(waveform.pow(2).mean().sqrt()), rel=0.05)


def test_dense_matrices_decode_as_well(monkeypatch):
    """Dense filterbank matrices (the default off the CPU) decode as well as the CPU's sparse
    ones, and `Decoding.sparse` picks which. (Samples differ: summation order differs, and the
    iterations carry such rounding into the waveform, but not into its spectrogram.)"""
    from riff.audio import spectrogram

    layouts = set()  # of the filterbank matrices the decode asked the cached helpers for

    def spy(helper):
        def wrapper(*args):
            matrices = helper(*args)
            layouts.update(m.layout for m in matrices[:2])  # the rest are dense by design
            return matrices

        return wrapper

    monkeypatch.setattr(spectrogram, "_inversion", spy(spectrogram._inversion))
    monkeypatch.setattr(spectrogram, "_projection_matrices", spy(spectrogram._projection_matrices))

    n = P.num_samples(100)
    noise = 0.05 * torch.randn(1, n, generator=torch.Generator().manual_seed(9))
    mel = mel_from_waveform(sine(330.0)[:, :n] + noise, P)

    def decoded_sc(decoding: Decoding) -> tuple[float, set]:
        layouts.clear()
        waveform = waveform_from_mel(mel, P, seed=3, decoding=decoding)
        return spectral_convergence(mel, mel_from_waveform(waveform, P)), set(layouts)

    sparse, sparse_layouts = decoded_sc(Decoding())  # sparse on the CPU by default
    dense, dense_layouts = decoded_sc(Decoding(sparse=False))
    assert sparse_layouts == {torch.sparse_csr}
    assert dense_layouts == {torch.strided}
    assert sparse < 0.03
    assert dense == pytest.approx(sparse, rel=0.05)


def test_the_narrowest_decodable_image():
    mel = torch.rand(1, 512, 7, generator=torch.Generator().manual_seed(6))
    assert waveform_from_mel(mel, P, griffin_lim_iters=4).shape == (1, 6 * P.hop_length)
    with pytest.raises(ValueError, match="6 columns wide is too narrow to decode: need at least 7"):
        waveform_from_mel(mel[..., :6], P)


def test_too_short_audio_is_a_clear_error():
    with pytest.raises(ValueError, match="too short"):
        mel_from_waveform(torch.zeros(1, 100), P)


def test_the_format_caches_hold_bytes_not_entries(monkeypatch):
    """Eight formats once stayed in memory, whatever their size: each cache keeps at most its
    budget in bytes, and what does not fit is rebuilt, not kept."""
    budget = 8 << 20
    cached = (spectrogram._window_filterbank, spectrogram._filterbank, spectrogram._inversion)
    for function in cached:
        monkeypatch.setattr(function, "max_bytes", budget)
        function.cache_clear()
    mel = mel_from_waveform(sine(330.0)[:, : N // 4], P)
    built = 0
    for rate in (16000, 22050, 32000, 44100, 48000):
        params = SpectrogramParams(sample_rate=rate, max_frequency=min(10000, rate // 2))
        waveform_from_mel(mel, params, griffin_lim_iters=2)
        built += tensor_bytes(spectrogram._filterbank(params, params.n_fft // 2 + 1, "cpu"))
    assert built > 2 * budget  # an entry count would have kept them all
    for function in cached:
        assert 0 < function.cache_bytes() <= budget
        function.cache_clear()
    assert spectrogram.CACHE_BYTES <= 64 << 20
    assert tensor_bytes(torch.zeros(3, 5)) == 60


def test_a_long_image_decodes_in_pieces_of_bounded_size():
    """A wide image is decoded a bounded number of columns at a time and joined: same length,
    same spectrogram, no seam a listener would see in it."""
    mel = mel_from_waveform(sine(330.0)[:, : 3 * N], P)
    frames = mel.shape[-1]
    small = Decoding(griffin_lim_iters=16, max_bytes=400 * (P.win_length // 2 + 1) * 8)
    whole = waveform_from_mel(mel, P, seed=1, griffin_lim_iters=16)
    pieces = waveform_from_mel(mel, P, seed=1, decoding=small)
    assert pieces.shape == whole.shape == (1, (frames - 1) * P.hop_length)
    assert spectral_convergence(mel, mel_from_waveform(pieces, P)) < 1.5 * max(
        spectral_convergence(mel, mel_from_waveform(whole, P)), 0.02
    )


def test_a_batch_too_big_for_one_pass_is_split_with_the_same_samples():
    mel = torch.stack([mel_from_waveform(sine(f)[:, :N], P) for f in (220.0, 330.0, 440.0)])
    one_pass = waveform_from_mel(mel, P, seed=3, griffin_lim_iters=8)
    per_clip = Decoding(griffin_lim_iters=8, max_bytes=mel.shape[-1] * (P.win_length // 2 + 1) * 8)
    torch.testing.assert_close(
        waveform_from_mel(mel, P, seed=3, decoding=per_clip), one_pass, rtol=0, atol=1e-4
    )
