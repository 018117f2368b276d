"""Frozen parameters of the spectrogram format (riffusion-compatible)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

# EXIF integer tags the reference writes into every spectrogram image.
EXIF_TAGS: dict[str, int] = {
    "sample_rate": 11000,
    "stereo": 11005,
    "step_size_ms": 11010,
    "window_duration_ms": 11020,
    "padded_duration_ms": 11030,
    "num_frequencies": 11040,
    "min_frequency": 11050,
    "max_frequency": 11060,
    "power_for_image": 11070,
}
EXIF_MAX_VALUE = 11080

# Image columns of one clip: 511 hops of 10 ms, 5.11 s, the width riffusion-model-v1 was trained on.
CLIP_WIDTH = 512

# The max-value tag is in the reference's unit: it computes mel amplitudes from int16 samples,
# so full scale is 32768. riff's waveforms are floats with full scale 1; its images convert.
INT16_FULL_SCALE = 32768.0
# Amplitude that full black maps to when an image carries no max-value tag (the reference's
# fixed decoding value), in int16 units.
DEFAULT_MAX_VALUE = 30e6
# riff wrote the tag in float units before it wrote them in int16 units. Float units of audio
# within full scale stay under about 1.1e4 (a full-scale square wave at 6 kHz, the worst case
# of the default format), while int16 units of anything louder than about -60 dB below a
# loud clip stay above this: an unmarked tag at or below it is read as riff's old float units.
LEGACY_MAX_VALUE_LIMIT = 32768.0
# riff marks its PNGs with this text chunk, which makes the unit explicit whatever the level
# (a text chunk, not an EXIF tag: the reference's print-exif fails on tags it does not know).
UNIT_KEY = "riff:max-value-unit"
UNIT_INT16 = "int16"


# What an image's tags may say, so that a tag cannot ask for an absurd amount of work or memory
# (a sample-rate tag of 2^31 - 1 would take tens of GB): wide enough for any real format.
TAG_RANGES: dict[str, tuple[float, float]] = {
    "sample_rate": (4000, 192000),
    "stereo": (0, 1),
    "step_size_ms": (1, 1000),
    "window_duration_ms": (1, 1000),
    "padded_duration_ms": (1, 1000),  # n_fft at most 192000
    "num_frequencies": (8, 2048),
    "min_frequency": (0, 96000),
    "max_frequency": (1, 96000),
    "power_for_image": (0.05, 4.0),
}

# Mel bands x FFT bins (num_frequencies x (n_fft // 2 + 1)) a format may have: every matrix the
# codec builds for a format scales with it, about 32 bytes a cell at its peak (the filterbank's
# float64 slopes). Riffusion's format has 4.5 million (512 x 8,821); each tag in range, a format
# can ask 2,048 x 96,001, which would take 6 GB before the first column is decoded.
MAX_FORMAT_CELLS = 16_000_000


@dataclass(frozen=True)
class SpectrogramParams:
    """One spectrogram format, shared by both directions of the codec.

    Defaults are riffusion-model-v1's: 10 ms hop, 100 ms Hann window zero-padded to 400 ms,
    512 HTK mel bins from 0 to 10 kHz, magnitudes raised to 0.25 for the image.
    """

    sample_rate: int = 44100
    stereo: bool = False
    step_size_ms: int = 10  # one image column per hop
    window_duration_ms: int = 100
    padded_duration_ms: int = 400  # n_fft of the reference's STFT
    num_frequencies: int = 512  # image height
    min_frequency: int = 0
    max_frequency: int = 10000
    power_for_image: float = 0.25  # compresses the dynamic range into 8 bits

    def __post_init__(self) -> None:
        if self.sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {self.sample_rate}")
        if not 0 <= self.min_frequency < self.max_frequency <= self.sample_rate / 2:
            raise ValueError(
                f"need 0 <= min_frequency < max_frequency <= sample_rate/2, got "
                f"{self.min_frequency}..{self.max_frequency} Hz at {self.sample_rate} Hz"
            )
        if not 0 < self.window_duration_ms <= self.padded_duration_ms:
            raise ValueError(
                f"need 0 < window_duration_ms <= padded_duration_ms, got "
                f"{self.window_duration_ms} and {self.padded_duration_ms}"
            )
        if self.step_size_ms <= 0 or self.num_frequencies <= 0 or self.power_for_image <= 0:
            raise ValueError(f"step, frequencies and power must be positive: {self}")
        cells = self.num_frequencies * (self.n_fft // 2 + 1)
        if cells > MAX_FORMAT_CELLS:
            raise ValueError(
                f"a format of {self.num_frequencies} frequencies over a {self.padded_duration_ms} ms "
                f"window at {self.sample_rate} Hz needs {cells * 32 / 1e9:.1f} GB for its filterbank: "
                f"at most {MAX_FORMAT_CELLS:,} frequencies x FFT bins (riffusion's: 512 x 8,821)"
            )

    @property
    def channels(self) -> int:
        return 2 if self.stereo else 1

    @property
    def hop_length(self) -> int:
        return int(self.step_size_ms / 1000 * self.sample_rate)

    @property
    def win_length(self) -> int:
        return int(self.window_duration_ms / 1000 * self.sample_rate)

    @property
    def n_fft(self) -> int:
        return int(self.padded_duration_ms / 1000 * self.sample_rate)

    def num_samples(self, width: int) -> int:
        """Samples of audio an image `width` columns wide decodes to."""
        return (width - 1) * self.hop_length

    def width_for(self, num_samples: int) -> int:
        """Image columns of a centered STFT over `num_samples` samples."""
        return 1 + num_samples // self.hop_length

    def to_exif(self) -> dict[int, int | float]:
        """EXIF tags as the reference writes them: integers, and the power as a float."""
        tags: dict[int, int | float] = {tag: int(getattr(self, name)) for name, tag in EXIF_TAGS.items()}
        tags[EXIF_TAGS["power_for_image"]] = float(self.power_for_image)
        return tags

    @classmethod
    def from_exif(cls, exif: dict[int, object]) -> SpectrogramParams:
        """Parameters from EXIF tags; tags that are absent keep their defaults.

        Raises:
            ValueError: a tag holds something that is not a number, or an impossible value.
        """
        values: dict[str, object] = {}
        for field in dataclasses.fields(cls):
            tag = EXIF_TAGS[field.name]
            if tag not in exif:
                continue
            raw = exif[tag]
            try:
                number = float(raw)  # type: ignore[arg-type]
            except (TypeError, ValueError, OverflowError):
                raise ValueError(
                    f"EXIF tag {tag} ({field.name}) is not a number: {str(raw)[:40]!r}"
                ) from None
            low, high = TAG_RANGES[field.name]
            if not low <= number <= high:  # NaN fails too
                raise ValueError(f"EXIF tag {tag} ({field.name}) is {number:g}, outside {low:g}..{high:g}")
            if field.name == "stereo":
                values[field.name] = bool(number)
            elif field.name == "power_for_image":
                values[field.name] = number
            else:
                values[field.name] = int(number)
        return cls(**values)


# Seconds of audio in one clip: 5.11.
CLIP_SECONDS = SpectrogramParams().num_samples(CLIP_WIDTH) / SpectrogramParams().sample_rate
