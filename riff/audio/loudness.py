"""Integrated loudness (ITU-R BS.1770-4) and loudness normalisation, in torch."""

from __future__ import annotations

import math

import torch

from riff.audio.files import resample

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
# The level riff sets a track to, in LUFS: what streaming services play music at.
TARGET_LUFS = -14.0


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


# Most gain reduction the limiter may apply, in dB: beyond this, limiting is heard (pumping,
# dulled drums), so a track that would need more is delivered quieter than the target instead.
MAX_LIMIT_DB = 6.0
LOOKAHEAD_S = 0.005  # the limiter turns down this long before a peak ...
HOLD_S = 0.05  # ... and stays down this long after it, then recovers over LOOKAHEAD_S


def normalize_loudness(
    waveform: torch.Tensor,
    sample_rate: int,
    target_lufs: float = TARGET_LUFS,
    peak_db: float = PEAK_DB,
    max_limit_db: float = MAX_LIMIT_DB,
) -> torch.Tensor:
    """Bring the whole waveform to `target_lufs` with one gain, its peaks held under `peak_db`
    dBFS true peak by a look-ahead limiter (`limit`). If that would take more than
    `max_limit_db` of limiting, the gain is lowered until it does not: such a track ends up
    quieter than the target. Silence is returned unchanged."""
    loudness = integrated_loudness(waveform, sample_rate)
    if not math.isfinite(loudness):
        return waveform
    gain = 10 ** ((target_lufs - loudness) / 20)
    most = 10 ** ((peak_db + max_limit_db) / 20)  # the highest peak the limiter may take down
    envelope = peak_envelope(waveform, sample_rate)  # scales with the gain: found once
    peak = float(envelope.max())

    def limited(g: float) -> torch.Tensor:
        g = min(g, most / peak)
        return limit(waveform * g, sample_rate, peak_db, envelope * g)

    out = limited(gain)
    # Limiting lowers the loudness a little: make it up, within the same budget.
    for _ in range(4):
        short = target_lufs - integrated_loudness(out, sample_rate)
        if short < 0.1 or gain >= most / peak:
            break
        gain *= 10 ** (short / 20)
        out = limited(gain)
    return out


def peak_envelope(waveform: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """(samples,) the true peak at each sample, across channels: the largest absolute value at
    it and up to the next sample, 4x oversampled (BS.1770-4 annex 2)."""
    x = waveform.float()
    up = resample(x, sample_rate, 4 * sample_rate, taps=12).abs().amax(dim=0)
    up = torch.nn.functional.pad(up, (0, 4 * x.shape[-1] - up.shape[-1]))[: 4 * x.shape[-1]]
    return torch.maximum(up.reshape(-1, 4).amax(dim=-1), x.abs().amax(dim=0))


def limit(
    waveform: torch.Tensor, sample_rate: int, peak_db: float = PEAK_DB, envelope: torch.Tensor | None = None
) -> torch.Tensor:
    """A look-ahead brickwall limiter on the true peak: the gain falls smoothly over
    `LOOKAHEAD_S` before any sample (or point between samples, 4x oversampled) that would pass
    `peak_db` dBFS, holds for `HOLD_S`, and recovers as smoothly; audio under the ceiling is
    untouched. The gain is one curve for all channels, so the stereo image stays.

    Gain = a trailing moving average, over the look-ahead, of the lowest gain any sample needs
    within the look-ahead ahead and the hold behind: at each peak every averaged value is at
    most the gain that peak needs, so nothing passes the ceiling.

    Args:
        envelope: `peak_envelope(waveform)`, if the caller has it already.
    """
    ceiling = 10 ** (peak_db / 20)
    if waveform.numel() == 0:
        return waveform
    envelope = peak_envelope(waveform, sample_rate) if envelope is None else envelope
    if float(envelope.max()) <= ceiling:
        return waveform
    x = waveform.float()
    needed = torch.clamp(ceiling / envelope.clamp(min=1e-12), max=1.0)
    ahead, behind = max(1, int(LOOKAHEAD_S * sample_rate)), int(HOLD_S * sample_rate)
    # Lowest need in [n - behind, n + ahead]: a max-pool of the negated curve.
    padded = torch.nn.functional.pad(-needed[None, None], (behind, ahead), value=-1.0)
    lowest = -torch.nn.functional.max_pool1d(padded, behind + ahead + 1, stride=1)[0, 0]
    # Before the start, the gain is already where the first samples need it.
    smooth = torch.nn.functional.pad(lowest[None, None], (ahead - 1, 0), mode="replicate")
    gain = torch.nn.functional.avg_pool1d(smooth, ahead, stride=1)[0, 0]
    out = x * gain
    rest = true_peak(out, sample_rate)  # the oversampler's own ripple can leave a hair over
    return (out * (ceiling / rest) if rest > ceiling else out).to(waveform.dtype)
