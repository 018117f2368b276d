"""The three networks of a Stable Diffusion model, built from named sizes with random weights.

One builder for every model riff makes in code: the tiny test fixture (`tiny_components`),
the networks `riff train` learns, and Stable Diffusion 1.5's for benchmarks. Same classes and
folder layout as riffusion-model-v1 (`riff.models.save_model` writes them, `load_model` reads
them back).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from riff.train.tokenizer import tiny_tokenizer


@dataclass(frozen=True)
class Architecture:
    """Sizes of the UNet, VAE and text encoder, and the scheduler they ship with (see `PRESETS`)."""

    vae_channels: tuple[int, ...] = (16, 32, 64, 128)  # one level each; all but the last halve the size
    vae_layers: int = 1  # resnet blocks per VAE level
    vae_attention: bool = False  # self-attention in the VAE's middle block, as Stable Diffusion's
    vae_sample_size: int = 32  # config only: the tile size of diffusers' tiled decoding
    latent_channels: int = 8
    unet_channels: tuple[int, ...] = (32, 64, 128, 128)
    unet_layers: int = 1  # resnet blocks per UNet level
    # Per UNet level, finest first: self- and cross-attention there, or convolutions only.
    attention: tuple[bool, ...] = (False, False, True, True)
    attention_heads: int = 4  # diffusers calls it attention_head_dim, but it counts heads
    text_width: int = 256  # the text encoder's hidden size, which the UNet cross-attends to
    text_layers: int = 2
    text_heads: int = 4
    text_mlp: int = 2  # the text encoder's MLP width, in multiples of text_width
    text_projection: int = 512  # config only: CLIPTextModel has no projection layer
    vocab_size: int | None = None  # None: the tokenizer's
    norm_groups: int = 16
    scheduler: str = "dpmsolver++"  # "pndm": riffusion-model-v1's own

    def __post_init__(self) -> None:
        if len(self.attention) != len(self.unet_channels):
            raise ValueError(
                f"attention {self.attention} needs one entry per UNet level {self.unet_channels}"
            )
        if self.scheduler not in ("dpmsolver++", "pndm"):
            raise ValueError(f"unknown scheduler {self.scheduler!r}: dpmsolver++ or pndm")


PRESETS = {
    # riff-small: about 17 MB in fp16; renders a 50-step clip in a few seconds on two CPU cores.
    "small": Architecture(),
    # Seconds to train: for tests and for trying `riff train`.
    "tiny": Architecture(
        vae_channels=(8, 8, 16, 16),
        latent_channels=4,
        unet_channels=(8, 16),
        attention=(False, True),
        text_width=16,
        text_layers=1,
        norm_groups=4,
    ),
    # The test fixture (`tiny_components`): a few thousand random weights per network, riffusion's scheduler.
    "tiny-test": Architecture(
        vae_channels=(8, 8, 16, 16),
        vae_attention=True,
        latent_channels=4,
        unet_channels=(8, 16),
        attention=(False, True),
        text_width=16,
        text_heads=2,
        norm_groups=4,
        scheduler="pndm",
    ),
    # Stable Diffusion 1.5's (riffusion-model-v1's): for benchmarks with random weights.
    "sd15": Architecture(
        vae_channels=(128, 256, 512, 512),
        vae_layers=2,
        vae_attention=True,
        vae_sample_size=512,
        latent_channels=4,
        unet_channels=(320, 640, 1280, 1280),
        unet_layers=2,
        attention=(True, True, True, False),
        attention_heads=8,
        text_width=768,
        text_layers=12,
        text_heads=12,
        text_mlp=4,
        text_projection=768,
        vocab_size=49408,  # CLIP's, whatever tokenizer comes with it
        norm_groups=32,
        scheduler="pndm",
    ),
}


def riffusion_scheduler() -> object:
    """PNDM configured as riffusion-model-v1's scheduler/ folder has it."""
    from diffusers import PNDMScheduler

    return PNDMScheduler(
        num_train_timesteps=1000,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        skip_prk_steps=True,
        steps_offset=1,
        set_alpha_to_one=False,
    )


def build_components(arch: Architecture, tokenizer: object, seed: int = 0) -> dict[str, object]:
    """unet, vae, text_encoder (random, `seed`, in eval mode), the tokenizer, and a scheduler.

    The VAE downsamples by 2 ** (levels - 1), 8 for four levels as Stable Diffusion's, so a
    512 x 512 image has 64 x 64 latents; the UNet's sample size of 64 is nominal (it is
    convolutional). The text encoder reads `tokenizer`'s ids and special tokens.
    """
    from diffusers import AutoencoderKL, DPMSolverMultistepScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)  # one stream, drawn in this order: unet, vae, text encoder
    unet = UNet2DConditionModel(
        sample_size=64,
        in_channels=arch.latent_channels,
        out_channels=arch.latent_channels,
        down_block_types=tuple("CrossAttnDownBlock2D" if a else "DownBlock2D" for a in arch.attention),
        up_block_types=tuple("CrossAttnUpBlock2D" if a else "UpBlock2D" for a in reversed(arch.attention)),
        block_out_channels=arch.unet_channels,
        layers_per_block=arch.unet_layers,
        norm_num_groups=arch.norm_groups,
        cross_attention_dim=arch.text_width,
        attention_head_dim=arch.attention_heads,
    )
    levels = len(arch.vae_channels)
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * levels,
        up_block_types=("UpDecoderBlock2D",) * levels,
        block_out_channels=arch.vae_channels,
        layers_per_block=arch.vae_layers,
        latent_channels=arch.latent_channels,
        norm_num_groups=arch.norm_groups,
        sample_size=arch.vae_sample_size,
        mid_block_add_attention=arch.vae_attention,
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=arch.vocab_size or len(tokenizer.get_vocab()),
            hidden_size=arch.text_width,
            intermediate_size=arch.text_width * arch.text_mlp,
            num_attention_heads=arch.text_heads,
            num_hidden_layers=arch.text_layers,
            projection_dim=arch.text_projection,
            max_position_embeddings=tokenizer.model_max_length,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
    )
    scheduler = riffusion_scheduler()
    if arch.scheduler == "dpmsolver++":
        # riff-small's own: good clips in far fewer steps than PNDM.
        scheduler = DPMSolverMultistepScheduler.from_config(scheduler.config, algorithm_type="dpmsolver++")
    return {
        "unet": unet.eval(),
        "vae": vae.eval(),
        "text_encoder": text_encoder.eval(),
        "tokenizer": tokenizer,
        "scheduler": scheduler,
    }


def tiny_components(seed: int = 0) -> dict[str, object]:
    """unet, vae, text_encoder, tokenizer, scheduler with a few thousand random weights each.

    The "tiny-test" preset, with riffusion-model-v1's PNDM scheduler; the VAE downsamples by 8
    like Stable Diffusion's, so a 512 x 512 image has 64 x 64 latents.
    """
    return build_components(PRESETS["tiny-test"], tiny_tokenizer(), seed)


def save_tiny_model(folder: str | Path, seed: int = 0) -> Path:
    """Write tiny random components to `folder` in diffusers layout (loads with `load_model`)."""
    from riff.models import save_model

    return save_model(tiny_components(seed), folder)
