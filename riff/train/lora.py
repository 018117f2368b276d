"""LoRA fine-tuning (`riff train --lora`): low-rank adapters on a model's attention layers,
trained on a few captioned clips while the model itself stays as it is, and saved as diffusers
saves them (`pytorch_lora_weights.safetensors`), so that `riff.lora` and any diffusers pipeline
load them.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from riff.lora import LORA_FILE

UNET_LAYERS = ["to_k", "to_q", "to_v", "to_out.0"]  # what diffusers' LoRA training adapts
TEXT_LAYERS = ["q_proj", "k_proj", "v_proj", "out_proj"]
RANKS = (1, 128)
LORA_RANK = 8  # riff train --lora without --rank: small, and enough for a style


def add_lora(components: dict[str, object], rank: int, text_encoder: bool = False) -> None:
    """Freeze the networks and give the UNet's (and the text encoder's) attention layers
    trainable LoRA adapters of `rank`; an adapter starts as a no-op (its up matrix is zero)."""
    from peft import LoraConfig

    low, high = RANKS
    if not low <= rank <= high:
        raise ValueError(f"a LoRA rank must be in {low}..{high}, got {rank}")
    for name in ("unet", "vae", "text_encoder"):
        components[name].requires_grad_(False)
    components["unet"].add_adapter(
        LoraConfig(r=rank, lora_alpha=rank, init_lora_weights="gaussian", target_modules=UNET_LAYERS)
    )
    if text_encoder:
        components["text_encoder"].add_adapter(
            LoraConfig(r=rank, lora_alpha=rank, init_lora_weights="gaussian", target_modules=TEXT_LAYERS)
        )


def trainable(module: torch.nn.Module) -> list[torch.nn.Parameter]:
    return [p for p in module.parameters() if p.requires_grad]


def save_lora(components: dict[str, object], out: Path, about: dict, text_encoder: bool = False) -> Path:
    """The adapters in `out` as `pytorch_lora_weights.safetensors` with a `lora.json` saying what
    they were trained on; returns `out`."""
    from diffusers import StableDiffusionPipeline
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft.utils import get_peft_model_state_dict

    def layers(name: str) -> dict[str, torch.Tensor]:
        state = get_peft_model_state_dict(components[name])
        return convert_state_dict_to_diffusers({k: v.to(torch.float16) for k, v in state.items()})

    out.mkdir(parents=True, exist_ok=True)
    StableDiffusionPipeline.save_lora_weights(
        out,
        unet_lora_layers=layers("unet"),
        text_encoder_lora_layers=layers("text_encoder") if text_encoder else None,
        weight_name=LORA_FILE,
        safe_serialization=True,
    )
    (out / "lora.json").write_text(json.dumps(about, indent=2) + "\n")
    return out
