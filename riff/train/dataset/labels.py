"""What a clip is: its notes to render, its structured labels and a caption a person would type."""

from __future__ import annotations

from dataclasses import dataclass, field

from riff.train.dataset.midi import Note

LICENSES = {
    "generated": "MIT (riff's own generated patterns)",
    "music21": "public-domain score from the music21 corpus (music21: BSD-3-Clause)",
    "soundfont": "FluidR3_GM soundfont, MIT (Frank Wen; Debian fluid-soundfont-gm)",
}


def tempo_band(bpm: float) -> str:
    """Coarse tempo label: slow below 90 bpm, fast from 130 bpm."""
    return "slow" if bpm < 90 else "fast" if bpm >= 130 else "medium"


@dataclass(frozen=True)
class Piece:
    """Notes to render and what to say about them. `start_s` is where the clip is cut."""

    notes: list[Note]
    programs: dict[int, int]
    tempo_bpm: float
    end_beats: float
    start_s: float
    caption: str
    labels: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)


def labels(
    instruments: list[str],
    families: list[str],
    bpm: float,
    *,
    mode: str | None,
    key: str | None,
    style: str | None,
    has_drums: bool,
    arrangement: str,
) -> dict:
    """Structured labels for a later classifier; `family` is the leading instrument's."""
    lead = [f for f in families if f not in ("drums", "bass")]
    return {
        "instruments": instruments,
        "family": lead[0] if lead else families[0],
        "families": sorted(set(families)),
        "has_drums": has_drums,
        "tempo_bpm": round(bpm, 1),
        "tempo_band": tempo_band(bpm),
        "mode": mode,
        "key": key,
        "style": style,
        "arrangement": arrangement,
    }


def tempo_words(bpm: float, rng) -> str:
    """The tempo as people write it: "120 bpm", "slow", or both."""
    choice = int(rng.integers(0, 3))
    band = tempo_band(bpm)
    band = "medium tempo" if band == "medium" else band
    return [f"{round(bpm)} bpm", band, f"{band}, {round(bpm)} bpm"][choice]
