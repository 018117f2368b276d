"""Audio <-> spectrogram images end to end, at the right level: the path the CLI, the studio and
the walk share, so that pixels become audio in one place.

- An image that stores its level (the max-value tag, see `riff.audio.image.Level`) decodes at that
  level, brought down only if it would go over -1 dBFS true peak; if it would have clipped,
  the caller is told in one line (`Decoded.note`).
- One that does not has no level to keep: it is set to `TARGET_LUFS` (-14 LUFS), as a track is.
- A model's output (`waveforms_from_pixels`) is left unlevelled: `riff.track` decides a
  track's loudness once, over all its clips.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from PIL import Image

from riff.audio.image import Level, image_from_mel, mel_from_image, mel_from_pixels, params_from_image
from riff.audio.loudness import PEAK_DB, limit_peak, normalize_loudness
from riff.audio.params import SpectrogramParams
from riff.audio.spectrogram import GRIFFIN_LIM_ITERS, check_decodable, mel_from_waveform, waveform_from_mel


def image_from_waveform(waveform: torch.Tensor, params: SpectrogramParams) -> Image.Image:
    """The spectrogram image of (channels, samples) float audio, tagged with its level."""
    return image_from_mel(mel_from_waveform(waveform, params), params)


@dataclass(frozen=True)
class Spectrogram:
    """A spectrogram image read and checked, ready to decode."""

    mel: torch.Tensor  # (channels, num_frequencies, frames), float units
    params: SpectrogramParams
    level: Level

    @classmethod
    def from_image(cls, image: Image.Image) -> Spectrogram:
        """Raises ValueError for malformed metadata or an image too narrow to decode."""
        mel, params, level = mel_from_image(image)
        check_decodable(mel.shape[-1], params)
        return cls(mel, params, level)


@dataclass(frozen=True)
class Decoded:
    waveform: torch.Tensor  # (channels, samples) float32 on the CPU
    params: SpectrogramParams
    note: str | None = None  # one line on what was done to the stored level, if anything


def decode(
    spectrograms: list[Spectrogram],
    seed: int = 0,
    device: str | torch.device = "cpu",
    griffin_lim_iters: int = GRIFFIN_LIM_ITERS,
) -> Iterator[tuple[int, Decoded]]:
    """Audio of spectrograms, batched by format and width; yields (index, decoded) as each
    batch is done. A clip's samples depend on its image and `seed` only."""
    groups: dict[tuple, list[int]] = {}
    for i, spectrogram in enumerate(spectrograms):
        groups.setdefault((spectrogram.params, tuple(spectrogram.mel.shape)), []).append(i)
    for (params, _), indices in groups.items():
        mel = torch.stack([spectrograms[i].mel for i in indices]).to(device)
        waveforms = waveform_from_mel(mel, params, seed=seed, griffin_lim_iters=griffin_lim_iters)
        for i, waveform in zip(indices, waveforms):
            yield i, at_level(waveform.float().cpu(), params, spectrograms[i].level)


def waveforms_from_pixels(
    pixels: torch.Tensor, params: SpectrogramParams, seed: int = 0, griffin_lim_iters: int = GRIFFIN_LIM_ITERS
) -> torch.Tensor:
    """A model's decoded images, (batch, 3, height, width) in 0..1, as audio (batch, channels,
    samples) on their device, unlevelled (see the module's docstring). A clip's samples depend
    on its pixels and `seed` only."""
    mel = mel_from_pixels(pixels, params)
    return waveform_from_mel(mel, params, seed=seed, griffin_lim_iters=griffin_lim_iters)


def at_level(waveform: torch.Tensor, params: SpectrogramParams, level: Level) -> Decoded:
    """A decoded waveform at its image's level (see the module's docstring)."""
    if not level.stored:
        return Decoded(normalize_loudness(waveform, params.sample_rate), params)
    limited, gain_db = limit_peak(waveform, params.sample_rate)
    peak_db = PEAK_DB - gain_db
    note = None
    if peak_db > 0:  # it would have clipped; under that, keeping the headroom is no news
        note = (
            f"at its stored level it would peak at {peak_db:+.1f} dBFS: "
            f"brought down {-gain_db:.1f} dB to {PEAK_DB:.0f} dBFS true peak"
        )
    return Decoded(limited, params, note)


def metadata(image: Image.Image) -> dict:
    """An image's spectrogram parameters as a plain dict (defaults where untagged); the max
    value in the reference's int16 units, and where the level came from."""
    params, level = params_from_image(image)
    return {
        "tagged": bool(image.getexif()),
        "width": image.width,
        "height": image.height,
        "duration_s": round(params.num_samples(image.width) / params.sample_rate, 3),
        "max_value": level.tag_value,
        "level": level.source,
        **dataclasses.asdict(params),
    }
