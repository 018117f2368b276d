"""LoRA adapters on a loaded model: the convention for teaching a diffusion model a style from a
few examples (`riff train --lora`), loaded the way diffusers loads them.

An adapter is a folder holding `pytorch_lora_weights.safetensors` (what `riff train --lora` and
diffusers' own LoRA training write) or that file itself, with a scale: 0 leaves the model as it
was, 1 applies the adapter as trained; several adapters stack, each at its own scale.

    model = load_model("assets/riff-small")
    use_adapters(model, [Adapter.parse("my-lora:0.8")])
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from riff.models import Model, first_line

LORA_FILE = "pytorch_lora_weights.safetensors"
SCALES = (-2.0, 2.0)  # beyond these an adapter only distorts


@dataclass(frozen=True)
class Adapter:
    """One LoRA adapter and the scale it is applied at."""

    path: str
    scale: float = 1.0

    def __post_init__(self) -> None:
        low, high = SCALES
        if not (math.isfinite(self.scale) and low <= self.scale <= high):
            raise ValueError(f"a LoRA scale must be in {low:g}..{high:g}, got {self.scale:g}")

    @classmethod
    def parse(cls, text: str) -> Adapter:
        """An adapter from `PATH` or `PATH:SCALE` (a path may itself hold colons: only a number
        after the last one is a scale)."""
        path, colon, scale = text.rpartition(":")
        if colon and path:
            try:
                return cls(path, float(scale))
            except ValueError as error:
                if "scale" in str(error):
                    raise
        return cls(text)

    @property
    def name(self) -> str:
        """What the adapter is called: its folder's (or file's) name."""
        path = Path(self.path)
        return path.parent.name if path.name == LORA_FILE else path.stem if path.suffix else path.name

    def weights_file(self) -> Path:
        """The adapter's safetensors file.

        Raises:
            ValueError: in one line, when there is none.
        """
        path = Path(self.path).expanduser()
        if path.is_dir():
            path = path / LORA_FILE
        if not path.is_file() or path.suffix != ".safetensors":
            raise ValueError(
                f"no LoRA at {self.name!r}: give a folder holding {LORA_FILE} or a .safetensors file"
            )
        return path


@functools.cache
def _loader_class() -> type:
    """The parts of a diffusers pipeline its LoRA loader reads (`StableDiffusionLoraLoaderMixin`),
    over a riff `Model`."""
    from diffusers.loaders import StableDiffusionLoraLoaderMixin

    class Loader(StableDiffusionLoraLoaderMixin):
        hf_device_map = None
        components: dict = {}

        def __init__(self, model: Model) -> None:
            self.unet, self.text_encoder = model.unet, model.text_encoder

    return Loader


def use_adapters(model: Model, adapters: list[Adapter] | tuple[Adapter, ...]) -> None:
    """Apply `adapters` (and no others) to `model`, loading each the first time it is asked for.

    Raises:
        ValueError: in one line, before the model is changed, for a missing or corrupt file or an
            adapter made for another model.
    """
    wanted = tuple((_adapter_key(a), a.scale) for a in adapters)
    if getattr(model.unet, "_riff_adapters", ()) == wanted:
        return  # as the last call left it: nothing to load or set
    loader = _loader_class()(model)
    loaded = set(getattr(model.unet, "peft_config", {}) or {})
    names = [name for name, _ in wanted]
    for adapter, name in zip(adapters, names):
        if name not in loaded:
            _load(loader, model, adapter, name)
            loaded.add(name)
    if names:
        loader.set_adapters(names, adapter_weights=[a.scale for a in adapters])
        loader.enable_lora()
    elif loaded:
        loader.disable_lora()
    model.unet._riff_adapters = wanted


def _adapter_key(adapter: Adapter) -> str:
    """A name for the adapter inside the model, unique per file (peft's names may not hold dots)."""
    path = adapter.weights_file().resolve()
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:8]
    return f"{adapter.name}-{digest}".replace(".", "_")


def _load(loader: object, model: Model, adapter: Adapter, name: str) -> None:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = adapter.weights_file()
    try:
        state = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as error:
        raise ValueError(f"the LoRA {adapter.name!r} cannot be read: {first_line(error)}") from None
    try:
        converted, _ = loader.lora_state_dict(dict(state))  # other layouts (kohya's) in diffusers'
    except (RuntimeError, ValueError, KeyError) as error:
        raise ValueError(f"{adapter.name!r} is not a LoRA riff can read ({first_line(error)})") from None
    _check_fits(model, adapter, converted)
    try:
        with _quiet():  # "no text encoder keys", "multiple adapters": expected here
            loader.load_lora_weights(state, adapter_name=name)
    except (RuntimeError, ValueError, KeyError) as error:  # size mismatches and unknown layers
        _forget(model, name)
        raise ValueError(
            f"the LoRA {adapter.name!r} does not fit the model {model.name!r} ({first_line(error)})"
        ) from None
    if name not in (getattr(model.unet, "peft_config", {}) or {}):
        raise ValueError(f"the LoRA {adapter.name!r} has no layers of the model {model.name!r}")


def _check_fits(model: Model, adapter: Adapter, state: dict[str, torch.Tensor]) -> None:
    """Refuse an adapter whose layers the model lacks or whose sizes differ, before loading it
    (diffusers would skip unknown layers with a warning, leaving a half-applied adapter)."""
    modules = {
        "unet": dict(model.unet.named_modules()),
        "text_encoder": dict(model.text_encoder.named_modules()),
    }
    for key, tensor in state.items():
        part, _, rest = key.partition(".")
        if key.endswith(".alpha"):
            continue
        if part not in modules or ".lora" not in rest:
            raise ValueError(f"{adapter.name!r} is not a LoRA in diffusers' layout (key {key!r})")
        layer = rest.split(".lora")[0]
        if not _fits(tensor, getattr(modules[part].get(layer), "weight", None), rest):
            raise ValueError(
                f"the LoRA {adapter.name!r} was made for another model: {model.name!r} has no layer "
                f"{layer!r} of its size"
            )


def _fits(tensor: torch.Tensor, weight: torch.Tensor | None, key: str) -> bool:
    """Whether a LoRA matrix fits the layer weight it adapts: down (A) reads its inputs, up (B)
    writes its outputs."""
    if weight is None:
        return False
    kind = key.rsplit(".lora", 1)[-1]  # "_A.weight", ".down.weight", "_linear_layer.up.weight"
    if "_A." in kind or ".down." in kind:
        return tensor.shape[-1] == weight.shape[1]
    if "_B." in kind or ".up." in kind:
        return tensor.shape[0] == weight.shape[0]
    return True


def _forget(model: Model, name: str) -> None:
    for module in (model.unet, model.text_encoder):
        if name in (getattr(module, "peft_config", {}) or {}):
            # diffusers' models call it delete_adapters, transformers' delete_adapter
            delete = getattr(module, "delete_adapters", None) or module.delete_adapter
            delete(name)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    from diffusers.utils import logging as diffusers_logging

    level = diffusers_logging.get_verbosity()
    diffusers_logging.set_verbosity_error()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            yield
    finally:
        diffusers_logging.set_verbosity(level)
