"""Integrated loudness (ITU-R BS.1770-4) and loudness normalisation, in torch."""

from __future__ import annotations

import math

import torch

from riff.audio import resample

# K-weighting: a high shelf then a high pass, in analogue terms (libebur128's constants),
# so the biquads can be derived for any sample rate.
_SHELF = (1681.974450955533, 3.999843853973347, 0.7071752369554196)  # f0, gain dB, Q
_HIGHPASS = (38.13547087602444, 0.5003270373238773)  # f0, Q


def _k_weighting(sample_rate: int) -> list[tuple[list[float], list[float]]]:
    f0, gain, q = _SHELF
    k = math.tan(math.pi * f0 / sample_rate)
    vh = 10 ** (gain / 20)
    vb = vh**0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf = (
        [(vh + vb * k / q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0],
        [1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0],
    )
    f0, q = _HIGHPASS
    k = math.tan(math.pi * f0 / sample_rate)
    a0 = 1 + k / q + k * k
    highpass = ([1.0, -2.0, 1.0], [1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0])
    return [shelf, highpass]


def k_weight(waveform: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """Apply the K-weighting filter along the last axis, by multiplying spectra (the filters'
    impulse responses die out in well under the one second of zero padding)."""
    length = waveform.shape[-1]
    n = length + sample_rate
    spectrum = torch.fft.rfft(waveform.double(), n=n)
    z = torch.exp(-1j * torch.linspace(0, math.pi, n // 2 + 1, dtype=torch.float64, device=waveform.device))
    for b, a in _k_weighting(sample_rate):
        spectrum = spectrum * (b[0] + b[1] * z + b[2] * z * z) / (a[0] + a[1] * z + a[2] * z * z)
    return torch.fft.irfft(spectrum, n=n)[..., :length].to(waveform.dtype)


def integrated_loudness(waveform: torch.Tensor, sample_rate: int) -> float:
    """Gated integrated loudness in LUFS of (channels, samples) audio; -inf for silence.

    400 ms blocks with 75 % overlap, an absolute gate at -70 LUFS and a relative gate 10 LU
    below the ungated level, channels weighted 1 (mono, stereo).
    """
    weighted = k_weight(waveform, sample_rate).double()
    block, hop = int(0.4 * sample_rate), int(0.1 * sample_rate)
    if weighted.shape[-1] < block:
        weighted = torch.nn.functional.pad(weighted, (0, block - weighted.shape[-1]))
    power = (weighted.unfold(-1, block, hop) ** 2).mean(dim=-1).sum(dim=0)  # (blocks,)
    loudness = -0.691 + 10 * torch.log10(power.clamp(min=1e-20))
    gated = power[loudness > -70]
    if gated.numel() == 0:
        return -math.inf
    relative = -0.691 + 10 * math.log10(float(gated.mean())) - 10
    gated = power[(loudness > -70) & (loudness > relative)]
    return -0.691 + 10 * math.log10(float(gated.mean()))


# Highest true peak riff writes, in dBFS: the headroom streaming services ask for.
PEAK_DB = -1.0


def true_peak(waveform: torch.Tensor, sample_rate: int) -> float:
    """Largest absolute value of the signal between samples too (BS.1770-4 annex 2: 4x
    oversampling), linear; 0 for empty audio."""
    if waveform.numel() == 0:
        return 0.0
    upsampled = resample(waveform.float(), sample_rate, 4 * sample_rate, taps=12)
    return max(float(upsampled.abs().max()), float(waveform.abs().max()))


def limit_peak(
    waveform: torch.Tensor, sample_rate: int, peak_db: float = PEAK_DB
) -> tuple[torch.Tensor, float]:
    """Bring the waveform down, all at once, if its true peak is over `peak_db` dBFS.

    Returns:
        The waveform and the gain applied in dB (0 if none, else negative).
    """
    peak = true_peak(waveform, sample_rate)
    limit = 10 ** (peak_db / 20)
    if not peak > limit:
        return waveform, 0.0
    return waveform * (limit / peak), 20 * math.log10(limit / peak)


def normalize_loudness(
    waveform: torch.Tensor, sample_rate: int, target_lufs: float = -14.0, peak_db: float = PEAK_DB
) -> torch.Tensor:
    """Scale the whole waveform once to `target_lufs`, lowering the gain if that would push the
    true peak over `peak_db` dBFS. Silence is returned unchanged."""
    loudness = integrated_loudness(waveform, sample_rate)
    if not math.isfinite(loudness):
        return waveform
    gain = 10 ** ((target_lufs - loudness) / 20)
    return limit_peak(waveform * gain, sample_rate, peak_db)[0]
