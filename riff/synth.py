"""Instruments for the synthesised seeds: pure numpy, one function a sound, each drawing its
noise from the generator it is given so the same seed gives the same samples."""

from __future__ import annotations

import numpy as np

SR = 44100


def hz(midi: float) -> float:
    """Equal-tempered frequency of a MIDI note."""
    return 440.0 * 2.0 ** ((midi - 69) / 12)


def _time(seconds: float) -> np.ndarray:
    return np.arange(int(seconds * SR)) / SR


def band_noise(rng: np.random.Generator, seconds: float, lo: float, hi: float) -> np.ndarray:
    """Unit-RMS white noise through a smooth 4th-order band-pass (FFT filter)."""
    spectrum = np.fft.rfft(rng.standard_normal(int(seconds * SR)))
    f = np.fft.rfftfreq(int(seconds * SR), 1 / SR) + 1e-9
    spectrum *= (f / lo) ** 4 / (1 + (f / lo) ** 4) / (1 + (f / hi) ** 4)
    noise = np.fft.irfft(spectrum, int(seconds * SR))
    return noise / np.sqrt(np.mean(noise**2))


def kick(rng: np.random.Generator) -> np.ndarray:
    """Sine swept 150 -> 45 Hz with an exponential decay, plus a noise click."""
    t = _time(0.45)
    freq = 45 + 105 * np.exp(-t / 0.035)
    body = np.sin(2 * np.pi * np.cumsum(freq) / SR) * np.exp(-t / 0.22)
    return body + 0.25 * band_noise(rng, 0.45, 1000, 8000) * np.exp(-t / 0.003)


def snare(rng: np.random.Generator, decay: float = 0.08) -> np.ndarray:
    """Band-passed noise over a 180 Hz tone."""
    t = _time(0.4)
    tone = 0.6 * np.sin(2 * np.pi * 180 * t) * np.exp(-t / 0.05)
    return tone + 0.35 * band_noise(rng, 0.4, 1500, 9000) * np.exp(-t / decay)


def hat(rng: np.random.Generator, decay: float = 0.03) -> np.ndarray:
    """High-passed noise; a long `decay` makes an open hat."""
    t = _time(min(8 * decay, 1.0))
    return 0.12 * band_noise(rng, len(t) / SR, 6500, 16000) * np.exp(-t / decay)


def clap(rng: np.random.Generator) -> np.ndarray:
    """Three quick noise bursts and a short tail, like hands slightly out of sync."""
    t = _time(0.4)
    env = sum(np.where(t >= d, np.exp(-(t - d) / 0.005), 0.0) for d in (0.0, 0.011, 0.022))
    env = env + 0.6 * np.where(t >= 0.03, np.exp(-(t - 0.03) / 0.1), 0.0)
    return 0.3 * band_noise(rng, 0.4, 900, 6000) * env


def brush(rng: np.random.Generator) -> np.ndarray:
    """A soft swish: band-passed noise with a slow attack."""
    t = _time(0.35)
    env = (1 - np.exp(-t / 0.02)) * np.exp(-t / 0.09)
    return 0.05 * band_noise(rng, 0.35, 2000, 9000) * env


def tone(
    freq: float,
    seconds: float,
    partials: tuple[tuple[float, float, float], ...],
    tremolo: float = 0.0,
) -> np.ndarray:
    """Sum of exponentially decaying partials (ratio, amplitude, decay in s)."""
    t = _time(seconds)
    out = sum(a * np.sin(2 * np.pi * r * freq * t) * np.exp(-t / d) for r, a, d in partials)
    wobble = 1 - tremolo * (0.5 - 0.5 * np.cos(2 * np.pi * 5.5 * t))
    # Fade in 2 ms and out 50 ms: no click at the onset or where the buffer ends.
    edges = np.minimum(np.minimum(t / 0.002, (seconds - t) / 0.05), 1.0)
    return out * wobble * edges


def marimba(midi: float) -> np.ndarray:
    """Bar-like tone: fundamental with fast-decaying 4x and 10x overtones."""
    return tone(hz(midi), 1.2, ((1, 1.0, 0.35), (4, 0.3, 0.06), (10, 0.1, 0.015)))


def vibraphone(midi: float) -> np.ndarray:
    """Long, soft tone with tremolo."""
    return 0.5 * tone(hz(midi), 1.8, ((1, 1.0, 1.0), (4, 0.1, 0.15)), tremolo=0.4)


def bass(midi: float, seconds: float = 0.3) -> np.ndarray:
    """Plucked bass; the upper harmonics decay first."""
    return 0.8 * tone(hz(midi), seconds, ((1, 1.0, 0.2), (2, 0.5, 0.1), (3, 0.3, 0.06)))


def sub(midi: float) -> np.ndarray:
    """808-style sub: long sine, softly saturated for a little audible harmonic."""
    return np.tanh(1.5 * tone(hz(midi), 1.0, ((1, 1.0, 0.45),))) / np.tanh(1.5)


def pad(midi: float, seconds: float) -> np.ndarray:
    """A soft sustained tone: slow attack, gentle release, a few even partials."""
    t = _time(seconds)
    out = sum(a * np.sin(2 * np.pi * r * hz(midi) * t) for r, a in ((1, 1.0), (2, 0.35), (3, 0.12)))
    attack = np.minimum(t / 0.08, 1.0)
    release = np.minimum((seconds - t) / 0.12, 1.0)
    return 0.3 * out * attack * np.clip(release, 0.0, 1.0)
