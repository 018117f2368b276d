"""Mel amplitudes <-> spectrogram images in the reference's layout.

Layout: amplitudes / max, raised to `power_for_image`, inverted (loud = dark), 8-bit, flipped so
low frequencies are at the bottom. Mono: R = G = B. Stereo: R = 0, G = left, B = right. EXIF
tags carry the parameters and the max value; an image without tags means the defaults.

Inside riff, mel amplitudes are those of float waveforms (full scale 1). The max-value tag is in
the reference's int16 units (full scale 32768), written and read as the reference does; how an
image's tag is read (`Level`) is decided here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image, PngImagePlugin

from riff.audio.params import (
    DEFAULT_MAX_VALUE,
    EXIF_MAX_VALUE,
    INT16_FULL_SCALE,
    LEGACY_MAX_VALUE_LIMIT,
    UNIT_INT16,
    UNIT_KEY,
    SpectrogramParams,
)


@dataclass(frozen=True)
class Level:
    """The amplitude an image's black stands for, and where that came from.

    `source` is "tag" (the max-value tag, in the reference's int16 units), "legacy tag" (an
    unmarked tag at or below `LEGACY_MAX_VALUE_LIMIT`: riff's old float units) or "default" (no
    tag: the reference's fixed 30e6, and the audio's level is unknown).
    """

    max_value: float  # mel amplitude of full black, in float units (full scale 1)
    source: str

    @property
    def stored(self) -> bool:
        """Whether the image says how loud it was (a model's output does not)."""
        return self.source != "default"

    @property
    def tag_value(self) -> float:
        """The max value in the reference's int16 units, as its tag holds it."""
        return self.max_value * (1.0 if self.source == "legacy tag" else INT16_FULL_SCALE)


DEFAULT_LEVEL = Level(DEFAULT_MAX_VALUE / INT16_FULL_SCALE, "default")


def unit_from_pixels(pixels: torch.Tensor) -> torch.Tensor:
    """Intensities in [0, 255] as the autoencoder reads them, in [-1, 1]."""
    return pixels / 127.5 - 1.0


def pixels_from_unit(unit: torch.Tensor) -> torch.Tensor:
    """Inverse of `unit_from_pixels`, clamped to [0, 255] (an autoencoder overshoots)."""
    return ((unit + 1.0) * 127.5).clamp(0, 255)


def pixels_from_mel(
    mel: torch.Tensor, params: SpectrogramParams, max_value: float | None = None
) -> torch.Tensor:
    """Image intensities in [0, 255] (float, not yet quantised) for mel amplitudes.

    Args:
        mel: (..., channels, num_frequencies, frames).
        max_value: amplitude that maps to black; the largest amplitude of `mel` if None.
    Returns:
        (..., 3, num_frequencies, frames), row 0 the highest frequency.
    """
    if max_value is None:
        max_value = float(mel.max())
    scaled = torch.clamp(mel / max(max_value, 1e-12), 0.0, 1.0) ** params.power_for_image
    pixels = torch.flip(255.0 - 255.0 * scaled, dims=[-2])
    if mel.shape[-3] == 1:
        return pixels.expand(*pixels.shape[:-3], 3, *pixels.shape[-2:])
    if mel.shape[-3] == 2:
        return torch.cat([torch.zeros_like(pixels[..., :1, :, :]), pixels], dim=-3)
    raise ValueError(f"mel must have 1 or 2 channels, got shape {tuple(mel.shape)}")


def mel_from_pixels(
    pixels: torch.Tensor, params: SpectrogramParams, max_value: float = DEFAULT_LEVEL.max_value
) -> torch.Tensor:
    """Mel amplitudes for image intensities; inverse of `pixels_from_mel`.

    Mono averages R, G and B (the reference's images have them equal; a model's output does
    not, and the mean is the less noisy read). Stereo reads G and B.

    Args:
        max_value: the amplitude of black, in float units (`Level.max_value`).
        pixels: (..., 3, height, width) in [0, 255], row 0 the highest frequency.
    Returns:
        (..., channels, height, width).
    """
    if pixels.shape[-3] != 3:
        raise ValueError(f"expected 3 colour channels, got shape {tuple(pixels.shape)}")
    pixels = torch.flip(pixels.float(), dims=[-2])
    data = pixels[..., 1:, :, :] if params.stereo else pixels.mean(dim=-3, keepdim=True)
    return (1.0 - data / 255.0).clamp(0.0, 1.0) ** (1.0 / params.power_for_image) * max_value


def image_from_mel(mel: torch.Tensor, params: SpectrogramParams) -> Image.Image:
    """An 8-bit RGB spectrogram image with EXIF metadata.

    Args:
        mel: (channels, num_frequencies, frames).
    """
    max_value = float(mel.max())
    pixels = pixels_from_mel(mel, params, max_value)
    return image_from_pixels(pixels, params, max_value)


def image_from_pixels(
    pixels: torch.Tensor, params: SpectrogramParams, max_value: float | None = None
) -> Image.Image:
    """Quantise (3, H, W) intensities in [0, 255] to a PIL image carrying the metadata.

    Args:
        max_value: the amplitude of black in float units, written in the reference's int16
            units; None for images without a level (a model's output).
    """
    array = pixels.detach().clamp(0, 255).to("cpu", torch.float32).numpy()
    # Truncation, not rounding, as the reference does.
    image = Image.fromarray(array.transpose(1, 2, 0).astype(np.uint8), mode="RGB")
    exif = image.getexif()
    for tag, value in params.to_exif().items():
        exif[tag] = value
    if max_value is not None:
        exif[EXIF_MAX_VALUE] = float(max_value) * INT16_FULL_SCALE
        image.info[UNIT_KEY] = UNIT_INT16
    image.info["exif"] = exif.tobytes()
    return image


def save_image(
    image: Image.Image,
    target: str | Path | BinaryIO,
    text: dict[str, str] | None = None,
    format: str | None = None,
) -> str | Path | BinaryIO:
    """Save a spectrogram image with its EXIF tags and, in a PNG, riff's unit marker and any
    other `text` chunks. `format` defaults to the one a path's suffix names."""
    if isinstance(target, str | Path):
        target = Path(target)
        format = format or Image.registered_extensions().get(target.suffix.lower())
    options: dict = {"format": format, "exif": image.info.get("exif", image.getexif().tobytes())}
    if format == "PNG":
        chunks = PngImagePlugin.PngInfo()
        marker = {UNIT_KEY: image.info[UNIT_KEY]} if UNIT_KEY in image.info else {}
        for key, value in {**marker, **(text or {})}.items():
            chunks.add_text(key, str(value))
        options["pnginfo"] = chunks
    image.save(target, **options)
    return target


def level_from_image(image: Image.Image) -> Level:
    """How loud an image says it is: its max-value tag read in the right unit (see `Level`).

    Raises:
        ValueError: the tag is not a positive number, or the unit marker is not one riff knows.
    """
    exif = image.getexif()
    if EXIF_MAX_VALUE not in exif:
        return DEFAULT_LEVEL
    raw = exif[EXIF_MAX_VALUE]
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"EXIF tag {EXIF_MAX_VALUE} (max value) is not a number: {raw!r}") from None
    if not 0 <= value < float("inf"):  # 0: the clip was silent
        raise ValueError(f"EXIF tag {EXIF_MAX_VALUE} (max value) must be a finite number >= 0, got {value}")
    unit = image.info.get(UNIT_KEY)
    if unit is not None and unit != UNIT_INT16:
        raise ValueError(f"unknown max-value unit {str(unit)[:40]!r}: this riff reads {UNIT_INT16!r}")
    if unit is None and value <= LEGACY_MAX_VALUE_LIMIT:
        return Level(value, "legacy tag")
    return Level(value / INT16_FULL_SCALE, "tag")


def params_from_image(image: Image.Image) -> tuple[SpectrogramParams, Level]:
    """Spectrogram parameters and level stored in an image; defaults where absent.

    Raises:
        ValueError: the metadata is malformed (a tag that is not a number, impossible values).
    """
    params = SpectrogramParams.from_exif(dict(image.getexif()))
    level = level_from_image(image)
    if image.height != params.num_frequencies:
        raise ValueError(
            f"image is {image.height} px high but its format has {params.num_frequencies} frequency bins"
        )
    return params, level


def pixels_from_image(image: Image.Image) -> torch.Tensor:
    """(3, H, W) float intensities in [0, 255] of any PIL image."""
    array = np.asarray(image.convert("RGB"), dtype=np.float32)
    return torch.from_numpy(array.copy()).permute(2, 0, 1)


def mel_from_image(image: Image.Image) -> tuple[torch.Tensor, SpectrogramParams, Level]:
    """Mel amplitudes (channels, num_frequencies, frames) in float units, the parameters and
    the level of an image."""
    params, level = params_from_image(image)
    return mel_from_pixels(pixels_from_image(image), params, level.max_value), params, level
