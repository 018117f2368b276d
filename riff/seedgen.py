"""Seed images on demand: every bundled pattern at any tempo, meter, bar count and key.

img2img from a seed keeps the seed's rhythm and harmony, so the seed is the lever on a clip's
tempo and key. The patterns here are the ones behind the bundled PNGs (written in 16th-note
steps of 4/4 bars; a 3/4 bar plays the first three beats of each, 6/8 has its own where it
fits), synthesised on a circular buffer of exactly the grid's bars so the loop wraps on the bar.
Pitched patterns are written in A minor and move to the asked key (a major key raises the
third, sixth and seventh); a drum pattern in a key gets a tonal bed: bass on the root and
chord tones, and a pad. Same arguments, same bytes; each rendered once (`seed_image` caches).
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from riff import synth
from riff.audio.image import image_from_mel
from riff.audio.params import SpectrogramParams
from riff.audio.spectrogram import mel_from_waveform
from riff.grid import Grid, Key, clip_columns

PARAMS = SpectrogramParams()
VELOCITY = {"X": 1.0, "x": 0.7, "o": 0.35}  # pattern cells; anything else is a rest
BEDS = ("auto", "bass", "pad", "both", "none")
BED_GAINS = {"bass": 2.0, "pad": 0.8}  # beside the pattern (kick peak ~1.2): loud enough to name the key
A_MINOR = Key(9, True)  # what the pitched patterns are written in
# Below this tempo, hits between the beats play softer: a slow beat with loud 8ths reads at
# twice its tempo to a beat tracker (and to a listener tapping along).
SLOW_BPM = 90.0
# A minor's minor third, sixth and seventh (C, F, G, in semitones above A): a major key raises them.
_RAISED_IN_MAJOR = frozenset({3, 8, 10})


@dataclass
class Loop:
    """Whole bars on a circular buffer `length` samples long; a sound past the end wraps."""

    bars: int
    rng: np.random.Generator
    length: int
    steps_per_bar: int = 16
    six_eight: bool = False
    key: Key | None = None
    buf: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.buf = np.zeros(self.length)

    @property
    def beats(self) -> int:
        """Quarter-note beats in a bar (6/8: its six 8ths are counted in 16ths all the same)."""
        return self.steps_per_bar // 4

    @property
    def bpm(self) -> float:
        return 60.0 * PARAMS.sample_rate * self.bars * self.beats / self.length

    def add(self, sound: np.ndarray, step: float) -> None:
        """Mix `sound` in at 16th-note `step` of the loop, wrapping round the end."""
        start = round(step * self.length / (self.bars * self.steps_per_bar))
        self.buf[(start + np.arange(len(sound))) % self.length] += sound

    def hits(self, pattern: str, sound: Callable, gain: float = 1.0) -> None:
        """Play `sound` on a step pattern of 16-step bars ("X.x.o...|X..."), its bars repeated."""
        cells = pattern.replace(" ", "").replace("|", "")
        phrase = max(1, len(cells) // 16)
        for bar in range(self.bars):
            for s in range(self.steps_per_bar):
                cell = cells[(16 * (bar % phrase) + s) % len(cells)]
                if cell in VELOCITY:
                    vel = VELOCITY[cell] * self.rng.uniform(0.88, 1.0)  # played, not sequenced
                    if s % (self.steps_per_bar // self.beats) and self.bpm < SLOW_BPM:
                        vel *= 0.5 * (self.bpm / SLOW_BPM) ** 2  # softer the slower
                    self.add(gain * vel * sound(self.rng), bar * self.steps_per_bar + s)

    def notes(self, notes: list[tuple[float, float]], sound: Callable, gain: float = 1.0, phrase: int = 2):
        """Play (step, midi) notes of a `phrase`-bar part of 16-step bars, in the loop's key."""
        for step, midi in notes:
            bar, s = divmod(step, 16)
            if s >= self.steps_per_bar:
                continue  # a 3/4 bar has no fourth beat
            for at in range(int(bar), self.bars, phrase):
                self.add(
                    gain * self.rng.uniform(0.85, 1.0) * sound(self.pitch(midi)), at * self.steps_per_bar + s
                )

    def pitch(self, midi: float) -> float:
        """An A minor note moved to the loop's key (the nearest transposition, up or down)."""
        if self.key is None:
            return midi
        if not self.key.minor and int(midi - 9) % 12 in _RAISED_IN_MAJOR:
            midi += 1
        return midi + (self.key.tonic - 9 + 6) % 12 - 6


