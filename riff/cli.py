"""python -m riff: spectrogram conversions and walks from the command line, each rendered
request -> clips -> track by the library itself; `riff studio` starts the web page.

Bad input ends with exit status 2 and one line on stderr, no traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from riff.audio.decode import Spectrogram, decode, image_from_waveform, metadata
from riff.audio.files import check_writable, load_audio, save_audio
from riff.audio.image import save_image
from riff.audio.params import SpectrogramParams
from riff.audio.spectrogram import GRIFFIN_LIM_ITERS
from riff.audio.tags import file_name, tag_file
from riff.beats import check_seed
from riff.grid import MAX_BPM, METERS, MIN_BPM
from riff.interp import ALPHA_CURVES
from riff.lora import Adapter
from riff.models import REFERENCE_MODEL, SCHEDULERS, model_name
from riff.request import Chain, Loop, Music, PromptEnd, Settings, Variations, Walk
from riff.runtime import keep_large_buffers, set_threads
from riff.seed_images import DEFAULT_SEED, mask_tensor, open_image, seed_image
from riff.seedgen import BEDS
from riff.train.lora import LORA_RANK
from riff.train.train import TRAIN_PRESETS, TrainConfig

if TYPE_CHECKING:
    from riff.walk import Clip

log = logging.getLogger("riff")

# `riff train`'s options default to TrainConfig's own values.
TRAIN_DEFAULTS = {f.name: f.default for f in dataclasses.fields(TrainConfig) if f.name not in ("data", "out")}
MODEL_HELP = (
    f"default: $RIFF_MODEL, else riff-small (bundled; {REFERENCE_MODEL} on a Space with a GPU); "
    f"{REFERENCE_MODEL} for the reference's"
)


class UsageError(ValueError):
    """Bad command-line input."""


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    keep_large_buffers()
    try:
        set_threads(args.threads, os.environ)
        from_environment(args)
        code = args.run(args)
    except (ValueError, FileNotFoundError) as error:
        print(f"riff: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("riff: interrupted", file=sys.stderr)
        return 130
    return code or 0  # what the studio returns; the other commands print or raise


def from_environment(args: argparse.Namespace) -> None:
    """Fill what the command line left to the environment, read here at the entry point only:
    the model (RIFF_MODEL, else the default for where riff runs: `riff.models.model_name`),
    --compile (RIFF_COMPILE) and --soundfont (RIFF_SOUNDFONT)."""
    if "model" in args:
        args.model = model_name(args.model, os.environ)
    if "compile" in args:
        args.compile = True if args.compile else os.environ.get("RIFF_COMPILE")
    if "soundfont" in args:
        args.soundfont = args.soundfont or os.environ.get("RIFF_SOUNDFONT")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="riff", description="Music from spectrogram diffusion.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch's CPU threads (default: $RIFF_THREADS, else $OMP_NUM_THREADS, else 1 on a CPU "
        "of 2 cores or fewer, one below the cores on larger ones)",
    )
    sub = parser.add_subparsers(required=True, metavar="COMMAND")
    for add_command in (
        _audio_to_image_parser,
        _image_to_audio_parser,
        _interpolate_parser,
        _chain_parser,
        _loop_parser,
        _generate_parser,
        _studio_parser,
        _dataset_parser,
        _train_parser,
        _evaluate_parser,
        _print_metadata_parser,
    ):
        add_command(sub)
    return parser


def _audio_to_image_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audio-to-image", help="encode audio files as spectrogram images")
    p.add_argument("inputs", nargs="+", metavar="IN")
    _outputs(p, ".png")
    p.add_argument("--stereo", action="store_true", help="keep left and right (G and B channels)")
    p.add_argument("--max-seconds", type=float, default=None, help="encode only the start")
    p.set_defaults(run=audio_to_image)


def _image_to_audio_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("image-to-audio", help="decode spectrogram images to audio")
    p.add_argument("inputs", nargs="+", metavar="IN")
    _outputs(p, ".wav")
    p.add_argument(
        "--seed", type=int, default=0, help="phase-retrieval seed (same seed, same samples on one device)"
    )
    p.add_argument("--device", default=None, help="cpu, cuda, mps (default: best available)")
    p.add_argument(
        "--griffin-lim-iters",
        type=int,
        default=GRIFFIN_LIM_ITERS,
        help="phase-retrieval iterations (RAAR, then fast Griffin-Lim)",
    )
    p.set_defaults(run=image_to_audio)


def _interpolate_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("interpolate", help="render a walk between two prompts and seeds")
    p.add_argument("--start", required=True, metavar="PROMPT")
    p.add_argument("--end", required=True, metavar="PROMPT")
    p.add_argument("--start-seed", type=int, default=0)
    p.add_argument("--end-seed", type=int, default=1)
    p.add_argument(
        "--clips",
        type=int,
        default=Walk.num_clips,
        help="clips in the walk, start to end (5.11 s each at the default width)",
    )
    _old_name(p, "--steps", "clips")
    _render_options(p)
    p.add_argument("--end-negative-prompt", default=None, help="default: --negative-prompt")
    p.add_argument("--alpha-curve", default=Walk.alpha_curve, choices=ALPHA_CURVES)
    p.add_argument("--crossfade-ms", type=float, default=Walk.crossfade_ms)
    p.add_argument("--batch-size", type=int, default=Settings.batch_size)
    _continuation(p)
    p.set_defaults(run=interpolate)


def _chain_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("chain", help="walk through several prompts, each hop from where the last ended")
    p.add_argument("prompts", nargs="+", metavar="PROMPT", help="two or more")
    p.add_argument(
        "--seeds", type=int, nargs="+", default=None, help="one per prompt (default: 0, 1, 2, ...)"
    )
    p.add_argument("--clips-per-hop", type=int, default=Chain.clips_per_hop)
    _render_options(p)
    p.add_argument("--alpha-curve", default=Chain.alpha_curve, choices=ALPHA_CURVES, help="within each hop")
    p.add_argument("--crossfade-ms", type=float, default=Chain.crossfade_ms)
    p.add_argument("--batch-size", type=int, default=Settings.batch_size)
    _continuation(p)
    p.set_defaults(run=chain)


def _loop_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("loop", help="render a seamless loop: the file repeats without a seam")
    p.add_argument("prompt")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--clips", type=int, default=Loop.clips, help="clips round the loop (5.11 s each)")
    _render_options(p)
    p.add_argument("--crossfade-ms", type=float, default=Loop.crossfade_ms, help="every join, the wrap too")
    p.add_argument("--batch-size", type=int, default=Settings.batch_size)
    p.set_defaults(run=loop)


def _generate_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="render one clip from one prompt")
    p.add_argument("prompt")
    p.add_argument("--seed", type=int, default=0)
    _render_options(p)
    p.set_defaults(run=generate)


def _studio_parser(sub: argparse._SubParsersAction) -> None:
    # Every argument after the command is the studio's own (`riff studio --help` shows them):
    # no prefix character is this parser's, so none is taken for an option here.
    p = sub.add_parser(
        "studio",
        help="start the studio, the web page (riff studio --help)",
        add_help=False,
        prefix_chars="\0",
    )
    p.add_argument("argv", nargs="*", metavar="ARG", help="the studio's own arguments")
    p.set_defaults(run=studio)


def _dataset_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dataset", help="build captioned spectrogram clips for training, offline")
    p.add_argument("out_dir", type=Path, metavar="OUT_DIR")
    p.add_argument("--clips", type=int, default=100, help="how many 5.11 s clips")
    p.add_argument("--seed", type=int, default=0, help="same seed, same clips")
    p.add_argument(
        "--sources", default=None, help="comma-separated: generated,music21,folder (default: those available)"
    )
    p.add_argument("--audio-dir", type=Path, default=None, help="your audio files (the folder source)")
    p.add_argument("--workers", type=int, default=2, help="clips rendered at once")
    p.add_argument(
        "--soundfont",
        type=Path,
        default=None,
        help="a General MIDI soundfont (default: $RIFF_SOUNDFONT, else Debian's fluid-soundfont-gm)",
    )
    p.set_defaults(run=dataset)


def _train_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a small model on a dataset folder, or fine-tune one")
    p.add_argument("data", type=Path, metavar="DATA", help="a folder made by riff dataset")
    p.add_argument("out", type=Path, metavar="OUT", help="the model folder to write (resumes a run there)")
    p.add_argument(
        "--init", default=TRAIN_DEFAULTS["init"], metavar="MODEL", help="fine-tune this model instead"
    )
    d = TRAIN_DEFAULTS
    p.add_argument("--preset", default=d["preset"], help=f"network sizes: {' or '.join(TRAIN_PRESETS)}")
    p.add_argument(
        "--vae-steps", type=int, default=d["vae_steps"], help="autoencoder steps (from scratch only)"
    )
    p.add_argument("--unet-steps", type=int, default=d["unet_steps"], help="denoiser steps")
    p.add_argument(
        "--vae-spectral-weight",
        type=float,
        default=d["vae_spectral_weight"],
        help="weight of the autoencoder's loss on mel amplitudes and harmonic lines (0: plain L1)",
    )
    p.add_argument(
        "--batch-size", type=int, default=d["batch_size"], help="denoiser clips per step and process"
    )
    p.add_argument("--lr", type=float, default=d["lr"], help="denoiser peak learning rate")
    p.add_argument("--crop", type=int, default=d["crop"], help="latent cells along time per training crop")
    p.add_argument("--holdout", type=float, default=d["holdout"], help="share of clips never trained on")
    p.add_argument(
        "--checkpoint-every", type=int, default=d["checkpoint_every"], help="steps between checkpoints"
    )
    p.add_argument("--seed", type=int, default=d["seed"])
    p.add_argument(
        "--train-text-encoder",
        action=argparse.BooleanOptionalAction,
        default=d["train_text_encoder"],
        help="also train the text encoder (default: only from scratch)",
    )
    p.add_argument(
        "--lora",
        action="store_true",
        help="train a LoRA of --init (default: the default model) into OUT, not a whole model",
    )
    p.add_argument(
        "--rank", dest="lora_rank", metavar="RANK", type=int, default=None, help="the LoRA's rank (default 8)"
    )
    p.set_defaults(run=train)


def _evaluate_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="score a model's text conditioning with a classifier of real clips")
    p.add_argument("data", type=Path, metavar="DATA", help="the dataset folder the model was trained on")
    p.add_argument("--model", default=None, metavar="ID|DIR", help=MODEL_HELP)
    p.add_argument("--device", default=None)
    p.add_argument("--clips", type=int, default=40, help="clips generated from held-out captions")
    p.add_argument(
        "--num-inference-steps",
        dest="steps",
        metavar="NUM_INFERENCE_STEPS",
        type=int,
        default=25,
        help="denoising steps per generated clip",
    )
    _old_name(p, "--steps", "steps")
    p.add_argument(
        "--holdout",
        type=float,
        default=None,
        help="default: the model's own (riff.json), else 0.1 as riff train",
    )
    p.add_argument(
        "--autoencoder-only", action="store_true", help="only the autoencoder's round trip of held-out clips"
    )
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    p.set_defaults(run=evaluate)


def _print_metadata_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("print-metadata", help="show the spectrogram parameters of an image")
    p.add_argument("image")
    p.set_defaults(run=print_metadata)


def _old_name(p: argparse.ArgumentParser, flag: str, dest: str) -> None:
    """An option's former spelling, still read for one release and no longer shown in --help."""
    p.add_argument(flag, dest=dest, type=int, default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def _outputs(p: argparse.ArgumentParser, suffix: str) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument("-o", "--output", type=Path, help=f"output file (one input only), e.g. x{suffix}")
    group.add_argument("--out-dir", type=Path, help=f"write <input name>{suffix} files here")


def _render_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        help="audio file (.wav, .flac, .mp3, .ogg), or a folder: named after the prompt, tempo and key",
    )
    p.add_argument(
        "--num-inference-steps",
        type=int,
        default=None,
        help="default: what the model recommends (50 if it does not say)",
    )
    p.add_argument("--denoising", type=float, default=PromptEnd.denoising, help="img2img strength in (0, 1]")
    p.add_argument("--guidance", type=float, default=PromptEnd.guidance)
    p.add_argument("--negative-prompt", default="")
    p.add_argument("--seed-image", default=DEFAULT_SEED, metavar="NAME|PATH")
    p.add_argument("--mask", default=None, metavar="NAME|PATH")
    p.add_argument("--model", default=None, metavar="ID|DIR", help=MODEL_HELP)
    p.add_argument("--device", default=None)
    p.add_argument(
        "--compile",
        action="store_true",
        help="run the UNet under torch.compile: faster steps after a warm-up (default: $RIFF_COMPILE)",
    )
    p.add_argument("--scheduler", default=Settings.scheduler, choices=SCHEDULERS)
    p.add_argument(
        "--lora",
        action="append",
        default=[],
        metavar="PATH[:SCALE]",
        help="a LoRA (riff train --lora) at a scale in -2..2, default 1; repeat to stack several",
    )
    p.add_argument("--images-dir", type=Path, default=None, help="also save each clip's spectrogram")
    p.add_argument(
        "--width",
        type=int,
        default=None,
        help="clip width in columns, a multiple of 8 (1024 = 10.2 s; default: the seed image's, 512)",
    )
    g = p.add_argument_group("beat grid", "a tempo renders the seed pattern at it; clips are whole bars")
    g.add_argument("--bpm", type=float, default=None, help=f"tempo, {MIN_BPM:g}-{MAX_BPM:g}")
    g.add_argument("--key", default=None, help='"A minor", "Am", "F#", "E flat minor" (needs --bpm)')
    g.add_argument("--bars", type=int, default=None, help="bars a clip (default: as many as fit 5.11 s)")
    g.add_argument("--meter", default="4/4", choices=tuple(METERS))
    g.add_argument(
        "--bed", default=Settings.bed, choices=BEDS, help="tonal bed under a drum pattern in a key"
    )


