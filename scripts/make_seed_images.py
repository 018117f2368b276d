"""Synthesise the bundled seed spectrograms and masks, deterministically.

Every seed is whole 4/4 bars filling exactly one 512-px image (5.11 s), synthesised on a
circular buffer so that it loops: a tail crossing the end wraps to the start. The patterns live
in `riff.seedgen`, which renders them at any tempo, meter and key on demand; this script writes
the bundled ones at their own tempo (93.9 bpm for 2 bars, 140.9 bpm for 3). Pure numpy
synthesis, fixed seeds; the same bytes come out on every run.

    python scripts/make_seed_images.py [--out assets/seed_images] [--wav-dir DIR]
"""

from __future__ import annotations

import argparse
import sys
import zlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image

# Runs from a checkout, installed or not.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from riff import seedgen, synth
from riff.audio.files import save_audio
from riff.audio.image import save_image
from riff.audio.params import SpectrogramParams
from riff.audio.spectrogram import hz_to_mel

PARAMS = SpectrogramParams()
SR = PARAMS.sample_rate
WIDTH = 512
# 511 hops: column 511 is centred on the loop's start again, so it repeats column 0.
NUM_SAMPLES = PARAMS.num_samples(WIDTH)


# The arrangements the bundled PNGs were made with. `riff.seedgen`'s patterns have clearer beats
# since (a downbeat accent, no 3:2 syncopation) for seeds made at a tempo; the bundled images
# stay as they were, so this script keeps their arrangements and still writes the same bytes.
def og_beat(loop: seedgen.Loop) -> None:
    """Backbeat: kick on 1 and 3 with a pushed kick, snare on 2 and 4, 8th hats."""
    if loop.six_eight:
        loop.hits("X.....x.....", synth.kick)
        loop.hits("......X.....", synth.snare)
        loop.hits("X.x.x.X.x.x.", synth.hat)
        return
    loop.hits("X......xX.......|X......xX.x.....", synth.kick)
    loop.hits("....X.......X...", synth.snare)
    loop.hits("X.x.x.x.X.x.x.x.", synth.hat)


def agile(loop: seedgen.Loop) -> None:
    """Busy beat: syncopated kicks, ghost snares, 16th hats, a fill into the loop."""
    loop.hits("X..x..X...X..x..|X..x..X...X.x...|X..x..X...X.....", synth.kick)
    loop.hits("....X..o.o..X..o|....X..o.o..X...|....X..o.o..XoXX", synth.snare)
    loop.hits("XoxoXoxoXoxoXoxo", synth.hat)


def marim(loop: seedgen.Loop) -> None:
    """Marimba melody in A minor pentatonic over a light beat."""
    melody = [69, 72, 76, 72, 74, 76, 79, 76, 69, 72, 74, 72, 67, 69, 64, 67]
    loop.notes([(2 * i, m) for i, m in enumerate(melody)], synth.marimba)
    loop.notes([(3, 81), (11, 84), (19, 79), (27, 76)], synth.marimba, 0.5)
    loop.notes([(0, 45), (16, 43)], synth.marimba, 0.8)
    loop.hits("X.......X.....x.", synth.kick, 0.6)
    loop.hits("....x.......x...", synth.snare, 0.4)
    loop.hits("..o...o...o...o.", synth.hat)


def motorway(loop: seedgen.Loop) -> None:
    """Four on the floor: claps on 2 and 4, open hats and bass on the offbeats."""
    loop.hits("X...X...X...X...", synth.kick)
    loop.hits("....X.......X...", synth.clap)
    loop.hits("..x...x...x...x.", lambda rng: synth.hat(rng, 0.2))
    loop.hits(".o.o.o.o.o.o.o.o", synth.hat)
    roots = [45, 45, 41]  # A A F, one per bar
    notes = [(16 * bar + s, roots[bar]) for bar in range(3) for s in (2, 6, 10, 14)]
    loop.notes(notes, synth.bass, 0.7, phrase=3)


def vibes(loop: seedgen.Loop) -> None:
    """Fmaj7 to Em7 on a tremolo vibraphone over a brushed beat."""
    chords = [[53, 57, 60, 64], [52, 55, 59, 62]]  # Fmaj7, Em7
    for bar, chord in enumerate(chords):
        loop.notes([(16 * bar + s, m) for s in (0, 10) for m in chord], synth.vibraphone, 0.6)
        loop.notes([(16 * bar, chord[0] - 12)], synth.bass, 0.5)
    loop.hits("X.........x.....", synth.kick, 0.5)
    loop.hits("....x.......x...", lambda rng: synth.snare(rng, 0.15), 0.2)
    loop.hits("X.o.x.o.x.o." if loop.six_eight else "x.o.x.o.x.o.x.o.", synth.brush)


def breakbeat(loop: seedgen.Loop) -> None:
    """Syncopated break: displaced kicks, ghost-note snares."""
    loop.hits("X.X.......XX....|..X.......X.....", synth.kick)
    loop.hits("....X..o.o..X..o|.o..X..o.o..X..o", synth.snare)
    loop.hits("x.x.x.x.x.x.x.x.", synth.hat)
    loop.hits("..........x.....|..............x.", lambda rng: synth.hat(rng, 0.25))


def halftime(loop: seedgen.Loop) -> None:
    """Half-time: snare on 3 only, rolling hats, an 808 sub under the kicks."""
    loop.hits("X......x..X.....|X.........X..x..|X......x..X.....", synth.kick)
    notes = [(0, 33), (10, 33), (16, 36), (26, 31), (32, 33), (42, 33)]
    loop.notes(notes, synth.sub, 0.8, phrase=3)
    loop.hits("........X.......", synth.snare)
    loop.hits("XoxoxoXox.xoXoxx", synth.hat)


BUNDLED = {f.__name__: f for f in (og_beat, agile, marim, motorway, vibes, breakbeat, halftime)}


def render(name: str) -> np.ndarray:
    """The bundled loop's samples at peak 0.8 (headroom for the decoder's phase)."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))  # by name, as riff.seedgen
    loop = seedgen.Loop(seedgen.PATTERNS[name].bars, rng, NUM_SAMPLES)
    BUNDLED[name](loop)
    return 0.8 * loop.buf / np.abs(loop.buf).max()


def seed_image(samples: np.ndarray) -> Image.Image:
    """Spectrogram image of a loop, its edges computed on the wrapped signal."""
    return seedgen.image_of_loop(samples, WIDTH)


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
    for name in seedgen.PATTERNS:
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
