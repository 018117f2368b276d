"""The beat grid a request asks for: tempo, meter, bars per clip and key, parsed from what people
type ("96", "3/4", "A minor", "F#m", "E flat minor") and checked in one line before any work.

Tempo counts quarter notes, as DAWs do: a 6/8 bar is three quarter notes long (two dotted
quarters). A track of `clips` clips of `bars` bars lasts exactly `clips x bars x quarters x 60 /
bpm` seconds, rounded to the sample once (`Grid.track_samples`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

MIN_BPM = 40.0
MAX_BPM = 240.0
# Widest clip a tempo may ask for: 20 s, the studio's widest seed image.
MAX_COLUMNS = 2048
# Meter -> (quarter notes a bar, 16th-note steps a bar, beats a bar as the meter counts them).
METERS: dict[str, tuple[float, int, int]] = {"4/4": (4.0, 16, 4), "3/4": (3.0, 12, 3), "6/8": (3.0, 12, 6)}
PITCH_CLASSES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
# How each tonic is spelled in its mode (the common key signature: Eb major, C# minor).
MAJOR_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MINOR_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B")
_KEY = re.compile(
    r"^\s*([a-g])\s*(#|♯|b|♭|-?\s*sharp|-?\s*flat)?\s*(major|maj|minor|min|m)?\s*$", re.IGNORECASE
)


@dataclass(frozen=True)
class Key:
    """One of the 24 major and minor keys."""

    tonic: int  # pitch class, 0 = C
    minor: bool

    @property
    def name(self) -> str:
        """ "A minor", "Eb major"."""
        spelled = (MINOR_NAMES if self.minor else MAJOR_NAMES)[self.tonic]
        return f"{spelled} {'minor' if self.minor else 'major'}"

    @property
    def short(self) -> str:
        """ "Am", "Eb": the form file names and ID3's TKEY use."""
        spelled = (MINOR_NAMES if self.minor else MAJOR_NAMES)[self.tonic]
        return spelled + ("m" if self.minor else "")


def parse_key(text: str) -> Key:
    """A key from "A minor", "Am", "a minor", "F#", "Gb major", "Eb", "E flat minor".

    Raises:
        ValueError: not one of the 24 major and minor keys.
    """
    match = _KEY.match(str(text))
    if match is None:
        raise ValueError(
            f'unknown key {str(text)[:40]!r}: use a major or minor key such as "A minor", "Am", "F#"'
        )
    letter, accidental, mode = match.groups()
    shift = 0
    if accidental:
        shift = 1 if accidental in "#♯" or "sharp" in accidental.lower() else -1
    minor = mode is not None and mode.lower() in ("minor", "min", "m")
    return Key((PITCH_CLASSES[letter.upper()] + shift) % 12, minor)


def check_bpm(bpm: float) -> float:
    """`bpm` as a float. Raises ValueError outside 40-240 (or not a number)."""
    if isinstance(bpm, bool) or not isinstance(bpm, (int, float)) or not MIN_BPM <= bpm <= MAX_BPM:
        raise ValueError(f"tempo must be {MIN_BPM:g}-{MAX_BPM:g} bpm, got {bpm!r}")
    return float(bpm)


def check_meter(meter: str) -> str:
    if meter not in METERS:
        raise ValueError(f"meter must be one of {', '.join(METERS)}, got {meter!r}")
    return meter


@dataclass(frozen=True)
class Grid:
    """Tempo, meter, bars per clip and (optionally) key of a request."""

    bpm: float
    meter: str = "4/4"
    bars: int = 2  # per clip
    key: Key | None = None

    def __post_init__(self) -> None:
        check_bpm(self.bpm)
        check_meter(self.meter)
        if isinstance(self.bars, bool) or not isinstance(self.bars, int) or self.bars < 1:
            raise ValueError(f"bars must be a whole number of at least 1, got {self.bars!r}")

    @classmethod
    def parse(
        cls, bpm: float, meter: str = "4/4", bars: int | None = None, key: str | None = None, **fit: int
    ) -> Grid:
        """A grid from user input; `bars` None: as many whole bars as fit `fits_bars(**fit)`.

        Raises:
            ValueError: a bad tempo, meter, key or bar count, in one line.
        """
        bpm = check_bpm(bpm)
        check_meter(meter)
        parsed = parse_key(key) if key not in (None, "") else None
        grid = cls(bpm, meter, bars if bars is not None else fits_bars(bpm, meter, **fit), parsed)
        check_fits(grid)
        return grid

    @property
    def quarters(self) -> float:
        """Quarter notes in a bar."""
        return METERS[self.meter][0]

    @property
    def steps_per_bar(self) -> int:
        """16th-note steps in a bar."""
        return METERS[self.meter][1]

    @property
    def bar_seconds(self) -> float:
        return self.quarters * 60.0 / self.bpm

    @property
    def beats(self) -> float:
        """Quarter notes in a clip (the WAV acid chunk's beat count)."""
        return self.bars * self.quarters

    def clip_samples(self, sample_rate: int) -> float:
        """Samples in a clip's bars, unrounded."""
        return self.bars * self.bar_seconds * sample_rate

    def track_samples(self, clips: int, sample_rate: int) -> int:
        """Samples in a track of `clips` clips: rounded once, never clip by clip."""
        return round(clips * self.clip_samples(sample_rate))

    def clip_bounds(self, clips: int, sample_rate: int) -> list[int]:
        """Where each clip starts in the track, and where the track ends: `clips + 1` samples."""
        return [round(k * self.clip_samples(sample_rate)) for k in range(clips + 1)]

    def tag(self) -> str:
        """ "96bpm_Am": what a file name carries."""
        bpm = f"{self.bpm:g}".replace(".", "p")
        return f"{bpm}bpm" + (f"_{self.key.short}" if self.key else "")


def clip_columns(grid: Grid, sample_rate: int = 44100, hop_length: int = 441) -> int:
    """Image columns of one clip of `grid`: enough for its bars and one column more (the last
    column's centre is the last sample), up to a multiple of 8 (the VAE's factor)."""
    hops = math.ceil(math.ceil(grid.clip_samples(sample_rate)) / hop_length)
    return math.ceil((hops + 1) / 8) * 8


def fits_bars(
    bpm: float, meter: str, max_columns: int = 512, sample_rate: int = 44100, hop: int = 441
) -> int:
    """The most whole bars one clip of at most `max_columns` columns holds (at least 1)."""
    bar = METERS[meter][0] * 60.0 / bpm * sample_rate
    return max(1, int((max_columns - 8) * hop // bar))


def check_fits(grid: Grid, max_columns: int = MAX_COLUMNS, sample_rate: int = 44100, hop: int = 441) -> int:
    """The clip's columns. Raises ValueError if its bars need more than `max_columns`."""
    columns = clip_columns(grid, sample_rate, hop)
    if columns > max_columns:
        most = fits_bars(grid.bpm, grid.meter, max_columns, sample_rate, hop)
        raise ValueError(
            f"{grid.bars} bars of {grid.meter} at {grid.bpm:g} bpm need {columns} columns, more than "
            f"{max_columns}: at most {most} bars a clip"
        )
    return columns
