"""One walk end to end: request -> batched clips -> stitched, loudness-normalised track."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from PIL import Image

from riff import interp, pipeline
from riff.image import image_from_pixels, mel_from_pixels, pixels_from_image, pixels_from_mel
from riff.loudness import normalize_loudness
from riff.models import SCHEDULERS, Model
from riff.params import SpectrogramParams
from riff.prompts import parse_weights
from riff.seeds import DEFAULT_SEED, mask_tensor, seed_image
from riff.spectrogram import GRIFFIN_LIM_ITERS, mel_from_waveform, waveform_from_mel
from riff.stitch import stitch_loops, stitch_overlapping

# Called with (clips done, clips in all, UNet step in the current batch, steps in that batch).
Progress = Callable[[int, int, int, int], None]
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class PromptEnd:
    """One end of a walk: what to play and how hard to push the seed image towards it."""

    prompt: str
    seed: int = 0
    negative_prompt: str = ""
    denoising: float = 0.75  # img2img strength: 0 keeps the seed image, 1 ignores it
    guidance: float = 7.0  # classifier-free guidance scale

    def __post_init__(self) -> None:
        if not isinstance(self.seed, int) or not 0 <= self.seed <= MAX_SEED:
            raise ValueError(f"seed must be an integer in 0..{MAX_SEED}, got {self.seed!r}")
        if not 0.0 < self.denoising <= 1.0:
            raise ValueError(f"denoising must be in (0, 1], got {self.denoising}")
        if not 0.0 <= self.guidance <= 50.0:
            raise ValueError(f"guidance must be in 0..50, got {self.guidance}")
        parse_weights(self.prompt)  # a bad (word:weight) fails here, before any work
        parse_weights(self.negative_prompt)


@dataclass(frozen=True)
class WalkRequest:
    """An interpolation walk from `start` to `end`: one clip per alpha."""

    start: PromptEnd
    end: PromptEnd
    num_clips: int = 5
    num_inference_steps: int = 50
    seed_image: str = DEFAULT_SEED  # bundled name, reference id, image or audio path
    mask: str | None = None  # bundled mask name or image path; white = repaint
    alpha_curve: str = "linear"
    alpha_power: float = 2.0  # for the "power" curve
    alphas: tuple[float, ...] | None = None  # explicit alphas override num_clips and the curve
    crossfade_ms: float = 250.0  # centred on each join; 0 for hard cuts
    scheduler: str = "default"  # the model's own, or "dpm++"
    batch_size: int = 4  # clips per UNet batch (x2 for guidance)
    griffin_lim_iters: int = GRIFFIN_LIM_ITERS

    def __post_init__(self) -> None:
        if self.alphas is None and not 1 <= self.num_clips <= 256:
            raise ValueError(f"num_clips must be in 1..256, got {self.num_clips}")
        if self.alphas is not None and (not self.alphas or any(not 0 <= a <= 1 for a in self.alphas)):
            raise ValueError(f"alphas must be a non-empty list of values in [0, 1], got {self.alphas}")
        if not 1 <= self.num_inference_steps <= 1000:
            raise ValueError(f"num_inference_steps must be in 1..1000, got {self.num_inference_steps}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if not 0 <= self.crossfade_ms <= 2000:
            raise ValueError(f"crossfade must be in 0..2000 ms, got {self.crossfade_ms}")
        if self.scheduler not in SCHEDULERS:
            raise ValueError(f"unknown scheduler {self.scheduler!r}: choose one of {', '.join(SCHEDULERS)}")
        interp.alpha_curve(1, self.alpha_curve, self.alpha_power)  # validates the curve

    def clip_alphas(self) -> list[float]:
        if self.alphas is not None:
            return list(self.alphas)
        return interp.alpha_curve(self.num_clips, self.alpha_curve, self.alpha_power)


@dataclass
class Clip:
    """One rendered clip: its spectrogram intensities and its audio."""

    index: int
    alpha: float
    pixels: torch.Tensor  # (3, H, W) float in [0, 255]
    waveform: torch.Tensor  # (channels, samples) on the CPU
    params: SpectrogramParams = field(default_factory=SpectrogramParams)

    def image(self) -> Image.Image:
        """The 8-bit spectrogram image with its metadata."""
        return image_from_pixels(self.pixels, self.params)


@dataclass(frozen=True)
class _Batch:
    indices: list[int]
    start: int


def render_walk(
    model: Model,
    request: WalkRequest,
    progress: Progress | None = None,
    init_latents: torch.Tensor | None = None,
) -> Iterator[Clip]:
    """Render the clips of a walk in order, batched, yielding each as soon as it is audio.

    Args:
        init_latents: (clips, C, h, w), a seed latent per clip instead of the request's seed
            image (restyling a song segment by segment).
    """
    alphas = request.clip_alphas()
    start, end = request.start, request.end

    # 1. Everything the walk shares, once: embeddings, the seed latent, per-seed noise.
    embeddings = pipeline.encode_prompts(
        model, [start.prompt, end.prompt, start.negative_prompt, end.negative_prompt]
    )
    if init_latents is None:
        init_latents = pipeline.encode_image(model, pixels_from_image(seed_image(request.seed_image)))
    mask = _mask(request.mask, init_latents)
    shape = (1, *init_latents.shape[1:])
    noise_start = pipeline.latent_noise(start.seed, shape).to(model.device)[0]
    noise_end = pipeline.latent_noise(end.seed, shape).to(model.device)[0]

    # 2. Per clip: lerped strength and guidance, so per-clip start steps.
    offset = model.scheduler.config.get("steps_offset", 0)
    strengths = interp.lerp(
        torch.tensor(start.denoising, dtype=torch.float64),
        torch.tensor(end.denoising, dtype=torch.float64),
        torch.tensor(alphas, dtype=torch.float64),
    ).tolist()
    starts = [interp.start_step(request.num_inference_steps, s, offset) for s in strengths]

    # 3. Batches of consecutive clips that share a start step, rendered in order.
    done = 0
    for batch in _batches(starts, request.batch_size):
        t = torch.tensor([alphas[i] for i in batch.indices], device=model.device)
        cond = interp.lerp(embeddings[0], embeddings[1], t)
        uncond = interp.lerp(embeddings[2], embeddings[3], t)
        noise = interp.slerp(noise_start, noise_end, t)
        guidance = interp.lerp(
            torch.tensor(start.guidance, dtype=torch.float64),
            torch.tensor(end.guidance, dtype=torch.float64),
            t.cpu().double(),
        )

        init = init_latents if init_latents.shape[0] == 1 else init_latents[batch.indices]
        yield from _render_batch(
            model,
            request,
            init,
            cond,
            uncond,
            noise,
            guidance,
            batch,
            mask,
            _step_reporter(progress, done, len(alphas)),
            alphas,
        )
        done += len(batch.indices)
        if progress is not None:
            progress(done, len(alphas), 0, 0)


def render_seeds(
    model: Model,
    end: PromptEnd,
    seeds: list[int],
    request: WalkRequest | None = None,
    progress: Progress | None = None,
) -> Iterator[Clip]:
    """One clip per seed from one prompt end (no interpolation), batched, in seed order.

    `request` supplies the walk settings (steps, seed image, mask, scheduler, batch size).
    """
    request = request or WalkRequest(start=end, end=end, num_clips=1)
    for seed in seeds:
        dataclasses.replace(end, seed=seed)  # validates every seed before any work
    embeddings = pipeline.encode_prompts(model, [end.prompt, end.negative_prompt])
    init_latent = pipeline.encode_image(model, pixels_from_image(seed_image(request.seed_image)))
    mask = _mask(request.mask, init_latent)
    offset = model.scheduler.config.get("steps_offset", 0)
    start = interp.start_step(request.num_inference_steps, end.denoising, offset)
    done = 0
    for batch in _batches([start] * len(seeds), request.batch_size):
        size = len(batch.indices)
        noise = torch.cat([pipeline.latent_noise(seeds[i], tuple(init_latent.shape)) for i in batch.indices])
        yield from _render_batch(
            model,
            request,
            init_latent,
            embeddings[0:1].expand(size, -1, -1),
            embeddings[1:2].expand(size, -1, -1),
            noise.to(model.device),
            torch.full((size,), end.guidance),
            batch,
            mask,
            _step_reporter(progress, done, len(seeds)),
            [0.0] * len(seeds),
        )
        done += size
        if progress is not None:
            progress(done, len(seeds), 0, 0)


def render_clip(
    model: Model, end: PromptEnd, request: WalkRequest | None = None, progress: Progress | None = None
) -> Clip:
    """One clip from one prompt end, with the walk settings of `request`."""
    return next(render_seeds(model, end, [end.seed], request, progress))


def render_restyle(
    model: Model, waveform: torch.Tensor, request: WalkRequest, progress: Progress | None = None
) -> Iterator[Clip]:
    """Restyle audio clip by clip: each 5.11 s segment is its own seed image, walked from the
    start prompt to the end prompt across the segments.

    Segments overlap by the request's crossfade so `stitch_restyle` can fade across the same
    moment of the source.

    Args:
        waveform: (channels, samples) at the format's sample rate, at least one segment long.
    """
    params = SpectrogramParams()
    segments = restyle_segments(waveform, request.crossfade_ms, params)
    alphas = interp.alpha_curve(len(segments), request.alpha_curve, request.alpha_power)
    request = dataclasses.replace(request, alphas=tuple(alphas), seed_image=DEFAULT_SEED)
    mel = mel_from_waveform(torch.stack(segments).mean(dim=1, keepdim=True), params)
    # Each segment scaled to its own peak, as the model saw its training images.
    init = torch.cat([pipeline.encode_image(model, pixels_from_mel(m, params)) for m in mel])
    yield from render_walk(model, request, progress, init_latents=init)


def stitch_restyle(clips: list[Clip], crossfade_ms: float, target_lufs: float = -14.0) -> torch.Tensor:
    """The restyled track: segments crossfaded across their shared overlap, normalised once."""
    sample_rate = clips[0].params.sample_rate
    track = stitch_overlapping([c.waveform for c in clips], int(crossfade_ms / 1000 * sample_rate))
    return normalize_loudness(track, sample_rate, target_lufs)


def restyle_segments(
    waveform: torch.Tensor, crossfade_ms: float, params: SpectrogramParams
) -> list[torch.Tensor]:
    """Cut audio into 512-column segments that overlap by the crossfade."""
    length = params.num_samples(512)
    overlap = int(crossfade_ms / 1000 * params.sample_rate)
    if waveform.shape[-1] < length:
        raise ValueError(
            f"the region is {waveform.shape[-1] / params.sample_rate:.2f} s; restyling needs at least "
            f"{length / params.sample_rate:.2f} s"
        )
    starts = range(0, waveform.shape[-1] - length + 1, length - overlap)
    return [waveform[:, s : s + length] for s in starts]


def stitch_walk(clips: list[Clip], crossfade_ms: float, target_lufs: float = -14.0) -> torch.Tensor:
    """The walk's track: clips on one beat grid with centred equal-power crossfades, loudness
    normalised once over the whole track (never clip by clip, so relative levels survive)."""
    sample_rate = clips[0].params.sample_rate
    track = stitch_loops([c.waveform for c in clips], int(crossfade_ms / 1000 * sample_rate))
    return normalize_loudness(track, sample_rate, target_lufs)


def _render_batch(
    model: Model,
    request: WalkRequest,
    init_latent: torch.Tensor,
    cond: torch.Tensor,
    uncond: torch.Tensor,
    noise: torch.Tensor,
    guidance: torch.Tensor,
    batch: _Batch,
    mask: torch.Tensor | None,
    on_step: Callable[[int, int], None],
    alphas: list[float],
) -> Iterator[Clip]:
    params = SpectrogramParams()
    latents = pipeline.denoise(
        model,
        init_latent,
        cond,
        uncond,
        noise,
        guidance,
        batch.start,
        request.num_inference_steps,
        request.scheduler,
        mask,
        on_step,
    )
    pixels = pipeline.decode_latents(model, latents)
    mel = mel_from_pixels(pixels, params)
    # Phase retrieval is seeded by the walk's start seed: same request, same samples (on one device).
    waveforms = waveform_from_mel(
        mel, params, seed=request.start.seed, griffin_lim_iters=request.griffin_lim_iters
    )
    for k, i in enumerate(batch.indices):
        yield Clip(i, alphas[i], pixels[k].cpu(), waveforms[k].float().cpu(), params)


def _step_reporter(progress: Progress | None, done: int, total: int) -> Callable[[int, int], None]:
    def on_step(step: int, steps: int) -> None:
        if progress is not None:
            progress(done, total, step, steps)

    return on_step


def _batches(starts: list[int], batch_size: int) -> list[_Batch]:
    """Consecutive clips sharing a start step, `batch_size` at most; the first clip goes alone
    so it can play while the rest render (a full first batch would hold it back)."""
    batches: list[_Batch] = []
    for i, s in enumerate(starts):
        last = batches[-1] if batches else None
        if last is not None and i > 1 and last.start == s and len(last.indices) < batch_size:
            last.indices.append(i)
        else:
            batches.append(_Batch([i], s))
    return batches


def _mask(name: str | None, init_latent: torch.Tensor) -> torch.Tensor | None:
    if name is None:
        return None
    return mask_tensor(name, tuple(init_latent.shape[-2:]))
