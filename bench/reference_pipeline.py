"""Time the original Riffusion pipeline (riffusion==0.0.5) for side-by-side benchmarks.

Run with the side venv made by ``bench/setup_reference.sh`` (never with riff's own venv);
``bench/bench_gpu.py`` runs it as a subprocess::

    .ref-venv/bin/python bench/reference_pipeline.py --model-dir DIR --seed-image PNG \\
        [--device cuda] [--dtype float16] [--clips 8 16] [--repeat 3] [--steps 50]

It loads the model folder (diffusers layout) component by component with ``from_pretrained``,
builds ``RiffusionPipeline(vae, text_encoder, tokenizer, unet, scheduler, None, None)`` and times
what the reference server does per request: ``riffuse(InferenceInput(...), init_image=...)``
then ``SpectrogramImageConverter.audio_from_spectrogram_image`` on the same device. A walk of N
clips is N such requests at alpha = linspace(0, 1, N), joined with hard cuts as the reference
app plays them. One untimed request warms up first: every request has the same shapes (batch 1),
so that warm-up serves every case. Prints one JSON line per case, each with the seconds of every
repeat; nothing is imported from the riff package and no network is needed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import typing as T
import warnings

# pydub looks for ffmpeg at import; the benchmark never encodes MP3.
warnings.filterwarnings("ignore", message="Couldn't find ffmpeg")
import diffusers.pipelines.pipeline_utils  # noqa: E402
import reference_codec  # noqa: E402, F401  (its import installs the InverseMelScale shim)

# Shims for current libraries (SPEC section 7), installed before riffusion's pipeline imports.
sys.modules["diffusers.pipeline_utils"] = diffusers.pipelines.pipeline_utils
import transformers  # noqa: E402  (importing diffusers swaps the lazy module, so alias after it)

transformers.logging.set_verbosity_error()
# The Pil variant is the same processor without the torchvision warning (not used: no checker).
_processor = getattr(transformers, "CLIPImageProcessorPil", None) or transformers.CLIPImageProcessor
transformers.CLIPFeatureExtractor = _processor  # type: ignore[attr-defined]

import numpy as np  # noqa: E402
import torch  # noqa: E402
from diffusers import AutoencoderKL, PNDMScheduler, UNet2DConditionModel  # noqa: E402
from PIL import Image  # noqa: E402
from riffusion.datatypes import InferenceInput, PromptInput  # noqa: E402
from riffusion.riffusion_pipeline import RiffusionPipeline  # noqa: E402
from riffusion.spectrogram_image_converter import SpectrogramImageConverter  # noqa: E402
from riffusion.spectrogram_params import SpectrogramParams  # noqa: E402

START = PromptInput(prompt="jazzy rapping from paris", seed=42, denoising=0.75, guidance=7.0)
END = PromptInput(prompt="church bells on sunday", seed=123, denoising=0.75, guidance=7.0)


def load_pipeline(model_dir: str, device: str, dtype: torch.dtype) -> RiffusionPipeline:
    """The reference pipeline over the folder's components, without safety checker."""
    unet = UNet2DConditionModel.from_pretrained(model_dir, subfolder="unet", torch_dtype=dtype)
    vae = AutoencoderKL.from_pretrained(model_dir, subfolder="vae", torch_dtype=dtype)
    text_encoder = transformers.CLIPTextModel.from_pretrained(
        model_dir, subfolder="text_encoder", dtype=dtype
    )
    tokenizer = transformers.CLIPTokenizer.from_pretrained(model_dir, subfolder="tokenizer")
    scheduler = PNDMScheduler.from_pretrained(model_dir, subfolder="scheduler")
    pipe = RiffusionPipeline(vae, text_encoder, tokenizer, unet, scheduler, None, None).to(device)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


class Request:
    """One reference server request: riffuse, then image to audio, each timed."""

    def __init__(self, pipe: RiffusionPipeline, converter: SpectrogramImageConverter, init: Image.Image):
        self.pipe, self.converter, self.init, self.device = pipe, converter, init, pipe.device

    def __call__(self, alpha: float, steps: int) -> tuple[float, float, T.Any]:
        sync(self.device)
        t0 = time.perf_counter()
        image = self.pipe.riffuse(
            InferenceInput(start=START, end=END, alpha=alpha, num_inference_steps=steps), init_image=self.init
        )
        sync(self.device)
        t1 = time.perf_counter()
        segment = self.converter.audio_from_spectrogram_image(image, apply_filters=True)
        sync(self.device)
        return t1 - t0, time.perf_counter() - t1, segment


def emit(record: dict[str, T.Any]) -> None:
    print(json.dumps(record), flush=True)


def main(argv: T.Sequence[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--seed-image", required=True, help="the init image (512 x 512 spectrogram)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", choices=["float16", "float32"], default=None)
    parser.add_argument("--clips", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    # The reference itself falls back to float32 off CUDA (RiffusionPipeline.load_checkpoint).
    dtype = getattr(torch, args.dtype or ("float16" if args.device.startswith("cuda") else "float32"))

    pipe = load_pipeline(args.model_dir, args.device, dtype)
    converter = SpectrogramImageConverter(params=SpectrogramParams(), device=args.device)
    request = Request(pipe, converter, Image.open(args.seed_image).convert("RGB"))
    emit(
        {
            "case": "env",
            "torch": torch.__version__,
            "diffusers": __import__("diffusers").__version__,
            "transformers": transformers.__version__,
            "device": args.device,
            "dtype": str(dtype).removeprefix("torch."),
            "threads": torch.get_num_threads(),
        }
    )
    request(0.0, args.steps)  # warm-up

    riffuse, to_audio = [], []
    for _ in range(args.repeat):
        a, b, _segment = request(0.0, args.steps)
        riffuse.append(a)
        to_audio.append(b)
    emit({"case": "riffuse", "clips": 1, "seconds": riffuse})
    emit({"case": "image_to_audio", "clips": 1, "seconds": to_audio})
    emit({"case": "clip", "clips": 1, "seconds": [a + b for a, b in zip(riffuse, to_audio)]})

    for n in args.clips:
        seconds = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            segments = [request(float(alpha), args.steps)[2] for alpha in np.linspace(0, 1, n)]
            track = sum(segments[1:], segments[0])  # hard cuts, as the reference app plays them
            seconds.append(time.perf_counter() - start)
        emit({"case": "walk", "clips": n, "seconds": seconds, "track_s": track.duration_seconds})


if __name__ == "__main__":
    main()
