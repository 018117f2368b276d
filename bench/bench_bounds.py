"""Requests whose cost once grew with something other than their length: coprime sample rates,
extreme spectrogram formats, wide images, long restyles and walks of wide clips. Each case runs
in a process of its own, its heap capped (`--cap-gb`), and prints seconds, peak resident memory,
resident memory after the request (heap trimmed) and the disk it left.

    python bench/bench_bounds.py [--source DIR] [--cases a,b] [--cap-gb 4] [--seconds 60]

`--source` runs the same cases against another checkout of riff (an older commit, to compare);
the tiny random model stands in for a real one (the shape of time and disk, not real figures).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CASES = (
    "rate_44101",
    "rate_22051",
    "rate_16001",
    "rate_11026",
    "format_bomb",
    "eight_formats",
    "wide_image",
    "restyle",
    "wide_walk",
)


def rss_mb() -> float:
    """Resident memory now, from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return math.nan


def folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def tagged_png(tags: dict[int, int], width: int, folder: Path, name: str) -> Path:
    from PIL import Image

    image = Image.new("RGB", (width, tags.get(11040, 512)), "white")
    exif = image.getexif()
    exif.update(tags)
    path = folder / name
    image.save(path, exif=exif)
    return path


def run_rate(rate: int, folder: Path) -> dict:
    import soundfile as sf

    from riff.audio.files import load_audio

    path = folder / f"tone_{rate}.ogg"
    t = np.arange(rate) / rate
    sf.write(path, (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate)
    out = load_audio(path, 44100)
    return {"file_kb": path.stat().st_size / 1e3, "samples": out.shape[-1]}


def decode_file(path: Path, iters: int = 96) -> int:
    from PIL import Image

    from riff.audio.decode import Spectrogram, decode

    [(_, decoded)] = decode([Spectrogram.from_image(Image.open(path))], griffin_lim_iters=iters)
    return decoded.waveform.shape[-1]


def run_format_bomb(folder: Path) -> dict:
    tags = {11000: 192000, 11020: 1000, 11030: 1000, 11040: 512, 11060: 96000}
    path = tagged_png(tags, 64, folder, "bomb.png")
    return {"file_bytes": path.stat().st_size, "samples": decode_file(path, iters=8)}


def run_eight_formats(folder: Path) -> dict:
    """Eight images of large formats that are still accepted (a 300 ms padded window at up to
    192 kHz), decoded one after the other: what the format caches keep shows in `after_mb`."""
    rates = (192000, 176400, 160000, 144000, 128000, 120000, 112000, 96000)
    for i, rate in enumerate(rates):
        decode_file(tagged_png({11000: rate, 11030: 300, 11040: 512}, 64, folder, f"f{i}.png"), iters=8)
    return {"formats": len(rates)}


def run_wide_image(folder: Path, columns: int = 8192) -> dict:
    from PIL import Image

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (512, columns), dtype=np.uint8)
    path = folder / "wide.png"
    Image.fromarray(np.stack([pixels] * 3, axis=-1)).save(path)
    return {"columns": columns, "samples": decode_file(path)}


def engine(folder: Path):
    from riff.serve.engine import Engine
    from riff.train.networks import save_tiny_model

    return Engine(str(save_tiny_model(folder / "tiny")), root=folder / "results", device="cpu")


def run_restyle(folder: Path, seconds: float) -> dict:
    import soundfile as sf

    from riff.request import PromptEnd, Restyle, Settings

    song = folder / "song.wav"
    t = np.arange(int(seconds * 44100) + 44100) / 44100
    sf.write(song, np.stack([np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 330 * t)], -1) * 0.3, 44100)
    studio = engine(folder)
    restyle = Restyle(PromptEnd("a"), PromptEnd("b"), duration_s=seconds, stereo=True)
    handed: dict[Path, int] = {}  # each distinct track file a page is handed (Gradio copies it)
    for result in studio.restyle(song, restyle, Settings(num_inference_steps=2), session="bench"):
        handed.setdefault(result.track, result.track.stat().st_size)
    return {
        "clips": len(result.clips),
        "results_mb": folder_mb(studio.root),
        "track_files": len(handed),
        "handed_track_mb": sum(handed.values()) / 1e6,
    }


def run_wide_walk(folder: Path, clips: int = 8) -> dict:
    from riff.request import PromptEnd, Settings, Walk

    studio = engine(folder)
    walk = Walk(PromptEnd("a"), PromptEnd("b"), num_clips=clips, width=2048)
    *_, result = studio.render(walk, Settings(num_inference_steps=2), session="bench")
    return {"clips": len(result.clips), "results_mb": folder_mb(studio.root)}


def one(case: str, args: argparse.Namespace) -> dict:
    """Run one case in this process and measure it."""
    cap = int(args.cap_gb * 2**30)
    resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))
    import riff.audio.decode
    import riff.serve.engine  # noqa: F401  (imports are not the request's memory)
    from riff.runtime import give_back_memory

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        before = rss_mb()
        start = time.perf_counter()
        try:
            if case.startswith("rate_"):
                figures = run_rate(int(case.split("_")[1]), folder)
            elif case == "restyle":
                figures = run_restyle(folder, args.seconds)
            else:
                figures = globals()[f"run_{case}"](folder)
            figures["outcome"] = "ok"
        except (ValueError, RuntimeError, MemoryError) as error:
            figures = {"outcome": " ".join(str(error).split())[:110]}
        figures["seconds"] = round(time.perf_counter() - start, 2)
        give_back_memory()
        figures["before_mb"] = round(before)
        figures["peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        figures["after_mb"] = round(rss_mb())
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--cap-gb", type=float, default=4.0, help="heap cap of each case's process")
    parser.add_argument("--seconds", type=float, default=60.0, help="the restyled region's length")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    sys.path.insert(0, str(args.source.resolve()))
    if args.one:
        print(json.dumps(one(args.one, args)))
        return
    rows = {}
    for case in args.cases.split(","):
        command = [sys.executable, __file__, "--one", case, "--source", str(args.source)]
        command += ["--cap-gb", str(args.cap_gb), "--seconds", str(args.seconds)]
        done = subprocess.run(command, capture_output=True, text=True, cwd=args.source)
        lines = done.stdout.strip().splitlines()
        rows[case] = json.loads(lines[-1]) if lines else {"outcome": f"died ({done.returncode})"}
        print(f"{case:14s} {json.dumps(rows[case])}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
