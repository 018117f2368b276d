"""Which model, loaded how: diffusers components from a hub id or a local folder."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import huggingface_hub.constants
import torch

from riff import ASSETS
from riff.audio.params import SpectrogramParams
from riff.gpu import TRUE, CompiledUNet, compile_mode, gpu_space

log = logging.getLogger(__name__)

# riff's own small model, trained offline and shipped in the repository: runs on a CPU, no download.
BUNDLED_MODEL = ASSETS / "riff-small"
DEFAULT_MODEL = str(BUNDLED_MODEL)
REFERENCE_MODEL = "riffusion/riffusion-model-v1"
REFERENCE_STEPS = 50  # the reference's default, for models that do not say otherwise
SCHEDULERS = ("default", "dpm++")


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


def model_name(requested: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The model to use: the argument, else RIFF_MODEL in `environ` (the entry point's
    environment), else `default_model(environ)`: the bundled riff-small without one."""
    environ = environ or {}
    return requested or environ.get("RIFF_MODEL") or default_model(environ)


def first_line(error: BaseException, most: int = 200) -> str:
    """An error's first line (its type's name if it has no text), for a one-line message."""
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:most]


def _offline(environ: Mapping[str, str]) -> bool:
    return environ.get("HF_HUB_OFFLINE", "").strip().lower() in TRUE


def hub_reachable(timeout_s: float = 3.0) -> bool:
    """Whether the Hugging Face hub answers a TCP connection within `timeout_s` (its address as
    huggingface_hub read it from HF_ENDPOINT: the hub's own variable, read by its library)."""
    endpoint = urlparse(huggingface_hub.constants.ENDPOINT)
    port = endpoint.port or (80 if endpoint.scheme == "http" else 443)
    try:
        socket.create_connection((endpoint.hostname or "", port), timeout=timeout_s).close()
    except OSError:
        return False
    return True


def default_model(environ: Mapping[str, str]) -> str:
    """riffusion-model-v1 on a Space with a GPU (the hardware it was made for); the bundled
    riff-small elsewhere: on a CPU, offline, or off Spaces."""
    return REFERENCE_MODEL if gpu_space(environ) and not _offline(environ) else DEFAULT_MODEL


def default_model_reason(environ: Mapping[str, str]) -> str:
    """One line: which model `model_name(None, environ)` picks, and why."""
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


def display_name(name: str) -> str:
    """How to show a model: the bundled one by name, others as given."""
    try:
        if Path(name).expanduser().resolve() == BUNDLED_MODEL:
            return "riff-small (bundled)"
    except OSError:
        pass
    return name


def shared_name(name: str) -> str:
    """How to name a model where others read it (a downloaded settings file): a hub id as given,
    the bundled model as "riff-small", any local folder by its own name, never by its path on
    this machine."""
    local = Path(name).expanduser()
    try:
        if local.resolve() == BUNDLED_MODEL:
            return BUNDLED_MODEL.name
        folder = local.exists()
    except OSError:
        folder = False
    path_like = local.is_absolute() or name.startswith((".", "~")) or name.count("/") > 1 or "\\" in name
    return name.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] if folder or path_like else name


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


def load_model(
    name: str | None = None,
    device: str | None = None,
    dtype: torch.dtype | None = None,
    compile: bool | str | None = None,
) -> Model:
    """Load unet, vae, text encoder, tokenizer and scheduler with `from_pretrained`.

    Args:
        name: hub id or local folder in diffusers layout; None: the bundled riff-small (the
            entry points resolve RIFF_MODEL with `model_name`).
        compile: put the UNet under `torch.compile` (see `compile_mode`; the entry points pass
            --compile or RIFF_COMPILE). Off by default: the first call pays the compilation.
    Raises:
        ValueError: in one line, when the model cannot be loaded, saying how to fix it.
    """
    import diffusers
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer

    name = model_name(name)
    torch_device = pick_device(device)
    dtype = dtype or default_dtype(torch_device)
    mode = compile_mode(compile, torch_device)  # a bad setting fails before the load
    local = Path(name).expanduser()
    if not local.exists() and (name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name):
        raise ValueError(
            f"no such model folder: {name!r}; pass --model or set RIFF_MODEL to a diffusers folder"
        )
    if local.exists() and not (local / "unet").is_dir():
        raise ValueError(f"{name!r} is not a diffusers model folder: it has no unet/ subfolder")
    source = str(local) if local.exists() else name
    # Unreachable hub: read the cache only, at once, instead of minutes of retries.
    cache_only = local.exists() or huggingface_hub.constants.HF_HUB_OFFLINE or not hub_reachable()
    log.info("loading %s on %s (%s)", source, torch_device, dtype)
    where = (
        "the local cache (the hub is unreachable from here)"
        if cache_only and not local.exists()
        else "the hub or the cache"
    )
    try:
        options = {"local_files_only": cache_only}
        unet = UNet2DConditionModel.from_pretrained(source, subfolder="unet", dtype=dtype, **options)
        vae = AutoencoderKL.from_pretrained(source, subfolder="vae", dtype=dtype, **options)
        text_encoder = CLIPTextModel.from_pretrained(source, subfolder="text_encoder", dtype=dtype, **options)
        tokenizer = CLIPTokenizer.from_pretrained(source, subfolder="tokenizer", **options)
        config = diffusers.PNDMScheduler.load_config(source, subfolder="scheduler", **options)
        scheduler_class = getattr(diffusers, config.get("_class_name", "PNDMScheduler"), None)
        if scheduler_class is None:
            raise ValueError(f"unknown scheduler class {config['_class_name']!r}")
        scheduler = scheduler_class.from_config(config)
    except (OSError, ValueError) as error:
        raise ValueError(
            f"cannot load model {name!r} from {where} ({first_line(error)}); pass --model or set RIFF_MODEL to a local "
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
