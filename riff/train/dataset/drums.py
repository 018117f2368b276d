"""Drum patterns for named styles, as General MIDI percussion notes (channel 10).

A pattern is one bar on a grid of `steps` cells per bar; a cell is "X" (accent), "x" (normal),
"o" (ghost) or a rest. Swing delays every second cell by a fraction of a cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from riff.train.dataset.midi import DRUM_CHANNEL, Note

# General MIDI percussion key map (GM 1 sound set, keys 35..81).
KICK, SIDE_STICK, SNARE, CLAP, CLOSED_HAT, PEDAL_HAT, OPEN_HAT = 36, 37, 38, 39, 42, 44, 46
LOW_TOM, MID_TOM, HIGH_TOM, CRASH, RIDE, RIDE_BELL, TAMBOURINE = 45, 47, 50, 49, 51, 53, 54
COWBELL, SHAKER, CLAVE = 56, 70, 75
VELOCITY = {"X": 118, "x": 92, "o": 48}


@dataclass(frozen=True)
class DrumStyle:
    """A named groove: its bar pattern, the tempos it is played at, and how it swings."""

    name: str  # as a caption says it: "rock", "hip hop", ...
    pattern: dict[int, str]  # GM key -> one bar of cells
    tempo_range: tuple[float, float]  # bpm
    steps: int = 16  # cells per 4/4 bar: 16 sixteenths, or 12 eighth-note triplets
    swing: float = 0.0  # delay of every second cell, in cells
    bass_style: str = "root"  # how a bass line follows: "root", "octave", "walking", "reggae"


STYLES: dict[str, DrumStyle] = {
    s.name: s
    for s in [
        DrumStyle(
            "rock",
            {KICK: "X.....x.X.x.....", SNARE: "....X.......X...", CLOSED_HAT: "x.x.x.x.x.x.x.x."},
            (88, 150),
        ),
        DrumStyle(
            "funk",
            {
                KICK: "X..x..x...X..x..",
                SNARE: "....X..o.o..X..o",
                CLOSED_HAT: "xxxxxxxxxxxxxxxx",
                OPEN_HAT: "..............x.",
            },
            (85, 115),
            bass_style="octave",
        ),
        DrumStyle(
            "hip hop",
            {KICK: "X.....X...X.....", SNARE: "....X.......X...", CLOSED_HAT: "x.x.x.x.x.x.x.xo"},
            (78, 98),
            swing=0.25,
        ),
        DrumStyle(
            "house",
            {KICK: "X...X...X...X...", CLAP: "....x.......x...", OPEN_HAT: "..x...x...x...x."},
            (118, 128),
            bass_style="octave",
        ),
        DrumStyle(
            "techno",
            {KICK: "X...X...X...X...", CLAP: "....x.......x...", CLOSED_HAT: "xxXxxxXxxxXxxxXx"},
            (125, 140),
            bass_style="octave",
        ),
        DrumStyle(
            "disco",
            {KICK: "X...X...X...X...", SNARE: "....X.......X...", OPEN_HAT: "..x...x...x...x."},
            (110, 125),
            bass_style="octave",
        ),
        DrumStyle(
            "jazz swing",
            {RIDE: "X..x.xX..x.x", PEDAL_HAT: "...x.....x..", KICK: "o..o..o..o..", SNARE: ".....o....o."},
            (100, 200),
            steps=12,
            bass_style="walking",
        ),
        DrumStyle(
            "reggae one drop",
            {KICK: "........X.......", SIDE_STICK: "........x.......", CLOSED_HAT: "x.x.x.x.x.x.x.x."},
            (66, 90),
            swing=0.2,
            bass_style="reggae",
        ),
        DrumStyle(
            "bossa nova",
            {KICK: "X..xX..xX..xX..x", SIDE_STICK: "x..x..x...x..x..", CLOSED_HAT: "xxxxxxxxxxxxxxxx"},
            (110, 140),
        ),
        DrumStyle(
            "drum and bass",
            {KICK: "X.........X.....", SNARE: "....X..o.o..X...", CLOSED_HAT: "x.x.x.x.x.x.x.x."},
            (160, 176),
        ),
        DrumStyle(
            "latin",
            {
                KICK: "X..x....X..x....",
                CLAVE: "X..X..X...X.X...",
                COWBELL: "x.x.x.x.x.x.x.x.",
                SHAKER: "xxxxxxxxxxxxxxxx",
            },
            (95, 125),
        ),
    ]
}


def drum_notes(style: DrumStyle, bars: int, rng: np.random.Generator) -> list[Note]:
    """`bars` bars of `style` on the drum channel, with a crash on the first downbeat and small
    random velocity changes (humanising, from `rng`)."""
    cell = 4.0 / style.steps  # beats per cell
    notes = [Note(0.0, 1.0, CRASH, 100, DRUM_CHANNEL)] if rng.random() < 0.5 else []
    for bar in range(bars):
        for key, cells in style.pattern.items():
            if len(cells) != style.steps:
                raise ValueError(
                    f"{style.name}: pattern for key {key} has {len(cells)} cells, not {style.steps}"
                )
            for i, c in enumerate(cells):
                if c not in VELOCITY:
                    continue
                start = bar * 4.0 + (i + (style.swing if i % 2 else 0.0)) * cell
                velocity = int(np.clip(VELOCITY[c] + rng.integers(-8, 9), 1, 127))
                notes.append(Note(start, cell * 0.9, key, velocity, DRUM_CHANNEL))
    return notes
