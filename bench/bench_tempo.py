"""Tempo, key and bars: does riff play what was asked? Judged by tools riff does not use.

With riff-small (or --model) on the CPU, bundled patterns at tempos across 60-180 bpm in several
keys, a few seeds each, as one-clip renders; then loops and walks of several clips for lengths
and joins. Judges: librosa's beat tracker (tempo from its beats: 60 (n - 1) / (last - first)),
librosa's chroma with the Krumhansl-Kessler profiles for the key, librosa's onset detector.

    pip install -r bench/requirements.txt
    nice -n 10 python bench/bench_tempo.py                       # ~40 clips of riff-small
    nice -n 10 python bench/bench_tempo.py --steps 10 --denoising 0.5 --join-cases 2 --joins-only
    python bench/bench_tempo.py --model tiny --steps 2 --quick   # the code path in a minute

Prints a table and writes --json. The clip is judged looped 4 times, as a DAW plays a loop.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import librosa  # noqa: E402

from riff.grid import Key  # noqa: E402
from riff.request import Loop, PromptEnd, Settings, Variations, Walk  # noqa: E402

SR = 44100
HOP = 128  # 2.9 ms frames: the judges' time resolution
# Krumhansl & Kessler (1982) probe-tone ratings, C major and C minor.
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
PROMPTS = {
    "og_beat": "hip hop drum beat",
    "agile": "fast funk drums",
    "marim": "marimba melody",
    "motorway": "house music with bass",
    "vibes": "mellow jazz vibraphone",
    "breakbeat": "breakbeat drums",
    "halftime": "trap beat with 808",
}
TEMPOS = [60, 75, 90, 105, 120, 135, 150, 165, 180]
KEYS = ["A minor", "C major", "E minor", "F major", "D minor", "G major", "Bb major", "F# minor"]


def judge_tempo(y: np.ndarray, asked: float, prior: float = 120.0) -> tuple[float, str]:
    """(tempo from the beat tracker's beats, verdict: exact, double, half or off). `prior`:
    the tracker's start tempo (librosa's default 120; the asked tempo tells half and double
    apart the way a musician who knows the tempo would)."""
    _, beats = librosa.beat.beat_track(y=y, sr=SR, hop_length=HOP, start_bpm=prior, units="time")
    if len(beats) < 3:
        return 0.0, "off"
    tempo = 60 * (len(beats) - 1) / (beats[-1] - beats[0])
    for verdict, ratio in (("exact", 1.0), ("double", 2.0), ("half", 0.5)):
        if abs(tempo / (asked * ratio) - 1) <= 0.02:
            return tempo, verdict
    return tempo, "off"


def judge_key(y: np.ndarray, asked: Key) -> tuple[str, str]:
    """(estimated key, verdict: exact, relative, fifth, parallel or off)."""
    chroma = librosa.feature.chroma_cqt(y=y, sr=SR, hop_length=512).mean(axis=1)
    scores = []
    for tonic in range(12):
        for minor, profile in ((False, KK_MAJOR), (True, KK_MINOR)):
            scores.append((np.corrcoef(np.roll(profile, tonic), chroma)[0, 1], Key(tonic, minor)))
    found = max(scores, key=lambda s: s[0])[1]
    relative = Key((asked.tonic + (3 if asked.minor else -3)) % 12, not asked.minor)
    if found == asked:
        verdict = "exact"
    elif found == relative:
        verdict = "relative"
    elif found.minor == asked.minor and (found.tonic - asked.tonic) % 12 in (5, 7):
        verdict = "fifth"
    elif found.tonic == asked.tonic:
        verdict = "parallel"
    else:
        verdict = "off"
    return found.name, verdict


def join_onsets(track: np.ndarray, joins: list[int], grid_step: float, window: float) -> list[float]:
    """Distances (s) from the nearest 16th-note line of onsets within `window` s of a join."""
    onsets = librosa.onset.onset_detect(y=track, sr=SR, hop_length=HOP, units="time", backtrack=True)
    out = []
    for join in joins:
        t0 = join / SR
        for t in onsets[np.abs(onsets - t0) <= window]:
            out.append(abs(t / grid_step - round(t / grid_step)) * grid_step)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="assets/riff-small", help="a model folder, or tiny")
    parser.add_argument("--steps", type=int, default=None, help="default: the model's")
    parser.add_argument("--seeds", type=int, default=2, help="seeds per (pattern, tempo, key)")
    parser.add_argument("--per-pattern", type=int, default=3, help="tempos per pattern")
    parser.add_argument("--denoising", type=float, default=0.6)
    parser.add_argument("--join-cases", type=int, default=3, help="loops and walks judged at their joins")
    parser.add_argument(
        "--joins-only", action="store_true", help="judge only the joins (no one-clip renders)"
    )
    parser.add_argument("--quick", action="store_true", help="two patterns, one seed, one loop")
    parser.add_argument("--patterns", type=int, default=None, help="only the first N patterns")
    parser.add_argument("--mask", default=None, help="a mask for every render (name or image path)")
    parser.add_argument(
        "--seeds-only", action="store_true", help="judge the synthesised seeds alone: every pattern x tempo"
    )
    parser.add_argument(
        "--mask-hz", type=float, default=None, help="keep the seed below this (riff.seed_images.grid_mask)"
    )
    parser.add_argument("--json", type=Path, default=Path("bench/out/tempo.json"))
    args = parser.parse_args()
    if args.seeds_only:
        judge_seeds(args.json)
        return
    model = load(args.model)
    if args.mask_hz is not None:
        import tempfile

        from riff.seed_images import grid_mask

        args.mask = str(Path(tempfile.mkdtemp()) / "grid_mask.png")
        grid_mask(64, model.params, args.mask_hz).save(args.mask)
    patterns = list(PROMPTS)[:2] if args.quick else list(PROMPTS)[: args.patterns]
    seeds = 1 if args.quick else args.seeds
    args.join_cases = 1 if args.quick else args.join_cases
    rows = []
    started = time.perf_counter()
    tempos, keys = itertools.cycle(TEMPOS), itertools.cycle(KEYS)
    for name in [] if args.joins_only else patterns:
        for _ in range(args.per_pattern):
            bpm, key = next(tempos), next(keys)
            settings = Settings(num_inference_steps=args.steps, bpm=bpm, key=key, batch_size=seeds)
            end = PromptEnd(PROMPTS[name], 0, denoising=args.denoising)
            clips = list(
                render(model, Variations(end, tuple(range(seeds)), seed_image=name, mask=args.mask), settings)
            )
            grid = settings.grid()
            for seed, clip in enumerate(clips):
                y = np.tile(clip.waveform.mean(0).numpy(), 4)
                tempo, tempo_verdict = judge_tempo(y, bpm)
                tempo_told, told_verdict = judge_tempo(y, bpm, prior=bpm)
                found, key_verdict = judge_key(y, grid.key)
                rows.append(
                    {
                        "pattern": name,
                        "bpm": bpm,
                        "key": grid.key.name,
                        "seed": seed,
                        "tempo": round(tempo, 2),
                        "tempo_verdict": tempo_verdict,
                        "tempo_told": round(tempo_told, 2),
                        "tempo_told_verdict": told_verdict,
                        "found_key": found,
                        "key_verdict": key_verdict,
                        "length_error": clip.waveform.shape[-1] - grid.track_samples(1, SR),
                    }
                )
                print(json.dumps(rows[-1]), flush=True)
    joins = judge_joins(model, args)
    report(rows, joins, time.perf_counter() - started, args.json)


def judge_seeds(path: Path) -> None:
    """The lever alone: each pattern's synthesised loop (no model) at every tempo, keys in turn."""
    from riff import seedgen
    from riff.grid import Grid

    keys, counts = itertools.cycle(KEYS), {}
    for name in seedgen.PATTERNS:
        for bpm in TEMPOS:
            grid = Grid.parse(bpm, key=next(keys))
            y = np.tile(seedgen.render(name, grid), 4)
            verdicts = (judge_tempo(y, bpm)[1], judge_tempo(y, bpm, prior=bpm)[1], judge_key(y, grid.key)[1])
            for field, verdict in zip(("tempo", "tempo_told", "key"), verdicts):
                counts.setdefault(field, {}).setdefault(verdict, 0)
                counts[field][verdict] += 1
            print(name, bpm, grid.key.name, *verdicts, flush=True)
    print(json.dumps(counts))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(counts, indent=2))


