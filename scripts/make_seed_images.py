"""Synthesise the bundled seed spectrograms and masks, deterministically.

Every seed is whole 4/4 bars filling exactly one 512-px image (5.11 s), synthesised on a
circular buffer so that it loops: a tail crossing the end wraps to the start. Pure numpy
synthesis, fixed seeds; the same bytes come out on every run.

    python scripts/make_seed_images.py [--out assets/seed_images] [--wav-dir DIR]
"""

from __future__ import annotations

import argparse
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

# Runs from a checkout, installed or not.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from riff.audio import save_audio
from riff.image import image_from_mel, save_image
from riff.params import SpectrogramParams
from riff.spectrogram import hz_to_mel, mel_from_waveform

PARAMS = SpectrogramParams()
SR = PARAMS.sample_rate
WIDTH = 512
# 511 hops: column 511 is centred on the loop's start again, so it repeats column 0.
NUM_SAMPLES = PARAMS.num_samples(WIDTH)
STEPS_PER_BAR = 16
# Pattern cells: accent, normal, ghost; anything else is a rest.
VELOCITY = {"X": 1.0, "x": 0.7, "o": 0.35}

Sound = Callable[[np.random.Generator], np.ndarray]


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


@dataclass
class Loop:
    """Whole bars on a circular buffer of one image's samples; the end wraps."""

    bars: int
    rng: np.random.Generator
    buf: np.ndarray = field(default_factory=lambda: np.zeros(NUM_SAMPLES))

    def add(self, sound: np.ndarray, step: float) -> None:
        """Mix `sound` in at a 16th-note `step`, wrapping around the end."""
        start = round(step * NUM_SAMPLES / (self.bars * STEPS_PER_BAR))
        self.buf[(start + np.arange(len(sound))) % NUM_SAMPLES] += sound

    def hits(self, pattern: str, sound: Sound, gain: float = 1.0) -> None:
        """Play `sound` on a step pattern ("X.x.o..."), repeated to fill the loop."""
        cells = pattern.replace(" ", "").replace("|", "")
        steps = self.bars * STEPS_PER_BAR
        if steps % len(cells):
            raise ValueError(f"pattern of {len(cells)} steps does not divide {steps}: {pattern!r}")
        for i in range(steps):
            if cells[i % len(cells)] in VELOCITY:
                # Slightly uneven velocities sound played rather than sequenced.
                vel = VELOCITY[cells[i % len(cells)]] * self.rng.uniform(0.88, 1.0)
                self.add(gain * vel * sound(self.rng), i)

    def notes(
        self,
        notes: list[tuple[float, float]],
        sound: Callable[[float], np.ndarray],
        gain: float = 1.0,
    ) -> None:
        """Play (step, midi) notes."""
        for step, midi in notes:
            self.add(gain * self.rng.uniform(0.85, 1.0) * sound(midi), step)


def og_beat(loop: Loop) -> None:
    """Backbeat: kick on 1 and 3 with a pushed kick, snare on 2 and 4, 8th hats."""
    loop.hits("X......xX.......|X......xX.x.....", kick)
    loop.hits("....X.......X...", snare)
    loop.hits("X.x.x.x.X.x.x.x.", hat)


def agile(loop: Loop) -> None:
    """Busy beat: syncopated kicks, ghost snares, 16th hats, a fill into the loop."""
    loop.hits("X..x..X...X..x..|X..x..X...X.x...|X..x..X...X.....", kick)
    loop.hits("....X..o.o..X..o|....X..o.o..X...|....X..o.o..XoXX", snare)
    loop.hits("XoxoXoxoXoxoXoxo", hat)


def marim(loop: Loop) -> None:
    """Marimba melody in A minor pentatonic over a light beat."""
    # Eighths in A minor pentatonic, soft answers on off-16ths, a low A then G under it.
    melody = [69, 72, 76, 72, 74, 76, 79, 76, 69, 72, 74, 72, 67, 69, 64, 67]
    loop.notes([(2 * i, m) for i, m in enumerate(melody)], marimba)
    loop.notes([(3, 81), (11, 84), (19, 79), (27, 76)], marimba, 0.5)
    loop.notes([(0, 45), (16, 43)], marimba, 0.8)
    loop.hits("X.......X.....x.", kick, 0.6)
    loop.hits("....x.......x...", snare, 0.4)
    loop.hits("..o...o...o...o.", hat)


def motorway(loop: Loop) -> None:
    """Four on the floor: claps on 2 and 4, open hats and bass on the offbeats."""
    loop.hits("X...X...X...X...", kick)
    loop.hits("....X.......X...", clap)
    loop.hits("..x...x...x...x.", lambda rng: hat(rng, 0.2))
    loop.hits(".o.o.o.o.o.o.o.o", hat)
    roots = [45, 45, 41]  # A A F, one per bar
    loop.notes(
        [(16 * bar + s, roots[bar]) for bar in range(3) for s in (2, 6, 10, 14)],
        bass,
        0.7,
    )


