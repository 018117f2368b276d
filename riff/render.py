"""Music end to end: a request (`riff.request`) -> batched clips -> stitched, loudness-normalised
track. Every kind of music renders through one walk loop (`_walk_clips`)."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from PIL import Image

from riff import interp, pipeline
from riff.audio.image import image_from_pixels, mel_from_pixels, pixels_from_image, pixels_from_mel
from riff.audio.loudness import normalize_loudness
from riff.audio.params import CLIP_WIDTH, SpectrogramParams
from riff.audio.spectrogram import mel_from_waveform, waveform_from_mel
from riff.audio.stitch import stitch_clips, stitch_overlapping
from riff.beats import (
    Continued,
    bar_segments,
    clip_length,
    continued,
    continued_seed,
    grid_seed,
    on_bars,
    song_beat,
)
from riff.models import Model
from riff.request import DEFAULT_SETTINGS, Chain, Loop, Music, PromptEnd, Restyle, Seeds, Settings, Walk
from riff.seeds import DEFAULT_SEED, GRID_MASK, mask_tensor, seed_image

# Called with (clips done, clips in all, step, steps). Clips done grows smoothly through a batch
# (2.5: two clips done and half of the next batch of one); step counts the schedule the user
# set (img2img starts part way in: at 15 steps and strength 0.75, steps 5 to 15 run), 0 of 0
# once a batch is audio.
Progress = Callable[[float, int, int, int], None]


@dataclass
class Clip:
    """One rendered clip: its spectrogram intensities and its audio."""

    index: int
    alpha: float
    pixels: torch.Tensor  # (3, H, W) float in [0, 255]
    waveform: torch.Tensor  # (channels, samples) on the CPU
    params: SpectrogramParams = field(default_factory=SpectrogramParams)
    kept: int = 0  # columns at its start that continue the clip before (see `Walk.continuation`)
    latent: torch.Tensor | None = None  # (C, h, w) the denoised latent, on the model's device
    lead: int = 0  # samples of its image before its first bar line (continued on a grid)

    def image(self) -> Image.Image:
        """The 8-bit spectrogram image with its metadata. A mono clip is grey: the VAE's three
        colours differ a little (rings of colour round loud partials), and decoding reads only
        their mean, which is what the grey shows."""
        if self.params.stereo:
            return image_from_pixels(self.pixels, self.params)
        return image_from_pixels(self.pixels.mean(dim=0, keepdim=True).expand_as(self.pixels), self.params)


@dataclass(frozen=True)
class _Batch:
    indices: list[int]
    start: int


def render(
    model: Model,
    music: Walk | Seeds | Chain | Loop,
    settings: Settings = DEFAULT_SETTINGS,
    progress: Progress | None = None,
) -> Iterator[Clip]:
    """Render any music that starts from a seed image, by its kind (`RENDERERS`); a restyle
    starts from its song instead: `render_restyle`."""
    try:
        renderer = RENDERERS[type(music)]
    except KeyError:
        raise TypeError(f"no renderer for {type(music).__name__}") from None
    return renderer(model, music, settings, progress)


def render_walk(
    model: Model,
    walk: Walk,
    settings: Settings = DEFAULT_SETTINGS,
    progress: Progress | None = None,
    after: Clip | None = None,
) -> Iterator[Clip]:
    """Render the clips of a walk in order, batched, yielding each as soon as it is audio; with
    continuation, the first continues `after` (the last clip of a walk before), if given."""
    init = _seed_latent(model, walk.seed_image, walk.width, settings)
    stops = [(0, a) for a in walk.clip_alphas()]
    previous = after.latent if after is not None and walk.continuation else None
    before = None if previous is None else (after.lead, previous.shape[-1], after.waveform.shape[-1])
    yield from _walk_clips(
        model,
        walk.prompt_ends(),
        stops,
        init,
        walk.mask,
        settings,
        progress,
        walk.continuation,
        previous=previous,
        seed_name=walk.seed_image,
        before=before,
    )


def render_chain(
    model: Model, chain: Chain, settings: Settings = DEFAULT_SETTINGS, progress: Progress | None = None
) -> Iterator[Clip]:
    """A prompt chain: one walk through all its ends, hop after hop, in order."""
    init = _seed_latent(model, chain.seed_image, chain.width, settings)
    yield from _walk_clips(
        model,
        chain.ends,
        chain.stops(),
        init,
        chain.mask,
        settings,
        progress,
        chain.continuation,
        seed_name=chain.seed_image,
    )


def render_loop(
    model: Model, loop: Loop, settings: Settings = DEFAULT_SETTINGS, progress: Progress | None = None
) -> Iterator[Clip]:
    """A loop's clips: the noise of clip j is cos(a) n0 + sin(a) n1 at a = 2 pi j / clips, a
    great circle through the seed's noise n0 and the next seed's n1 (near-orthogonal Gaussians
    of equal norm, so every clip's noise keeps the norm the model expects); clip `clips` would
    be clip 0 again."""
    init = _seed_latent(model, loop.seed_image, loop.width, settings)
    shape = (1, *init.shape[1:])
    n0 = pipeline.latent_noise(loop.end.seed, shape)[0].double()
    n1 = pipeline.latent_noise(loop.end.seed + 1, shape)[0].double() if loop.clips > 1 else n0

    def noise(index: int) -> torch.Tensor:
        angle = 2 * math.pi * index / loop.clips
        return (math.cos(angle) * n0 + math.sin(angle) * n1).float().to(model.device)

    stops = [(0, j / loop.clips) for j in range(loop.clips)]
    yield from _walk_clips(
        model, (loop.end, loop.end), stops, init, loop.mask, settings, progress, noise=noise
    )


def render_seeds(
    model: Model, seeds: Seeds, settings: Settings = DEFAULT_SETTINGS, progress: Progress | None = None
) -> Iterator[Clip]:
    """One clip per seed from one prompt end (no interpolation), batched, in seed order."""
    end = seeds.end
    embeddings = pipeline.encode_prompts(model, [end.prompt, end.negative_prompt])
    init_latent = _seed_latent(model, seeds.seed_image, seeds.width, settings)
    mask = _mask(seeds.mask, init_latent, settings)
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
            _step_reporter(progress, done, count, batch, steps),
            [0.0] * count,
            phase_seed=seeds.seeds[0],
        ).clips()
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
    if settings.bpm is not None:
        raise ValueError("a restyle keeps its song's tempo: leave the tempo unset")
    params = model.params
    pieces, keep = restyle_pieces(song, restyle, params)
    segments = torch.stack(pieces)
    alphas = interp.alpha_curve(len(segments), restyle.alpha_curve, restyle.alpha_power)
    sides = 2 if restyle.stereo and song.shape[0] == 2 else 1
    # Mono: the channels' mean. Stereo: left and right as neighbouring clips with the same
    # alpha, noise and start step, so they render in one batch and stay alike.
    mel = mel_from_waveform(segments if sides == 2 else segments.mean(dim=1, keepdim=True), params)
    mel = mel.reshape(-1, 1, *mel.shape[-2:])
    # Each segment scaled to its own peak, as the model saw its training images.
    init = torch.cat([pipeline.encode_image(model, pixels_from_mel(m, params)) for m in mel])
    stops = [(0, a) for a in alphas for _ in range(sides)]
    clips = _walk_clips(model, restyle.prompt_ends(), stops, init, None, settings, progress)
    if keep is not None:  # on bars: each clip cut back to its bars and the overlap
        clips = (dataclasses.replace(c, waveform=c.waveform[..., :keep]) for c in clips)
    if sides == 1:
        yield from clips
        return
    for left in clips:
        right = next(clips)
        grey = [c.pixels.mean(dim=0, keepdim=True) for c in (left, right)]
        yield Clip(
            left.index // 2,
            left.alpha,
            torch.cat([torch.zeros_like(grey[0]), *grey]),  # riffusion's stereo layout: G left, B right
            torch.cat([left.waveform, right.waveform]),
            dataclasses.replace(params, stereo=True),
        )


def restyle_pieces(
    song: torch.Tensor, restyle: Restyle, params: SpectrogramParams
) -> tuple[list[torch.Tensor], int | None]:
    """The segments a restyle renders, and with `on_bars` the samples each clip keeps (see
    `riff.beats.bar_segments`); None: clips are kept whole."""
    region = restyle_region(song, restyle, params)
    overlap = int(restyle.crossfade_ms / 1000 * params.sample_rate)
    if not restyle.on_bars:
        return restyle_segments(region, restyle.crossfade_ms, params), None
    beat = song_beat(song, params.sample_rate, restyle.song_bpm, restyle.downbeat_s)
    most = params.num_samples(CLIP_WIDTH)
    return bar_segments(song, restyle.start_s, region.shape[-1], overlap, params, most, beat)


def restyle_region(song: torch.Tensor, restyle: Restyle, params: SpectrogramParams) -> torch.Tensor:
    """The part of the song a restyle asks for. Raises ValueError if it starts past the end."""
    if restyle.start_s * params.sample_rate >= song.shape[-1]:  # before int(): 1e308 s overflows
        raise ValueError(
            f"the song is {song.shape[-1] / params.sample_rate:.1f} s long; the region starts at {restyle.start_s} s"
        )
    first = int(restyle.start_s * params.sample_rate)
    return song[:, first : first + int(min(restyle.duration_s * params.sample_rate, song.shape[-1]))]


def _walk_clips(
    model: Model,
    ends: tuple[PromptEnd, ...],
    stops: list[tuple[int, float]],
    init_latents: torch.Tensor,
    mask_name: str | None,
    settings: Settings,
    progress: Progress | None,
    continuation: bool = False,
    noise: Callable[[int], torch.Tensor] | None = None,
    previous: torch.Tensor | None = None,
    seed_name: str | None = None,
    before: tuple[int, int, int] | None = None,
) -> Iterator[Clip]:
    """The walk loop every kind of music shares.

    Args:
        ends: the prompt ends the walk passes through.
        stops: (hop, alpha) per clip: the clip lies alpha of the way from ends[hop] to
            ends[hop + 1] (prompt, negative prompt, strength and guidance lerped, noise slerped).
        init_latents: (1, C, h, w) the seed image's latent, or (clips, C, h, w), one per clip.
        continuation: each clip after the first keeps the previous clip's last quarter as its
            first (masked, not repainted), followed by the seed image's start: the music goes
            on along the seed's loop instead of restarting. Clips then render one at a time.
        noise: the noise of clip i, instead of the slerp between its ends' seeds.
        previous: with continuation, the latent the first clip continues.
        seed_name, before: on a grid, the seed image's pattern, and (lead, latent width, samples
            of bars) of the clip `previous` is (see `riff.beats.continued`).
    """
    grid = settings.grid()
    steps = settings.steps(model.recommended_steps)
    alphas = [a for _, a in stops]

    # 1. Everything the walk shares, once: embeddings, the mask, per-seed noise.
    prompts = [e.prompt for e in ends] + [e.negative_prompt for e in ends]
    embeddings = pipeline.encode_prompts(model, prompts)
    cond_ends, uncond_ends = embeddings[: len(ends)], embeddings[len(ends) :]
    mask = _mask(mask_name, init_latents, settings)
    shape = (1, *init_latents.shape[1:])
    noise_ends = [pipeline.latent_noise(e.seed, shape).to(model.device)[0] for e in ends]

    def between(hop: int, alpha: float, field: str) -> float:
        a, b = (getattr(ends[hop], field), getattr(ends[hop + 1], field))
        t = torch.tensor(alpha, dtype=torch.float64)
        return float(
            interp.lerp(torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64), t)
        )

    # 2. Per clip: lerped strength and guidance, so per-clip start steps.
    offset = model.scheduler.config.get("steps_offset", 0)
    starts = [interp.start_step(steps, between(h, a, "denoising"), offset) for h, a in stops]

    # 3. Batches of consecutive clips that share a start step, rendered in order; with
    #    overlap, a batch's phase retrieval runs while the next batch denoises.
    kept = continued_columns(init_latents.shape[-1]) if continuation else 0
    batches = _batches(starts, 1 if continuation else settings.batch_size)
    overlap = settings.overlaps(model.device)
    if overlap and progress is not None:
        progress = _never_back(progress)  # a held-back batch is counted when it is audio
    done, waiting = 0, None
    for n, batch in enumerate(batches):
        hops = [stops[i][0] for i in batch.indices]
        ts = [torch.tensor([stops[i][1]], device=model.device) for i in batch.indices]
        cond = torch.cat([interp.lerp(cond_ends[h], cond_ends[h + 1], t) for h, t in zip(hops, ts)])
        uncond = torch.cat([interp.lerp(uncond_ends[h], uncond_ends[h + 1], t) for h, t in zip(hops, ts)])
        if noise is None:
            clip_noise = torch.cat(
                [interp.slerp(noise_ends[h], noise_ends[h + 1], t) for h, t in zip(hops, ts)]
            )
        else:
            clip_noise = torch.stack([noise(i) for i in batch.indices])
        guidance = torch.tensor([between(*stops[i], "guidance") for i in batch.indices], dtype=torch.float64)
        init = init_latents if init_latents.shape[0] == 1 else init_latents[batch.indices]
        clip_mask, clip_kept, lead = mask, 0, 0
        if previous is not None and grid is not None:  # the seed's loop goes on on the grid
            step = continued(
                grid,
                before,
                clip_length(grid, batch.indices[0], model.params.sample_rate),
                kept,
                model.params,
                model.vae_scale,
            )
            init, clip_mask = _continued_init(model, seed_name, settings, step, previous, mask_name)
            lead = step.lead
            wide = [pipeline.latent_noise(e.seed, (1, *init.shape[1:])).to(model.device)[0] for e in ends]
            clip_noise = torch.cat([interp.slerp(wide[h], wide[h + 1], t) for h, t in zip(hops, ts)])
        elif previous is not None:  # a continuation: the previous clip's end, then the seed's start
            init = torch.cat([previous[None, ..., -kept:], init[..., : init.shape[-1] - kept]], dim=-1)
            clip_mask = torch.ones_like(init[:1, :1]) if mask is None else mask.clone()
            clip_mask[..., :kept] = 0
            clip_kept = kept * model.vae_scale
        rendered = _render_batch(
            model,
            settings,
            steps,
            init,
            cond,
            uncond,
            clip_noise,
            guidance,
            batch,
            clip_mask,
            _step_reporter(progress, batch.indices[0], len(stops), batch, steps),
            alphas,
            phase_seed=ends[0].seed,
            kept=clip_kept,
            later=overlap and 0 < n < len(batches) - 1,  # the first clip plays at once
            lead=lead,
        )
        previous = rendered.latents[-1] if continuation else None
        if grid is not None:
            length = clip_length(grid, batch.indices[-1], model.params.sample_rate)
            before = (lead, rendered.latents.shape[-1], length)
        for ready in (waiting, rendered):
            if ready is None or (ready is rendered and ready.later):
                continue
            yield from ready.clips()
            done += len(ready.clips())
            if progress is not None:
                progress(done, len(stops), 0, 0)
        waiting = rendered if rendered.later else None


def stitch_restyle(clips: list[Clip], crossfade_ms: float, target_lufs: float = -14.0) -> torch.Tensor:
    """The restyled track: segments crossfaded across their shared overlap, normalised once."""
    sample_rate = clips[0].params.sample_rate
    track = stitch_overlapping([c.waveform for c in clips], int(crossfade_ms / 1000 * sample_rate))
    return normalize_loudness(track, sample_rate, target_lufs)


def stitch(clips: list[Clip], music: Music) -> torch.Tensor:
    """A request's track: a restyle fades across its segments' shared overlap; the other kinds
    centre their crossfades on each join (in the shared part of continued clips), and a loop
    crossfades its wrap too."""
    if isinstance(music, Restyle):
        return stitch_restyle(clips, music.crossfade_ms)
    return stitch_walk(clips, music.crossfade_ms, wrap=isinstance(music, Loop))


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


def stitch_walk(
    clips: list[Clip], crossfade_ms: float, target_lufs: float = -14.0, wrap: bool = False
) -> torch.Tensor:
    """The walk's track: clips on one beat grid with centred equal-power crossfades, loudness
    normalised once over the whole track (never clip by clip, so relative levels survive)."""
    params = clips[0].params
    kept = [params.num_samples(c.kept) if c.kept else 0 for c in clips]
    track = stitch_clips(
        [c.waveform for c in clips], int(crossfade_ms / 1000 * params.sample_rate), kept, wrap
    )
    sample_rate = params.sample_rate
    return normalize_loudness(track, sample_rate, target_lufs)


@dataclass
class _Rendered:
    """A denoised batch: its latents at once, its clips once phase retrieval is done (now, or
    on the worker thread while the next batch denoises, when `later`)."""

    latents: torch.Tensor
    later: bool
    _clips: Callable[[], list[Clip]]

    def clips(self) -> list[Clip]:
        return self._clips()


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
    kept: int = 0,
    later: bool = False,
    lead: int = 0,
) -> _Rendered:
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

    def retrieve() -> list[Clip]:
        # Seeded by the start seed: same request, same samples (on one device).
        waveforms = waveform_from_mel(
            mel, params, seed=phase_seed, griffin_lim_iters=settings.griffin_lim_iters
        )
        return [
            Clip(
                i,
                alphas[i],
                pixels[k].cpu(),
                on_bars(waveforms[k], i, settings, params, lead),
                params,
                kept,
                latents[k],
                lead,
            )
            for k, i in enumerate(batch.indices)
        ]

    if not later:
        clips = retrieve()
        return _Rendered(latents, False, lambda: clips)
    result = on_the_side(model.device, retrieve)
    return _Rendered(latents, True, functools.cache(result.result))


_SIDE = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="riff-phase")
_SIDE_STREAMS: dict[torch.device, object] = {}


def on_the_side(device: torch.device, work: Callable[[], list[Clip]]) -> concurrent.futures.Future:
    """Run `work` on the worker thread, on a CUDA stream of its own where there is one (so its
    kernels run beside the main stream's); it starts after everything queued so far."""
    if device.type != "cuda":
        return _SIDE.submit(work)
    ready = torch.cuda.Event()
    ready.record()
    stream = _SIDE_STREAMS.setdefault(device, torch.cuda.Stream(device))

    def on_stream() -> list[Clip]:
        with torch.cuda.stream(stream):
            stream.wait_event(ready)
            out = work()
        stream.synchronize()
        return out

    return _SIDE.submit(on_stream)


def _step_reporter(
    progress: Progress | None, done: int, total: int, batch: _Batch, steps: int
) -> Callable[[int, int], None]:
    """`pipeline.denoise`'s (step run, steps to run) as a `Progress` report."""

    def on_step(ran: int, run: int) -> None:
        if progress is not None:
            scheduled = round(steps * (batch.start + ran) / (batch.start + run))
            progress(done + len(batch.indices) * ran / run, total, scheduled, steps)

    return on_step


def _never_back(progress: Progress) -> Progress:
    """`progress`, its clips-done count held from going back."""
    most = 0.0

    def report(done: float, clips: int, step: int, steps: int) -> None:
        nonlocal most
        most = max(most, done)
        progress(most, clips, step, steps)

    return report


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


def continued_columns(latent_width: int) -> int:
    """Latent columns a continued clip keeps from the one before: a quarter of the clip."""
    return max(1, latent_width // 4)


def _seed_latent(
    model: Model, name: str, width: int | None, settings: Settings = DEFAULT_SETTINGS
) -> torch.Tensor:
    """(1, C, h, w) latent of a seed image, `width` columns wide if given (see `seed_image`);
    with a tempo, of its pattern rendered on the grid (see `riff.beats.grid_seed`)."""
    grid = settings.grid()
    image = (
        seed_image(name, model.params, width) if grid is None else grid_seed(name, grid, settings.bed, width)
    )
    return pipeline.encode_image(model, pixels_from_image(image))


def _continued_init(
    model: Model,
    name: str,
    settings: Settings,
    step: Continued,
    previous: torch.Tensor,
    mask_name: str | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(1, C, h, step.width) start latent of a clip continued on a grid: the previous clip's
    last `step.kept` columns, then the seed's loop from the grid's phase; and its mask, the
    kept columns kept."""
    seed = continued_seed(name, settings.grid(), settings.bed, step, model.vae_scale)
    seed_latent = pipeline.encode_image(model, pixels_from_image(seed))
    init = torch.cat([previous[None, ..., -step.kept :], seed_latent], dim=-1)
    mask = _mask(mask_name, init, settings)
    mask = torch.ones_like(init[:1, :1]) if mask is None else mask.clone()
    mask[..., : step.kept] = 0
    return init, mask


def _mask(
    name: str | None, init_latent: torch.Tensor, settings: Settings = DEFAULT_SETTINGS
) -> torch.Tensor | None:
    """The mask `name` at the latent's size; with a tempo and no mask named, `keep-bass`: the
    seed's kick and bass (its tempo and key) are kept and the prompt repaints the rest, which
    keeps the asked key in 79% of clips against 29% without (README, "Tempo, key and bars")."""
    if name is None and settings.grid() is not None:
        name = GRID_MASK
    if name is None:
        return None
    return mask_tensor(name, tuple(init_latent.shape[-2:]))


# What renders each kind of music from a seed image: a new kind adds its line here.
RENDERERS: dict[type, Callable[..., Iterator[Clip]]] = {
    Walk: render_walk,
    Seeds: render_seeds,
    Chain: render_chain,
    Loop: render_loop,
}
