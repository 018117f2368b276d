"""Tiny random Stable Diffusion components built in code: for tests, demos of the code path,
and CPU benchmarks. Same classes and folder layout as riffusion-model-v1, no download."""

from __future__ import annotations

from pathlib import Path

from riff.networks import PRESETS, build_components


def _byte_alphabet() -> list[str]:
    """CLIP's byte-to-unicode table (GPT-2's), so any text tokenises."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    chars, extra = [], 0
    for b in range(256):
        if b in printable:
            chars.append(chr(b))
        else:
            chars.append(chr(256 + extra))
            extra += 1
    return chars


def tiny_tokenizer(max_length: int = 77) -> object:
    """A CLIP tokenizer with a byte-level vocabulary and no merges: one token per character."""
    from transformers import CLIPTokenizer

    alphabet = _byte_alphabet()
    tokens = alphabet + [c + "</w>" for c in alphabet] + ["<|startoftext|>", "<|endoftext|>"]
    vocab = {token: i for i, token in enumerate(tokens)}
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=max_length)


def tiny_components(seed: int = 0) -> dict[str, object]:
    """unet, vae, text_encoder, tokenizer, scheduler with a few thousand random weights each.

    The "tiny-test" preset of `riff.networks`, with riffusion-model-v1's PNDM scheduler; the
    VAE downsamples by 8 like Stable Diffusion's, so a 512 x 512 image has 64 x 64 latents.
    """
    return build_components(PRESETS["tiny-test"], tiny_tokenizer(), seed)


def save_tiny_model(folder: str | Path, seed: int = 0) -> Path:
    """Write tiny random components to `folder` in diffusers layout (loads with `load_model`)."""
    from riff.models import save_model

    return save_model(tiny_components(seed), folder)