def _continuation(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--continuation",
        action="store_true",
        help="each clip continues the last quarter of the one before instead of restarting",
    )


def _targets(args: argparse.Namespace, suffix: str) -> list[Path]:
    """Output paths for the inputs; refuses to overwrite an input."""
    inputs = [Path(i) for i in args.inputs]
    for path in inputs:
        if not path.is_file():
            raise UsageError(f"no such file: {str(path)!r}")
    if args.output is not None:
        if len(inputs) > 1:
            raise UsageError(f"-o takes one input, got {len(inputs)}: use --out-dir")
        targets = [args.output]
    else:
        folder = args.out_dir or Path(".")
        targets = [folder / (p.stem + suffix) for p in inputs]
    if len(set(targets)) != len(targets):
        raise UsageError("two inputs share a name; their outputs would overwrite each other")
    for path, target in zip(inputs, targets):
        if path.resolve() == target.resolve():
            raise UsageError(f"output {str(target)!r} would overwrite its input")
    return targets


def audio_to_image(args: argparse.Namespace) -> None:
    params = SpectrogramParams(stereo=args.stereo)
    targets = _targets(args, ".png")
    for path, target in tqdm(
        list(zip(args.inputs, targets)), desc="encoding", unit="file", disable=len(targets) < 2
    ):
        waveform = load_audio(path, params.sample_rate, params.channels)
        if args.max_seconds is not None:
            waveform = waveform[:, : int(args.max_seconds * params.sample_rate)]
        image = image_from_waveform(waveform, params)
        target.parent.mkdir(parents=True, exist_ok=True)
        save_image(image, target)
        print(target)


