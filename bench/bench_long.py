"""Longer music with the bundled model on this machine: continuation against the reference's
plain crossfades, loop wraps, wider clips, and the endless riff's real-time factor.

    python bench/bench_long.py [--model FOLDER] [--threads 2] [--clips 6] [--chunks 8] [--json OUT]

- joins: the same walk ("solo piano, slow, minor" -> "rock drum beat, 120 bpm", --clips clips)
  stitched as the reference does (each clip restarts, 250 ms crossfades) and with continuation
  (each clip keeps the last quarter of the one before). Spectral flux and 400 ms loudness step
  at the joins against inside the clips (bench_codec's measure), and the mean image distance
  between neighbouring clips' new music.
- loop wrap: a 3-clip loop played on repeat, its wrap measured like the joins and for a click
  (the largest sample step at the wrap over the track's 99.9th percentile step), against the
  same clips stitched as a plain track and repeated (a hard cut at the wrap).
- width: seconds and peak memory (RSS high-water mark) for one clip 512, 1024 and 2048 columns
  wide (5.11, 10.23, 20.47 s), the seed image tiled on its beat.
- endless: --chunks chunks of the endless riff through the studio's engine: seconds of music
  made against seconds spent (below 1x it keeps up with a listener).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_codec import track_join_stats  # noqa: E402

from riff.audio.loudness import integrated_loudness, limit_peak, true_peak  # noqa: E402
from riff.audio.stitch import stitch_clips  # noqa: E402
from riff.endless import Endless  # noqa: E402
from riff.models import load_model  # noqa: E402
from riff.render import render  # noqa: E402
from riff.request import Loop, PromptEnd, Settings, Variations, Walk  # noqa: E402
from riff.runtime import keep_large_buffers  # noqa: E402
from riff.serve.engine import Engine  # noqa: E402
from riff.track import stitch, stitch_walk  # noqa: E402

START = PromptEnd("solo piano, slow, minor", seed=1)
END = PromptEnd("rock drum beat, 120 bpm", seed=2)
HOP = 441  # samples per 10 ms frame


def join_frames(clips: list) -> list[int]:
    """Frames (10 ms) of the joins' centres in the stitched track."""
    joins, offset = [], 0
    for before, clip in zip(clips, clips[1:]):
        kept = clip.params.num_samples(clip.kept) if clip.kept else 0
        offset += before.waveform.shape[-1] - kept
        joins.append((offset + kept // 2) // HOP)
    return joins


def neighbour_distance(clips: list) -> float:
    """Mean absolute difference (0..1) between neighbouring clips' images, new columns only."""
    width = min(c.pixels.shape[-1] - c.kept for c in clips)
    new = torch.stack([c.pixels[:, :, c.kept : c.kept + width] for c in clips]) / 255
    return float((new[1:] - new[:-1]).abs().mean())


def joins(model, clips: int, settings: Settings) -> dict:
    out = {}
    for name, continuation in (("reference", False), ("continuation", True)):
        walk = Walk(START, END, num_clips=clips, continuation=continuation)
        rendered = list(render(model, walk, settings))
        track = stitch(rendered, walk)
        out[name] = {
            **track_join_stats(track, join_frames(rendered)),
            "neighbour_distance": neighbour_distance(rendered),
            "seconds": track.shape[-1] / 44100,
            **loudness(rendered, walk, track),
        }
    return out


def loudness(clips: list, walk: Walk, track: torch.Tensor) -> dict:
    """The track's loudness and true peak as delivered, against a single gain capped by the
    true peak (riff before its limiter)."""
    raw = stitch_clips([c.waveform for c in clips], int(walk.crossfade_ms * 44.1), [
        c.params.num_samples(c.kept) if c.kept else 0 for c in clips
    ])  # fmt: skip
    gain = 10 ** ((-14.0 - integrated_loudness(raw, 44100)) / 20)
    capped, _ = limit_peak(raw * gain, 44100)
    return {
        "lufs": integrated_loudness(track, 44100),
        "true_peak_dbfs": 20 * math.log10(true_peak(track, 44100)),
        "lufs_peak_capped": integrated_loudness(capped, 44100),
    }


def loop_wrap(model, settings: Settings) -> dict:
    loop = Loop(PromptEnd("lofi hip hop beat, mellow", seed=5), clips=3)
    clips = list(render(model, loop, settings))
    length = sum(c.waveform.shape[-1] for c in clips)
    wraps = [length // HOP, 2 * length // HOP]  # played three times over: two wraps
    seamless = stitch(clips, loop).repeat(1, 3)
    plain = stitch_walk(clips, loop.crossfade_ms).repeat(1, 3)
    return {
        "riff": {**track_join_stats(seamless, wraps), "click": click(seamless, [length, 2 * length])},
        "plain_repeat": {**track_join_stats(plain, wraps), "click": click(plain, [length, 2 * length])},
    }


def click(track: torch.Tensor, at: list[int]) -> float:
    """The largest sample-to-sample step within 2 ms of `at` over the track's 99.9th percentile
    step: a click stands out above 1."""
    steps = track.diff(dim=-1).abs().amax(dim=0)
    near = torch.cat([steps[max(0, a - 88) : a + 88] for a in at])
    return float(near.max() / torch.quantile(steps[:: max(1, steps.numel() // 1_000_000)], 0.999))


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets the RSS high-water mark
    except OSError:
        pass


def widths(model, settings: Settings) -> list[dict]:
    out = []
    list(render(model, Variations(START, (1,)), settings))  # warm-up: one clip
    for width in (512, 1024, 2048):
        _reset_peak()
        before = _peak_rss_mb()
        begin = time.perf_counter()
        [clip] = list(render(model, Variations(START, (1,), width=width), settings))
        seconds = time.perf_counter() - begin
        out.append(
            {
                "columns": width,
                "audio_s": clip.waveform.shape[-1] / 44100,
                "seconds": seconds,
                "peak_rss_mb": _peak_rss_mb(),
                "peak_rise_mb": _peak_rss_mb() - before,
            }
        )
    return out


def endless(model, chunks: int, settings: Settings) -> dict:
    engine = Engine(model)
    riff = Endless(PromptEnd("lofi hip hop beat, mellow", seed=0))
    stream = engine.endless(riff, settings)
    for _ in range(chunks - 1):
        next(stream)
    chunk = next(stream)
    stream.close()
    engine.close()
    return {
        "music_s": chunk.music_s,
        "wall_s": chunk.wall_s,
        "real_time_factor": chunk.wall_s / chunk.music_s,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="default: the bundled model")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--clips", type=int, default=6)
    parser.add_argument("--chunks", type=int, default=8)
    parser.add_argument("--steps", type=int, default=None, help="default: the model's")
    parser.add_argument("--endless-iters", type=int, default=None, help="phase retrieval in the endless riff")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    keep_large_buffers()
    model = load_model(args.model, device="cpu")
    settings = Settings(num_inference_steps=args.steps)
    print(f"{model.describe()}, {args.threads} threads")
    report = {"joins": joins(model, args.clips, settings)}
    for name, stats in report["joins"].items():
        print(
            f"walk of {args.clips}, {name:12s}: flux at joins max {stats['flux_joins_max']:.2f} mean "
            f"{stats['flux_joins_mean']:.3f} vs inside max {stats['flux_inside_max']:.2f} mean "
            f"{stats['flux_inside_mean']:.3f}; loudness step median at joins "
            f"{stats['loudness_step_joins_db_median']:.1f} dB vs inside {stats['loudness_step_inside_db_median']:.1f} dB; "
            f"neighbours {stats['neighbour_distance']:.3f}; {stats['seconds']:.1f} s; "
            f"{stats['lufs']:.1f} LUFS (true peak {stats['true_peak_dbfs']:.1f} dBFS; "
            f"{stats['lufs_peak_capped']:.1f} LUFS with a peak-capped gain)"
        )
    report["loop"] = loop_wrap(model, settings)
    for name, stats in report["loop"].items():
        print(
            f"3-clip loop on repeat, {name:12s}: flux at the wrap max {stats['flux_joins_max']:.2f} mean "
            f"{stats['flux_joins_mean']:.3f} vs elsewhere {stats['flux_inside_max']:.2f} / "
            f"{stats['flux_inside_mean']:.3f}; loudness step median {stats['loudness_step_joins_db_median']:.1f} dB "
            f"vs {stats['loudness_step_inside_db_median']:.1f} dB; click at the wrap {stats['click']:.2f}"
        )
    report["width"] = widths(model, settings)
    for row in report["width"]:
        print(
            f"one clip {row['columns']:4d} columns ({row['audio_s']:5.2f} s): {row['seconds']:.2f} s, "
            f"peak RSS {row['peak_rss_mb']:.0f} MB (+{row['peak_rise_mb']:.0f} MB)"
        )
    iters = args.endless_iters if args.endless_iters is not None else settings.griffin_lim_iters
    report["endless"] = endless(model, args.chunks, dataclasses.replace(settings, griffin_lim_iters=iters))
    e = report["endless"]
    print(
        f"endless riff, {args.chunks} chunks, {iters} phase iterations: {e['music_s']:.1f} s of music in {e['wall_s']:.1f} s "
        f"({e['real_time_factor']:.2f}x real time; below 1 keeps up)"
    )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
