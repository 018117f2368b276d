"""Speed of riff against the original Riffusion, side by side in one run.

    python bench/bench_gpu.py [--device cuda|cpu] [--model tiny|sd15|FOLDER] [--clips 8 16]
                              [--batch-size 8] [--repeat 3] [--skip-reference] [--json OUT]

The model is built in code with random weights (timing does not depend on weight values):
``tiny`` is riff.train.networks', ``sd15`` has Stable Diffusion 1.5's architecture (riffusion-model-v1's),
fp16 on CUDA and fp32 on the CPU; a FOLDER in diffusers layout is loaded as it is. The
components are saved to one folder that both sides load with ``from_pretrained``, so the weights
are identical. Cases, at the reference's defaults (50 steps, strength 0.75, guidance 7, og_beat):

- clip: one clip to audio (render_clip + stitch_walk) vs riffuse + image to audio;
- walk: N clips to the stitched track (batched render_walk) vs N sequential reference requests;
- first clip: time until render_walk yields its first clip vs one reference request;
- fast walk: DPM-Solver++ in 25 steps, with its image difference from the default walk.

Each case runs once untimed, then ``--repeat`` times; the table shows medians. The reference
runs as a subprocess in the side venv (``bench/reference_pipeline.py``, made by
``bench/setup_reference.sh``) before riff loads, so the two never share the device.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

# Runs as a script from a checkout: riff need not be installed.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from riff.audio.params import CLIP_SECONDS
from riff.models import Model, default_dtype, load_model, save_model
from riff.render import render_clip, render_walk
from riff.request import PromptEnd, Settings, Walk
from riff.seed_images import DEFAULT_SEED, seed_image
from riff.track import stitch_walk
from riff.train.networks import PRESETS, build_components, save_tiny_model
from riff.train.tokenizer import tiny_tokenizer
from riff.walk import Clip

log = logging.getLogger("bench_gpu")
BENCH_DIR = Path(__file__).resolve().parent
REF_PYTHON = BENCH_DIR.parent / ".ref-venv" / "bin" / "python"
# The reference's defaults, and the prompts of its README's example walk.
START = PromptEnd("jazzy rapping from paris", seed=42, denoising=0.75, guidance=7.0)
END = PromptEnd("church bells on sunday", seed=123, denoising=0.75, guidance=7.0)


def save_sd15(folder: Path, dtype: torch.dtype, seed: int = 0) -> Path:
    """Write random SD 1.5 components to `folder` in diffusers layout, weights in `dtype`."""
    # CLIP's tokenizer class; its vocabulary does not change the timing.
    components = build_components(PRESETS["sd15"], tiny_tokenizer(), seed)
    return save_model(components, folder, dtype)  # fp16 halves the folder and the GPU load


@dataclass
class Row:
    """One case: seconds of every timed repeat, ours and the reference's."""

    case: str
    clips: int
    batch: int
    ours: list[float]
    reference: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        ours = statistics.median(self.ours)
        ref = statistics.median(self.reference) if self.reference else None
        return {
            "case": self.case,
            "clips": self.clips,
            "batch": self.batch,
            "seconds": round(ours, 4),
            "audio_s_per_s": round(self.clips * CLIP_SECONDS / ours, 3),
            "reference_seconds": None if ref is None else round(ref, 4),
            "reference_audio_s_per_s": None if ref is None else round(self.clips * CLIP_SECONDS / ref, 3),
            "speedup": None if ref is None else round(ref / ours, 2),
            "all_seconds": [round(s, 4) for s in self.ours],
            "all_reference_seconds": [round(s, 4) for s in self.reference],
        }


