"""ZeroGPU on Hugging Face Spaces: how long one call needs, read from its request.

`spaces.GPU(duration=...)` takes a function of the handler's arguments; `gpu_duration` makes
one from the request's clips, steps and width (`gpu_seconds`). Which GPU a Space has is
`riff.gpu.gpu_space`.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping

from riff.models import recommended_steps

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
        default_steps: steps when the request leaves them to the model; None asks the
            studio's engine (the bound `self`'s), else the bundled model's (`recommended_steps`).
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
                engine = getattr(values.get("self"), "engine", None)
                chosen = default_steps or getattr(engine, "default_steps", None) or recommended_steps()
            columns = values.get(width) if width else None
            columns = 512 if columns is None else columns
            return gpu_seconds(int(float(count)), int(float(chosen)), int(float(columns)))
        except (TypeError, ValueError, KeyError, OverflowError):
            return GPU_FALLBACK_S

    return seconds
