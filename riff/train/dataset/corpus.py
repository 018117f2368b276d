"""Pieces from the music21 corpus (optional: `pip install music21`): Bach chorales in four
parts on an ensemble, folk songs and fiddle tunes as melodies, at a tempo drawn from the seed."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from riff.audio.params import CLIP_SECONDS
from riff.train.dataset.labels import Piece, labels, tempo_words
from riff.train.dataset.midi import Note
from riff.train.dataset.music import INSTRUMENTS, KEY_NAMES

# Ensembles for four-part harmony: (caption, GM programs soprano..bass, family).
ENSEMBLES = (
    ("church organ", (19, 19, 19, 19), "organ"),
    ("piano", (0, 0, 0, 0), "keys"),
    ("string quartet", (40, 40, 41, 42), "strings"),
    ("brass quartet", (56, 56, 57, 58), "brass"),
    ("woodwind quartet", (73, 68, 71, 70), "woodwind"),
    ("choir", (52, 52, 52, 52), "voice"),
    ("strings", (48, 48, 48, 48), "strings"),
)
MELODY_INSTRUMENTS = ("flute", "violin", "piano", "clarinet", "saxophone", "trumpet", "vibraphone",
                      "marimba", "harp", "acoustic guitar", "synth lead", "electric piano", "organ")  # fmt: skip
TEMPI = {"slow": (56, 84), "medium": (92, 124), "fast": (132, 168)}


def available() -> bool:
    try:
        import music21  # noqa: F401
    except ImportError:
        return False
    return True


def _works(kind: str) -> list[Path]:
    from music21 import corpus

    if kind == "chorale":
        return sorted(p for p in corpus.getComposer("bach") if re.match(r"bwv\d", p.name))
    return sorted(corpus.getComposer("essenFolksong" if kind == "folk song" else "ryansMammoth"))


def corpus_piece(rng: np.random.Generator) -> Piece:
    """A clip's worth of one corpus work, on instruments and at a tempo drawn from `rng`."""
    from music21 import corpus

    # 1. Pick a work: a chorale, or one tune of a folk-song or fiddle-tune collection.
    kind = str(rng.choice(["chorale", "chorale", "folk song", "fiddle tune"]))
    works = _works(kind)
    path = works[int(rng.integers(0, len(works)))]
    number = None
    if path.suffix == ".abc":
        numbers = [int(n) for n in re.findall(r"^X:\s*(\d+)", path.read_text("latin-1"), re.M)]
        number = numbers[int(rng.integers(0, len(numbers)))]
    score = corpus.parse(str(path), number=number) if number else corpus.parse(str(path))
    key = score.analyze("key")
    mode = key.mode if key.mode in ("major", "minor") else None
    key_name = f"{KEY_NAMES[key.tonic.pitchClass]} {key.mode}"

    # 2. Instruments: one per part for harmony, one for a melody.
    parts = list(score.parts) if hasattr(score, "parts") and len(score.parts) else [score]
    if kind == "chorale":
        ensemble, programs_by_part, family = ENSEMBLES[int(rng.integers(0, len(ENSEMBLES)))]
        names, families = [ensemble], [family]
    else:
        inst = INSTRUMENTS[str(rng.choice(MELODY_INSTRUMENTS))]
        parts, programs_by_part = parts[:1], (inst.program,)
        names, families = [inst.name], [inst.family]

    # 3. Notes from a random beat on, looped if the work is shorter than the clip.
    band = str(rng.choice(sorted(TEMPI)))
    bpm = float(rng.integers(*TEMPI[band]))
    events = []
    for channel, part in enumerate(parts[:4]):
        for n in part.flatten().notes:
            if n.quarterLength <= 0:
                continue
            for p in n.pitches:
                events.append((float(n.offset), float(n.quarterLength), int(p.midi), channel))
    if not events:
        raise ValueError(f"no notes in {path.name} (number {number})")
    length = max(s + d for s, d, _, _ in events)
    need = CLIP_SECONDS * bpm / 60 + 2
    start = float(rng.integers(0, max(1, int(length - need)))) if length > need else 0.0
    notes = []
    for loop in range(math.ceil((start + need) / length)):
        for s, d, p, c in events:
            t = s + loop * length - start
            if -1e-6 < t < need:
                notes.append(Note(max(t, 0.0), d, p, 90, c))

    what = {"chorale": "bach chorale", "folk song": "folk melody", "fiddle tune": "fiddle tune"}[kind]
    tempo = tempo_words(bpm, rng)
    caption = (
        f"{what} on {names[0]}, {tempo}, {mode or key_name}"
        if rng.random() < 0.5
        else f"{names[0]} {'singing' if names[0] == 'choir' else 'playing'} a {what}, {tempo}, {key_name}"
    )
    work = f"{path.parent.name}/{path.name}" + (f"#{number}" if number else "")
    return Piece(
        notes=notes,
        programs={c: programs_by_part[c] for c in range(len(parts[:4]))},
        tempo_bpm=bpm,
        end_beats=need + 2,
        start_s=0.0,
        caption=caption,
        labels=labels(names, families, bpm, mode=mode, key=key_name, style=kind, has_drums=False,
                      arrangement="ensemble" if kind == "chorale" else "solo"),
        provenance={"work": work, "corpus": "music21"},
    )  # fmt: skip
