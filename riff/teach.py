"""The teaching view: one clip's journey from seed image to sound, step by step, as pictures
with captions (for a class, or the API), and why a walk slerps its noise instead of lerping it.

`journey` renders through `riff.pipeline.denoise`, so its final spectrogram is the one
`riff.render.render_clip` makes for the same request; an observer of the loop keeps the model's
guesses of the finished clip on the way. Here are the numbers and the captions; `riff.pictures`
draws.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from PIL import Image

from riff import interp, pipeline, seed_images
from riff.audio.image import mel_from_pixels, pixels_from_image
from riff.audio.params import SpectrogramParams
from riff.audio.spectrogram import magnitudes_from_mel, mel_from_waveform, waveform_from_mel
from riff.beats import grid_seed
from riff.grid import METERS, Grid
from riff.lora import use_adapters
from riff.models import Model
from riff.pictures import (
    beat_grid_picture,
    convergence_plot,
    framed,
    latent_grid,
    linear_picture,
    noise_norm_plot,
    picture_from_pixels,
    png_base64,
)
from riff.request import DEFAULT_SETTINGS, PromptEnd, Settings
from riff.seed_images import DEFAULT_SEED, GRID_MASK, mask_tensor

PHASE_ITERS = (0, 8, 32, 96)  # phase-retrieval iterations the progress plot measures


@dataclass
class Picture:
    """One labelled picture of the teaching view."""

    title: str  # a few words, drawn on the picture
    caption: str  # a sentence or two for the class
    image: Image.Image  # riff.pictures.HEIGHT px high


@dataclass
class Journey:
    """One clip's way from seed image to sound, in order (see `journey`)."""

    pictures: list[Picture]  # seed, latent, noised latent, previews, spectrogram, linear, phase
    strength: float
    num_inference_steps: int
    start: int  # index into the scheduler's timesteps where denoising starts
    steps_run: int
    timesteps: list[int]  # the scheduler's timesteps that ran, noisiest first
    preview_steps: list[int]  # steps run (1..steps_run) after which each preview was taken
    convergence: list[tuple[int, float]]  # (phase-retrieval iterations, mel spectral convergence)
    pixels: torch.Tensor  # (3, H, W) the final spectrogram's intensities in [0, 255]
    audio: torch.Tensor  # (channels, samples) on the CPU
    sample_rate: int
    audio_caption: str
    beat_grid: BeatGrid | None = None  # with a tempo: where the seed's bars and beats fall

    def to_dict(self, images: bool = True) -> dict:
        """JSON-ready: numbers, captions, and each picture as base64 PNG unless `images` is False."""
        return {
            "strength": self.strength,
            "num_inference_steps": self.num_inference_steps,
            "start_step": self.start,
            "steps_run": self.steps_run,
            "timesteps": list(self.timesteps),
            "preview_steps": list(self.preview_steps),
            "convergence": [{"iterations": i, "spectral_convergence": c} for i, c in self.convergence],
            "audio": {
                "sample_rate": self.sample_rate,
                "channels": self.audio.shape[0],
                "seconds": self.audio.shape[-1] / self.sample_rate,
                "caption": self.audio_caption,
            },
            "pictures": [_picture_dict(p, images) for p in self.pictures],
            "beat_grid": None if self.beat_grid is None else dataclasses.asdict(self.beat_grid),
        }