def vibes(loop: Loop) -> None:
    """Fmaj7 to Em7 on a tremolo vibraphone over a brushed beat."""
    chords = [[53, 57, 60, 64], [52, 55, 59, 62]]  # Fmaj7, Em7
    for bar, chord in enumerate(chords):
        loop.notes([(16 * bar + s, m) for s in (0, 10) for m in chord], vibraphone, 0.6)
        loop.notes([(16 * bar, chord[0] - 12)], bass, 0.5)
    loop.hits("X.........x.....", kick, 0.5)
    loop.hits("....x.......x...", lambda rng: snare(rng, 0.15), 0.2)
    loop.hits("x.o.x.o.x.o.x.o.", brush)


def breakbeat(loop: Loop) -> None:
    """Syncopated break: displaced kicks, ghost-note snares."""
    loop.hits("X.X.......XX....|..X.......X.....", kick)
    loop.hits("....X..o.o..X..o|.o..X..o.o..X..o", snare)
    loop.hits("x.x.x.x.x.x.x.x.", hat)
    loop.hits("..........x.....|..............x.", lambda rng: hat(rng, 0.25))


def halftime(loop: Loop) -> None:
    """Half-time: snare on 3 only, rolling hats, an 808 sub under the kicks."""
    loop.hits("X......x..X.....|X.........X..x..|X......x..X.....", kick)
    loop.notes([(0, 33), (10, 33), (16, 36), (26, 31), (32, 33), (42, 33)], sub, 0.8)
    loop.hits("........X.......", snare)
    loop.hits("XoxoxoXox.xoXoxx", hat)


# name: (bars, arrangement). 2 bars = 93.9 bpm, 3 bars = 140.9 bpm.
SEEDS: dict[str, tuple[int, Callable[[Loop], None]]] = {
    "og_beat": (2, og_beat),
    "agile": (3, agile),
    "marim": (2, marim),
    "motorway": (3, motorway),
    "vibes": (2, vibes),
    "breakbeat": (2, breakbeat),
    "halftime": (3, halftime),
}


def render(name: str) -> np.ndarray:
    """The loop's samples at peak 0.8 (headroom for the decoder's phase)."""
    # Seeded by the name, so adding a seed leaves the others' bytes alone.
    bars, arrange = SEEDS[name]
    loop = Loop(bars, np.random.default_rng(zlib.crc32(name.encode())))
    arrange(loop)
    return 0.8 * loop.buf / np.abs(loop.buf).max()


def seed_image(samples: np.ndarray) -> Image.Image:
    """Spectrogram image of a loop, its edges computed on the wrapped signal."""
    # n_fft // 2 is exactly 20 hops: pad circularly so no column sees reflect padding.
    pad = -(-PARAMS.n_fft // 2 // PARAMS.hop_length) * PARAMS.hop_length
    wrapped = np.concatenate([samples[-pad:], samples, samples[:pad]])
    mel = mel_from_waveform(torch.from_numpy(wrapped).float()[None], PARAMS)
    first = pad // PARAMS.hop_length
    return image_from_mel(mel[..., first : first + WIDTH], PARAMS)


def _soft_step(x: np.ndarray, edge: float, width: float = 16.0) -> np.ndarray:
    """0 below `edge`, 1 above, smoothstep over `width` px centred on it."""
    u = np.clip((x - edge) / width + 0.5, 0.0, 1.0)
    return u * u * (3 - 2 * u)


def row_of(freq: float) -> float:
    """Image row (0 = top = highest) of the mel bin centred on `freq` Hz."""
    # Bin k is centred at (k + 1) / (bins + 1) of the mel range (HTK, min_frequency 0).
    mel = float(hz_to_mel(torch.tensor(freq)))
    mel_max = float(hz_to_mel(torch.tensor(float(PARAMS.max_frequency))))
    bins = PARAMS.num_frequencies
    return bins - 1 - (mel / mel_max * (bins + 1) - 1)


def masks() -> dict[str, np.ndarray]:
    """Masks as (512, 512) floats: 1 = repaint (white), 0 = keep the seed (black)."""
    rows, cols = np.mgrid[0:WIDTH, 0:WIDTH].astype(np.float64)
    # px to the nearest of 8 beats, circular: the line at x = 0 wraps to the right edge.
    beat = np.abs((cols + WIDTH / 16) % (WIDTH / 8) - WIDTH / 16)
    keep_low = 1 - _soft_step(rows, row_of(250.0))
    return {
        "keep_low": keep_low,
        "keep_high": 1 - keep_low,
        "keep_beats": _soft_step(beat, 6.0, 4.0),
        "gradient_lr": cols / (WIDTH - 1),
        "gradient_rl": 1 - cols / (WIDTH - 1),
        "keep_first_half": _soft_step(cols, WIDTH / 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("assets/seed_images"))
    parser.add_argument("--wav-dir", type=Path, help="also write wavs (2 loops)")
    args = parser.parse_args()
    # One thread: a fixed reduction order keeps the bytes the same on any machine.
    torch.set_num_threads(1)
    (args.out / "masks").mkdir(parents=True, exist_ok=True)
    for name in SEEDS:
        samples = render(name)
        image = seed_image(samples)
        save_image(image, args.out / f"{name}.png")
        if args.wav_dir:
            twice = torch.from_numpy(np.tile(samples, 2)).float()[None]
            save_audio(args.wav_dir / f"{name}.wav", twice, SR)
    for name, mask in masks().items():
        pixels = np.round(255 * mask).astype(np.uint8)
        Image.fromarray(pixels).save(args.out / "masks" / f"{name}.png")


if __name__ == "__main__":
    main()
