"""The GPU path: which GPU a Hugging Face Space has, how long a ZeroGPU call needs, and the
UNet under `torch.compile`."""

from __future__ import annotations

import importlib.util
import inspect
import logging
import math
import os
import time
from collections.abc import Callable, Mapping

import torch

log = logging.getLogger(__name__)

COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
TRUE, FALSE = ("1", "t", "true", "yes", "on"), ("", "0", "f", "false", "no", "off")

# What one ZeroGPU call needs, for `gpu_seconds`. Estimates, not measurements: SD 1.5 in fp16
# with guidance runs about 25 it/s for one image on an A100 and 1.5-2x that on an H100/H200, so
# a batch of 4 clips (8 UNet images of 64 x 64 latents) should take about 80 ms a step there.
# Replace them with the figures `bash bench/gpu_check.sh` measures on the Space's GPU.
GPU_STEP_S = 0.02  # one denoising step of one 512-column clip (a 4-clip batch, guidance on)
GPU_CLIP_S = 0.5  # one 512-column clip after denoising: VAE decode, phase retrieval, PNG and WAV
GPU_SETUP_S = 10.0  # once per call: weights onto the GPU, CUDA context, first kernels
GPU_SAFETY = 1.5  # ZeroGPU stops a call at its duration, so ask for more than the estimate
GPU_SECONDS = (15, 300)  # ZeroGPU's useful range: shorter calls queue first, 300 s is plenty
GPU_FALLBACK_S = 60  # spaces.GPU's own default, for a request whose size cannot be read


def gpu_space(environ: Mapping[str, str] = os.environ) -> str | None:
    """What GPU a Hugging Face Space has: "GPU" (CUDA visible), "ZeroGPU" (borrowed per call
    through `spaces.GPU`), or None off Spaces or on a CPU Space.

    A Space sets SPACE_ID; ZeroGPU sets SPACES_ZERO_GPU (read as the `spaces` package reads it)
    and needs that package to lend the GPU.
    """
    if not environ.get("SPACE_ID"):
        return None
    if environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "t", "true") and _spaces_installed():
        return "ZeroGPU"
    return "GPU" if torch.cuda.is_available() else None


def _spaces_installed() -> bool:
    try:
        return importlib.util.find_spec("spaces") is not None
    except ValueError:  # imported without a spec: present all the same
        return True


def gpu_seconds(clips: int, steps: int, width_columns: int = 512) -> int:
    """Seconds to ask ZeroGPU for (`spaces.GPU(duration=...)`) to render `clips` clips of
    `width_columns` columns with `steps` denoising steps, clamped to `GPU_SECONDS`.

    Every step is counted, although img2img runs only the last `denoising` share of them.
    The constants above are estimates for SD 1.5 on an H200-class GPU; smaller models
    (riff-small) need less.
    """
    scale = max(clips, 1) * max(width_columns, 1) / 512
    estimate = GPU_SETUP_S + scale * (GPU_CLIP_S + max(steps, 1) * GPU_STEP_S)
    low, high = GPU_SECONDS
    return int(min(max(math.ceil(GPU_SAFETY * estimate), low), high))


def gpu_duration(
    handler: Callable[..., object],
    clips: str | Callable[[Mapping[str, object]], int],
    steps: str = "num_inference_steps",
    width: str | None = "width",
    default_steps: int | None = None,
) -> Callable[..., int]:
    """A duration function for `spaces.GPU(duration=...)` over `handler`, from its request.

    ZeroGPU calls the function with the handler's own arguments (self included for a method
    decorated in its class); they are bound to `handler`'s signature, defaults applied.

    Args:
        clips: the parameter with the number of clips, or a function of the bound arguments
            (a mapping of parameter names to values) that returns it.
        steps: the parameter with the denoising steps; None there means `default_steps`.
        width: the parameter with the clip width in columns, or None for 512.
        default_steps: steps when the request leaves them to the model; None reads the
            default model's (`recommended_steps`).
    Returns:
        A function returning seconds (`gpu_seconds`); `GPU_FALLBACK_S` when the request's
        size cannot be read (the handler then refuses it in one line, quickly).
    """
    signature = inspect.signature(handler)

    def seconds(*args: object, **kwargs: object) -> int:
        try:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            values = bound.arguments
            count = clips(values) if callable(clips) else values[clips]
            chosen = values.get(steps)
            if chosen is None:
                from riff.models import recommended_steps

                chosen = default_steps if default_steps is not None else recommended_steps()
            columns = values.get(width) if width else None
            columns = 512 if columns is None else columns
            return gpu_seconds(int(float(count)), int(float(chosen)), int(float(columns)))
        except (TypeError, ValueError, KeyError, OverflowError):
            return GPU_FALLBACK_S

    return seconds


def compile_mode(setting: bool | str | None, device: torch.device) -> str | None:
    """The `torch.compile` mode for a --compile / RIFF_COMPILE setting; None for eager.

    None reads $RIFF_COMPILE. True, "1" (or "true", "yes", "on") pick the device's mode:
    "max-autotune-no-cudagraphs" on CUDA, since riff's shapes change with the batch and the
    width and CUDA graphs are recorded per shape; "default" elsewhere. A mode's name picks it
    ("reduce-overhead" suits a CUDA server whose requests all have one shape).

    Raises:
        ValueError: a setting that is none of these.
    """
    if setting is None:
        setting = os.environ.get("RIFF_COMPILE", "")
    value = ("1" if setting else "0") if isinstance(setting, bool) else setting.strip().lower()
    if value in FALSE:
        return None
    if value in TRUE:
        return "max-autotune-no-cudagraphs" if device.type == "cuda" else "default"
    if value in COMPILE_MODES:
        return value
    raise ValueError(
        f"RIFF_COMPILE={setting!r}: use 1 or 0, or a torch.compile mode ({', '.join(COMPILE_MODES)})"
    )


class CompiledUNet:
    """A UNet under `torch.compile`, called as the UNet is. Compilation happens on the first
    call; its extra time (the first call's less the second's) is logged once as the warm-up.
    A new shape (another batch size or width) compiles again: TORCH_LOGS=recompiles shows it."""

    def __init__(self, unet: torch.nn.Module, mode: str) -> None:
        self.unet, self.mode = unet, mode
        self.forward = torch.compile(unet, mode=mode)
        self.first_s: float | None = None  # the first call, compilation included
        self.warmup_s: float | None = None  # its extra time over the second call

    def __call__(self, *args: object, **kwargs: object) -> object:
        if self.warmup_s is not None:
            return self.forward(*args, **kwargs)
        start = time.perf_counter()
        out = self.forward(*args, **kwargs)
        if self.unet.device.type == "cuda":
            torch.cuda.synchronize(self.unet.device)
        took = time.perf_counter() - start
        if self.first_s is None:
            self.first_s = took
        else:
            self.warmup_s = max(self.first_s - took, 0.0)
            log.info("compiled UNet warm-up: %.1f s (mode %s)", self.warmup_s, self.mode)
        return out
