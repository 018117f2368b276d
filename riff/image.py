"""Mel amplitudes <-> spectrogram images in the reference's layout.

Layout: amplitudes / max, raised to `power_for_image`, inverted (loud = dark), 8-bit, flipped so
low frequencies are at the bottom. Mono: R = G = B. Stereo: R = 0, G = left, B = right. EXIF
tags carry the parameters and the max value; an image without tags means the defaults.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from riff.params import DEFAULT_MAX_VALUE, EXIF_MAX_VALUE, SpectrogramParams


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
    pixels: torch.Tensor, params: SpectrogramParams, max_value: float = DEFAULT_MAX_VALUE
) -> torch.Tensor:
    """Mel amplitudes for image intensities; inverse of `pixels_from_mel`.

    Mono averages R, G and B (the reference's images have them equal; a model's output does
    not, and the mean is the less noisy read). Stereo reads G and B.

    Args:
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
    """Quantise (3, H, W) intensities in [0, 255] to a PIL image carrying the metadata."""
    array = pixels.detach().clamp(0, 255).to("cpu", torch.float32).numpy()
    # Truncation, not rounding, as the reference does.
    image = Image.fromarray(array.transpose(1, 2, 0).astype(np.uint8), mode="RGB")
    exif = image.getexif()
    for tag, value in params.to_exif().items():
        exif[tag] = value
    if max_value is not None:
        exif[EXIF_MAX_VALUE] = float(max_value)
    image.info["exif"] = exif.tobytes()
    return image


def params_from_image(image: Image.Image) -> tuple[SpectrogramParams, float]:
    """Spectrogram parameters and max value stored in an image; defaults where absent.

    Raises:
        ValueError: the metadata is malformed (a tag that is not a number, impossible values).
    """
    exif = dict(image.getexif())
    params = SpectrogramParams.from_exif(exif)
    max_value = exif.get(EXIF_MAX_VALUE, DEFAULT_MAX_VALUE)
    try:
        max_value = float(max_value)
    except (TypeError, ValueError):
        raise ValueError(f"EXIF tag {EXIF_MAX_VALUE} (max value) is not a number: {max_value!r}") from None
    if not max_value > 0:
        raise ValueError(f"EXIF tag {EXIF_MAX_VALUE} (max value) must be positive, got {max_value}")
    if image.height != params.num_frequencies:
        raise ValueError(
            f"image is {image.height} px high but its format has {params.num_frequencies} frequency bins"
        )
    return params, max_value


def pixels_from_image(image: Image.Image) -> torch.Tensor:
    """(3, H, W) float intensities in [0, 255] of any PIL image."""
    array = np.asarray(image.convert("RGB"), dtype=np.float32)
    return torch.from_numpy(array.copy()).permute(2, 0, 1)


def mel_from_image(image: Image.Image) -> tuple[torch.Tensor, SpectrogramParams]:
    """Mel amplitudes (channels, num_frequencies, frames) and the parameters of an image."""
    params, max_value = params_from_image(image)
    return mel_from_pixels(pixels_from_image(image), params, max_value), params
