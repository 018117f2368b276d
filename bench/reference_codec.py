"""Run the original Riffusion (riffusion==0.0.5) spectrogram codec for side-by-side benchmarks.

Run with the side venv made by ``bench/setup_reference.sh`` (never with riff's own venv)::

    .ref-venv/bin/python bench/reference_codec.py decode --out-dir DIR [--threads N] [--raw] IMG...
    .ref-venv/bin/python bench/reference_codec.py encode --out-dir DIR [--stereo] WAV...

``decode`` does what the reference server does: default ``SpectrogramParams`` (EXIF ignored),
``SpectrogramImageConverter.audio_from_spectrogram_image(image, apply_filters=True)``, i.e.
image -> mel amplitudes -> InverseMelScale -> 32 fast Griffin-Lim iterations (momentum 0.99,
random initial phase) -> peak-normalise to int16 -> gain to -12 dBFS RMS -> peak-normalise to
-0.1 dBFS. It writes ``DIR/<stem>.wav`` as float32 at 44100 Hz (int16 samples / 32768) and prints
one JSON line per image with the decode wall time and process CPU time (after one untimed
warm-up decode). ``--raw`` instead writes the float Griffin-Lim output before the int16 and
loudness steps (InverseMelScale is torchaudio's least-squares solve, not 0.0.5's SGD).

``encode`` writes ``DIR/<stem>.png``: the reference's spectrogram image with its EXIF tags.
No network access is needed; nothing is imported from the riff package.
"""

from __future__ import annotations

import argparse
import inspect
import json
import time
import typing as T
from pathlib import Path

import numpy as np
import torch
import torchaudio
from scipy.io import wavfile


class _InverseMelScale(torchaudio.transforms.InverseMelScale):
    """Accept (and drop) the SGD arguments older torchaudio took and riffusion 0.0.5 passes."""

    _DROPPED = ("max_iter", "tolerance_loss", "tolerance_change", "sgdargs")

    def __init__(self, *args: T.Any, **kwargs: T.Any) -> None:
        accepted = inspect.signature(torchaudio.transforms.InverseMelScale.__init__).parameters
        for key in self._DROPPED:
            if key not in accepted:
                kwargs.pop(key, None)
        super().__init__(*args, **kwargs)


torchaudio.transforms.InverseMelScale = _InverseMelScale  # type: ignore[misc]

import pydub  # noqa: E402
from PIL import Image  # noqa: E402
from riffusion.spectrogram_image_converter import SpectrogramImageConverter  # noqa: E402
from riffusion.spectrogram_params import SpectrogramParams  # noqa: E402
from riffusion.util import image_util  # noqa: E402


def make_converter(stereo: bool = False) -> SpectrogramImageConverter:
    """The reference converter with the server's parameters (the defaults), on the CPU."""
    return SpectrogramImageConverter(params=SpectrogramParams(stereo=stereo), device="cpu")


def decode_image(conv: SpectrogramImageConverter, image: Image.Image, raw: bool) -> np.ndarray:
    """Decode one image to float32 samples, shape (samples,) or (samples, channels)."""
    if raw:
        mel = image_util.spectrogram_from_image(
            image, power=conv.p.power_for_image, stereo=conv.p.stereo, max_value=30e6
        )
        wave = conv.converter.waveform_from_mel_amplitudes(torch.from_numpy(mel))
        return wave.numpy().T.squeeze(-1).astype(np.float32)
    segment = conv.audio_from_spectrogram_image(image, apply_filters=True)
    scale = float(1 << (8 * segment.sample_width - 1))
    samples = np.array(segment.get_array_of_samples(), dtype=np.float32) / scale
    return samples.reshape(-1, segment.channels).squeeze(-1)


def load_segment(path: Path) -> pydub.AudioSegment:
    """Read a WAV (int or float PCM) as the int16 pydub segment the reference expects."""
    rate, data = wavfile.read(path)
    if data.dtype.kind == "f":
        data = np.clip(data * 32767.0, -32768, 32767)
    elif data.dtype != np.int16:
        data = data / float(np.iinfo(data.dtype).max) * 32767.0
    data = np.ascontiguousarray(data.astype(np.int16))
    channels = 1 if data.ndim == 1 else data.shape[1]
    return pydub.AudioSegment(data.tobytes(), frame_rate=rate, sample_width=2, channels=channels)


def cmd_decode(paths: T.Sequence[Path], out_dir: Path, raw: bool) -> None:
    """Decode each image to out_dir/<stem>.wav and print one JSON timing line per image."""
    conv = make_converter()
    images = [Image.open(p).convert("RGB") for p in paths]
    decode_image(conv, images[0], raw)  # warm-up
    for path, image in zip(paths, images):
        start, cpu_start = time.perf_counter(), time.process_time()
        samples = decode_image(conv, image, raw)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        wavfile.write(out_dir / f"{path.stem}.wav", conv.p.sample_rate, samples)
        print(
            json.dumps(
                {
                    "image": str(path),
                    "seconds": round(seconds, 4),
                    "cpu_seconds": round(cpu, 4),
                    "samples": int(samples.shape[0]),
                }
            ),
            flush=True,
        )


def cmd_encode(paths: T.Sequence[Path], out_dir: Path, stereo: bool = False) -> None:
    """Encode each WAV to the reference's spectrogram PNG (with EXIF) in out_dir."""
    conv = make_converter(stereo)
    for path in paths:
        image = conv.spectrogram_image_from_audio(load_segment(path))
        out = out_dir / f"{path.stem}.png"
        image.save(out, exif=image.getexif(), format="PNG")
        print(json.dumps({"wav": str(path), "image": str(out), "size": list(image.size)}))


def main(argv: T.Sequence[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["decode", "encode"])
    parser.add_argument("inputs", nargs="+", type=Path)
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument(
        "--raw", action="store_true", help="decode: write Griffin-Lim output before int16/loudness steps"
    )
    parser.add_argument("--stereo", action="store_true", help="encode: the reference's stereo layout")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    if args.command == "decode":
        cmd_decode(args.inputs, args.out_dir, args.raw)
    else:
        cmd_encode(args.inputs, args.out_dir, args.stereo)


if __name__ == "__main__":
    main()
