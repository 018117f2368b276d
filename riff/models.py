"""Which model, loaded how: diffusers components from a hub id or a local folder."""

from __future__ import annotations

import importlib.util
import inspect
import json
import logging
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch

from riff.params import SpectrogramParams

log = logging.getLogger(__name__)

# riff's own small model, trained offline and shipped in the repository: runs on a CPU, no download.
BUNDLED_MODEL = Path(__file__).resolve().parent.parent / "assets" / "riff-small"
DEFAULT_MODEL = str(BUNDLED_MODEL)
REFERENCE_MODEL = "riffusion/riffusion-model-v1"
REFERENCE_STEPS = 50  # the reference's default, for models that do not say otherwise
SCHEDULERS = ("default", "dpm++")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
_TRUE, _FALSE = ("1", "t", "true", "yes", "on"), ("", "0", "f", "false", "no", "off")

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


@dataclass
class Model:
    """The loaded diffusers components of one Stable Diffusion 1.x model, on one device."""

    unet: torch.nn.Module
    vae: torch.nn.Module
    text_encoder: torch.nn.Module
    tokenizer: object
    scheduler: object
    name: str
    device: torch.device
    dtype: torch.dtype
    # The spectrogram format its images are in: riff.json's "spectrogram", else the reference's.
    params: SpectrogramParams = field(default_factory=SpectrogramParams)
    recommended_steps: int = REFERENCE_STEPS  # riff.json's "num_inference_steps", else the reference's
    # The UNet under torch.compile (--compile, RIFF_COMPILE), else None; `unet` stays the plain
    # module for training, saving and its config.
    compiled: CompiledUNet | None = None

    @property
    def denoiser(self) -> Callable[..., object]:
        """What the denoising loop calls: the compiled UNet if there is one, else the UNet."""
        return self.compiled if self.compiled is not None else self.unet

    @property
    def vae_scale(self) -> int:
        """Pixels per latent cell along each side (8 for Stable Diffusion)."""
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    def describe(self) -> str:
        dtype = str(self.dtype).removeprefix("torch.")
        compiled = ", compiled UNet" if self.compiled is not None else ""
        return f"{display_name(self.name)} on {self.device.type} ({dtype}{compiled})"

    def make_scheduler(self, name: str = "default") -> object:
        """A fresh scheduler (they keep state between steps, so one per run).

        "default" is the model's own (PNDM for riffusion-model-v1); "dpm++" is DPM-Solver++
        multistep, good in about half the steps.
        """
        from diffusers import DPMSolverMultistepScheduler

        if name == "default":
            return type(self.scheduler).from_config(self.scheduler.config)
        if name == "dpm++":
            return DPMSolverMultistepScheduler.from_config(
                self.scheduler.config, algorithm_type="dpmsolver++"
            )
        raise ValueError(f"unknown scheduler {name!r}: choose one of {', '.join(SCHEDULERS)}")


def pick_device(requested: str | None = None) -> torch.device:
    """The requested device, else CUDA, else Apple MPS, else the CPU.

    Raises:
        ValueError: the requested device does not exist here.
    """
    if requested:
        try:
            device = torch.device(requested)
        except RuntimeError:
            raise ValueError(f"unknown device {requested!r}: use cpu, cuda, cuda:N or mps") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {requested!r} asked for, but no CUDA GPU is available")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise ValueError(f"device {requested!r} asked for, but Apple MPS is not available")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def default_dtype(device: torch.device) -> torch.dtype:
    """fp16 on GPUs (half the memory, tensor cores), fp32 on the CPU (fp16 is slow there)."""
    return torch.float16 if device.type in ("cuda", "mps") else torch.float32


def model_name(requested: str | None = None) -> str:
    """The model to use: the argument, else $RIFF_MODEL, else `default_model()`."""
    return requested or os.environ.get("RIFF_MODEL") or default_model()


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


def _offline(environ: Mapping[str, str]) -> bool:
    return environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE


def default_model(environ: Mapping[str, str] = os.environ) -> str:
    """riffusion-model-v1 on a Space with a GPU (the hardware it was made for); the bundled
    riff-small elsewhere: on a CPU, offline, or off Spaces."""
    return REFERENCE_MODEL if gpu_space(environ) and not _offline(environ) else DEFAULT_MODEL


def default_model_reason(environ: Mapping[str, str] = os.environ) -> str:
    """One line: which model `model_name()` picks without an argument, and why."""
    if environ.get("RIFF_MODEL"):
        return f"{display_name(environ['RIFF_MODEL'])}: chosen by RIFF_MODEL"
    space = gpu_space(environ)
    if space and not _offline(environ):
        return f"{REFERENCE_MODEL}: the default on a Space with a {space}; RIFF_MODEL picks another"
    where = "offline" if space else "on a Space's CPU" if environ.get("SPACE_ID") else "off Spaces"
    return (
        f"riff-small (bundled): the default {where}, no download; "
        f"RIFF_MODEL={REFERENCE_MODEL} runs the reference's model on a GPU"
    )


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
                chosen = default_steps if default_steps is not None else recommended_steps()
            columns = values.get(width) if width else None
            columns = 512 if columns is None else columns
            return gpu_seconds(int(float(count)), int(float(chosen)), int(float(columns)))
        except (TypeError, ValueError, KeyError, OverflowError):
            return GPU_FALLBACK_S

    return seconds


