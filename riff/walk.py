"""The one walk loop every kind of music renders through (`walk_clips`): a `Plan` (the ends, where
each clip stops between them, its noise and start latent; `riff.render` lays one out per kind)
-> clips batched by start step, denoised, decoded and turned to audio in order, with phase
retrieval beside the next batch's denoising where that pays (`Settings.overlaps`), and progress
in clips and steps."""

from __future__ import annotations

import concurrent.futures
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from PIL import Image

from riff import interp, pipeline
from riff.audio.decode import waveforms_from_pixels
from riff.audio.image import image_from_pixels
from riff.audio.params import SpectrogramParams
from riff.beats import Continued, clip_length, continued, on_bars
from riff.lora import use_adapters
from riff.models import Model
from riff.request import DEFAULT_SETTINGS, PromptEnd, Settings

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


@dataclass(frozen=True, eq=False)
class Plan:
    """What a walk renders: where each clip lies between prompt ends, and what it starts from.

    A clip at stop (hop, alpha) lies alpha of the way from ends[hop] to ends[hop + 1]: prompt,
    negative prompt, strength and guidance lerped, noise slerped. One end: every clip is it.
    """

    ends: tuple[PromptEnd, ...]
    stops: tuple[tuple[int, float], ...]  # (hop, alpha) per clip, in order
    init: torch.Tensor  # (1, C, h, w) the seed image's latent, or (clips, C, h, w), one per clip
    mask: torch.Tensor | None = None  # (1, 1, h, w) in [0, 1], 1 = repaint
    noise: Callable[[int], torch.Tensor] | None = None  # clip i's (C, h, w), instead of the slerp
    # Each clip after the first keeps the previous clip's last quarter as its first (masked, not
    # repainted), followed by the seed image's start: the music goes on along the seed's loop
    # instead of restarting. Clips then render one at a time.
    continuation: bool = False
    previous: torch.Tensor | None = None  # with continuation, the latent the first clip continues
    # On a grid: (lead, latent width, samples of bars) of the clip `previous` is (see
    # `riff.beats.continued`), and a continued clip's (start latent, mask) from its step and the
    # latent before (the seed's loop at the grid's phase: `riff.render`).
    before: tuple[int, int, int] | None = None
    grid_start: Callable[[Continued, torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None = None
    phase_seed: int | None = None  # seeds phase retrieval; None: the first end's seed


@dataclass(frozen=True)
class Batch:
    """Consecutive clips that share a start step (an index into the scheduler's timesteps)."""

    indices: list[int]
    start: int


def walk_clips(
    model: Model, plan: Plan, settings: Settings = DEFAULT_SETTINGS, progress: Progress | None = None
) -> Iterator[Clip]:
    """The plan's clips in order, batched, each yielded as soon as it is audio.

    Batches of consecutive clips that share a start step render in order; with overlap, a
    batch's phase retrieval runs while the next batch denoises.
    """
    grid = settings.grid()
    if plan.continuation and grid is not None and plan.grid_start is None:
        raise ValueError("a continuation on a grid needs the seed's loop to go on from (Plan.grid_start)")
    # Before any work (a LoRA that does not fit fails here) and before the prompts are encoded
    # (a LoRA may adapt the text encoder too).
    use_adapters(model, settings.adapters())
    steps = settings.steps(model.recommended_steps)
    between = _Between(model, plan)
    starts = [
        pipeline.start_step(model.scheduler, steps, between.value(h, a, "denoising")) for h, a in plan.stops
    ]
    kept = continued_columns(plan.init.shape[-1]) if plan.continuation else 0
    batches = batches_of(starts, 1 if plan.continuation else settings.batch_size)
    overlap = settings.overlaps(model.device)
    if overlap and progress is not None:
        progress = never_back(progress)  # a held-back batch is counted when it is audio
    phase_seed = plan.ends[0].seed if plan.phase_seed is None else plan.phase_seed
    total, done, waiting, previous, before = len(plan.stops), 0, None, plan.previous, plan.before
    sample_rate = model.params.sample_rate
    for n, batch in enumerate(batches):
        init = plan.init if plan.init.shape[0] == 1 else plan.init[batch.indices]
        mask, clip_kept, lead = plan.mask, 0, 0
        if previous is not None and grid is not None:  # the seed's loop goes on on the grid
            length = clip_length(grid, batch.indices[0], sample_rate)
            step = continued(grid, before, length, kept, model.params, model.vae_scale)
            init, mask = plan.grid_start(step, previous)
            lead = step.lead
        elif previous is not None:  # a continuation: the previous clip's end, then the seed's start
            init = torch.cat([previous[None, ..., -kept:], init[..., : init.shape[-1] - kept]], dim=-1)
            mask = torch.ones_like(init[:1, :1]) if plan.mask is None else plan.mask.clone()
            mask[..., :kept] = 0
            clip_kept = kept * model.vae_scale
        # Again for the UNet: a server's other requests take turns on the model between batches.
        use_adapters(model, settings.adapters())
        cond, uncond, noise, guidance = between.inputs(batch.indices, init.shape[-1])
        job = BatchJob(batch, init, cond, uncond, noise, guidance, mask, phase_seed, clip_kept, lead)
        rendered = render_batch(
            model,
            job,
            settings,
            steps,
            [a for _, a in plan.stops],
            step_reporter(progress, batch.indices[0], total, batch, steps),
            later=overlap and 0 < n < len(batches) - 1,  # the first clip plays at once
        )
        previous = rendered.latents[-1] if plan.continuation else None
        if grid is not None:
            before = (lead, rendered.latents.shape[-1], clip_length(grid, batch.indices[-1], sample_rate))
        for ready in (waiting, rendered):
            if ready is None or (ready is rendered and ready.later):
                continue
            yield from ready.clips()
            done += len(ready.clips())
            if progress is not None:
                progress(done, total, 0, 0)
        waiting = rendered if rendered.later else None


class _Between:
    """What a walk shares, computed once (embeddings, the ends' noise), and each clip's share
    of it: the clip's place between its hop's two ends."""

    def __init__(self, model: Model, plan: Plan) -> None:
        ends = plan.ends
        self.ends, self.stops, self.noise, self.device = ends, plan.stops, plan.noise, model.device
        embeddings = pipeline.encode_prompts(
            model, [e.prompt for e in ends] + [e.negative_prompt for e in ends]
        )
        self.cond, self.uncond = embeddings[: len(ends)], embeddings[len(ends) :]
        self.shape = (1, *plan.init.shape[1:])
        self._noise_ends: dict[int, list[torch.Tensor]] = {}  # per latent width

    def _hop(self, hop: int) -> tuple[int, int]:
        return hop, min(hop + 1, len(self.ends) - 1)

    def value(self, hop: int, alpha: float, name: str) -> float:
        """A number of the ends (strength, guidance) at `alpha` of the way along `hop`."""
        a, b = (getattr(self.ends[i], name) for i in self._hop(hop))
        t = torch.tensor(alpha, dtype=torch.float64)
        return float(
            interp.lerp(torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64), t)
        )

    def noise_ends(self, width: int) -> list[torch.Tensor]:
        """The ends' noise, `width` latent columns wide (a clip continued on a grid is wider)."""
        if width not in self._noise_ends:
            shape = (*self.shape[:-1], width)
            self._noise_ends[width] = [
                pipeline.latent_noise(e.seed, shape).to(self.device)[0] for e in self.ends
            ]
        return self._noise_ends[width]

    def inputs(
        self, indices: list[int], width: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(cond, uncond, noise, guidance) of the clips `indices`, `width` latent columns wide,
        for `pipeline.denoise`."""
        hops = [self._hop(self.stops[i][0]) for i in indices]
        ts = [torch.tensor([self.stops[i][1]], device=self.device) for i in indices]
        cond = torch.cat([interp.lerp(self.cond[a], self.cond[b], t) for (a, b), t in zip(hops, ts)])
        uncond = torch.cat([interp.lerp(self.uncond[a], self.uncond[b], t) for (a, b), t in zip(hops, ts)])
        if self.noise is None:
            ends = self.noise_ends(width)
            noise = torch.cat([interp.slerp(ends[a], ends[b], t) for (a, b), t in zip(hops, ts)])
        else:
            noise = torch.stack([self.noise(i) for i in indices])
        guidance = [self.value(*self.stops[i], "guidance") for i in indices]
        return cond, uncond, noise, torch.tensor(guidance, dtype=torch.float64)


@dataclass(frozen=True, eq=False)
class BatchJob:
    """One batch's inputs to `pipeline.denoise`, and what its clips carry."""

    batch: Batch
    init: torch.Tensor  # (1 or B, C, h, w)
    cond: torch.Tensor  # (B, seq, hidden)
    uncond: torch.Tensor  # (B, seq, hidden)
    noise: torch.Tensor  # (B, C, h, w)
    guidance: torch.Tensor  # (B,)
    mask: torch.Tensor | None
    phase_seed: int  # seeds phase retrieval: same request, same samples (on one device)
    kept: int = 0  # columns each clip keeps from the one before
    lead: int = 0  # samples of each clip's image before its first bar line (see `Clip.lead`)


@dataclass
class Rendered:
    """A denoised batch: its latents at once, its clips once phase retrieval is done (now, or
    on the worker thread while the next batch denoises, when `later`)."""

    latents: torch.Tensor
    later: bool
    _clips: Callable[[], list[Clip]]

    def clips(self) -> list[Clip]:
        return self._clips()


def render_batch(
    model: Model,
    job: BatchJob,
    settings: Settings,
    steps: int,
    alphas: list[float],
    callback: pipeline.StepCallback | None = None,
    later: bool = False,
) -> Rendered:
    """Denoise and decode a batch now; its phase retrieval now, or beside the next batch's
    denoising when `later`."""
    params = model.params
    latents = pipeline.denoise(
        model,
        job.init,
        job.cond,
        job.uncond,
        job.noise,
        job.guidance,
        job.batch.start,
        steps,
        settings.scheduler,
        job.mask,
        callback,
    )
    pixels = pipeline.decode_latents(model, latents)

    def retrieve() -> list[Clip]:
        waveforms = waveforms_from_pixels(pixels, params, job.phase_seed, settings.griffin_lim_iters)
        return [
            Clip(
                i,
                alphas[i],
                pixels[k].cpu(),
                on_bars(waveforms[k], i, settings, params, job.lead),
                params,
                job.kept,
                latents[k],
                job.lead,
            )
            for k, i in enumerate(job.batch.indices)
        ]

    if not later:
        clips = retrieve()
        return Rendered(latents, False, lambda: clips)
    result = on_the_side(model.device, retrieve)
    return Rendered(latents, True, functools.cache(result.result))


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


def step_reporter(
    progress: Progress | None, done: int, total: int, batch: Batch, steps: int
) -> pipeline.StepCallback | None:
    """`pipeline.denoise`'s steps of a batch as `Progress` reports; None without `progress`."""
    if progress is None:
        return None

    def on_step(step: pipeline.Step) -> None:
        ran, run = step.index + 1, step.run
        scheduled = round(steps * (batch.start + ran) / (batch.start + run))
        progress(done + len(batch.indices) * ran / run, total, scheduled, steps)

    return on_step


def never_back(progress: Progress) -> Progress:
    """`progress`, its clips-done count held from going back."""
    most = 0.0

    def report(done: float, clips: int, step: int, steps: int) -> None:
        nonlocal most
        most = max(most, done)
        progress(most, clips, step, steps)

    return report


def batches_of(starts: list[int], batch_size: int) -> list[Batch]:
    """Consecutive clips sharing a start step, `batch_size` at most; the first clip goes alone
    so it can play while the rest render (a full first batch would hold it back)."""
    batches: list[Batch] = []
    for i, s in enumerate(starts):
        last = batches[-1] if batches else None
        if last is not None and i > 1 and last.start == s and len(last.indices) < batch_size:
            last.indices.append(i)
        else:
            batches.append(Batch([i], s))
    return batches


def continued_columns(latent_width: int) -> int:
    """Latent columns a continued clip keeps from the one before: a quarter of the clip."""
    return max(1, latent_width // 4)
