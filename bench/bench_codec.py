"""Codec quality and speed on real music, ours against the reference in the same run.

    python bench/bench_codec.py [--clips 8] [--threads 2] [--skip-reference] [--audio-dir DIR]

Real music: the Nexuiz soundtrack (Debian package nexuiz-music, GPL-2+ game music), cut to
5.11 s mono 44.1 kHz clips, or any folder of audio files. Each clip is encoded to an 8-bit PNG as
on disk, then decoded by riff and by riffusion 0.0.5 (in its own environment, made by
bench/setup_reference.sh, running bench/reference_codec.py). Metrics against the original audio,
after a least-squares gain (either side may normalise):
- mel spectral convergence ||M - g M'|| / ||M|| with the reference's own mel parameters;
- log-spectral distance (dB) up to 10 kHz on a 2048-point STFT.
Then the joins of a stitched walk: spectral flux and short-term loudness steps at each join,
against the same measured inside the clips.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
NEXUIZ = Path("/usr/share/games/nexuiz/data/music.pk3")
# Both sides get the allocator settings that keep big FFT buffers mapped between Griffin-Lim
# iterations; without them page faults double both decoders' time on small VMs.
MALLOC = {"MALLOC_MMAP_THRESHOLD_": "1000000000000", "MALLOC_TRIM_THRESHOLD_": "1000000000000"}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--audio-dir", type=Path, default=None, help="default: the Nexuiz soundtrack")
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument(
        "--iters",
        type=int,
        nargs="+",
        default=[48, 96, 128],
        help="our Griffin-Lim budgets (riff's default: 96)",
    )
    parser.add_argument(
        "--gpu-batch", type=int, default=32, help="clips per batch on a GPU (the clips repeated to fill it)"
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if any(os.environ.get(k) != v for k, v in MALLOC.items()):
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **MALLOC})

    import torch

    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="riff-bench-codec-"))
    originals = load_clips(args, work)
    images = encode(originals, work / "img")
    from riff.audio.spectrogram import GRIFFIN_LIM_ITERS

    report: dict[str, dict] = {}
    for iters in args.iters:
        decoded, seconds = decode_ours(images, iters, args.threads)
        name = f"riff ({iters} it{', default' if iters == GRIFFIN_LIM_ITERS else ''})"
        report[name] = {**score(originals, decoded), "s_per_clip": seconds}
    if torch.cuda.is_available():
        batch = (images * -(-args.gpu_batch // len(images)))[: max(args.gpu_batch, len(images))]
        decoded, seconds = decode_ours(batch, GRIFFIN_LIM_ITERS, args.threads, device="cuda")
        report[f"riff cuda, {len(batch)} a batch ({GRIFFIN_LIM_ITERS} it)"] = {
            **score(originals, decoded[: len(originals)]),
            "s_per_clip": seconds,
        }
    if not args.skip_reference:
        reference = decode_reference(images, work / "ref", args.threads)
        if reference is not None:
            report["riffusion 0.0.5"] = {**score(originals, reference[0]), "s_per_clip": reference[1]}
    print_table(report, len(originals))
    joins = join_report(load_tracks(args))
    print(json.dumps({"joins": joins}, indent=2))
    if args.json:
        args.json.write_text(json.dumps({"codec": report, "joins": joins}, indent=2))


def music_files(args: argparse.Namespace, work: Path) -> list[Path]:
    if args.audio_dir is not None:
        return sorted(p for p in args.audio_dir.iterdir() if p.is_file())
    if not NEXUIZ.exists():
        sys.exit("no music: install Debian's nexuiz-music or pass --audio-dir")
    folder = work / "music"
    with zipfile.ZipFile(NEXUIZ) as pk3:
        for name in sorted(n for n in pk3.namelist() if n.endswith(".ogg")):
            pk3.extract(name, folder)
    return sorted(folder.rglob("*.ogg"))


def load_tracks(args: argparse.Namespace) -> list:
    """40 s to 80 s of each track, mono 44.1 kHz."""
    from riff.audio.files import load_audio

    return [load_audio(p, 44100, 1)[:, 40 * 44100 : 80 * 44100] for p in args.files[: args.clips]]


def load_clips(args: argparse.Namespace, work: Path) -> list:
    """5.11 s mono clips, 40 s into each track (past intros)."""
    from riff.audio.files import load_audio
    from riff.audio.params import SpectrogramParams

    params = SpectrogramParams()
    args.files = music_files(args, work)
    files = args.files
    length = params.num_samples(512)
    clips = []
    for path in files[: args.clips]:
        audio = load_audio(path, params.sample_rate, 1)
        start = min(40 * params.sample_rate, max(0, audio.shape[-1] - length))
        clips.append(audio[:, start : start + length])
    return clips


def encode(clips: list, folder: Path) -> list[Path]:
    from riff.audio.decode import image_from_waveform
    from riff.audio.image import save_image
    from riff.audio.params import SpectrogramParams

    params = SpectrogramParams()
    folder.mkdir(parents=True)
    paths = []
    for i, clip in enumerate(clips):
        paths.append(save_image(image_from_waveform(clip, params), folder / f"clip_{i:02d}.png"))
    return paths


def decode_ours(images: list[Path], iters: int, threads: int, device: str = "cpu") -> tuple[list, float]:
    """Decode every image in one batch; seconds per clip after a warm-up, the better of two runs
    (a shared 2-core machine is noisy; the reference's time is its mean over the clips)."""
    import torch
    from PIL import Image

    from riff.audio.image import mel_from_image
    from riff.audio.spectrogram import waveform_from_mel

    loaded = [mel_from_image(Image.open(p)) for p in images]
    mel = torch.stack([m for m, _, _ in loaded]).to(device)
    params = loaded[0][1]
    # Warm-up: caches and the allocator; on a GPU the whole batch, so its FFT plans exist too.
    waveform_from_mel(mel if device != "cpu" else mel[:1], params, griffin_lim_iters=iters)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    times = []
    for _ in range(2):
        sync()
        start = time.perf_counter()
        out = waveform_from_mel(mel, params, seed=0, griffin_lim_iters=iters)
        sync()
        times.append((time.perf_counter() - start) / len(images))
    return [w.cpu() for w in out], min(times)


def decode_reference(images: list[Path], folder: Path, threads: int) -> tuple[list, float] | None:
    from riff.audio.files import load_audio

    python = ROOT / ".ref-venv" / "bin" / "python"
    if not python.exists():
        print("reference skipped: run bench/setup_reference.sh first", file=sys.stderr)
        return None
    command = [
        str(python),
        str(ROOT / "bench" / "reference_codec.py"),
        "decode",
        "--raw",
        "--out-dir",
        str(folder),
        "--threads",
        str(threads),
        *map(str, images),
    ]
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **MALLOC}, check=True)
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    seconds = sum(line["seconds"] for line in lines) / len(lines)
    return [load_audio(folder / (p.stem + ".wav"), 44100, 1) for p in images], seconds


