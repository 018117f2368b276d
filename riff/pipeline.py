"""The batched img2img denoising loop over loaded diffusers components.

Everything a walk shares (prompt embeddings, the seed image's latent) is computed once by the
caller; `denoise` renders a batch of clips that start at the same step. On a GPU, memory savers
come on only for batches that would not fit (`memory_plan`), and running out of memory is one
line (`OutOfGPUMemory`) that leaves the device ready for the next request.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch

from riff import interp
from riff.audio.image import pixels_from_unit, unit_from_pixels
from riff.models import Model
from riff.prompts import apply_weights, is_weighted, parse_weights

log = logging.getLogger(__name__)

# Rough peak sizes, to decide when savers are needed; they only switch savers on, so an
# overestimate costs speed, never a result. Attention: the full score matrix, which PyTorch's
# fused attention kernels avoid but its fallback builds. VAE decode: this many buffers of the
# decoder's last level (its widest activations, at full resolution) alive at once per image.
VAE_DECODE_BUFFERS = 8
MEMORY_HEADROOM = 0.8  # use at most this share of the free memory before switching savers on


class OutOfGPUMemory(ValueError, torch.OutOfMemoryError):
    """A batch did not fit on the GPU: one line saying what to lower. A ValueError (bad input,
    shown as is) and still a torch.OutOfMemoryError for handlers that answer those."""


@dataclass(frozen=True)
class Step:
    """One denoising step, as `denoise` shows it to its callback (progress, cancelling and the
    teaching view's window into the loop alike, as k-diffusion's samplers share one callback)."""

    index: int  # 0-based, among the steps run
    run: int  # steps run in all
    t: torch.Tensor  # the timestep
    scheduler: object
    latents: torch.Tensor  # before the step
    eps: torch.Tensor  # the guided model output
    output: object  # the scheduler's step output (prev_sample, maybe pred_original_sample)


StepCallback = Callable[[Step], None]


@dataclass(frozen=True)
class MemoryPlan:
    """Which memory savers a batch needs; all off unless it would not fit."""

    slice_attention: bool = False  # UNet attention one head slice at a time
    slice_vae: bool = False  # decode the batch one image at a time
    tile_vae: bool = False  # decode each image in overlapping tiles


def free_memory(device: torch.device) -> int | None:
    """Bytes PyTorch can still allocate on a CUDA device (free plus cached); None elsewhere."""
    if device.type != "cuda":
        return None
    free, _ = torch.cuda.mem_get_info(device)
    return free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)


def memory_plan(
    model: Model, batch: int, latent_height: int, latent_width: int, free_bytes: int | None = None
) -> MemoryPlan:
    """The savers a batch of `batch` clips with latents of (latent_height, latent_width) needs
    to fit in `free_bytes`; None asks the device (`free_memory`), and the CPU never needs any.

    Off by default because each costs speed (attention slicing on a GPU also forgoes the fused
    kernels); they come on for wide clips or big batches on small GPUs.
    """
    free_bytes = free_memory(model.device) if free_bytes is None else free_bytes
    if free_bytes is None:
        return MemoryPlan()
    budget = MEMORY_HEADROOM * free_bytes
    itemsize = torch.empty((), dtype=model.dtype).element_size()
    attention = 2 * batch * _attention_scores(model.unet.config, latent_height, latent_width) * itemsize
    image = _vae_decode_elements(model, latent_height, latent_width) * itemsize
    return MemoryPlan(
        slice_attention=attention > budget,
        slice_vae=batch > 1 and batch * image > budget,
        tile_vae=image > budget,
    )


def _attention_scores(config: object, height: int, width: int) -> int:
    """Elements of one image's attention scores at the UNet's finest level with attention."""
    levels = [i for i, kind in enumerate(config.down_block_types) if "Attn" in kind]
    if not levels:
        return 0
    level = levels[0]
    heads = config.num_attention_heads or config.attention_head_dim
    heads = heads[level] if isinstance(heads, (list, tuple)) else heads
    tokens = -(-height // 2**level) * -(-width // 2**level)
    return heads * tokens**2


def _vae_decode_elements(model: Model, height: int, width: int) -> int:
    """Elements one image's VAE decode holds at its peak (see VAE_DECODE_BUFFERS)."""
    config = model.vae.config
    pixels = height * width * model.vae_scale**2
    elements = VAE_DECODE_BUFFERS * config.block_out_channels[0] * pixels
    if getattr(config, "mid_block_add_attention", True):
        elements += (height * width) ** 2  # the mid block's single-head attention scores
    return elements


@contextlib.contextmanager
def _savers(model: Model, plan: MemoryPlan) -> Iterator[None]:
    """Switch on the plan's savers for the block, and back to how they were after it."""
    unet, vae = model.unet, model.vae
    processors = unet.attn_processors if plan.slice_attention else None
    slicing, tiling = getattr(vae, "use_slicing", False), getattr(vae, "use_tiling", False)
    if plan != MemoryPlan():
        log.info("memory savers on: %s", plan)
    try:
        if plan.slice_attention:
            unet.set_attention_slice("max")
        if plan.slice_vae:
            vae.enable_slicing()
        if plan.tile_vae:
            vae.enable_tiling()
        yield
    finally:
        if processors is not None:
            unet.set_attn_processor(processors)
        vae.use_slicing, vae.use_tiling = slicing, tiling


