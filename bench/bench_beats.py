"""A song's own bars: how well `riff.beats.estimate_beat` finds tempo and first downbeat.

Synthesised drum tracks at known tempos and offsets (every bundled pattern, several tempos),
then real songs (any audio files given, else the Frozen Bubble music Debian ships in
`fb-music-high` where installed), judged against librosa's beat tracker, which riff does not use.

    python bench/bench_beats.py
    python bench/bench_beats.py song.ogg other.flac
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from riff import seedgen  # noqa: E402
from riff.beats import estimate_beat  # noqa: E402
from riff.grid import Grid  # noqa: E402

SR = 44100
DEBIAN_SONGS = sorted(Path("/usr/share/games/frozen-bubble/snd").glob("frozen-mainzik-*.ogg"))


def synthesised() -> None:
    tempos, offsets = itertools.cycle([63, 87, 101, 118, 132, 149, 171]), itertools.cycle([0.0, 0.37, 1.21])
    rows = []
    for name in seedgen.PATTERNS:
        for _ in range(3):
            bpm, offset = next(tempos), next(offsets)
            loop = seedgen.render(name, Grid.parse(bpm, key="D minor", bars=2))
            song = np.concatenate([np.zeros(int(offset * SR)), np.tile(loop, 4)])
            started = time.perf_counter()
            found = estimate_beat(torch.from_numpy(song).float()[None], SR)
            seconds = time.perf_counter() - started
            bar = found.bar_s
            miss = abs((found.downbeat_s - offset + bar / 2) % bar - bar / 2)
            rows.append((abs(found.bpm / bpm - 1) <= 0.02, miss <= 0.03, seconds))
            print(
                f"{name:10s} {bpm:4d} bpm at {offset:.2f} s: {found.bpm:7.2f} bpm, downbeat {found.downbeat_s:.3f} s ({1000 * miss:.0f} ms off the bar) {seconds:.1f} s"
            )
    tempo, downbeat, seconds = (np.mean([r[i] for r in rows]) for i in range(3))
    print(
        f"\nsynthesised: tempo within 2% {tempo:.0%}, first downbeat within 30 ms {downbeat:.0%}, {seconds:.1f} s each ({len(rows)} tracks)"
    )


def real(paths: list[Path]) -> None:
    import librosa

    for path in paths:
        y, _ = librosa.load(str(path), sr=SR, mono=True, duration=60)
        found = estimate_beat(torch.from_numpy(y)[None], SR)
        _, beats = librosa.beat.beat_track(y=y, sr=SR, hop_length=512, units="time")
        judged = 60 * (len(beats) - 1) / (beats[-1] - beats[0])
        agree = "agrees" if abs(found.bpm / judged - 1) <= 0.02 else f"ratio {found.bpm / judged:.2f}"
        print(
            f"{path.name}: riff {found.bpm:.2f} bpm, downbeat {found.downbeat_s:.2f} s; librosa {judged:.2f} bpm, first beat {beats[0]:.2f} s ({agree})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "songs", nargs="*", type=Path, help="audio files (default: Debian's Frozen Bubble music)"
    )
    args = parser.parse_args()
    synthesised()
    songs = args.songs or DEBIAN_SONGS
    if songs:
        real(songs)
    else:
        print("no real songs: pass audio files, or apt-get install fb-music-high")


if __name__ == "__main__":
    main()
