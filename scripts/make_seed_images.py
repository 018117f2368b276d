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
from pathlib import Path

import numpy as np
import torch
from PIL import Image

# Runs from a checkout, installed or not.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from riff import seedgen
from riff.audio.files import save_audio
from riff.audio.image import save_image
from riff.audio.params import SpectrogramParams
from riff.audio.spectrogram import hz_to_mel

PARAMS = SpectrogramParams()
SR = PARAMS.sample_rate
WIDTH = 512
# 511 hops: column 511 is centred on the loop's start again, so it repeats column 0.
NUM_SAMPLES = PARAMS.num_samples(WIDTH)


def render(name: str) -> np.ndarray:
    """The bundled loop's samples at peak 0.8 (headroom for the decoder's phase)."""
    return seedgen.render(name, length=NUM_SAMPLES)


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