def downbeat(loop: Loop, gain: float = 1.0) -> None:
    """An open hat on each bar's first beat: the accent that tells a beat tracker where the bar
    starts, and that beat 1 to 2 is the beat, not 1 to 3 (a fast tempo read at half)."""
    loop.hits("X" + "." * 15, lambda rng: synth.hat(rng, 0.2), gain)


def og_beat(loop: Loop) -> None:
    """Backbeat: kick on 1 (lighter on 3), snare on 2 and 4, soft 8th hats, the downbeat accented."""
    if loop.six_eight:
        loop.hits("X.....x.....", synth.kick)
        loop.hits("......X.....", synth.snare)
        loop.hits("X.x.x.X.x.x.", synth.hat)
        return
    loop.hits("X.......o.......|X.......o.o.....", synth.kick)
    loop.hits("....X.......X...", synth.snare)
    loop.hits("X.o.o.o.o.o.o.o.", synth.hat)
    downbeat(loop)


def agile(loop: Loop) -> None:
    """Busy beat: pushed kicks, ghost snares, 8th hats, a fill into the loop."""
    loop.hits("X.......o.x.....|X.....o...x.....|X.......o.x.....", synth.kick)
    loop.hits("....X.o.....X.o.|....X.o.....X...|....X.o.....XoXo", synth.snare)
    loop.hits("X.o.x.o.x.o.x.o.", synth.hat)
    downbeat(loop)


def marim(loop: Loop) -> None:
    """Marimba melody in A minor pentatonic over a light backbeat."""
    melody = [69, 72, 76, 72, 74, 76, 79, 76, 69, 72, 74, 72, 67, 69, 64, 67]
    loop.notes([(2 * i, m) for i, m in enumerate(melody)], synth.marimba, 0.6)
    loop.notes([(3, 81), (11, 84), (19, 79), (27, 76)], synth.marimba, 0.3)
    loop.notes([(0, 45), (16, 43)], synth.marimba, 0.8)
    loop.hits("X.......o.......", synth.kick)
    loop.hits("....X.......X...", synth.snare, 0.6)
    loop.hits("x.o.o.o.o.o.o.o.", synth.hat)
    downbeat(loop)


def motorway(loop: Loop) -> None:
    """Four on the floor: claps on 2 and 4, hats and bass on the offbeats."""
    loop.hits("X...x...x...x...", synth.kick)
    loop.hits("....X.......X...", synth.clap)
    loop.hits("..o...o...o...o.", lambda rng: synth.hat(rng, 0.2))
    loop.hits("X.o.x.o.x.o.x.o.", synth.hat)
    roots = [45, 45, 41]  # A A F, one per bar
    notes = [(16 * bar + s, roots[bar]) for bar in range(3) for s in (2, 6, 10, 14)]
    loop.notes(notes, synth.bass, 0.5, phrase=3)
    downbeat(loop)