def sync(device: torch.device) -> None:
    """Wait for the device's queued work, so wall time covers it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(device: torch.device, fn: Callable[[], object]) -> float:
    """Wall seconds of fn()."""
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def walk(model: Model, request: tuple[Walk, Settings]) -> tuple[float, float, list[Clip]]:
    """One walk to the stitched track: (total seconds, seconds to the first clip, clips)."""
    sync(model.device)
    start, first, clips = time.perf_counter(), math.nan, []
    for clip in render_walk(model, *request):
        if not clips:
            sync(model.device)
            first = time.perf_counter() - start
        clips.append(clip)
    stitch_walk(clips, request[0].crossfade_ms)
    sync(model.device)
    return time.perf_counter() - start, first, clips


def image_difference(a: list[Clip], b: list[Clip]) -> dict[str, float]:
    """Mean absolute difference (of 255) and PSNR (dB) between two walks' images."""
    x = torch.stack([c.pixels for c in a]).double()
    y = torch.stack([c.pixels for c in b]).double()
    mse = float(((x - y) ** 2).mean())
    psnr = math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)
    return {"mean_abs_diff": round(float((x - y).abs().mean()), 3), "psnr_db": round(psnr, 2)}


def bench_ours(model: Model, args: argparse.Namespace) -> tuple[list[Row], list[dict[str, object]]]:
    """Time riff's cases; also the fast preset's image difference from the default walk."""
    rows, quality = [], []
    base = Walk(start=START, end=END, seed_image=DEFAULT_SEED)
    settings = Settings(num_inference_steps=args.steps)

    def one_clip() -> object:
        clip = render_clip(model, START, settings)
        return stitch_walk([clip], base.crossfade_ms)

    timed(model.device, one_clip)  # warm-up
    rows.append(Row("clip", 1, 1, [timed(model.device, one_clip) for _ in range(args.repeat)]))
    log.info("clip: %s", rows[-1].ours)

    for n in args.clips:
        for batch in args.batch_size:
            walk_n = dataclasses.replace(base, num_clips=n)
            default = (walk_n, dataclasses.replace(settings, batch_size=batch))
            fast = (
                walk_n,
                dataclasses.replace(default[1], scheduler="dpm++", num_inference_steps=args.fast_steps),
            )
            runs = {}
            for name, request in (("walk", default), ("fast walk", fast)):
                walk(model, request)  # warm-up
                runs[name] = [walk(model, request) for _ in range(args.repeat)]
                log.info("%s of %d clips, batch %d: %s", name, n, batch, [r[0] for r in runs[name]])
            rows.append(Row("walk", n, batch, [total for total, _, _ in runs["walk"]]))
            rows.append(Row("first clip", 1, batch, [first for _, first, _ in runs["walk"]]))
            rows.append(Row("fast walk", n, batch, [total for total, _, _ in runs["fast walk"]]))
            diff = image_difference(runs["fast walk"][-1][2], runs["walk"][-1][2])
            quality.append({"clips": n, "batch": batch, **diff})
    return rows, quality


def run_reference(folder: Path, seed_path: Path, args: argparse.Namespace) -> list[dict[str, object]]:
    """Run bench/reference_pipeline.py in the side venv; its JSON records ([] when it fails)."""
    command = [
        str(args.reference_python),
        str(BENCH_DIR / "reference_pipeline.py"),
        "--model-dir",
        str(folder),
        "--seed-image",
        str(seed_path),
        "--device",
        str(args.device),
        "--dtype",
        str(args.dtype).removeprefix("torch."),
        "--steps",
        str(args.steps),
        "--repeat",
        str(args.repeat),
        "--threads",
        str(torch.get_num_threads()),
        "--clips",
        *map(str, args.clips),
    ]
    log.info("reference: %s", " ".join(command))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    records = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as child:
        for line in child.stdout:  # one record per case, logged as it comes
            if line.startswith("{"):
                records.append(json.loads(line))
                log.info("reference: %s", line.strip())
    if child.returncode != 0:
        log.error("reference failed (exit %d); its stderr is above", child.returncode)
    return records


def attach_reference(rows: list[Row], records: list[dict[str, object]]) -> None:
    """The reference's seconds beside ours: a request per clip, so first clip = one request."""
    by_case = {(r["case"], r["clips"]): r["seconds"] for r in records if "seconds" in r}
    for row in rows:
        key = ("clip", 1) if row.case in ("clip", "first clip") else ("walk", row.clips)
        row.reference = list(by_case.get(key, []))