def display_name(name: str) -> str:
    """How to show a model: the bundled one by name, others as given."""
    try:
        if Path(name).expanduser().resolve() == BUNDLED_MODEL:
            return "riff-small (bundled)"
    except OSError:
        pass
    return name


def model_card(name: str | None = None) -> dict:
    """What a model folder's riff.json says about it (written by `riff train`); {} for none.

    Read without loading the model, so forms and command lines can use it up front.
    """
    try:
        card = json.loads((Path(model_name(name)).expanduser() / "riff.json").read_text())
    except (OSError, ValueError):
        return {}
    return card if isinstance(card, dict) else {}


def model_format(name: str | None = None) -> SpectrogramParams:
    """The spectrogram format a model declares in its riff.json ("spectrogram": the fields of
    `SpectrogramParams`), else the reference's.

    Raises:
        ValueError: a declared format that is not a valid one.
    """
    declared = model_card(name).get("spectrogram") or {}
    try:
        return SpectrogramParams(**declared)
    except TypeError as error:
        raise ValueError(f"riff.json of {display_name(name)}: bad spectrogram format: {error}") from None


def recommended_steps(name: str | None = None) -> int:
    """Denoising steps the model recommends (its riff.json), else the reference's 50."""
    try:
        steps = int(model_card(name)["num_inference_steps"])
    except (KeyError, TypeError, ValueError):
        return REFERENCE_STEPS
    return steps if 1 <= steps <= 1000 else REFERENCE_STEPS


def save_model(components: dict[str, object], folder: str | Path, dtype: torch.dtype | None = None) -> Path:
    """Write components (unet, vae, text_encoder, tokenizer, scheduler) in diffusers layout,
    with a model_index.json, so `load_model` and diffusers pipelines read the folder.

    Args:
        dtype: weights saved in this dtype (the modules themselves are left as they are);
            None keeps theirs.
    """
    import copy

    import diffusers

    folder = Path(folder)
    index = {"_class_name": "StableDiffusionPipeline", "_diffusers_version": diffusers.__version__}
    for name, component in components.items():
        if isinstance(component, torch.nn.Module) and dtype is not None and component.dtype != dtype:
            component = copy.deepcopy(component).to("cpu", dtype)
        component.save_pretrained(folder / name)
        library = "transformers" if type(component).__module__.startswith("transformers") else "diffusers"
        index[name] = [library, type(component).__name__]
    (folder / "model_index.json").write_text(json.dumps(index, indent=2) + "\n")
    return folder


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
    if value in _FALSE:
        return None
    if value in _TRUE:
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


def load_model(
    name: str | None = None,
    device: str | None = None,
    dtype: torch.dtype | None = None,
    compile: bool | str | None = None,
) -> Model:
    """Load unet, vae, text encoder, tokenizer and scheduler with `from_pretrained`.

    Args:
        name: hub id or local folder in diffusers layout; see `model_name`.
        compile: put the UNet under `torch.compile` (see `compile_mode`); None reads
            $RIFF_COMPILE. Off by default: the first call pays the compilation.
    Raises:
        ValueError: in one line, when the model cannot be loaded, saying how to fix it.
    """
    import diffusers
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer

    name = model_name(name)
    torch_device = pick_device(device)
    dtype = dtype or default_dtype(torch_device)
    mode = compile_mode(compile, torch_device)  # a bad RIFF_COMPILE fails before the load
    local = Path(name).expanduser()
    if not local.exists() and (name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name):
        raise ValueError(
            f"no such model folder: {name!r}; pass --model or set RIFF_MODEL to a diffusers folder"
        )
    if local.exists() and not (local / "unet").is_dir():
        raise ValueError(f"{name!r} is not a diffusers model folder: it has no unet/ subfolder")
    source = str(local) if local.exists() else name
    log.info("loading %s on %s (%s)", source, torch_device, dtype)
    try:
        unet = UNet2DConditionModel.from_pretrained(source, subfolder="unet", dtype=dtype)
        vae = AutoencoderKL.from_pretrained(source, subfolder="vae", dtype=dtype)
        text_encoder = CLIPTextModel.from_pretrained(source, subfolder="text_encoder", dtype=dtype)
        tokenizer = CLIPTokenizer.from_pretrained(source, subfolder="tokenizer")
        config = diffusers.PNDMScheduler.load_config(source, subfolder="scheduler")
        scheduler_class = getattr(diffusers, config.get("_class_name", "PNDMScheduler"), None)
        if scheduler_class is None:
            raise ValueError(f"unknown scheduler class {config['_class_name']!r}")
        scheduler = scheduler_class.from_config(config)
    except (OSError, ValueError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(
            f"cannot load model {name!r} from the hub or the cache ({reason}); pass --model or set RIFF_MODEL to a local "
            "folder in diffusers layout (unet/, vae/, text_encoder/, tokenizer/, scheduler/)"
        ) from None
    for module in (unet, vae, text_encoder):
        module.to(torch_device).eval().requires_grad_(False)
    params, steps = model_format(name), recommended_steps(name)  # riff.json read at load, once
    compiled = CompiledUNet(unet, mode) if mode is not None else None
    if compiled is not None:
        log.info("UNet under torch.compile (mode %s): the first denoising step compiles it", mode)
    return Model(
        unet, vae, text_encoder, tokenizer, scheduler, name, torch_device, dtype, params, steps, compiled
    )