def vibes(loop: Loop) -> None:
    """Fmaj7 to Em7 on a tremolo vibraphone over a brushed backbeat."""
    chords = [[53, 57, 60, 64], [52, 55, 59, 62]]  # Fmaj7, Em7
    for bar, chord in enumerate(chords):
        loop.notes([(16 * bar + s, m) for s in (0, 10) for m in chord], synth.vibraphone, 0.6)
        loop.notes([(16 * bar, chord[0] - 12)], synth.bass, 0.5)
    if loop.six_eight:
        loop.hits("X.........x.....", synth.kick, 0.5)
        loop.hits("X.o.x.o.x.o.", synth.brush)
        return
    loop.hits("X.......o.......", synth.kick, 0.8)
    loop.hits("....x.......x...", synth.snare, 0.6)
    loop.hits("x.o.x.o.x.o.x.o.", synth.brush)
    downbeat(loop, 0.7)


def breakbeat(loop: Loop) -> None:
    """Break: a displaced second kick, ghost-note snares."""
    loop.hits("X.........x.....|X.o.......o.....", synth.kick)
    loop.hits("....X.o.....X.o.|....X.o.....X...", synth.snare)
    loop.hits("X.o.x.o.x.o.x.o.", synth.hat)
    downbeat(loop)


def halftime(loop: Loop) -> None:
    """Half-time feel: the big snare on 3, a rim on 2 and 4, an 808 sub under the kicks."""
    loop.hits("X.........o.....|X.....o...o.....|X.........o.....", synth.kick)
    notes = [(0, 33), (10, 33), (16, 36), (26, 31), (32, 33), (42, 33)]
    loop.notes(notes, synth.sub, 0.8, phrase=3)
    loop.hits("........X.......", synth.snare)
    loop.hits("....x.......x...", lambda rng: synth.snare(rng, 0.03), 0.6)
    loop.hits("X.o.x.o.x.o.x.o.", synth.hat)
    downbeat(loop)


@dataclass(frozen=True)
class Pattern:
    arrange: Callable[[Loop], None]
    bars: int  # of the bundled PNG (5.11 s): 2 bars = 93.9 bpm, 3 bars = 140.9 bpm
    pitched: bool = False  # written in A minor
    six_eight: bool = False  # has a 6/8 arrangement
    # The bed "auto" lays under it in a key: a drum pattern gets bass and pad; a pitched one
    # only what its own harmony lacks (motorway and halftime have roots but no chords; marim's
    # pentatonic and vibes' Fmaj7 to Em7 alone read as C or F major: a bass names the tonic).
    bed: str = "both"


PATTERNS: dict[str, Pattern] = {
    "og_beat": Pattern(og_beat, 2, six_eight=True),
    "agile": Pattern(agile, 3),
    "marim": Pattern(marim, 2, pitched=True, bed="bass"),
    "motorway": Pattern(motorway, 3, pitched=True, bed="pad"),
    "vibes": Pattern(vibes, 2, pitched=True, six_eight=True, bed="bass"),
    "breakbeat": Pattern(breakbeat, 2),
    "halftime": Pattern(halftime, 3, pitched=True, bed="pad"),
}


def bundled_tempo(name: str) -> float:
    """The tempo of a bundled PNG: its bars of 4/4 in 511 hops (5.11 s)."""
    return PATTERNS[name].bars * 4 * 60 / (PARAMS.num_samples(512) / PARAMS.sample_rate)


