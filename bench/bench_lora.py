"""LoRA on a small model: does a few minutes of training on about 20 clips of one style move
generated clips towards that style?

    python bench/bench_lora.py --audio-dir DIR [--caption TEXT] [--clips 24] [--steps 300]
                               [--rank 8] [--model assets/riff-small] [--json FILE]

Builds a dataset from DIR's audio files (riff dataset's folder source, every clip captioned
TEXT), trains a LoRA on the model (riff train --lora), then generates --eval clips of TEXT from
text alone with the LoRA at scale 0 (the model as it is) and at scale 1, and measures how far each
set lies from the style's held-out clips: the distance between their mean mel-band profiles and
riff evaluate's mel-statistics Fréchet distance. Prints the seconds of each stage. Any folder of
music works (a game soundtrack, your own loops); nothing is downloaded.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from reporting import emit  # noqa: E402


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--audio-dir", type=Path, required=True, help="audio files of one style")
    parser.add_argument("--caption", default="nexuiz industrial soundtrack", help="every clip's caption")
    parser.add_argument("--clips", type=int, default=24, help="clips cut from the files (a quarter held out)")
    parser.add_argument("--steps", type=int, default=300, help="LoRA training steps")
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate of the adapters")
    parser.add_argument("--eval", type=int, default=8, help="clips generated at each scale")
    parser.add_argument("--model", default=str(ROOT / "assets" / "riff-small"))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    import torch

    from riff.lora import Adapter, use_adapters
    from riff.models import load_model
    from riff.train.dataset.build import build_dataset
    from riff.train.dataset.readers import load_pixels, read_dataset, split
    from riff.train.evaluate import frechet_distance, generate_images, mel_statistics
    from riff.train.train import TrainConfig, train

    work = Path(tempfile.mkdtemp(prefix="riff-bench-lora-"))
    report: dict = {
        "clips": args.clips,
        "steps": args.steps,
        "rank": args.rank,
        "lr": args.lr,
        "caption": args.caption,
    }
    began = time.perf_counter()
    style = work / "style"
    style.mkdir()
    for i, song in enumerate(
        sorted(p for p in args.audio_dir.rglob("*") if p.suffix in (".ogg", ".wav", ".flac"))
    ):
        shutil.copy(song, style / f"{i:03d}{song.suffix}")
        (style / f"{i:03d}.txt").write_text(args.caption)
    build_dataset(work / "data", args.clips, 0, ["folder"], style, workers=1)
    report["dataset_s"] = round(time.perf_counter() - began, 1)

    began = time.perf_counter()
    config = TrainConfig(
        data=str(work / "data"), out=str(work / "lora"), init=args.model, lora_rank=args.rank,
        unet_steps=args.steps, batch_size=4, crop=32, lr=args.lr, holdout=0.25, checkpoint_every=100,
    )  # fmt: skip
    lora = train(config)
    report["train_s"] = round(time.perf_counter() - began, 1)
    report["lora_kb"] = round((lora / "pytorch_lora_weights.safetensors").stat().st_size / 1024, 1)

    _, held = split(read_dataset(work / "data"), config.holdout)
    real = mel_statistics(load_pixels(work / "data", held))
    model = load_model(args.model, device="cpu", dtype=torch.float32)
    prompts, seeds = [args.caption] * args.eval, list(range(args.eval))
    for scale in (0.0, 1.0):
        began = time.perf_counter()
        use_adapters(model, [Adapter(str(lora), scale)])
        made = mel_statistics(generate_images(model, prompts, seeds, steps=20))
        half = made.shape[1] // 2  # the first half of the statistics: each band's mean level
        report[f"scale_{scale:g}"] = {
            "profile_distance": round(
                float(((made[:, :half].mean(0) - real[:, :half].mean(0)) ** 2).sum() ** 0.5), 4
            ),
            "frechet": round(frechet_distance(made, real), 4),
            "seconds": round(time.perf_counter() - began, 1),
        }
    shutil.rmtree(work, ignore_errors=True)
    return emit(report, args.json)


if __name__ == "__main__":
    main()