def image_to_audio(args: argparse.Namespace) -> None:
    from riff.models import pick_device

    targets = [check_writable(t) for t in _targets(args, ".wav")]
    device = pick_device(args.device)
    spectrograms = []
    for path in args.inputs:  # every image checked before any is decoded
        try:
            spectrograms.append(Spectrogram.from_image(open_image(Path(path))))
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None
    decoded = decode(spectrograms, seed=args.seed, device=device, griffin_lim_iters=args.griffin_lim_iters)
    with tqdm(total=len(targets), desc="decoding", unit="image", disable=len(targets) < 2) as bar:
        for i, clip in decoded:
            if clip.note:
                tqdm.write(f"riff: {args.inputs[i]}: {clip.note}", file=sys.stderr)
            save_audio(targets[i], clip.waveform, clip.params.sample_rate)
            print(targets[i])
            bar.update()


def print_metadata(args: argparse.Namespace) -> None:
    print(json.dumps(metadata(open_image(Path(args.image))), indent=2))


def dataset(args: argparse.Namespace) -> None:
    from riff.train.dataset.build import build_dataset
    from riff.train.dataset.corpus import available

    if args.sources is None:
        sources = ["generated", "music21"] if available() else ["generated"]
        sources += ["folder"] if args.audio_dir else []
    else:
        sources = [s.strip() for s in args.sources.split(",") if s.strip()]
    if args.audio_dir is not None and "folder" not in sources:
        raise UsageError("--audio-dir needs the folder source: add folder to --sources")
    records = build_dataset(
        args.out_dir, args.clips, args.seed, sources, args.audio_dir, args.workers, soundfont=args.soundfont
    )
    print(f"{args.out_dir / 'metadata.jsonl'}: {len(records)} clips")