def bed(loop: Loop, kind: str) -> None:
    """A tonal bed in the loop's key: I (i), IV (iv), I, V a bar each; the bass plucks the
    chord's root, third, fifth and third on the beats, a pad holds the triad through the bar."""
    key = loop.key or A_MINOR
    third = 3 if key.minor else 4
    # (root above the tonic, its third): every other bar on the tonic, whatever the bar count.
    chords = [(0, third), (5, third), (0, third), (7, 4)]
    beat = loop.steps_per_bar // (6 if loop.six_eight else loop.steps_per_bar // 4)
    tonic = 36 + key.tonic
    for bar in range(loop.bars):
        root, chord_third = chords[bar % len(chords)]
        first = bar * loop.steps_per_bar
        if kind in ("bass", "both"):
            for s in range(0, loop.steps_per_bar, beat):
                midi = tonic + root + (0, chord_third, 7, chord_third)[(s // beat) % 4]
                loop.add(BED_GAINS["bass"] * synth.bass(midi, 0.25), first + s)
        if kind in ("pad", "both"):
            seconds = loop.length / loop.bars / PARAMS.sample_rate
            for interval in (0, chord_third, 7):
                loop.add(BED_GAINS["pad"] * synth.pad(tonic + 24 + root + interval, seconds), first)


def render(
    name: str, grid: Grid | None = None, bed_kind: str = "auto", length: int | None = None
) -> np.ndarray:
    """A pattern's loop samples at peak 0.8; `grid` None: the bundled PNG's bars in `length`.

    Raises:
        ValueError: an unknown pattern or bed, or 6/8 for a pattern that has none.
    """
    if name not in PATTERNS:
        raise ValueError(f"no pattern {name!r} to render at a tempo: use one of {', '.join(PATTERNS)}")
    if bed_kind not in BEDS:
        raise ValueError(f"bed must be one of {', '.join(BEDS)}, got {bed_kind!r}")
    pattern = PATTERNS[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))  # by name: seeds stay independent
    if grid is None:
        loop = Loop(pattern.bars, rng, length or PARAMS.num_samples(512))
    else:
        if grid.meter == "6/8" and not pattern.six_eight:
            six = ", ".join(n for n, p in PATTERNS.items() if p.six_eight)
            raise ValueError(f"{name} has no 6/8 arrangement: use 4/4, 3/4 or one of {six}")
        loop = Loop(
            grid.bars,
            rng,
            round(grid.clip_samples(PARAMS.sample_rate)),
            grid.steps_per_bar,
            grid.meter == "6/8",
            grid.key,
        )
    pattern.arrange(loop)
    kind = pattern.bed if bed_kind == "auto" else bed_kind
    if loop.key is not None and kind != "none":
        bed(loop, kind)
    return 0.8 * loop.buf / np.abs(loop.buf).max()


def image_of_loop(samples: np.ndarray, width: int) -> Image.Image:
    """Spectrogram image `width` columns wide of a loop played round from its start; every
    column's window sees the wrapped signal, never padding."""
    hop = PARAMS.hop_length
    pad = -(-PARAMS.n_fft // 2 // hop) * hop
    needed = (width - 1) * hop + 2 * pad
    reps = -(-(needed + pad) // len(samples)) + 1
    tiled = np.tile(samples, reps)
    wrapped = np.concatenate([samples[-pad:], tiled])[:needed]
    mel = mel_from_waveform(torch.from_numpy(wrapped).float()[None], PARAMS)
    first = pad // hop
    return image_from_mel(mel[..., first : first + width], PARAMS)


@functools.lru_cache(maxsize=64)
def _cached(name: str, grid: Grid, bed_kind: str) -> Image.Image:
    return image_of_loop(
        render(name, grid, bed_kind), clip_columns(grid, PARAMS.sample_rate, PARAMS.hop_length)
    )


def seed_image(name: str, grid: Grid, bed_kind: str = "auto") -> Image.Image:
    """The seed image of pattern `name` on `grid`: `clip_columns(grid)` columns, its bars from
    column 0 on and the loop's start again after them (the clip's audio is cut at the bar)."""
    return _cached(name, grid, bed_kind).copy()


@functools.lru_cache(maxsize=64)
def _cached_from(name: str, grid: Grid, bed_kind: str, phase: int, width: int) -> Image.Image:
    return image_of_loop(np.roll(render(name, grid, bed_kind), -phase), width)


def seed_image_from(name: str, grid: Grid, bed_kind: str, phase: int, width: int) -> Image.Image:
    """The seed image of pattern `name` on `grid`, `width` columns starting `phase` samples
    into its loop (a continued clip's seed part, see `riff.beats.continued`)."""
    return _cached_from(name, grid, bed_kind, phase, width).copy()
