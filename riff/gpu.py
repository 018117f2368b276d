"""The GPU path: which GPU a Hugging Face Space has, and the UNet under `torch.compile`.

How long a ZeroGPU call needs is `riff.serve.spaces`'s: it reads the model's steps, and the model
layer reads this module."""

from __future__ import annotations

import importlib.util
import logging
import time
from collections.abc import Mapping

import torch

log = logging.getLogger(__name__)

COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
TRUE, FALSE = ("1", "t", "true", "yes", "on"), ("", "0", "f", "false", "no", "off")


def gpu_space(environ: Mapping[str, str]) -> str | None:
    """What GPU a Hugging Face Space has: "GPU" (CUDA visible), "ZeroGPU" (borrowed per call
    through `spaces.GPU`), or None off Spaces or on a CPU Space.

    A Space sets SPACE_ID; ZeroGPU sets SPACES_ZERO_GPU (read as the `spaces` package reads it)
    and needs that package to lend the GPU. `environ` is the entry point's environment.
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


def compile_mode(setting: bool | str | None, device: torch.device) -> str | None:
    """The `torch.compile` mode for a --compile / RIFF_COMPILE setting (the entry point reads
    the variable and passes it); None for eager.

    None, False, "" or "0" run eager. True, "1" (or "true", "yes", "on") pick the device's mode:
    "max-autotune-no-cudagraphs" on CUDA, since riff's shapes change with the batch and the
    width and CUDA graphs are recorded per shape; "default" elsewhere. A mode's name picks it
    ("reduce-overhead" suits a CUDA server whose requests all have one shape).

    Raises:
        ValueError: a setting that is none of these.
    """
    if setting is None:
        return None
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
