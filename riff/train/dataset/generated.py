"""Generated pieces: a drum style alone, or with a bass line, chords and a melody on General
MIDI instruments, in a key and mode and at a tempo drawn from the seed.

A band often has a sustained pad (strings, organ, choir, synth pad) under its lead, and a duo
sometimes: held chords fill the space between drum hits and short notes, as in most recorded
music, instead of every part stopping at once.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from riff.audio.params import CLIP_SECONDS
from riff.train.dataset.drums import STYLES, DrumStyle, drum_notes
from riff.train.dataset.labels import Piece, labels, tempo_words
from riff.train.dataset.music import BASSES, INSTRUMENTS, PROGRESSIONS, Key, bass_line, chord_part, melody

ARRANGEMENTS = ("drums", "drums and bass", "band", "band", "solo", "duo")
# Comping rhythm per drum style.
STYLE_COMPING = {
    "rock": "halves", "funk": "stabs", "hip hop": "sustained", "house": "offbeats", "techno": "offbeats",
    "disco": "quarters", "jazz swing": "charleston", "reggae one drop": "skank", "bossa nova": "charleston",
    "drum and bass": "sustained", "latin": "charleston",
}  # fmt: skip
DRUMS, BASS, CHORDS, LEAD, PAD = 9, 1, 2, 3, 4  # MIDI channels
PADS = ("strings", "synth pad", "organ", "choir", "church organ")
PAD_SHARE = {"band": 0.6, "duo": 0.3}  # how often each arrangement has a pad under its lead
DRUMS_IN_MIX = 0.8  # drum velocities beside other parts (FluidSynth: about -4 dB)
# Piano four times as often as any other: "solo piano" is what people ask for most.
LEADS = sorted(INSTRUMENTS) + ["piano"] * 3


def pick_tempo(low: float, high: float, rng: np.random.Generator) -> tuple[float, bool]:
    """A tempo in [low, high]: half the time one where whole 4/4 bars fill the clip exactly
    (2 bars: 93.9 bpm, 3: 140.9, 4: 187.9), so the clip loops; else a round number."""
    exact = [bars * 4 * 60 / CLIP_SECONDS for bars in range(1, 6)]
    exact = [bpm for bpm in exact if low <= bpm <= high]
    if exact and rng.random() < 0.5:
        return float(rng.choice(exact)), True
    return float(rng.integers(math.ceil(low), math.floor(high) + 1)), False


def generated_piece(rng: np.random.Generator) -> Piece:
    """One generated piece and its caption, everything drawn from `rng`."""
    arrangement = str(rng.choice(ARRANGEMENTS))
    style: DrumStyle | None = None
    if arrangement in ("drums", "drums and bass", "band"):
        style = STYLES[str(rng.choice(sorted(STYLES)))]
        bpm, loops = pick_tempo(*style.tempo_range, rng)
    else:
        bpm, loops = pick_tempo(60, 170, rng)
    key = Key(int(rng.integers(0, 12)), str(rng.choice(["major", "minor"])))
    progression = PROGRESSIONS[key.mode][int(rng.integers(0, len(PROGRESSIONS[key.mode])))]
    # Whole-bar tempos cut on the downbeat; others at a random beat, so clips do not loop.
    offset_beats = 0 if loops else int(rng.integers(0, 4))
    bars = math.ceil((CLIP_SECONDS * bpm / 60 + offset_beats) / 4) + 1
    jazz = style is not None and style.name == "jazz swing"

    notes, programs, names, families = [], {}, [], []
    if style is not None:
        notes += drum_notes(style, bars, rng)
        names.append(f"{style.name} drums")
        families.append("drums")
    bass = None
    if arrangement in ("drums and bass", "band", "duo"):
        bass = BASSES["upright bass"] if jazz else BASSES[str(rng.choice(sorted(BASSES)))]
        bass_style = style.bass_style if style else str(rng.choice(["half", "held"]))
        notes += bass_line(key, progression, bars, bass_style, BASS, rng)
        programs[BASS] = bass.program
        names.append(bass.name)
        families.append("bass")
    inst = None
    if arrangement in ("band", "solo", "duo"):
        inst = INSTRUMENTS["piano"] if jazz and rng.random() < 0.6 else INSTRUMENTS[str(rng.choice(LEADS))]
        programs[CHORDS] = programs[LEAD] = inst.program
        rhythm = STYLE_COMPING[style.name] if style else str(rng.choice(["sustained", "halves", "quarters"]))
        if inst.chords:
            notes += chord_part(key, progression, bars, rhythm, inst, CHORDS, rng, sevenths=jazz)
        if not inst.chords or rng.random() < 0.6:
            notes += melody(key, progression, bars, inst, LEAD, rng)
        names.insert(0, inst.name)
        families.insert(0, inst.family)
    pad = None
    if inst is not None and rng.random() < PAD_SHARE.get(arrangement, 0.0):
        pad = INSTRUMENTS[str(rng.choice([name for name in PADS if name != inst.name]))]
        programs[PAD] = pad.program
        notes += chord_part(key, progression, bars, "sustained", pad, PAD, rng, sevenths=jazz)
        names.insert(1, pad.name)
        families.insert(1, pad.family)

    if style is not None and len(families) > 1:
        # Mixed under the other parts, as a recording would be: unscaled, the hits stand
        # 6 dB or more over held chords and set the clip's peak alone.
        notes = [
            replace(n, velocity=round(n.velocity * DRUMS_IN_MIX)) if n.channel == DRUMS else n for n in notes
        ]

    caption = _caption(arrangement, style, bass, inst, pad, bpm, key, rng)
    return Piece(
        notes=notes,
        programs=programs,
        tempo_bpm=bpm,
        end_beats=bars * 4 + 2,
        start_s=offset_beats * 60 / bpm,
        caption=caption,
        labels=labels(
            names, families, bpm, mode=key.mode if inst or bass else None, key=key.name if inst or bass else None,
            style=style.name if style else None, has_drums=style is not None, arrangement=arrangement,
        ),
    )  # fmt: skip


def _caption(arrangement, style, bass, inst, pad, bpm, key, rng) -> str:
    tempo = tempo_words(bpm, rng)
    if arrangement == "drums":
        form = int(rng.integers(0, 3))
        return [
            f"{style.name} drum beat, {tempo}",
            f"{style.name} drums, {tempo}",
            f"{tempo} {style.name} beat, drums only",
        ][form]
    if arrangement == "drums and bass":
        return f"{style.name} drums with {bass.name}, {tempo}"
    if arrangement == "band":
        if style.name == "jazz swing" and inst.name == "piano" and pad is None:
            return f"jazz trio with upright bass, {tempo}, {key.mode}"
        under = f", {pad.name}" if pad else ""
        return f"{style.name} with {inst.name}{under}, {bass.name} and drums, {tempo}, {key.mode}"
    if arrangement == "duo":
        if pad:
            return f"{inst.name} over {pad.name} and {bass.name}, {tempo}, {key.name}"
        return f"{inst.name} and {bass.name}, {tempo}, {key.name}"
    return [f"solo {inst.name}, {tempo}, {key.mode}", f"{inst.name} solo in {key.name}, {tempo}"][
        int(rng.integers(0, 2))
    ]