def fits_in_memory(latents: str) -> Callable[[Callable[..., torch.Tensor]], Callable[..., torch.Tensor]]:
    """Run a function of (model, ...) on a batch, whose latents are its argument `latents`,
    with the memory savers that batch needs (`memory_plan`); running out anyway raises one
    line (`OutOfGPUMemory`) once the failed attempt's memory is given back."""

    def decorate(fn: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def run(model: Model, *args: object, **kwargs: object) -> torch.Tensor:
            batch, _, height, width = signature.bind(model, *args, **kwargs).arguments[latents].shape
            try:
                with _savers(model, memory_plan(model, batch, height, width)):
                    return fn(model, *args, **kwargs)
            except RuntimeError as error:
                if not _is_out_of_memory(error):
                    raise
            # Out of the handler, so the failed attempt's tensors are freed before the cache is emptied.
            raise _out_of_memory(model, batch, width)

        return run

    return decorate


def _is_out_of_memory(error: RuntimeError) -> bool:
    return isinstance(error, torch.OutOfMemoryError) or "out of memory" in str(error)


def _out_of_memory(model: Model, clips: int, latent_width: int) -> OutOfGPUMemory:
    """The one-line error, once the device's cache is emptied for the next request."""
    torch.cuda.empty_cache()  # a no-op where CUDA was never used
    columns = latent_width * model.vae_scale
    return OutOfGPUMemory(
        f"out of GPU memory for {clips} clips of {columns} columns: lower the batch size or the width"
    )


@torch.no_grad()
def encode_prompts(model: Model, prompts: list[str]) -> torch.Tensor:
    """CLIP text embeddings of several prompts, all of one length so they can be mixed.

    Prompts longer than the tokenizer's window (75 tokens + start and end) are split into
    windows that are encoded separately and concatenated along the sequence, as the usual
    long-prompt weighting does; every prompt is padded with empty windows to the longest one's
    count, so guidance compares embeddings of equal length. Weighted words (`(word:1.3)`,
    `(word)`, `[word]`, see `riff.prompts`) scale their tokens' embeddings as the reference's
    do; a prompt without that syntax is encoded exactly as it reads.

    Returns:
        (len(prompts), windows * model_max_length, hidden) in the model's dtype.
    """
    tokenizer = model.tokenizer
    window = tokenizer.model_max_length - 2
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    ids, token_weights = [], []
    for prompt in prompts:
        fragments = parse_weights(prompt) if is_weighted(prompt) else [(prompt, 1.0)]
        tokens, weights = [], []
        for text, weight in fragments:
            piece = tokenizer(text, add_special_tokens=False, truncation=False).input_ids
            tokens += piece
            weights += [weight] * len(piece)
        ids.append(tokens)
        token_weights.append(weights)
    windows = max(1, *(-(-len(i) // window) for i in ids))
    rows, row_weights = [], []
    for token_ids, weights in zip(ids, token_weights):
        for w in range(windows):
            chunk = token_ids[w * window : (w + 1) * window]
            rows.append([bos, *chunk, eos] + [pad] * (window - len(chunk)))
            row_weights.append(
                [1.0, *weights[w * window : (w + 1) * window]] + [1.0] * (window + 1 - len(chunk))
            )
    input_ids = torch.tensor(rows, device=model.device)
    hidden = model.text_encoder(input_ids).last_hidden_state
    hidden = hidden.reshape(len(prompts), windows * (window + 2), -1).to(model.dtype)
    weights = torch.tensor(row_weights).reshape(len(prompts), -1)
    weighted = [i for i, w in enumerate(weights) if bool((w != 1.0).any())]
    if weighted:
        hidden[weighted] = apply_weights(hidden[weighted], weights[weighted])
    return hidden


@torch.no_grad()
def encode_image(model: Model, pixels: torch.Tensor) -> torch.Tensor:
    """Latent of an image: the VAE posterior's mean (deterministic), times the scaling factor.

    Args:
        pixels: (3, H, W) in [0, 255], H and W multiples of the VAE's downsampling.
    Returns:
        (1, latent_channels, H / scale, W / scale).
    """
    scale = model.vae_scale
    if pixels.shape[-1] % scale or pixels.shape[-2] % scale:
        raise ValueError(f"image size {tuple(pixels.shape[-2:])} must be a multiple of {scale}")
    x = unit_from_pixels(pixels[None].to(model.device, model.dtype))
    latent = model.vae.encode(x).latent_dist.mode()
    return latent * model.vae.config.scaling_factor


@torch.no_grad()
@fits_in_memory("latents")
def decode_latents(model: Model, latents: torch.Tensor) -> torch.Tensor:
    """Images of latents.

    Returns:
        (batch, 3, H, W) float32 intensities in [0, 255], not yet quantised.
    Raises:
        OutOfGPUMemory: the batch did not fit, even with the savers `memory_plan` chose.
    """
    images = model.vae.decode(latents / model.vae.config.scaling_factor).sample
    return pixels_from_unit(images.float())


def start_step(scheduler: object, num_inference_steps: int, strength: float) -> int:
    """Index into the scheduler's timesteps where img2img at `strength` starts, with the
    scheduler's own `steps_offset` (see `interp.start_step`).

    Raises:
        ValueError: a strength outside (0, 1].
    """
    offset = scheduler.config.get("steps_offset", 0)
    return interp.start_step(num_inference_steps, strength, offset)


def timesteps(
    scheduler: object, num_inference_steps: int, strength: float, device: torch.device | None = None
) -> torch.Tensor:
    """The timesteps img2img at `strength` runs, as diffusers' `get_timesteps`: `scheduler` (a
    fresh one: schedulers keep state) is set to `num_inference_steps` and to begin where the
    strength starts (`start_step`), ready for `add_noise` and `step`.

    Raises:
        ValueError: a strength outside (0, 1], or one that leaves no timestep to run.
    """
    start = start_step(scheduler, num_inference_steps, strength)
    return _timesteps_from(scheduler, num_inference_steps, start, device)


def _timesteps_from(
    scheduler: object, num_inference_steps: int, start: int, device: torch.device | None
) -> torch.Tensor:
    scheduler.set_timesteps(num_inference_steps, device=device)
    if hasattr(scheduler, "set_begin_index"):
        scheduler.set_begin_index(start)
    steps = scheduler.timesteps[start:]
    if len(steps) == 0:
        raise ValueError(f"start step {start} leaves no timesteps of {num_inference_steps}")
    return steps


def latent_noise(seed: int, shape: tuple[int, ...]) -> torch.Tensor:
    """Gaussian noise from a CPU generator, so a seed gives the same noise on every device."""
    return torch.randn(shape, generator=torch.Generator("cpu").manual_seed(seed))


@torch.no_grad()
@fits_in_memory("noise")
def denoise(
    model: Model,
    init_latent: torch.Tensor,
    cond: torch.Tensor,
    uncond: torch.Tensor,
    noise: torch.Tensor,
    guidance: torch.Tensor,
    start: int,
    num_inference_steps: int,
    scheduler: str = "default",
    mask: torch.Tensor | None = None,
    callback: StepCallback | None = None,
) -> torch.Tensor:
    """img2img with classifier-free guidance for a batch of clips sharing a start step.

    Args:
        init_latent: (1, C, h, w) the seed image's latent, shared; or (B, C, h, w), one per clip.
        cond, uncond: (B, seq, hidden) per-clip prompt and negative-prompt embeddings.
        noise: (B, C, h, w) per-clip noise.
        guidance: (B,) per-clip guidance scales.
        start: index into the scheduler's timesteps to start from (`start_step`); clips of one
            batch share it.
        mask: (1, 1, h, w) in [0, 1], 1 = repaint, 0 = keep the seed image there.
        callback: called after each step with what it saw (`Step`).
    Returns:
        (B, C, h, w) denoised latents.
    Raises:
        OutOfGPUMemory: the batch did not fit, even with the savers `memory_plan` chose.
    """
    # 1. Timesteps from a fresh scheduler: schedulers keep state between steps.
    sched = model.make_scheduler(scheduler)
    timesteps = _timesteps_from(sched, num_inference_steps, start, model.device)

    # 2. Noise the seed latent to the first timestep.
    batch = noise.shape[0]
    init = init_latent.expand(batch, -1, -1, -1)
    noise = noise.to(model.device, model.dtype)
    latents = sched.add_noise(init, noise, timesteps[:1].repeat(batch))
    embeddings = torch.cat([uncond, cond]).to(model.device, model.dtype)
    scale = guidance.to(model.device, torch.float32).reshape(-1, 1, 1, 1)
    if mask is not None:
        mask = mask.to(model.device, model.dtype)

    # 3. Denoise with classifier-free guidance (one UNet call for both halves).
    for i, t in enumerate(timesteps):
        model_input = sched.scale_model_input(torch.cat([latents, latents]), t)
        eps = model.denoiser(model_input, t, encoder_hidden_states=embeddings).sample
        eps_uncond, eps_cond = eps.float().chunk(2)
        eps = (eps_uncond + scale * (eps_cond - eps_uncond)).to(model.dtype)
        output = sched.step(eps, t, latents)
        if callback is not None:
            callback(Step(i, len(timesteps), t, sched, latents, eps, output))
        latents = output.prev_sample
        # 4. Keep the masked-out region on the seed image's own noisy trajectory.
        if mask is not None:
            if i + 1 < len(timesteps):
                kept = sched.add_noise(init, noise, timesteps[i + 1 : i + 2].repeat(batch))
            else:
                kept = init
            latents = mask * latents + (1 - mask) * kept
    return latents