def train(args: argparse.Namespace) -> None:
    from riff.train.train import train as run_training

    chosen = {key: value for key, value in vars(args).items() if key in TRAIN_DEFAULTS}
    if args.lora or args.lora_rank is not None:
        chosen["lora_rank"] = args.lora_rank or LORA_RANK
        chosen["init"] = args.init or model_name(None, os.environ)  # a LoRA adapts a model
    config = TrainConfig(data=str(args.data), out=str(args.out), **chosen)
    folder = run_training(config)
    what = "LoRA (use it with --lora)" if config.lora_rank else "model"
    print(f"{folder}: trained {what}; loss curves in {folder / 'training' / 'loss.png'}")


def evaluate(args: argparse.Namespace) -> None:
    from riff.models import load_model
    from riff.train.evaluate import evaluate as run_evaluation
    from riff.train.evaluate import evaluate_autoencoder, trained_holdout, write_report

    if args.clips < 2 or args.steps < 1:
        raise UsageError("--clips must be at least 2 and --num-inference-steps at least 1")
    model = load_model(args.model, args.device)
    holdout = args.holdout if args.holdout is not None else trained_holdout(args.model)
    if args.autoencoder_only:
        report = evaluate_autoencoder(model, args.data, holdout)
    else:
        report = run_evaluation(model, args.data, clips=args.clips, steps=args.steps, holdout=holdout)
    print(report.table())
    if args.json:
        write_report(report, args.json)