def print_table(rows: list[Row], records: list[dict[str, object]], quality: list[dict[str, object]]) -> None:
    header = f"{'case':<12}{'clips':>6}{'batch':>6}{'ours s':>10}{'audio s/s':>11}{'ref s':>10}{'ref a s/s':>11}{'speedup':>9}"
    print(header)
    print("-" * len(header))
    for row in rows:
        s = row.summary()
        ref = s["reference_seconds"]
        refs = (
            "" if ref is None else f"{ref:>10.3f}{s['reference_audio_s_per_s']:>11.2f}{s['speedup']:>8.2f}x"
        )
        print(
            f"{row.case:<12}{row.clips:>6}{row.batch:>6}{s['seconds']:>10.3f}{s['audio_s_per_s']:>11.2f}{refs}"
        )
    for r in records:
        if r.get("case") in ("riffuse", "image_to_audio"):
            print(f"reference {r['case']} alone: {statistics.median(r['seconds']):.3f} s (median)")
    for q in quality:
        print(
            f"fast preset vs default, {q['clips']} clips: mean |diff| {q['mean_abs_diff']:.2f} / 255, "
            f"PSNR {q['psnr_db']:.1f} dB (meaningful only with trained weights)"
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--model",
        default=None,
        help="tiny, sd15 or a diffusers folder (default: sd15 on CUDA, tiny on the CPU)",
    )
    parser.add_argument("--clips", type=int, nargs="+", default=[8, 16], help="walk lengths")
    parser.add_argument("--batch-size", type=int, nargs="+", default=None, help="default 8 (GPU), 4 (CPU)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per case, after one warm-up")
    parser.add_argument(
        "--steps", type=int, default=50, help="the reference's default; lower only to smoke-test"
    )
    parser.add_argument("--fast-steps", type=int, default=25, help="steps of the dpm++ preset")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads, both sides")
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument(
        "--reference-python",
        type=Path,
        default=REF_PYTHON,
        help="python with riffusion 0.0.5 (default .ref-venv's)",
    )
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args(argv)
    args.device = torch.device(args.device)
    if args.device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda asked for, but no CUDA GPU is available")
    args.model = args.model or ("sd15" if args.device.type == "cuda" else "tiny")
    args.batch_size = args.batch_size or ([8] if args.device.type == "cuda" else [4])
    args.dtype = default_dtype(args.device)
    return args


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="riff-bench-") as tmp:
        # 1. One model folder and one seed image, shared by both sides.
        folder = Path(args.model)
        if args.model == "tiny":
            folder = save_tiny_model(Path(tmp) / "tiny")
        elif args.model == "sd15":
            log.info("building random SD 1.5 components")
            folder = save_sd15(Path(tmp) / "sd15", args.dtype)
        seed_path = Path(tmp) / "seed.png"
        seed_image(DEFAULT_SEED).save(seed_path)

        # 2. The reference first, so the two never hold the device together.
        records: list[dict[str, object]] = []
        if args.skip_reference:
            log.info("reference skipped (--skip-reference)")
        elif not shutil.which(str(args.reference_python)):
            log.warning("no %s: run bench/setup_reference.sh; reference skipped", args.reference_python)
        else:
            records = run_reference(folder, seed_path, args)

        # 3. Ours, from the same folder.
        model = load_model(str(folder), str(args.device), args.dtype)
        rows, quality = bench_ours(model, args)

    attach_reference(rows, records)
    env = {
        "device": torch.cuda.get_device_name(args.device) if args.device.type == "cuda" else "cpu",
        "model": args.model,
        "dtype": str(args.dtype).removeprefix("torch."),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "steps": args.steps,
        "fast_steps": args.fast_steps,
        "reference": next((r for r in records if r.get("case") == "env"), None),
    }
    print(
        f"riff vs riffusion 0.0.5: {args.model} ({env['dtype']}) on {env['device']}, {env['threads']} threads"
    )
    print_table(rows, records, quality)
    if args.json:
        result = {"env": env, "rows": [r.summary() for r in rows], "quality": quality, "reference": records}
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
