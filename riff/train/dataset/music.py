"""Instruments, keys and the parts a generated piece is made of: bass, chords, melody.

Pitches are MIDI numbers; times are beats. Every random choice comes from the `rng` given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from riff.train.dataset.midi import Note

SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
KEY_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
# One chord per bar, as scale degrees counted from 0.
PROGRESSIONS = {
    "major": ((0, 4, 5, 3), (0, 3, 4, 3), (1, 4, 0, 0), (0, 5, 3, 4), (0, 3, 0, 4)),
    "minor": ((0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 6), (0, 3, 0, 4), (0, 5, 3, 4)),
}


@dataclass(frozen=True)
class Instrument:
    """A General MIDI instrument as a caption names it."""

    name: str
    program: int  # GM program, counted from 0
    family: str  # label for a classifier: keys, organ, guitar, strings, woodwind, brass, ...
    low: int  # comfortable melodic range, MIDI pitches
    high: int
    chords: bool  # plays chords as well as lines


INSTRUMENTS: dict[str, Instrument] = {
    i.name: i
    for i in [
        Instrument("piano", 0, "keys", 60, 84, True),
        Instrument("harpsichord", 6, "keys", 60, 84, True),
        Instrument("electric piano", 4, "keys", 60, 84, True),
        Instrument("organ", 16, "organ", 60, 84, True),
        Instrument("church organ", 19, "organ", 55, 79, True),
        Instrument("nylon guitar", 24, "guitar", 52, 76, True),
        Instrument("acoustic guitar", 25, "guitar", 52, 76, True),
        Instrument("electric guitar", 27, "guitar", 52, 76, True),
        Instrument("distorted guitar", 30, "guitar", 52, 72, True),
        Instrument("strings", 48, "strings", 55, 84, True),
        Instrument("violin", 40, "strings", 62, 88, False),
        Instrument("cello", 42, "strings", 43, 67, False),
        Instrument("flute", 73, "woodwind", 72, 93, False),
        Instrument("clarinet", 71, "woodwind", 55, 82, False),
        Instrument("saxophone", 65, "woodwind", 58, 79, False),
        Instrument("oboe", 68, "woodwind", 62, 86, False),
        Instrument("trumpet", 56, "brass", 60, 81, False),
        Instrument("trombone", 57, "brass", 45, 70, False),
        Instrument("french horn", 60, "brass", 50, 74, False),
        Instrument("vibraphone", 11, "mallets", 60, 84, True),
        Instrument("marimba", 12, "mallets", 60, 84, False),
        Instrument("harp", 46, "strings", 55, 84, True),
        Instrument("synth lead", 81, "synth", 60, 84, False),
        Instrument("synth pad", 89, "synth", 55, 79, True),
        Instrument("choir", 52, "voice", 55, 76, True),
    ]
}
BASSES: dict[str, Instrument] = {
    b.name: b
    for b in [
        Instrument("upright bass", 32, "bass", 28, 50, False),
        Instrument("bass guitar", 33, "bass", 28, 50, False),
        Instrument("slap bass", 36, "bass", 28, 50, False),
        Instrument("synth bass", 38, "bass", 28, 50, False),
        Instrument("fretless bass", 35, "bass", 28, 50, False),
    ]
}
# Comping rhythms: (start, duration) in beats within a bar.
COMPING = {
    "sustained": ((0.0, 4.0),),
    "halves": ((0.0, 2.0), (2.0, 2.0)),
    "quarters": ((0.0, 1.0), (1.0, 1.0), (2.0, 1.0), (3.0, 1.0)),
    "offbeats": ((1.5, 0.4), (3.5, 0.4)),
    "skank": ((1.0, 0.4), (3.0, 0.4)),
    "charleston": ((0.0, 1.4), (1.5, 2.0)),
    "stabs": ((0.0, 0.3), (0.75, 0.3), (2.5, 0.3), (3.25, 0.3)),
}


@dataclass(frozen=True)
class Key:
    tonic: int  # pitch class, 0 = C
    mode: str  # "major" or "minor"

    @property
    def name(self) -> str:
        return f"{KEY_NAMES[self.tonic]} {self.mode}"

    def pitch(self, degree: int, octave: int) -> int:
        """MIDI pitch of scale `degree` (any integer) above the tonic in `octave` (4 = middle C's)."""
        scale = SCALES[self.mode]
        return 12 * (octave + 1) + self.tonic + scale[degree % 7] + 12 * (degree // 7)

    def chord(self, degree: int, octave: int, sevenths: bool = False) -> list[int]:
        return [self.pitch(degree + step, octave) for step in ((0, 2, 4, 6) if sevenths else (0, 2, 4))]


def _into(pitch: int, low: int, high: int) -> int:
    """`pitch` moved by octaves into [low, high]."""
    while pitch < low:
        pitch += 12
    while pitch > high:
        pitch -= 12
    return pitch


def bass_line(key: Key, progression, bars: int, style: str, channel: int, rng) -> list[Note]:
    """A bass part following the chords: "root" on the beats, "octave" eighths, "walking"
    quarters with a chromatic approach, "reggae" dotted figures, "half" root and fifth,
    "held" one root a bar."""
    notes = []
    for bar in range(bars):
        degree = progression[bar % len(progression)]
        root = _into(key.pitch(degree, 2), 28, 45)
        fifth, octave = root + 7, root + 12
        if style == "octave":
            figure = [(i * 0.5, 0.45, root if i % 2 == 0 else octave) for i in range(8)]
        elif style == "walking":
            following = _into(key.pitch(progression[(bar + 1) % len(progression)], 2), 28, 45)
            third = _into(key.pitch(degree + 2, 2), root, root + 11)
            figure = [
                (0, 1, root),
                (1, 1, third),
                (2, 1, fifth),
                (3, 1, following + int(rng.choice([-1, 1]))),
            ]
        elif style == "reggae":
            figure = [(0.0, 1.0, root), (1.5, 0.5, fifth), (2.5, 0.5, root), (3.0, 0.9, octave)]
        elif style == "half":
            figure = [(0.0, 2.0, root), (2.0, 2.0, fifth)]
        elif style == "held":
            figure = [(0.0, 3.9, root)]
        else:
            figure = [(0.0, 1.4, root), (1.5, 0.5, root), (2.0, 1.0, fifth), (3.0, 0.9, root)]
        notes += [Note(bar * 4 + s, d, p, int(rng.integers(88, 108)), channel) for s, d, p in figure]
    return notes


def chord_part(
    key: Key, progression, bars: int, rhythm: str, inst: Instrument, channel: int, rng, sevenths=False
) -> list[Note]:
    """Block chords in the instrument's lower range, one harmony per bar."""
    notes = []
    for bar in range(bars):
        chord = key.chord(progression[bar % len(progression)], 4, sevenths)
        chord = [_into(p, max(inst.low - 12, 48), max(inst.low - 12, 48) + 14) for p in chord]
        for start, duration in COMPING[rhythm]:
            velocity = int(rng.integers(62, 84))
            notes += [Note(bar * 4 + start, duration, p, velocity, channel) for p in sorted(set(chord))]
    return notes


def melody(key: Key, progression, bars: int, inst: Instrument, channel: int, rng) -> list[Note]:
    """A two-bar phrase (a random walk on the scale landing on chord tones at each bar's
    downbeat), repeated with its last bar varied so the line sounds composed."""
    durations = np.array([0.5, 0.5, 1.0, 1.0, 1.5, 2.0])
    octave = (inst.low + inst.high) // 2 // 12 - 1
    phrase: list[tuple[float, float, int]] = []
    degree = int(rng.integers(0, 5))
    t = 0.0
    while t < 8.0:
        duration = float(min(rng.choice(durations), 8.0 - t))
        if t % 4.0 == 0:
            degree = int(rng.choice([0, 2, 4])) + 7 * int(degree // 7)
        else:
            degree += int(rng.choice([-2, -1, -1, 1, 1, 2, 3]))
        degree = int(np.clip(degree, -3, 10))
        if rng.random() > 0.1:
            phrase.append((t, duration * 0.95, degree))
        t += duration
    notes = []
    for repeat in range((bars + 1) // 2):
        for start, duration, deg in phrase:
            if repeat % 2 and start >= 4.0 and rng.random() < 0.4:
                deg += int(rng.choice([-1, 1]))
            when = repeat * 8.0 + start
            chord_root = progression[int(when // 4) % len(progression)]
            pitch = _into(key.pitch(deg + (chord_root if start % 4 == 0 else 0), octave), inst.low, inst.high)
            notes.append(Note(when, duration, pitch, int(rng.integers(80, 110)), channel))
    return notes