def score(originals: list, decoded: list) -> dict[str, float]:
    """Mean mel spectral convergence and log-spectral distance over the clips."""
    import torch

    from riff.audio.params import SpectrogramParams
    from riff.audio.spectrogram import mel_from_waveform

    params = SpectrogramParams()
    window = torch.hann_window(2048)
    top = int(10000 / (params.sample_rate / 2048)) + 1
    sc, lsd = [], []
    for x, y in zip(originals, decoded):
        n = min(x.shape[-1], y.shape[-1])
        x, y = x[..., :n].float(), y[..., :n].float()
        a, b = mel_from_waveform(x, params), mel_from_waveform(y, params)
        sc.append(float((a - (a * b).sum() / (b * b).sum() * b).norm() / a.norm()))
        sa = torch.stft(x[0], 2048, 512, window=window, return_complex=True).abs()[:top]
        sb = torch.stft(y[0], 2048, 512, window=window, return_complex=True).abs()[:top]
        sb = sb * (sa * sb).sum() / (sb * sb).sum()
        diff = 20 * torch.log10(sa + 1e-5) - 20 * torch.log10(sb + 1e-5)
        lsd.append(float((diff**2).mean(dim=0).sqrt().mean()))
    return {"mel_sc": sum(sc) / len(sc), "lsd_db": sum(lsd) / len(lsd)}


