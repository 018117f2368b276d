"""The bundled model on this machine: seconds per clip, and how smooth a walk between two of its
prompts is.

    python bench/bench_model.py [--model FOLDER] [--threads 2] [--repeat 3] [--clips 8]

- clip: one 5.11 s clip as `python -m riff generate` and the studio make it by default
  (img2img from og_beat at strength 0.75, the model's recommended steps, Griffin-Lim, loudness),
  median of --repeat runs after a warm-up; also text-to-audio (strength 1).
- size: the weights on disk (the model folder's safetensors) and each network's parameters,
  and the autoencoder's decode of one clip's latents alone (its share of a clip's time).
- walk: --clips clips from "solo piano, slow, minor" to "rock drum beat, 120 bpm", stitched with
  250 ms crossfades. Reports the spectral flux and loudness step at the joins against inside the
  clips (as bench_codec.py does for real music), and the image distance between neighbouring
  clips against the distance between the two ends: a smooth walk moves in small even steps.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_codec import _join_stats  # noqa: E402

from riff.models import load_model, model_name, recommended_steps  # noqa: E402
from riff.render import render_clip, render_walk  # noqa: E402
from riff.request import PromptEnd, Settings, Walk  # noqa: E402
from riff.runtime import keep_large_buffers  # noqa: E402
from riff.track import stitch_walk  # noqa: E402

START = PromptEnd("solo piano, slow, minor", seed=1)
END = PromptEnd("rock drum beat, 120 bpm", seed=2)


def seconds_per_clip(model, end: PromptEnd, steps: int, repeat: int) -> float:
    settings = Settings(num_inference_steps=steps)

    def one() -> None:
        stitch_walk([render_clip(model, end, settings)], 250.0)

    one()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        one()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def model_size(model, requested: str | None) -> dict[str, float]:
    """MB of weights in the model folder (None for a hub id) and millions of parameters per network."""
    folder = Path(model_name(requested)).expanduser()
    files = list(folder.rglob("*.safetensors")) if folder.is_dir() else []
    sizes = {"disk_mb": sum(f.stat().st_size for f in files) / 1e6 if files else None}
    for name in ("unet", "vae", "text_encoder"):
        sizes[name] = sum(p.numel() for p in getattr(model, name).parameters()) / 1e6
    return sizes


@torch.no_grad()
def vae_decode_seconds(model, repeat: int) -> float:
    """Median seconds of the autoencoder's decode of one 512 x 512 clip's latents."""
    cells = 512 // model.vae_scale
    latents = torch.randn(1, model.vae.config.latent_channels, cells, cells, dtype=model.dtype)
    model.vae.decode(latents)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        model.vae.decode(latents)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def walk_smoothness(model, clips: int, steps: int) -> dict[str, float]:
    rendered = list(
        render_walk(model, Walk(START, END, num_clips=clips), Settings(num_inference_steps=steps))
    )
    images = torch.stack([c.pixels for c in rendered]) / 255.0
    neighbours = (images[1:] - images[:-1]).abs().mean(dim=(1, 2, 3))
    ends = float((images[-1] - images[0]).abs().mean())
    return {
        **_join_stats(rendered, 250.0),
        "neighbour_distance_max": float(neighbours.max()),
        "neighbour_distance_mean": float(neighbours.mean()),
        "end_to_end_distance": ends,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="default: the bundled model")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--clips", type=int, default=8)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    keep_large_buffers()
    model = load_model(args.model, device="cpu")
    steps = recommended_steps(args.model)
    print(f"{model.describe()}, {steps} steps, {args.threads} threads")
    img2img = seconds_per_clip(model, START, steps, args.repeat)
    text = seconds_per_clip(model, PromptEnd(START.prompt, seed=1, denoising=1.0), steps, args.repeat)
    print(f"one 5.11 s clip, img2img from og_beat (the default): {img2img:.2f} s  (target: at most 5 s)")
    print(f"one 5.11 s clip, text to audio (strength 1):         {text:.2f} s")
    size = model_size(model, args.model)
    disk = "not a local folder" if size["disk_mb"] is None else f"{size['disk_mb']:.1f} MB"
    print(
        f"weights: {disk}; parameters (millions): UNet {size['unet']:.2f}, "
        f"VAE {size['vae']:.2f}, text encoder {size['text_encoder']:.2f}"
    )
    print(f"the autoencoder's decode of one clip: {vae_decode_seconds(model, args.repeat):.2f} s")
    stats = walk_smoothness(model, args.clips, steps)
    print(f"walk of {args.clips} clips, {START.prompt!r} -> {END.prompt!r}:")
    print(
        f"  spectral flux, max at joins {stats['flux_joins_max']:.2f} vs inside clips {stats['flux_inside_max']:.2f}"
    )
    print(
        f"  loudness step, max at joins {stats['loudness_step_joins_db_max']:.1f} dB "
        f"vs inside clips {stats['loudness_step_inside_db_max']:.1f} dB"
    )
    print(
        f"  image distance between neighbours: mean {stats['neighbour_distance_mean']:.3f}, "
        f"max {stats['neighbour_distance_max']:.3f}; first to last {stats['end_to_end_distance']:.3f}"
    )


if __name__ == "__main__":
    main()
