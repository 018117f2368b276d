"""Each kind of request as a walk: its prompt ends, where each clip stops between them, its
noise and its start latent (a `riff.walk.Plan`), rendered by the one walk loop
(`riff.walk.walk_clips`). `riff.track` joins the clips into the request's track."""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Iterator

import torch

from riff import interp, pipeline
from riff.audio.image import pixels_from_image, pixels_from_mel
from riff.audio.params import CLIP_WIDTH, SpectrogramParams
from riff.audio.spectrogram import mel_from_waveform
from riff.beats import Continued, bar_segments, continued_seed, grid_seed, song_beat
from riff.models import Model
from riff.request import DEFAULT_SETTINGS, Chain, Loop, PromptEnd, Restyle, Settings, Variations, Walk
from riff.seed_images import DEFAULT_SEED, GRID_MASK, mask_tensor, seed_image
from riff.walk import Clip, Plan, Progress, walk_clips


def render(
    model: Model,
    music: Walk | Variations | Chain | Loop,
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
    after = after if walk.continuation else None
    plan = Plan(
        walk.prompt_ends(),
        tuple((0, a) for a in walk.clip_alphas()),
        init,
        _mask(walk.mask, init, settings),
        continuation=walk.continuation,
        previous=None if after is None else after.latent,
        before=None if after is None else (after.lead, after.latent.shape[-1], after.waveform.shape[-1]),
        grid_start=_grid_start(model, walk.seed_image, walk.mask, settings),
    )
    yield from walk_clips(model, plan, settings, progress)


def render_chain(
    model: Model, chain: Chain, settings: Settings = DEFAULT_SETTINGS, progress: Progress | None = None
) -> Iterator[Clip]:
    """A prompt chain: one walk through all its ends, hop after hop, in order."""
    init = _seed_latent(model, chain.seed_image, chain.width, settings)
    mask = _mask(chain.mask, init, settings)
    grid_start = _grid_start(model, chain.seed_image, chain.mask, settings)
    plan = Plan(
        chain.ends, tuple(chain.stops()), init, mask, continuation=chain.continuation, grid_start=grid_start
    )
    yield from walk_clips(model, plan, settings, progress)


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

    stops = tuple((0, j / loop.clips) for j in range(loop.clips))
    plan = Plan((loop.end, loop.end), stops, init, _mask(loop.mask, init, settings), noise=noise)
    yield from walk_clips(model, plan, settings, progress)


def render_variations(
    model: Model, seeds: Variations, settings: Settings = DEFAULT_SETTINGS, progress: Progress | None = None
) -> Iterator[Clip]:
    """One clip per seed from one prompt end (no interpolation), batched, in seed order; phase
    retrieval is seeded by the first seed."""
    init = _seed_latent(model, seeds.seed_image, seeds.width, settings)
    shape = tuple(init.shape)

    def noise(index: int) -> torch.Tensor:
        return pipeline.latent_noise(seeds.seeds[index], shape)[0].to(model.device)

    stops = tuple((0, 0.0) for _ in seeds.seeds)
    mask = _mask(seeds.mask, init, settings)
    plan = Plan((seeds.end,), stops, init, mask, noise=noise, phase_seed=seeds.seeds[0])
    yield from walk_clips(model, plan, settings, progress)


def render_clip(
    model: Model,
    end: PromptEnd,
    settings: Settings = DEFAULT_SETTINGS,
    seed_image: str = DEFAULT_SEED,
    mask: str | None = None,
) -> Clip:
    """One clip of one prompt end, with its own seed."""
    return next(render_variations(model, Variations(end, (end.seed,), seed_image, mask), settings))


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
    init = segment_latents(model, segments if sides == 2 else segments.mean(dim=1, keepdim=True))
    stops = tuple((0, a) for a in alphas for _ in range(sides))
    clips = walk_clips(model, Plan(restyle.prompt_ends(), stops, init), settings, progress)
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


def segment_latents(model: Model, segments: torch.Tensor) -> torch.Tensor:
    """(segments x channels, C, h, w): each channel of each segment as a mel image, scaled to
    its own peak as the model saw its training images, encoded. One segment at a time: the mel
    spectrograms of a whole region at once held gigabytes (25 segments: 2.2 GB)."""
    latents = []
    for segment in segments:
        for mel in mel_from_waveform(segment, model.params):
            latents.append(pipeline.encode_image(model, pixels_from_mel(mel[None], model.params)))
    return torch.cat(latents)


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


def _grid_start(
    model: Model, name: str, mask_name: str | None, settings: Settings
) -> Callable[[Continued, torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None:
    """With a tempo, how a continued clip starts on the grid (`_continued_init`); None without."""
    if settings.grid() is None:
        return None
    return functools.partial(_continued_init, model, name, mask_name, settings)


def _continued_init(
    model: Model,
    name: str,
    mask_name: str | None,
    settings: Settings,
    step: Continued,
    previous: torch.Tensor,
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
    Variations: render_variations,
    Chain: render_chain,
    Loop: render_loop,
}