def print_table(report: dict[str, dict], clips: int) -> None:
    print(f"\ncodec on {clips} real music clips (5.11 s, PNG round trip)")
    print(f"{'decoder':<26}{'mel SC':>10}{'LSD dB':>10}{'s/clip':>10}")
    for name, r in report.items():
        print(f"{name:<26}{r['mel_sc']:>10.4f}{r['lsd_db']:>10.3f}{r['s_per_clip']:>10.3f}")
    ref = report.get("riffusion 0.0.5")
    if ref is None:
        return
    print("\nagainst the reference (targets: SC <= 0.75x, LSD < 1x, CPU time <= 0.25x)")
    for name, r in report.items():
        if name == "riffusion 0.0.5":
            continue
        print(
            f"{name:<26}SC {r['mel_sc'] / ref['mel_sc']:.2f}x  LSD {r['lsd_db'] / ref['lsd_db']:.2f}x  "
            f"time {r['s_per_clip'] / ref['s_per_clip']:.2f}x"
        )


def join_report(tracks: list) -> dict:
    """Stitch clips as a walk would and compare each join with the clips' insides: spectral
    flux (10 ms frames, log mel) and the step in short-term loudness (400 ms blocks 400 ms
    apart). Walk-like material: four 5.11 s clips 10 s apart from each song (related, not
    continuous); the worst case: one clip from each of different songs."""
    import torch

    from riff.walk import Clip

    walks = [[t[:, s : s + 225351] for s in range(0, t.shape[-1] - 225351 + 1, 441000)][:4] for t in tracks]
    walks = [w for w in walks if len(w) > 1]
    worst = [[t[:, :225351] for t in tracks]]
    out = {}
    for label, groups in (("same song", walks), ("different songs", worst)):
        for name, fade in (("hard cuts", 0.0), ("riff crossfade 250 ms", 250.0)):
            rows = [
                _join_stats([Clip(i, 0.0, torch.zeros(3, 1, 1), c) for i, c in enumerate(g)], fade)
                for g in groups
            ]
            out[f"{label}, {name}"] = {k: max(r[k] for r in rows) for k in rows[0]}
    return out


def _join_stats(clips: list, fade: float) -> dict[str, float]:
    from riff.track import stitch_walk

    return track_join_stats(stitch_walk(clips, fade), [i * 511 for i in range(1, len(clips))])


def track_join_stats(track, joins: list[int]) -> dict[str, float]:
    """Spectral flux and 400 ms loudness steps near the joins (frame indices, 10 ms each)
    against everywhere else in the track."""
    import torch

    from riff.audio.loudness import k_weight
    from riff.audio.params import SpectrogramParams
    from riff.audio.spectrogram import mel_from_waveform

    params = SpectrogramParams()
    logmel = torch.log(mel_from_waveform(track, params)[0] + 1e-3 * float(track.abs().max()))
    flux = torch.relu(logmel.diff(dim=-1)).mean(dim=0)
    energy = (k_weight(track, params.sample_rate)[0] ** 2).unfold(
        0, int(0.4 * params.sample_rate), params.hop_length
    )
    loud = 10 * torch.log10(energy.mean(dim=-1) + 1e-12)
    step = (loud[40:] - loud[:-40]).abs()
    near_flux = torch.zeros_like(flux, dtype=torch.bool)
    near_step = torch.zeros_like(step, dtype=torch.bool)
    for j in joins:
        near_flux[max(0, j - 15) : j + 15] = True
        near_step[max(0, j - 60) : j + 20] = True
    return {
        "flux_joins_max": float(flux[near_flux].max()),
        "flux_inside_max": float(flux[~near_flux].max()),
        "loudness_step_joins_db_max": float(step[near_step].max()),
        "loudness_step_inside_db_max": float(step[~near_step].max()),
        "flux_joins_mean": float(flux[near_flux].mean()),
        "flux_inside_mean": float(flux[~near_flux].mean()),
        "loudness_step_joins_db_median": float(step[near_step].median()),
        "loudness_step_inside_db_median": float(step[~near_step].median()),
    }


if __name__ == "__main__":
    main()
