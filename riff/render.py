"""Music end to end: a request (`riff.request`) -> batched clips -> stitched, loudness-normalised
track. Every kind of music renders through one walk loop (`_walk_clips`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from PIL import Image

from riff import interp, pipeline
from riff.image import image_from_pixels, mel_from_pixels, pixels_from_image, pixels_from_mel
from riff.loudness import normalize_loudness
from riff.models import Model
from riff.params import CLIP_WIDTH, SpectrogramParams
from riff.request import DEFAULT_SETTINGS, Music, PromptEnd, Restyle, Seeds, Settings, Walk
from riff.seeds import DEFAULT_SEED, mask_tensor, seed_image
from riff.spectrogram import mel_from_waveform, waveform_from_mel
from riff.stitch import stitch_loops, stitch_overlapping

# Called with (clips done, clips in all, UNet step in the current batch, steps in that batch).
Progress = Callable[[int, int, int, int], None]


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


def render(
    model: Model, music: Walk | Seeds, settings: Settings = DEFAULT_SETTINGS, progress: Progress | None = None
) -> Iterator[Clip]:
    """Render any music that starts from a seed image, by its kind (`RENDERERS`); a restyle
    starts from its song instead: `render_restyle`."""
    try:
        renderer = RENDERERS[type(music)]
    except KeyError:
        raise TypeError(f"no renderer for {type(music).__name__}") from None
    return renderer(model, music, settings, progress)


def render_walk(
    model: Model, walk: Walk, settings: Settings = DEFAULT_SETTINGS, progress: Progress | None = None
) -> Iterator[Clip]:
    """Render the clips of a walk in order, batched, yielding each as soon as it is audio."""
    init = pipeline.encode_image(model, pixels_from_image(seed_image(walk.seed_image)))
    yield from _walk_clips(
        model, walk.start, walk.end, walk.clip_alphas(), init, walk.mask, settings, progress
    )


def render_seeds(
    model: Model, seeds: Seeds, settings: Settings = DEFAULT_SETTINGS, progress: Progress | None = None
) -> Iterator[Clip]:
    """One clip per seed from one prompt end (no interpolation), batched, in seed order."""
    end = seeds.end
    embeddings = pipeline.encode_prompts(model, [end.prompt, end.negative_prompt])
    init_latent = pipeline.encode_image(model, pixels_from_image(seed_image(seeds.seed_image)))
    mask = _mask(seeds.mask, init_latent)
    steps = settings.steps(model.recommended_steps)
    offset = model.scheduler.config.get("steps_offset", 0)
    start = interp.start_step(steps, end.denoising, offset)
    count, done = len(seeds.seeds), 0
    for batch in _batches([start] * count, settings.batch_size):
        size = len(batch.indices)
        noise = torch.cat(
            [pipeline.latent_noise(seeds.seeds[i], tuple(init_latent.shape)) for i in batch.indices]
        )
        yield from _render_batch(
            model,
            settings,
            steps,
            init_latent,
            embeddings[0:1].expand(size, -1, -1),
            embeddings[1:2].expand(size, -1, -1),
            noise.to(model.device),
            torch.full((size,), end.guidance),
            batch,
            mask,
            _step_reporter(progress, done, count),
            [0.0] * count,
            phase_seed=seeds.seeds[0],
        )
        done += size
        if progress is not None:
            progress(done, count, 0, 0)


def render_clip(
    model: Model,
    end: PromptEnd,
    settings: Settings = DEFAULT_SETTINGS,
    seed_image: str = DEFAULT_SEED,
    mask: str | None = None,
) -> Clip:
    """One clip of one prompt end, with its own seed."""
    return next(render_seeds(model, Seeds(end, (end.seed,), seed_image, mask), settings))


def render_restyle(
    model: Model,
    song: torch.Tensor,
    restyle: Restyle,
    settings: Settings = DEFAULT_SETTINGS,
    progress: Progress | None = None,
) -> Iterator[Clip]:
    """Restyle a song's region clip by clip: each 5.11 s segment is its own seed image, walked
    from the start prompt to the end prompt across the segments.

    Segments overlap by the crossfade so `stitch_restyle` can fade across the same moment of
    the source.

    Args:
        song: (channels, samples) at the format's sample rate.
    """
    params = model.params
    segments = restyle_segments(restyle_region(song, restyle, params), restyle.crossfade_ms, params)
    alphas = interp.alpha_curve(len(segments), restyle.alpha_curve, restyle.alpha_power)
    mel = mel_from_waveform(torch.stack(segments).mean(dim=1, keepdim=True), params)
    # Each segment scaled to its own peak, as the model saw its training images.
    init = torch.cat([pipeline.encode_image(model, pixels_from_mel(m, params)) for m in mel])
    yield from _walk_clips(model, restyle.start, restyle.end, alphas, init, None, settings, progress)


def restyle_region(song: torch.Tensor, restyle: Restyle, params: SpectrogramParams) -> torch.Tensor:
    """The part of the song a restyle asks for. Raises ValueError if it starts past the end."""
    first = int(restyle.start_s * params.sample_rate)
    if first >= song.shape[-1]:
        raise ValueError(
            f"the song is {song.shape[-1] / params.sample_rate:.1f} s long; the region starts at {restyle.start_s} s"
        )
    return song[:, first : first + int(restyle.duration_s * params.sample_rate)]


def _walk_clips(
    model: Model,
    start: PromptEnd,
    end: PromptEnd,
    alphas: list[float],
    init_latents: torch.Tensor,
    mask_name: str | None,
    settings: Settings,
    progress: Progress | None,
) -> Iterator[Clip]:
    """The walk loop every kind of music shares.

    Args:
        init_latents: (1, C, h, w) the seed image's latent, or (clips, C, h, w), one per clip.
    """
    steps = settings.steps(model.recommended_steps)

    # 1. Everything the walk shares, once: embeddings, the mask, per-seed noise.
    embeddings = pipeline.encode_prompts(
        model, [start.prompt, end.prompt, start.negative_prompt, end.negative_prompt]
    )
    mask = _mask(mask_name, init_latents)
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
    starts = [interp.start_step(steps, s, offset) for s in strengths]

    # 3. Batches of consecutive clips that share a start step, rendered in order.
    done = 0
    for batch in _batches(starts, settings.batch_size):
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
            settings,
            steps,
            init,
            cond,
            uncond,
            noise,
            guidance,
            batch,
            mask,
            _step_reporter(progress, done, len(alphas)),
            alphas,
            phase_seed=start.seed,
        )
        done += len(batch.indices)
        if progress is not None:
            progress(done, len(alphas), 0, 0)


def stitch_restyle(clips: list[Clip], crossfade_ms: float, target_lufs: float = -14.0) -> torch.Tensor:
    """The restyled track: segments crossfaded across their shared overlap, normalised once."""
    sample_rate = clips[0].params.sample_rate
    track = stitch_overlapping([c.waveform for c in clips], int(crossfade_ms / 1000 * sample_rate))
    return normalize_loudness(track, sample_rate, target_lufs)


def stitch(clips: list[Clip], music: Music) -> torch.Tensor:
    """A request's track: a restyle fades across its segments' shared overlap; walks and seeds
    centre their crossfades on each join."""
    if isinstance(music, Restyle):
        return stitch_restyle(clips, music.crossfade_ms)
    return stitch_walk(clips, music.crossfade_ms)


def restyle_segments(
    waveform: torch.Tensor, crossfade_ms: float, params: SpectrogramParams
) -> list[torch.Tensor]:
    """Cut audio into clip-wide segments (`CLIP_WIDTH` columns) that overlap by the crossfade."""
    length = params.num_samples(CLIP_WIDTH)
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
    settings: Settings,
    steps: int,
    init_latent: torch.Tensor,
    cond: torch.Tensor,
    uncond: torch.Tensor,
    noise: torch.Tensor,
    guidance: torch.Tensor,
    batch: _Batch,
    mask: torch.Tensor | None,
    on_step: Callable[[int, int], None],
    alphas: list[float],
    phase_seed: int,
) -> Iterator[Clip]:
    params = model.params
    latents = pipeline.denoise(
        model,
        init_latent,
        cond,
        uncond,
        noise,
        guidance,
        batch.start,
        steps,
        settings.scheduler,
        mask,
        on_step,
    )
    pixels = pipeline.decode_latents(model, latents)
    mel = mel_from_pixels(pixels, params)
    # Phase retrieval is seeded by the start seed: same request, same samples (on one device).
    waveforms = waveform_from_mel(mel, params, seed=phase_seed, griffin_lim_iters=settings.griffin_lim_iters)
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


# What renders each kind of music from a seed image: a new kind adds its line here.
RENDERERS: dict[type, Callable[..., Iterator[Clip]]] = {Walk: render_walk, Seeds: render_seeds}