def _settings(args: argparse.Namespace) -> Settings:
    settings = _read_settings(args)
    for adapter in settings.adapters():
        adapter.weights_file()  # a missing LoRA fails now, before the model loads
    return settings


def _read_settings(args: argparse.Namespace) -> Settings:
    return Settings(
        num_inference_steps=args.num_inference_steps,
        scheduler=args.scheduler,
        batch_size=getattr(args, "batch_size", Settings.batch_size),  # generate has none
        bpm=args.bpm,
        meter=args.meter,
        bars=args.bars,
        key=args.key,
        bed=args.bed,
        loras=tuple((a.path, a.scale) for a in map(Adapter.parse, args.lora)),
    )


def _output(args: argparse.Namespace, prompt: str) -> Path:
    """The file to write: -o itself, or in a folder, named after the prompt, tempo and key."""
    if args.output.is_dir():
        grid = _settings(args).grid()
        args.output = args.output / file_name(prompt, grid, ".wav")
    return check_writable(args.output)


def interpolate(args: argparse.Namespace) -> None:
    _output(args, args.start)
    end_negative = args.negative_prompt if args.end_negative_prompt is None else args.end_negative_prompt
    walk = Walk(
        start=PromptEnd(args.start, args.start_seed, args.negative_prompt, args.denoising, args.guidance),
        end=PromptEnd(args.end, args.end_seed, end_negative, args.denoising, args.guidance),
        num_clips=args.clips,
        alpha_curve=args.alpha_curve,
        crossfade_ms=args.crossfade_ms,
        continuation=args.continuation,
        **_canvas(args),
    )
    _render(args, walk, _settings(args))