def judge_joins(model, args: argparse.Namespace) -> list[dict]:
    """Loops and a walk of 3 clips: track length against the grid's, onsets by the joins."""
    from riff.track import stitch

    cases = [
        (
            Loop(PromptEnd("house music with bass", 3, denoising=args.denoising), 3, "motorway"),
            124,
            "A minor",
        ),
        (Loop(PromptEnd("hip hop drum beat", 4, denoising=args.denoising), 3, "og_beat"), 87, "E minor"),
        (
            Walk(
                PromptEnd("breakbeat drums", 5, denoising=args.denoising),
                PromptEnd("fast funk drums", 6, denoising=args.denoising),
                num_clips=3,
                seed_image="breakbeat",
            ),
            100,
            "D minor",
        ),
    ]
    out = []
    for music, bpm, key in cases[: args.join_cases]:
        settings = Settings(num_inference_steps=args.steps, bpm=bpm, key=key)
        grid = settings.grid()
        clips = list(render(model, music, settings))
        track = stitch(clips, music)[0].numpy()
        bounds = grid.clip_bounds(len(clips), SR)
        joins = bounds[1:-1] + ([0] if isinstance(music, Loop) else [])
        if isinstance(music, Loop):  # the wrap: judged on the track played twice round
            track, joins = np.tile(track, 2), bounds[1:-1] + [bounds[-1]]
        step = grid.bar_seconds / grid.steps_per_bar
        near = join_onsets(track, joins, step, window=grid.bar_seconds / 4)
        every = join_onsets(track, list(range(0, len(track), SR // 10)), step, window=0.05)
        out.append(
            {
                "kind": type(music).__name__,
                "bpm": bpm,
                "clips": len(clips),
                "length_error": len(stitch(clips, music)[0]) - grid.track_samples(len(clips), SR),
                "join_onsets": len(near),
                "join_onset_ms_median": round(1000 * float(np.median(near)), 2) if near else None,
                "join_onset_ms_max": round(1000 * float(np.max(near)), 2) if near else None,
                "all_onset_ms_median": round(1000 * float(np.median(every)), 2) if every else None,
            }
        )
        print(json.dumps(out[-1]), flush=True)
    return out


def load(name: str):
    import tempfile

    from riff.models import load_model

    if name == "tiny":
        from riff.train.networks import save_tiny_model

        name = str(save_tiny_model(tempfile.mkdtemp()))
    return load_model(name, "cpu")


def render(model, music, settings):
    from riff.render import render as render_music

    return render_music(model, music, settings)


def report(rows: list[dict], joins: list[dict], seconds: float, path: Path) -> None:
    n = len(rows)

    def share(field: str, verdict: str) -> float:
        return sum(r[field] == verdict for r in rows) / n

    summary = {"clips": n, "seconds": round(seconds)}
    if rows:
        summary.update(
            {f"tempo_{v}": round(share("tempo_verdict", v), 3) for v in ("exact", "double", "half", "off")}
        )
        summary.update(
            {
                f"tempo_told_{v}": round(share("tempo_told_verdict", v), 3)
                for v in ("exact", "double", "half", "off")
            }
        )
        summary.update(
            {
                f"key_{v}": round(share("key_verdict", v), 3)
                for v in ("exact", "relative", "fifth", "parallel", "off")
            }
        )
        summary["clip_length_error_max"] = max(abs(r["length_error"]) for r in rows)
    if joins:
        summary["track_length_error_max"] = max(abs(j["length_error"]) for j in joins)
        summary["join_onset_ms_max"] = max((j["join_onset_ms_max"] or 0) for j in joins)
        # The README's figure: per case, the median distance from the 16th grid near its joins.
        summary["join_onset_ms_medians"] = [j["join_onset_ms_median"] for j in joins]
    print("\n| measure | riff |\n|---|---|")
    for key, value in summary.items():
        print(f"| {key} | {value} |")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"summary": summary, "clips": rows, "joins": joins}, indent=2))


if __name__ == "__main__":
    main()
