"""Seed images and masks: by name from assets/seed_images, or from any image or audio file."""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError

from riff import ASSETS
from riff.audio.files import READABLE, load_audio
from riff.audio.image import image_from_mel
from riff.audio.params import CLIP_WIDTH, SpectrogramParams
from riff.audio.spectrogram import mel_from_waveform

SEED_DIR = ASSETS / "seed_images"
MASK_DIR = SEED_DIR / "masks"
DEFAULT_SEED = "og_beat"
# A mask made on demand (grid_mask): keeps the seed below 400 Hz, where a grid seed's
# kick and bass carry its tempo and key, and lets the prompt repaint the rest.
GRID_MASK = "keep-bass"

# The reference's seed image ids, mapped to ours of the same character.
REFERENCE_SEEDS = {
    "og_beat": "og_beat",
    "agile": "agile",
    "marim": "marim",
    "motorway": "motorway",
    "vibes": "vibes",
}


def seed_image_names() -> list[str]:
    """Names of the bundled seed images."""
    return sorted(p.stem for p in SEED_DIR.glob("*.png"))


def mask_names() -> list[str]:
    """Names of the bundled masks, and the one made on demand."""
    return sorted([p.stem for p in MASK_DIR.glob("*.png")] + [GRID_MASK])


def seed_image(
    name_or_path: str | Path, params: SpectrogramParams | None = None, width: int | None = None
) -> Image.Image:
    """An RGB seed image by bundled name, reference id, image file or audio file.

    Images are scaled to the format's height and cut to a width that is a multiple of 8, then,
    if `width` is given, repeated or cut to it (the bundled seeds are loops of whole bars, so
    repeating keeps the beat); audio is encoded from its start, `width` columns long (default
    one clip).

    Raises:
        ValueError: unknown name, unreadable file.
    """
    params = params or SpectrogramParams()
    name = str(name_or_path)
    path = Path(name).expanduser()
    if not path.is_file():
        bundled = SEED_DIR / f"{REFERENCE_SEEDS.get(name, name)}.png"
        if not bundled.is_file():
            raise ValueError(
                f"unknown seed image {name!r}: use a file path or one of {', '.join(seed_image_names())}"
            )
        path = bundled
    if path.suffix.lower() in READABLE:
        width = width or CLIP_WIDTH
        needed = params.num_samples(width)
        waveform = load_audio(
            path, params.sample_rate, params.channels, max_seconds=needed / params.sample_rate + 1
        )
        if waveform.shape[-1] < needed:
            waveform = torch.nn.functional.pad(waveform, (0, needed - waveform.shape[-1]))
        mel = mel_from_waveform(waveform[:, :needed], params)[..., :width]
        return image_from_mel(mel, params)
    image = fit_image(open_image(path), params.num_frequencies)
    return image if width is None else tile_image(image, width)


def tile_image(image: Image.Image, width: int) -> Image.Image:
    """`image` repeated side by side and cut to `width` columns."""
    tiled = Image.new(image.mode, (width, image.height))
    for left in range(0, width, image.width):
        tiled.paste(image, (left, 0))
    return tiled


def fit_image(image: Image.Image, height: int = 512) -> Image.Image:
    """RGB, `height` px high (aspect kept), width cut down to a multiple of 8 (at least 8)."""
    image = image.convert("RGB")
    if image.height != height:
        width = max(8, round(image.width * height / image.height))
        image = image.resize((width, height), Image.Resampling.LANCZOS)
    width = max(8, image.width - image.width % 8)
    return image.crop((0, 0, width, height)) if width != image.width else image


def mask_tensor(name_or_path: str | Path, size: tuple[int, int]) -> torch.Tensor:
    """A mask as (1, 1, height, width) in [0, 1] at `size` (latent resolution).

    White = repaint (1), black = keep the seed image (0), grey in between. `GRID_MASK` is made
    on demand.
    """
    name = str(name_or_path)
    path = Path(name).expanduser()
    if name == GRID_MASK and not path.is_file():
        image = grid_mask(size[1], SpectrogramParams()).resize((size[1], size[0]), Image.Resampling.BOX)
        data = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8).float() / 255.0
        return data.reshape(1, 1, size[0], size[1])
    if not path.is_file():
        path = MASK_DIR / f"{name}.png"
        if not path.is_file():
            raise ValueError(f"unknown mask {name!r}: use a file path or one of {', '.join(mask_names())}")
    image = open_image(path).convert("L").resize((size[1], size[0]), Image.Resampling.BOX)
    data = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8).float() / 255.0
    return data.reshape(1, 1, size[0], size[1])


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) of an image file from its header, nothing decoded.

    Raises:
        ValueError: missing or not an image.
    """
    if not path.is_file():
        raise ValueError(f"no such file: {str(path)!r}")
    try:
        with Image.open(path) as image:
            return image.size
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:
        raise ValueError(f"cannot read image {str(path)!r}: {error}") from None


def open_image(path: Path) -> Image.Image:
    """Open and fully read an image file.

    Raises:
        ValueError: missing, not an image, truncated, or a decompression bomb (Pillow's limit).
    """
    if not path.is_file():
        raise ValueError(f"no such file: {str(path)!r}")
    try:
        image = Image.open(path)
        image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError) as error:
        raise ValueError(f"cannot read image {str(path)!r}: {error}") from None
    return image


def grid_mask(width: int, params: SpectrogramParams, keep_hz: float = 400.0) -> Image.Image:
    """A mask (white repaints, black keeps the seed) `width` columns wide that keeps the seed's
    band below `keep_hz` (bass, kick, the bed's roots: the grid's tempo and key) and lets the
    prompt repaint everything above it; a soft edge one octave wide."""
    rows = torch.arange(params.num_frequencies, dtype=torch.float64)
    mel_max = 2595.0 * torch.log10(torch.tensor(1.0 + params.max_frequency / 700.0))
    mel_min = 2595.0 * torch.log10(torch.tensor(1.0 + params.min_frequency / 700.0))
    # Row 0 is the top (highest band): the image is flipped so that low sounds sit at the bottom.
    mel = mel_max - (rows + 0.5) * (mel_max - mel_min) / params.num_frequencies
    freq = 700.0 * (10.0 ** (mel / 2595.0) - 1.0)
    repaint = torch.clamp(torch.log2(freq.clamp(min=1.0) / keep_hz) + 0.5, 0.0, 1.0)
    column = (255.0 * repaint).round().to(torch.uint8)
    return Image.fromarray(column[:, None].expand(-1, width).contiguous().numpy(), mode="L")