@torch.no_grad()
def journey(
    model: Model,
    end: PromptEnd,
    settings: Settings = DEFAULT_SETTINGS,
    seed_image: str = DEFAULT_SEED,
    previews: int = 4,
    mask: str | None = None,
    phase_iters: tuple[int, ...] = PHASE_ITERS,
    on_step: Callable[[int, int], None] | None = None,
) -> Journey:
    """One clip of `end` rendered as `render_clip` renders it, with pictures of every stage.

    Args:
        previews: predicted clean spectrograms to show during denoising, at evenly spaced
            steps (at most one per step run).
        phase_iters: phase-retrieval iteration counts whose mel spectral convergence is plotted.
        on_step: called with (step, steps run) after each UNet call.
    Returns:
        The pictures in order (seed image, its latent, the noised latent, the previews, the
        spectrogram, its linear magnitudes, phase retrieval's progress), the numbers, the final
        spectrogram's pixels and the audio, both as `render_clip` makes them.
    Raises:
        ValueError: a bad count, seed image or mask, named.
    """
    if previews < 0:
        raise ValueError(f"previews must be at least 0, got {previews}")
    if not phase_iters or min(phase_iters) < 0:
        raise ValueError(f"phase_iters must be iteration counts of at least 0, got {phase_iters}")
    use_adapters(model, settings.adapters())  # its LoRAs, as `render_clip` applies them
    params = model.params
    # 1. The seed image (with a tempo, its pattern on the grid, and the grid under it) and its
    # latent, as `render_clip` makes them.
    grid = settings.grid()
    seed, ruler = _seed(seed_image, settings, params)
    if grid is not None and mask is None:
        mask = GRID_MASK  # render_clip keeps the seed's bass on a grid
    init = pipeline.encode_image(model, pixels_from_image(seed))
    seed_picture = framed(seed, "seed image") if ruler is None else ruler.picture(seed)
    pictures = [
        Picture("seed image", _seed_caption(seed, params, ruler), seed_picture),
        Picture("latent", _latent_caption(seed, init), framed(latent_grid(init[0]), "latent")),
    ]

    # 2. The start step the strength picks, and the seed latent noised to it.
    steps = settings.steps(model.recommended_steps)
    sched = model.make_scheduler(settings.scheduler)
    start = pipeline.start_step(sched, steps, end.denoising)
    timesteps = pipeline.timesteps(sched, steps, end.denoising, model.device)
    noise = pipeline.latent_noise(end.seed, tuple(init.shape)).to(model.device, model.dtype)
    latents = sched.add_noise(init, noise, timesteps[:1])
    caption = f"strength {end.denoising:g} starts at step {start} of {steps}: {len(timesteps)} steps run. "
    caption += _noise_caption(sched, int(timesteps[0]))
    pictures.append(Picture("noised latent", caption, framed(latent_grid(latents[0]), "noised latent")))

    # 3. Denoise, keeping the predicted clean latent at a few steps.
    wanted = _preview_steps(len(timesteps), previews)
    latent_mask = None if mask is None else mask_tensor(mask, tuple(init.shape[-2:]))
    if latent_mask is not None:
        latent_mask = latent_mask.to(model.device, model.dtype)
    latents, guesses = _denoise(model, settings, steps, start, init, noise, end, latent_mask, wanted, on_step)
    pictures += _preview_pictures(model, guesses, wanted, timesteps)

    # 4. The spectrogram, its linear magnitudes, phase retrieval and the audio, as render decodes.
    pixels = pipeline.decode_latents(model, latents)
    heard, convergence, audio = _decoded(pixels, params, end.seed, settings.griffin_lim_iters, phase_iters)
    return Journey(
        pictures=pictures + heard,
        strength=end.denoising,
        num_inference_steps=steps,
        start=start,
        steps_run=len(timesteps),
        timesteps=[int(t) for t in timesteps],
        preview_steps=wanted,
        convergence=convergence,
        pixels=pixels[0].cpu(),
        audio=audio,
        sample_rate=params.sample_rate,
        audio_caption=_audio_caption(audio, params, settings.griffin_lim_iters),
        beat_grid=ruler,
    )


