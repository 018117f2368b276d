"""How a model sounds, judged by tools riff does not use to make music: pyloudnorm for loudness,
librosa's harmonic/percussive separation for drums.

    python bench/bench_voice.py [--model FOLDER] [--threads 2] [--seeds 4]

- loudness: the default `riff generate` of each of 12 fixed prompts (img2img from og_beat at
  --denoising 0.75, seed 0, the model's recommended steps; 1 is text alone), as delivered (one gain to -14 LUFS, at most 6 dB of
  limiting, -1 dBTP). A prompt "reaches" -14 LUFS when pyloudnorm reads it within 1 dB; a clip
  that needs more limiting is delivered quieter. Also the crest factor (peak over RMS, dB) of
  the clip before levelling: bursts over silence have a high one, full music 12-16 dB.
- drums: text alone (strength 1, no seed image) for two piano prompts and three drum prompts,
  --seeds seeds each. Percussive share = the percussive part's energy over the whole (librosa
  HPSS of the 22.05 kHz mono clip). The line between drums and none is calibrated on real
  music: FluidSynth renders of the dataset's own generated pieces, labelled by their scores
  (`--calibrate` pieces; needs fluidsynth and fluid-soundfont-gm), each passed through riff's
  spectrogram image and phase retrieval as a model's output is (so the line holds what the
  codec does; it barely moves the share: raw renders are printed beside). A clip is
  judged "drums" above the midpoint between the drumless pieces' 90th percentile and the drum
  pieces' 10th.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import librosa
import numpy as np
import pyloudnorm
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from riff.audio.loudness import TARGET_LUFS  # noqa: E402
from riff.models import load_model, recommended_steps  # noqa: E402
from riff.render import render_clip  # noqa: E402
from riff.request import PromptEnd, Settings  # noqa: E402
from riff.runtime import keep_large_buffers  # noqa: E402
from riff.track import clip_audio  # noqa: E402

PROMPTS = (
    "rock drum beat, 120 bpm",
    "hip hop drums with bass",
    "funk drums with slap bass, 94 bpm",
    "jazz piano trio",
    "solo piano, slow, minor",
    "acoustic guitar strumming",
    "string quartet, sad",
    "church organ chorale",
    "synth pad, ambient",
    "trumpet melody over drums",
    "flute folk tune",
    "electronic dance music, fast",
)
PIANO = ("solo piano", "solo piano, slow, minor")
DRUMS = ("drum beat", "rock drum beat, 120 bpm", "hip hop drums")
SAMPLE_RATE = 44100


def lufs(waveform: torch.Tensor) -> float:
    return float(pyloudnorm.Meter(SAMPLE_RATE).integrated_loudness(waveform.double().T.numpy()))


def crest_db(waveform: torch.Tensor) -> float:
    x = waveform.double()
    return float(20 * torch.log10(x.abs().max() / x.pow(2).mean().sqrt().clamp_min(1e-12)))


def percussive_share(waveform: torch.Tensor) -> float:
    mono = librosa.resample(waveform.mean(0).double().numpy(), orig_sr=SAMPLE_RATE, target_sr=22050)
    spectrum = np.abs(librosa.stft(mono)) ** 2
    harmonic, percussive = librosa.decompose.hpss(spectrum)
    return float(percussive.sum() / max(harmonic.sum() + percussive.sum(), 1e-12))


def loudness(model, steps: int, denoising: float) -> list[dict]:
    rows = []
    for prompt in PROMPTS:
        end = PromptEnd(prompt, seed=0, denoising=denoising)
        clip = render_clip(model, end, Settings(num_inference_steps=steps))
        delivered = clip_audio(clip)  # as `riff generate` delivers one clip
        rows.append({"prompt": prompt, "lufs": lufs(delivered), "crest_db": crest_db(clip.waveform)})
    return rows


def drums(model, steps: int, seeds: int) -> dict[str, list[float]]:
    shares: dict[str, list[float]] = {"piano": [], "drums": []}
    for kind, prompts in (("piano", PIANO), ("drums", DRUMS)):
        for prompt in prompts:
            for seed in range(seeds):
                end = PromptEnd(prompt, seed=seed, denoising=1.0)
                clip = render_clip(model, end, Settings(num_inference_steps=steps))
                shares[kind].append(percussive_share(clip.waveform))
    return shares


def calibrate(pieces: int) -> float:
    """The percussive share between real drumless and real drum music (FluidSynth renders)."""
    from riff.train.dataset.build import find_soundfont, render_piece
    from riff.train.dataset.generated import generated_piece

    soundfont = find_soundfont()
    raw: dict[bool, list[float]] = {True: [], False: []}
    real: dict[bool, list[float]] = {True: [], False: []}
    rng = np.random.default_rng(7)
    while min(len(v) for v in real.values()) < pieces // 2:
        piece = generated_piece(rng)
        has = bool(piece.labels["has_drums"])
        if len(real[has]) < pieces // 2:
            waveform = render_piece(piece, soundfont)
            raw[has].append(percussive_share(waveform))
            real[has].append(percussive_share(through_codec(waveform)))
    quiet, loud = np.percentile(real[False], 90), np.percentile(real[True], 10)
    print(
        f"real music (FluidSynth, through the codec; raw renders in brackets): percussive share of "
        f"{len(real[False])} drumless pieces median {np.median(real[False]):.3f} ({np.median(raw[False]):.3f}), "
        f"90th pct {quiet:.3f}; {len(real[True])} with drums median {np.median(real[True]):.3f} "
        f"({np.median(raw[True]):.3f}), 10th pct {loud:.3f}"
    )
    return float((quiet + loud) / 2)


def through_codec(waveform: torch.Tensor) -> torch.Tensor:
    """What a perfect model would give for this audio: its spectrogram image, decoded."""
    from riff.audio.decode import Spectrogram, decode, image_from_waveform
    from riff.audio.spectrogram import SpectrogramParams

    image = image_from_waveform(waveform, SpectrogramParams())
    ((_, decoded),) = decode([Spectrogram.from_image(image)])
    return decoded.waveform


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="default: the bundled model")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument(
        "--denoising",
        type=float,
        default=PromptEnd.denoising,
        help="for the loudness prompts (1: text alone)",
    )
    parser.add_argument("--skip-drums", action="store_true", help="loudness only")
    parser.add_argument("--calibrate", type=int, default=24, help="real pieces to calibrate on (0: skip)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    keep_large_buffers()
    line = calibrate(args.calibrate) if args.calibrate and not args.skip_drums else 0.5
    model = load_model(args.model, device="cpu")
    steps = recommended_steps(args.model)
    print(f"{model.describe()}, {steps} steps, {args.threads} threads")

    rows = loudness(model, steps, args.denoising)
    reached = sum(abs(r["lufs"] - TARGET_LUFS) <= 1.0 for r in rows)
    for r in rows:
        print(f"  {r['prompt']:<36} {r['lufs']:6.1f} LUFS  crest {r['crest_db']:4.1f} dB")
    print(
        f"loudness: {reached} of {len(rows)} prompts reach {TARGET_LUFS:.0f} LUFS within 1 dB "
        f"(target: 10); median {statistics.median(r['lufs'] for r in rows):.1f} LUFS, "
        f"median crest {statistics.median(r['crest_db'] for r in rows):.1f} dB (denoising {args.denoising})"
    )
    if args.skip_drums:
        return

    shares = drums(model, steps, args.seeds)
    piano_drums = sum(s > line for s in shares["piano"])
    drum_drums = sum(s > line for s in shares["drums"])
    ratio = statistics.mean(shares["drums"]) / max(statistics.mean(shares["piano"]), 1e-12)
    print(
        f"drums (text alone, line {line:.3f}): piano prompts judged drums in {piano_drums} of "
        f"{len(shares['piano'])} (target 0); drum prompts in {drum_drums} of {len(shares['drums'])}; "
        f"percussive share piano median {statistics.median(shares['piano']):.3f}, drums median "
        f"{statistics.median(shares['drums']):.3f}, ratio of means {ratio:.2f} (goal 1.5)"
    )


if __name__ == "__main__":
    main()