def chain(args: argparse.Namespace) -> None:
    _output(args, args.prompts[0])
    seeds = args.seeds if args.seeds is not None else list(range(len(args.prompts)))
    if len(seeds) != len(args.prompts):
        raise UsageError(f"--seeds takes one seed per prompt: {len(args.prompts)}, got {len(seeds)}")
    ends = tuple(_end(args, prompt, seed) for prompt, seed in zip(args.prompts, seeds))
    music = Chain(
        ends,
        args.clips_per_hop,
        args.alpha_curve,
        crossfade_ms=args.crossfade_ms,
        continuation=args.continuation,
        **_canvas(args),
    )
    _render(args, music, _settings(args))


def loop(args: argparse.Namespace) -> None:
    _output(args, args.prompt)
    music = Loop(
        _end(args, args.prompt, args.seed),
        args.clips,
        crossfade_ms=args.crossfade_ms,
        **_canvas(args),
    )
    _render(args, music, _settings(args))


def generate(args: argparse.Namespace) -> None:
    _output(args, args.prompt)
    seeds = Variations(_end(args, args.prompt, args.seed), (args.seed,), **_canvas(args))
    _render(args, seeds, _settings(args))


def _canvas(args: argparse.Namespace) -> dict:
    """What every render starts from: the seed image, its mask, the clip width."""
    return {"seed_image": args.seed_image, "mask": args.mask, "width": args.width}


def _end(args: argparse.Namespace, prompt: str, seed: int) -> PromptEnd:
    return PromptEnd(prompt, seed, args.negative_prompt, args.denoising, args.guidance)


def _render(args: argparse.Namespace, music: Walk | Variations | Chain | Loop, settings: Settings) -> None:
    """Request -> clips -> track, written to `args.output` (and each clip's spectrogram to
    `args.images_dir`): the library's own path, without the studio's queue and limits."""
    from riff.models import load_model
    from riff.render import render

    # The seed image and mask are read before the model takes its time to load.
    check_seed(music.seed_image, settings.grid(), music.width)
    seed_image(music.seed_image)
    if music.mask is not None:
        mask_tensor(music.mask, (8, 8))
    model = load_model(args.model, args.device, compile=args.compile)  # see `from_environment`
    total = music.clip_count()
    with tqdm(total=total, desc=f"rendering on {model.device.type}", unit="clip") as bar:

        def progress(done: float, clips: int, step: int, steps: int) -> None:
            bar.n = int(done)
            bar.set_postfix_str(f"step {step}/{steps}" if steps else "")
            bar.refresh()

        clips = list(render(model, music, settings, progress))
        bar.n = total
        bar.refresh()
    _write_track(args, clips, music, settings)


def _write_track(args: argparse.Namespace, clips: list[Clip], music: Music, settings: Settings) -> None:
    from riff.track import stitch

    if args.images_dir is not None:
        args.images_dir.mkdir(parents=True, exist_ok=True)
        for clip in clips:
            save_image(clip.image(), args.images_dir / f"clip_{clip.index:03d}_alpha_{clip.alpha:.3f}.png")
    track = stitch(clips, music)
    save_audio(args.output, track, clips[0].params.sample_rate)
    grid = settings.grid()
    if grid is not None:
        tag_file(args.output, grid, len(clips), loop=isinstance(music, Loop))
    print(args.output)


def studio(args: argparse.Namespace) -> int | None:
    """Start the studio with the rest of the command line (`riff.studio.main`)."""
    try:
        from riff.studio import main as run_studio
    except ModuleNotFoundError as error:
        if error.name == "riff.studio":
            raise UsageError("this riff has no studio: install riff from a release or a checkout") from None
        if error.name is None or error.name.split(".")[0] == "riff":
            raise
        raise UsageError(
            f"the studio needs {error.name}: install riff with its studio extra, riff[studio]"
        ) from None
    return run_studio(args.argv, prog="riff studio")