@dataclass(frozen=True)
class BeatGrid:
    """Where a seed image's bars and beats fall, in its image columns (column c is sample
    c x hop; beats as the meter counts them, eighths in 6/8)."""

    bpm: float
    meter: str
    bars: int
    key: str | None
    beat_s: float
    bar_columns: list[float]  # each bar's start, and the last bar's end
    beat_columns: list[float]

    @classmethod
    def of(cls, grid: Grid, params: SpectrogramParams) -> BeatGrid:
        beats_a_bar = METERS[grid.meter][2]
        beat_s = grid.bar_seconds / beats_a_bar
        column = params.sample_rate / params.hop_length  # columns a second
        return cls(
            bpm=grid.bpm,
            meter=grid.meter,
            bars=grid.bars,
            key=grid.key.name if grid.key else None,
            beat_s=beat_s,
            bar_columns=[b * grid.bar_seconds * column for b in range(grid.bars + 1)],
            beat_columns=[b * beat_s * column for b in range(grid.bars * beats_a_bar + 1)],
        )

    def picture(self, seed: Image.Image) -> Image.Image:
        return beat_grid_picture(seed, self.bar_columns, self.beat_columns)


def _seed(name: str, settings: Settings, params: SpectrogramParams) -> tuple[Image.Image, BeatGrid | None]:
    """The seed image a render of `settings` starts from, and its beat grid if it has a tempo."""
    grid = settings.grid()
    if grid is None:
        return seed_images.seed_image(name, params), None
    return grid_seed(name, grid, settings.bed), BeatGrid.of(grid, params)


def _preview_pictures(
    model: Model, guesses: list[torch.Tensor], wanted: list[int], timesteps: torch.Tensor
) -> list[Picture]:
    """The model's guesses of the finished spectrogram (predicted clean latents, decoded), one
    after each step count in `wanted`."""
    if not guesses:
        return []
    pictures = []
    for n, pixels in zip(wanted, pipeline.decode_latents(model, torch.cat(guesses))):
        title = f"after {n} of {len(timesteps)} steps"
        caption = f"{title} (t = {int(timesteps[n - 1])}): the model's guess of the finished spectrogram (its predicted x0)"
        pictures.append(Picture(title, caption, framed(picture_from_pixels(pixels), title)))
    return pictures


def _decoded(
    pixels: torch.Tensor,
    params: SpectrogramParams,
    seed: int,
    griffin_lim_iters: int,
    phase_iters: tuple[int, ...],
) -> tuple[list[Picture], list[tuple[int, float]], torch.Tensor]:
    """The (1, 3, H, W) spectrogram as render decodes it: pictures of it, its linear magnitudes and
    phase retrieval's progress; (iterations, mel spectral convergence) for each of `phase_iters`;
    the audio (channels, samples) on the CPU after `griffin_lim_iters` iterations."""
    mel = mel_from_pixels(pixels, params)
    caption = "the denoised latent through the VAE's decoder: the clip's spectrogram"
    pictures = [Picture("spectrogram", caption, framed(picture_from_pixels(pixels[0]), "spectrogram"))]
    magnitudes = magnitudes_from_mel(mel, params)
    linear = linear_picture(magnitudes, params)
    pictures.append(Picture("mel to linear", _linear_caption(mel, magnitudes, params), linear))
    waves = {
        i: waveform_from_mel(mel, params, seed=seed, griffin_lim_iters=i)
        for i in sorted({*phase_iters, griffin_lim_iters})
    }
    convergence = [
        (i, _spectral_convergence(mel_from_waveform(waves[i], params), mel)) for i in sorted(phase_iters)
    ]
    pictures.append(Picture("phase retrieval", _phase_caption(convergence), convergence_plot(convergence)))
    return pictures, convergence, waves[griffin_lim_iters][0].float().cpu()


