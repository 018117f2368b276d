"""Correctness of the GPU path: the first step of bench/gpu_check.sh.

    python bench/gpu_correctness.py [--device cuda] [--model sd15|tiny] [--steps 20] --json OUT

With random weights of the chosen architecture (sd15: riffusion-model-v1's), in the device's
dtype (fp16 on CUDA), it renders a 4-clip walk and a restyle, and checks:
- no NaN or inf anywhere: latents' images, the VAE decode (fp16 included) and the audio;
- the images are close to an fp32 render of the same request on the same device (PSNR);
- phase retrieval on the device decodes the same images about as well as the CPU's (mel
  spectral convergence within 5 %).
It prints one line per check and writes them as JSON; the exit status is 1 if any failed.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from riff.audio.spectrogram import mel_from_waveform, waveform_from_mel  # noqa: E402
from riff.models import default_dtype, load_model  # noqa: E402
from riff.render import render_restyle, render_walk  # noqa: E402
from riff.request import PromptEnd, Restyle, Settings, Walk  # noqa: E402

WALK = Walk(
    PromptEnd("jazzy rapping from paris", seed=42), PromptEnd("church bells on sunday", seed=123), num_clips=4
)
MIN_PSNR_DB = 25.0  # fp16 against fp32 after a whole denoising loop, random weights


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a.double() - b.double()) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def finite(clips) -> bool:
    return all(bool(torch.isfinite(c.pixels).all() and torch.isfinite(c.waveform).all()) for c in clips)


def mel_sc(mel: torch.Tensor, waveform: torch.Tensor, params) -> float:
    decoded = mel_from_waveform(waveform.float().cpu(), params)
    return float((decoded - mel).norm() / mel.norm())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--model", default=None, help="sd15 or tiny (default: sd15 on CUDA, tiny on the CPU)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--json", type=Path, required=True)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    model_kind = args.model or ("sd15" if device.type == "cuda" else "tiny")
    dtype = default_dtype(device)
    checks: list[dict] = []

    def check(name: str, ok: bool, **figures) -> None:
        checks.append({"check": name, "ok": bool(ok), **figures})
        print(f"{'ok  ' if ok else 'FAIL'} {name} {json.dumps(figures)}", flush=True)

    with tempfile.TemporaryDirectory(prefix="riff-gpu-check-") as tmp:
        if model_kind == "sd15":
            from bench_gpu import save_sd15

            folder = save_sd15(Path(tmp) / "sd15", torch.float16)
        else:
            from riff.train.networks import save_tiny_model

            folder = save_tiny_model(Path(tmp) / "tiny")
        settings = Settings(num_inference_steps=args.steps, batch_size=4)
        model = load_model(str(folder), str(device), dtype)
        start = time.perf_counter()
        walk = list(render_walk(model, WALK, settings))
        seconds = time.perf_counter() - start
        check("walk: 4 clips, all finite", finite(walk) and len(walk) == 4, seconds=round(seconds, 2))
        song = torch.cat([c.waveform for c in walk], dim=-1)[:1]
        restyle = list(render_restyle(model, song, Restyle(WALK.start, WALK.end, duration_s=11.0), settings))
        check("restyle: all finite", finite(restyle) and len(restyle) >= 2, segments=len(restyle))

        reference = load_model(str(folder), str(device), torch.float32)
        exact = list(render_walk(reference, WALK, settings))
        del reference
        worst = min(psnr(a.pixels, b.pixels) for a, b in zip(walk, exact))
        check(f"images close to fp32 (PSNR >= {MIN_PSNR_DB:g} dB)", worst >= MIN_PSNR_DB or dtype == torch.float32,
              worst_psnr_db=round(worst, 2), dtype=str(dtype).removeprefix("torch."))  # fmt: skip

        params = model.params
        mel = torch.stack([mel_from_waveform(c.waveform, params) for c in exact])
        here = waveform_from_mel(mel.to(device), params, seed=0)
        cpu = waveform_from_mel(mel, params, seed=0)
        sc_here = sum(mel_sc(m, w, params) for m, w in zip(mel, here)) / len(mel)
        sc_cpu = sum(mel_sc(m, w, params) for m, w in zip(mel, cpu)) / len(mel)
        check("decode on the device as good as the CPU's (SC within 5 %)", sc_here <= sc_cpu * 1.05 + 1e-6
              and bool(torch.isfinite(here).all()), sc_device=round(sc_here, 4), sc_cpu=round(sc_cpu, 4))  # fmt: skip

    report = {"device": str(device), "model": model_kind, "steps": args.steps, "checks": checks}
    if device.type == "cuda":
        report["gpu"] = torch.cuda.get_device_name(device)
        report["peak_memory_gb"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2))
    return 0 if all(c["ok"] for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
