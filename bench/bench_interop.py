"""Images the reference wrote, decoded by riff: level, clipping, quality.

    python bench/bench_interop.py [--clips 12] [--audio-dir DIR] [--json FILE]

Real music (the Nexuiz soundtrack by default, as bench_codec.py reads it) is cut into 5.11 s
clips at two levels: as mastered, and 20 dB down. riffusion 0.0.5's own `audio-to-image` (in the
side venv of `bench/setup_reference.sh`) writes each as a mono and a stereo PNG; riff's
`image-to-audio` path (`riff.audio.decode`) decodes them and writes 16-bit WAVs. Per layout and level
it prints: riff's max-value tag over the reference's for the same audio, the level error (RMS of
the decode against the source, dB), the largest true peak and the samples at full scale in the
WAVs, how many decodes were brought down (and said so), and mel spectral convergence to the
source, level included and (in brackets) level aside.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

import bench_codec

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clips", type=int, default=12)
    parser.add_argument("--audio-dir", type=Path, default=None, help="default: the Nexuiz soundtrack")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    python = ROOT / ".ref-venv" / "bin" / "python"
    if not python.exists():
        sys.exit("needs the reference: run bench/setup_reference.sh first")

    import torch

    torch.set_num_threads(2)
    work = Path(tempfile.mkdtemp(prefix="riff-bench-interop-"))
    report = {}
    for gain_db in (0.0, -20.0):
        clips = [c * 10 ** (gain_db / 20) for c in stereo_clips(args, work)]
        for stereo in (False, True):
            name = (
                f"{'stereo' if stereo else 'mono'}, {'as mastered' if gain_db == 0 else f'{gain_db:+.0f} dB'}"
            )
            report[name] = measure(clips, stereo, work / name.replace(", ", "_").replace(" ", ""), python)
            print(name, json.dumps(report[name]), flush=True)
    print_table(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


def stereo_clips(args: argparse.Namespace, work: Path) -> list:
    """5.11 s stereo clips, 40 s into each track, quantised to 16 bits as a file holds them."""
    from riff.audio.files import load_audio

    files = bench_codec.music_files(args, work)[: args.clips]
    length = 511 * 441
    clips = []
    for path in files:
        audio = load_audio(path, 44100, 2)
        start = min(40 * 44100, max(0, audio.shape[-1] - length))
        clips.append(audio[:, start : start + length])
    return clips


def measure(clips: list, stereo: bool, folder: Path, python: Path) -> dict:
    import numpy as np
    import soundfile as sf
    import torch
    from PIL import Image

    from riff.audio.decode import Spectrogram, decode, image_from_waveform
    from riff.audio.files import save_audio
    from riff.audio.image import level_from_image
    from riff.audio.loudness import true_peak
    from riff.audio.params import EXIF_MAX_VALUE, SpectrogramParams
    from riff.audio.spectrogram import mel_from_waveform

    params = SpectrogramParams(stereo=stereo)
    folder.mkdir(parents=True)
    sources, wavs = [], []
    for i, clip in enumerate(clips):
        source = clip if stereo else clip.mean(dim=0, keepdim=True)
        wavs.append(save_audio(folder / f"clip_{i:02d}.wav", source, 44100))  # 16-bit PCM
        sources.append(torch.from_numpy(sf.read(wavs[-1], dtype="float32", always_2d=True)[0].T.copy()))
    command = [str(python), str(ROOT / "bench" / "reference_codec.py"), "encode", "--out-dir", str(folder)]
    subprocess.run(
        [*command, *(["--stereo"] if stereo else []), *map(str, wavs)], check=True, capture_output=True
    )
    images = [Image.open(folder / f"clip_{i:02d}.png") for i in range(len(clips))]
    tag_ratio = [
        level_from_image(image_from_waveform(s, params)).tag_value / float(im.getexif()[EXIF_MAX_VALUE])
        for s, im in zip(sources, images)
    ]
    level_err, kept_err, sc, sc_shape, peaks, full, notes = [], [], [], [], [], 0, 0
    for i, clip in decode([Spectrogram.from_image(im) for im in images]):
        out = save_audio(folder / f"riff_{i:02d}.wav", clip.waveform, 44100)
        written = sf.read(out, dtype="int16", always_2d=True)[0]
        full += int((np.abs(written.astype(np.int32)) >= 32767).sum())
        peaks.append(20 * math.log10(true_peak(clip.waveform, 44100)))
        notes += clip.note is not None
        source, n = sources[i], min(sources[i].shape[-1], clip.waveform.shape[-1])
        level_err.append(
            20 * math.log10(float(clip.waveform.pow(2).mean().sqrt() / source.pow(2).mean().sqrt()))
        )
        if clip.note is None:
            kept_err.append(level_err[-1])
        a, b = mel_from_waveform(source[..., :n], params), mel_from_waveform(clip.waveform[..., :n], params)
        sc.append(float((a - b).norm() / a.norm()))
        gain = (a * b).sum() / (b * b).sum()  # least squares: the shape, level aside
        sc_shape.append(float((a - gain * b).norm() / a.norm()))
    return {
        "clips": len(clips),
        "tag_ratio_min": round(min(tag_ratio), 4),
        "tag_ratio_max": round(max(tag_ratio), 4),
        "level_error_db_mean": round(sum(level_err) / len(level_err), 2),
        "level_error_db_worst": round(max(level_err, key=abs), 2),
        "true_peak_dbfs_max": round(max(peaks), 2),
        "full_scale_samples": full,
        "brought_down": notes,
        "level_error_db_worst_not_brought_down": round(max(kept_err, key=abs), 2) if kept_err else None,
        "mel_sc_mean": round(sum(sc) / len(sc), 3),
        "mel_sc_level_aside_mean": round(sum(sc_shape) / len(sc_shape), 3),
    }


def print_table(report: dict) -> None:
    print(
        "\n| layout, level | riff tag / reference tag | level error dB: mean, worst (worst not brought "
        "down) | true peak max | full-scale samples | brought down | mel SC (level aside) |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, r in report.items():
        kept = r["level_error_db_worst_not_brought_down"]
        print(
            f"| {name} | {r['tag_ratio_min']:.4f}-{r['tag_ratio_max']:.4f} | {r['level_error_db_mean']:+.2f}, "
            f"{r['level_error_db_worst']:+.2f} ({'-' if kept is None else f'{kept:+.2f}'}) | "
            f"{r['true_peak_dbfs_max']:+.2f} dBFS | {r['full_scale_samples']} | {r['brought_down']} of {r['clips']} | "
            f"{r['mel_sc_mean']:.3f} ({r['mel_sc_level_aside_mean']:.3f}) |"
        )


if __name__ == "__main__":
    main()