def _denoise(
    model: Model,
    settings: Settings,
    steps: int,
    start: int,
    init: torch.Tensor,
    noise: torch.Tensor,
    end: PromptEnd,
    mask: torch.Tensor | None,
    wanted: list[int],
    on_step: Callable[[int, int], None] | None,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """`pipeline.denoise` for one clip (the same latent comes out), also returning the predicted
    clean latent after each step count in `wanted`."""
    guesses: list[torch.Tensor] = []

    def observe(step: pipeline.Step) -> None:
        if step.index + 1 in wanted:
            guess = _predicted_x0(step.scheduler, step.output, step.latents, step.eps, int(step.t))
            guesses.append(guess if mask is None else mask * guess + (1 - mask) * init)
        if on_step is not None:
            on_step(step.index + 1, step.run)

    embeddings = pipeline.encode_prompts(model, [end.prompt, end.negative_prompt])
    guidance = torch.full((1,), end.guidance)
    latents = pipeline.denoise(
        model, init, embeddings[:1], embeddings[1:], noise, guidance, start, steps, settings.scheduler,
        mask, observe,
    )  # fmt: skip
    return latents, guesses


@dataclass
class NoiseWalk:
    """The norms of lerp and slerp between two seeds' noise along a walk (see `slerp_vs_lerp`)."""

    t: list[float]
    lerp_norms: list[float]
    slerp_norms: list[float]
    end_norm: float  # the mean of the two ends' norms
    expected_norm: float  # sqrt(elements): the norm of standard Gaussian noise of this shape
    caption: str
    image: Image.Image

    def to_dict(self, images: bool = True) -> dict:
        """JSON-ready numbers and caption, the plot as base64 PNG unless `images` is False."""
        data = {k: getattr(self, k) for k in ("t", "lerp_norms", "slerp_norms", "end_norm", "expected_norm")}
        data["caption"] = self.caption
        if images:
            data["png"] = png_base64(self.image)
        return data


def slerp_vs_lerp(
    seed_a: int, seed_b: int, shape: tuple[int, ...] = (4, 64, 64), points: int = 21
) -> NoiseWalk:
    """Norms of lerp and slerp (`riff.interp`) between `latent_noise(seed_a)` and
    `latent_noise(seed_b)` at `points` evenly spaced alphas, plotted against the ends' norm.

    Two Gaussian noises of many elements are nearly orthogonal with norms near sqrt(elements),
    so their midpoint has norm about 1/sqrt(2) of theirs; slerp goes round the arc instead.
    """
    if points < 2:
        raise ValueError(f"a walk needs at least 2 points, got {points}")
    a, b = pipeline.latent_noise(seed_a, shape).double(), pipeline.latent_noise(seed_b, shape).double()
    t = torch.linspace(0, 1, points, dtype=torch.float64)
    lerp_norms = interp.lerp(a, b, t).flatten(1).norm(dim=1).tolist()
    slerp_norms = interp.slerp(a, b, t).flatten(1).norm(dim=1).tolist()
    end_norm = (float(a.norm()) + float(b.norm())) / 2
    middle = points // 2
    caption = (
        f"The model expects noise of one size: norm about {math.sqrt(a.numel()):.0f} for {tuple(shape)}. "
        f"Lerp cuts across the sphere: at alpha {float(t[middle]):.2f} its norm is "
        f"{lerp_norms[middle] / end_norm:.2f} of the ends' (1/sqrt(2) = {1 / math.sqrt(2):.2f} at the "
        "midpoint): less noise than the model was trained to remove, so mid-walk clips tend to come "
        "out duller than the ends; slerp goes "
        f"round the sphere and stays within {max(abs(n / end_norm - 1) for n in slerp_norms):.1%}."
    )
    image = noise_norm_plot(
        t.tolist(), [n / end_norm for n in lerp_norms], [n / end_norm for n in slerp_norms]
    )
    return NoiseWalk(t.tolist(), lerp_norms, slerp_norms, end_norm, math.sqrt(a.numel()), caption, image)


# Numbers.


def _predicted_x0(
    sched: object, output: object, latents: torch.Tensor, model_output: torch.Tensor, t: int
) -> torch.Tensor:
    """The scheduler's own predicted clean latent, else x0 from the model output and
    alphas_cumprod (DDPM, Ho et al. 2020, eq. 15; v-prediction, Salimans & Ho 2022)."""
    guess = getattr(output, "pred_original_sample", None)
    if guess is not None:
        return guess
    alpha = sched.alphas_cumprod[t].to(latents.device, torch.float32)
    x, out = latents.float(), model_output.float()
    kind = sched.config.get("prediction_type", "epsilon")
    if kind == "epsilon":
        x0 = (x - (1 - alpha).sqrt() * out) / alpha.sqrt()
    elif kind == "v_prediction":
        x0 = alpha.sqrt() * x - (1 - alpha).sqrt() * out
    elif kind == "sample":
        x0 = out
    else:
        raise ValueError(f"unknown prediction type {kind!r}")
    return x0.to(latents.dtype)


def _preview_steps(steps_run: int, previews: int) -> list[int]:
    """Evenly spaced step counts in 1..steps_run, the last step excluded when there is room."""
    return sorted({max(1, math.floor((k + 1) * steps_run / (previews + 1) + 0.5)) for k in range(previews)})


def _spectral_convergence(estimate: torch.Tensor, target: torch.Tensor) -> float:
    """||estimate - target|| / ||target|| over all bins (Sturmel & Daudet 2011)."""
    return float((estimate - target).norm() / target.norm().clamp(min=1e-12))


# Captions.


def _seed_caption(seed: Image.Image, params: object, ruler: BeatGrid | None = None) -> str:
    seconds = (seed.width - 1) * params.step_size_ms / 1000
    caption = (
        f"the seed image: a {seconds:.2f} s spectrogram, time left to right, low notes at the bottom, "
        "loud is dark; img2img starts from it"
    )
    if ruler is None:
        return caption
    key = f" in {ruler.key}" if ruler.key else ""
    return (
        f"{caption}. Its pattern is played at {ruler.bpm:g} bpm in {ruler.meter}{key}: {ruler.bars} "
        f"bar(s), numbered on the ruler under it, a beat every {ruler.beat_s:.3f} s "
        f"({ruler.beat_columns[1]:.1f} columns), red lines where bars begin"
    )


def _latent_caption(seed: Image.Image, latent: torch.Tensor) -> str:
    _, channels, height, width = latent.shape
    ratio = seed.width * seed.height * 3 / latent[0].numel()
    return (
        f"its latent: the VAE's encoder packs {seed.height} x {seed.width} pixels x 3 colours into "
        f"{channels} channels of {height} x {width}, {ratio:.0f}x fewer numbers; each channel in grey"
    )


def _noise_caption(sched: object, t: int) -> str:
    alphas = getattr(sched, "alphas_cumprod", None)
    if alphas is None:
        return f"Noise is added up to timestep {t}."
    signal = float(alphas[t]) ** 0.5
    return f"Noised to timestep {t}: latent x {signal:.2f} + noise x {(1 - signal**2) ** 0.5:.2f}."


def _linear_caption(mel: torch.Tensor, magnitudes: torch.Tensor, params: object) -> str:
    hz = params.sample_rate / params.win_length
    return (
        f"mel to linear: {mel.shape[-2]} mel bands become {magnitudes.shape[-2]} linear-frequency bins "
        f"({hz:g} Hz apart) by non-negative least squares; shown to {params.max_frequency} Hz in dB, "
        "where the low notes mel spreads out sit close together at the bottom"
    )


def _phase_caption(convergence: list[tuple[int, float]]) -> str:
    caption = (
        "phase retrieval: an image has no phase, so it is guessed, then refined; mel spectral convergence "
    )
    caption += "of the audio against the image (lower is closer): "
    return caption + ", ".join(f"{v:.3f} after {i}" for i, v in convergence)


def _audio_caption(audio: torch.Tensor, params: SpectrogramParams, griffin_lim_iters: int) -> str:
    seconds = audio.shape[-1] / params.sample_rate
    return (
        f"the audio: {seconds:.2f} s at {params.sample_rate} Hz, phase retrieved in "
        f"{griffin_lim_iters} iterations"
    )


# JSON.


def _picture_dict(picture: Picture, images: bool) -> dict:
    data = {"title": picture.title, "caption": picture.caption}
    if images:
        data["png"] = png_base64(picture.image)
    return data
