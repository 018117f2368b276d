"""Train a small text-to-spectrogram model on a `riff dataset` folder, or fine-tune a model.

Two stages, each resumable from `OUT/training/checkpoint.pt`:

1. autoencoder: an `AutoencoderKL` learns random crops of the spectrogram images (L1, a
   light KL term, and with `vae_spectral_weight` the spectral convergence of the mel amplitudes
   and of their difference along frequency, so loud harmonic lines stay sharp). Skipped when
   fine-tuning: the model's own VAE is kept.
2. denoiser: a `UNet2DConditionModel` and a CLIP text encoder learn together on the VAE's
   latents: epsilon prediction, min-SNR loss weights, one caption in ten dropped so guidance
   works, random crops along time (the UNet is convolutional, so it renders full clips).

The result is a diffusers-layout folder (fp16 safetensors) that `load_model` reads like
riffusion-model-v1. `accelerate launch -m riff train ...` spreads the same run over GPUs.

`train` reads top to bottom: `prepare` the run, `load_checkpoint` (where to pick up, a
`Resume`), `train_autoencoder`, `encode_dataset` (the latent cache), `train_denoiser`, `export`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from tqdm import tqdm

from riff.audio.image import mel_from_pixels, pixels_from_unit, unit_from_pixels
from riff.audio.params import SpectrogramParams
from riff.models import load_model, recommended_steps, save_model, shared_name
from riff.pictures import plot_losses
from riff.train.dataset.readers import HOLDOUT, load_pixels, read_dataset, split
from riff.train.lora import add_lora, save_lora, trainable
from riff.train.networks import PRESETS, build_components
from riff.train.tokenizer import learn_tokenizer

if TYPE_CHECKING:
    from accelerate import Accelerator

log = logging.getLogger("riff")

# Settings a checkpoint or latent cache belongs to (see `run_identity`).
RUN_KEYS = ("data", "init", "preset", "holdout", "seed", "lora_rank")
NETWORKS = ("unet", "vae", "text_encoder")  # what a checkpoint holds the weights of
RECOMMENDED_STEPS = 20  # with the DPM-Solver++ scheduler the trained folders carry
TRAIN_PRESETS = ("small", "tiny")  # the presets of riff.train.networks that ship with that scheduler


@dataclass
class TrainConfig:
    """Everything a run depends on; saved with its checkpoints so a resume can check it."""

    data: str
    out: str
    init: str | None = None  # fine-tune this model instead of training from scratch
    preset: str = "small"
    vae_steps: int = 1500
    unet_steps: int = 3000
    batch_size: int = 16
    vae_batch_size: int = 8
    lr: float = 4e-4
    vae_lr: float = 1e-3
    vae_crop: int = 128  # pixels, square
    # Weight of the autoencoder's spectral term (`spectral_loss`) beside its L1; 0 is plain L1,
    # which weighs every pixel alike. Held-out A/B (README): 1 sharpens harmonic lines (fine
    # structure -7% at 600 steps, -10% at 300) but at 600 steps costs 9% in spectral
    # convergence, so plain L1 stays the default until a longer run settles it.
    vae_spectral_weight: float = 0.0
    crop: int = 32  # latent cells along time for the denoiser
    holdout: float = HOLDOUT  # every n-th clip is kept out of training, n = round(1 / holdout) (see `split`)
    caption_dropout: float = 0.1
    train_text_encoder: bool | None = None  # default: only when training from scratch
    ema_decay: float = 0.999
    checkpoint_every: int = 250
    seed: int = 0
    # Train LoRA adapters of this rank on `init` (riff.train.lora), not the model itself.
    lora_rank: int | None = None

    def __post_init__(self) -> None:
        if self.preset not in TRAIN_PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}: choose one of {', '.join(TRAIN_PRESETS)}")
        for name in ("vae_steps", "unet_steps"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name.replace('_', '-')} must be at least 0")
        for name in ("batch_size", "vae_batch_size", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name.replace('_', '-')} must be at least 1")
        if self.crop < 1:
            raise ValueError(f"crop must be at least 1 latent cell, got {self.crop}")
        if not 0 <= self.vae_spectral_weight < float("inf"):
            raise ValueError(
                f"vae spectral weight must be a number of at least 0, got {self.vae_spectral_weight}"
            )
        if self.lr <= 0 or self.vae_lr <= 0:
            raise ValueError("learning rates must be positive")
        if not 0 <= self.caption_dropout < 1:
            raise ValueError(f"caption dropout must be in [0, 1), got {self.caption_dropout}")
        if not 0 <= self.holdout <= 0.5:
            raise ValueError(f"holdout must be in [0, 0.5], got {self.holdout}")
        if self.lora_rank is not None and not self.init:
            raise ValueError("a LoRA adapts a model: name the model it is for (--init)")
        if self.vae_crop % 8 or self.vae_crop < 16:
            raise ValueError(f"vae crop must be a multiple of 8 of at least 16, got {self.vae_crop}")


# ---------------------------------------------------------------------------------------------
# The run and its checkpoint


@dataclass(frozen=True)
class Run:
    """One run, fixed once prepared: settings, clips, networks, and what its checkpoints belong to.

    The training loops train `components` in place.
    """

    config: TrainConfig
    accelerator: Accelerator
    components: dict[str, object]  # unet, vae, text_encoder, tokenizer, scheduler
    train_records: list[dict]
    held_records: list[dict]
    train_text: bool  # the text encoder learns with the UNet
    identity: dict  # see `run_identity`

    @property
    def device(self) -> torch.device:
        return self.accelerator.device

    @property
    def work(self) -> Path:
        return Path(self.config.out) / "training"

    @property
    def checkpoint(self) -> Path:
        return self.work / "checkpoint.pt"


@dataclass(frozen=True)
class Resume:
    """Where a run picks up: what its checkpoint records besides the weights."""

    stage: str  # "autoencoder", "denoiser" or "done"
    step: int = 0  # steps of `stage` already taken
    losses: dict[str, list[float]] = field(default_factory=lambda: {"autoencoder": [], "denoiser": []})
    optimizer: dict | None = None  # the stage's optimizer state; None at the start of a stage
    ema: list[torch.Tensor] | None = None  # the denoiser's averaged weights, with its optimizer


def prepare(config: TrainConfig) -> Run:
    """The clips split, and the networks: fresh ones of the preset, or the model to fine-tune."""
    from accelerate import Accelerator

    accelerator = Accelerator()
    train_records, held_records = split(read_dataset(config.data), config.holdout)
    if not train_records:
        raise ValueError("no clips left to train on: lower --holdout or build more clips")
    if config.init:
        model = load_model(config.init, device="cpu", dtype=torch.float32)
        components = {name: getattr(model, name) for name in (*NETWORKS, "tokenizer", "scheduler")}
    else:
        tokenizer = learn_tokenizer([r["caption"] for r in train_records])
        components = build_components(PRESETS[config.preset], tokenizer, config.seed)
    train_text = config.init is None if config.train_text_encoder is None else config.train_text_encoder
    if config.lora_rank is not None:
        add_lora(components, config.lora_rank, train_text)
    identity = run_identity(config, train_records, train_text)
    return Run(config, accelerator, components, train_records, held_records, train_text, identity)


def run_identity(config: TrainConfig, train_records: list[dict], train_text: bool) -> dict:
    """What a checkpoint belongs to; resuming with anything else would mix two runs.

    Folders compare resolved, and the clips by their files and captions, so an extended or
    edited dataset is not taken for the one the checkpoint learned (its tokenizer differs).
    """
    settings = asdict(config)
    identity = {key: settings[key] for key in RUN_KEYS}
    for key in ("data", "init"):
        if identity[key] and Path(identity[key]).exists():
            identity[key] = str(Path(identity[key]).resolve())
    identity["train_text_encoder"] = train_text
    clips = json.dumps([(r["file"], r["caption"]) for r in train_records]).encode()
    identity["clips"] = hashlib.sha256(clips).hexdigest()
    return identity


def load_checkpoint(run: Run) -> Resume | None:
    """Load the checkpoint in OUT into the run's networks; None when there is none.

    Raises:
        ValueError: the checkpoint was made with other settings.
    """
    if not run.checkpoint.is_file():
        return None
    saved = torch.load(run.checkpoint, map_location="cpu", weights_only=False)
    identity = saved.get("identity", {})
    changed = [key.replace("_", " ") for key, value in run.identity.items() if identity.get(key) != value]
    if changed:
        raise ValueError(
            f"{run.checkpoint} was made with other {', '.join(changed)}: use another OUT or delete it"
        )
    for name in NETWORKS:
        run.components[name].load_state_dict(saved["weights"][name])
    if saved.get("scaling_factor") is not None:
        run.components["vae"].register_to_config(scaling_factor=saved["scaling_factor"])
    state = saved["state"]
    return Resume(state["stage"], state["step"], saved["losses"], saved.get("optimizer"), saved.get("ema"))


def save_checkpoint(run: Run, resume: Resume) -> None:
    """The networks and `resume` in OUT/training/checkpoint.pt, with config.json and loss.png."""
    if not run.accelerator.is_main_process:
        return
    run.work.mkdir(parents=True, exist_ok=True)
    payload = {
        "config": asdict(run.config),
        "identity": run.identity,
        "state": {"stage": resume.stage, "step": resume.step},
        "losses": resume.losses,
        "weights": {name: run.components[name].state_dict() for name in NETWORKS},
        "scaling_factor": run.components["vae"].config.scaling_factor,
    }
    if resume.optimizer is not None:
        payload["optimizer"] = resume.optimizer
    if resume.ema is not None:
        payload["ema"] = [e.cpu() for e in resume.ema]
    temporary = run.checkpoint.with_suffix(".tmp")
    torch.save(payload, temporary)
    os.replace(temporary, run.checkpoint)  # an interrupted save leaves the last checkpoint whole
    (run.work / "config.json").write_text(json.dumps(asdict(run.config), indent=2) + "\n")
    plot_losses(resume.losses, run.work / "loss.png")


# ---------------------------------------------------------------------------------------------
# Training


def train(config: TrainConfig) -> Path:
    """Run (or resume) training; returns the model folder."""
    # 1. Clips, networks, and the checkpoint to pick up from
    run = prepare(config)
    resume = load_checkpoint(run)
    if resume is None:
        resume = Resume("denoiser" if config.init else "autoencoder")
    elif resume.stage == "done":  # finished: write the folder again, train no more
        return export(run)
    else:
        log.warning("resuming %s at %s step %d", run.checkpoint, resume.stage, resume.step)
    pixels = load_pixels(config.data, run.train_records)

    # 2. The autoencoder (from scratch only)
    if resume.stage == "autoencoder":
        losses = {**resume.losses, "autoencoder": train_autoencoder(run, pixels, resume)}
        resume = Resume("denoiser", losses=losses)
        save_checkpoint(run, resume)  # the finished autoencoder survives an interrupted denoiser

    # 3. The denoiser, on the autoencoder's latents
    latents = encode_dataset(run, pixels)
    del pixels
    losses = {**resume.losses, "denoiser": train_denoiser(run, latents, resume)}
    save_checkpoint(run, Resume("done", losses=losses))

    # 4. The model folder
    return export(run)


def train_autoencoder(run: Run, pixels: torch.Tensor, resume: Resume) -> list[float]:
    """Train the VAE on random crops of `pixels` from `resume.step` on; returns the stage's losses."""
    config, accelerator = run.config, run.accelerator
    vae = run.components["vae"].train().requires_grad_(True)
    optimizer = torch.optim.AdamW(vae.parameters(), lr=config.vae_lr, weight_decay=0.0)
    if resume.optimizer:
        optimizer.load_state_dict(resume.optimizer)
    objective = _AutoencoderLoss(vae, spectral_weight=config.vae_spectral_weight)
    objective, optimizer = accelerator.prepare(objective, optimizer)
    crop = min(config.vae_crop, pixels.shape[-2], pixels.shape[-1])
    losses = list(resume.losses["autoencoder"])
    bar = _steps(run, "autoencoder", resume.step, config.vae_steps)
    for step in bar:
        generator = _generator(run, step, 1)
        x = _random_crops(pixels, config.vae_batch_size, crop, crop, generator)
        _set_lr(optimizer, config.vae_lr, step, config.vae_steps)
        loss = objective(unit_from_pixels(x.to(run.device, torch.float32)), generator)
        accelerator.backward(loss)
        accelerator.clip_grad_norm_(vae.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        _record(run, "autoencoder", loss, losses, bar)
        if (step + 1) % config.checkpoint_every == 0 and step + 1 < config.vae_steps:
            progress = {**resume.losses, "autoencoder": losses}
            save_checkpoint(run, Resume("autoencoder", step + 1, progress, optimizer.state_dict()))
    run.components["vae"] = vae.eval().requires_grad_(False)
    return losses


@torch.no_grad()
def encode_dataset(run: Run, pixels: torch.Tensor) -> torch.Tensor:
    """Latent means of every training image, scaled; sets the VAE's scaling factor to match.

    The main process encodes them once into OUT/training/latents.pt; every process reads
    that file, so several GPUs never race on it and a resumed run skips the work.
    """
    vae = run.components["vae"].to(run.device).eval()
    path = run.work / "latents.pt"
    key = {**run.identity, "vae_steps": run.config.vae_steps}  # how long its autoencoder trained
    saved = None
    if run.accelerator.is_main_process:
        saved = read_latents(path, key, len(pixels))
        if saved is None:
            # Unit variance in latent space, as Stable Diffusion's 0.18215 does for its VAE; a
            # fine-tuned model keeps its own.
            scale = None if run.config.init is None else vae.config.scaling_factor
            saved = {**encode_latents(vae, pixels, run.device, scale), "count": len(pixels), "run": key}
            run.work.mkdir(parents=True, exist_ok=True)
            torch.save(saved, path)
    run.accelerator.wait_for_everyone()
    if saved is None:
        saved = torch.load(path, map_location="cpu")
    vae.register_to_config(scaling_factor=saved["scaling_factor"])
    return saved["latents"]


def read_latents(path: Path, key: dict, count: int) -> dict | None:
    """The latent cache at `path` when it holds `count` images of the run `key`, else None."""
    if not path.is_file():
        return None
    saved = torch.load(path, map_location="cpu")
    return saved if saved.get("count") == count and saved.get("run") == key else None


@torch.no_grad()
def encode_latents(
    vae: torch.nn.Module, pixels: torch.Tensor, device: torch.device, scale: float | None
) -> dict:
    """{"latents": (N, C, H / 8, W / 8) latent means times the scale, "scaling_factor": the scale}.

    `scale` None: one over the latents' standard deviation, for unit variance.
    """
    latents = []
    for batch in tqdm(pixels.split(8), desc="encoding", unit="batch", leave=False):
        x = unit_from_pixels(batch.to(device, torch.float32))
        latents.append(vae.encode(x).latent_dist.mode().cpu())
    latents = torch.cat(latents)
    scale = float(1.0 / latents.std()) if scale is None else scale
    return {"latents": latents * scale, "scaling_factor": scale}


def train_denoiser(run: Run, latents: torch.Tensor, resume: Resume) -> list[float]:
    """Train the UNet (and text encoder) from `resume.step` on, then keep the averaged weights;
    returns the stage's losses."""
    from diffusers import DDPMScheduler

    config, accelerator, train_text = run.config, run.accelerator, run.train_text
    unet = run.components["unet"].train()
    text_encoder = run.components["text_encoder"].train(train_text)
    if config.lora_rank is None:  # the whole model learns; with LoRA only its adapters do
        unet.requires_grad_(True)
        text_encoder.requires_grad_(train_text)
    noise_schedule = DDPMScheduler.from_config(run.components["scheduler"].config)
    alphas = noise_schedule.alphas_cumprod.to(run.device)
    snr = alphas / (1 - alphas)
    params = [p for module in ([unet, text_encoder] if train_text else [unet]) for p in trainable(module)]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=1e-2)
    ema = [p.detach().clone() for p in params]
    if resume.optimizer:
        optimizer.load_state_dict(resume.optimizer)
        ema = [e.clone() for e in resume.ema]
    if train_text:
        unet, text_encoder, optimizer = accelerator.prepare(unet, text_encoder, optimizer)
    else:
        unet, optimizer = accelerator.prepare(unet, optimizer)
        text_encoder = text_encoder.to(run.device)
    ema = [e.to(run.device) for e in ema]
    ids = _token_ids(run.components["tokenizer"], [*(r["caption"] for r in run.train_records), ""])
    losses = list(resume.losses["denoiser"])
    bar = _steps(run, "denoiser", resume.step, config.unet_steps)
    for step in bar:
        batch = _denoiser_batch(latents, ids, len(alphas), config, _generator(run, step, 2))
        z, tokens, t, noise = (v.to(run.device) for v in batch)
        noisy = noise_schedule.add_noise(z.float(), noise, t)
        _set_lr(optimizer, config.lr, step, config.unet_steps)
        hidden = text_encoder(tokens).last_hidden_state
        prediction = unet(noisy, t, encoder_hidden_states=hidden).sample
        # min-SNR-5 weights (Hang et al. 2023): no step size dominates the loss.
        weights = torch.clamp(snr[t], max=5.0) / snr[t]
        loss = (weights * (prediction - noise).pow(2).mean(dim=(1, 2, 3))).mean()
        accelerator.backward(loss)
        accelerator.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        with torch.no_grad():
            decay = min(config.ema_decay, (1 + step) / (10 + step))
            torch._foreach_lerp_(ema, [p.detach() for p in params], 1 - decay)
        _record(run, "denoiser", loss, losses, bar)
        if (step + 1) % config.checkpoint_every == 0 and step + 1 < config.unet_steps:
            progress = {**resume.losses, "denoiser": losses}
            save_checkpoint(run, Resume("denoiser", step + 1, progress, optimizer.state_dict(), ema))
    with torch.no_grad():  # keep the averaged weights: smoother samples than the last step's
        for p, e in zip(params, ema):
            p.copy_(e)
    run.components["unet"] = accelerator.unwrap_model(unet).eval().requires_grad_(False)
    run.components["text_encoder"] = accelerator.unwrap_model(text_encoder).eval().requires_grad_(False)
    return losses


def export(run: Run) -> Path:
    """The trained model as a diffusers folder in OUT, fp16 safetensors, with its riff.json."""
    config, out = run.config, Path(run.config.out)
    if config.lora_rank is not None:
        return _export_lora(run)
    if run.accelerator.is_main_process:
        save_model(run.components, out, torch.float16)  # loss.png: the last checkpoint drew it
        settings = {key: value for key, value in asdict(config).items() if key not in ("data", "out")}
        if settings["init"] and Path(settings["init"]).exists():
            settings["init"] = Path(settings["init"]).name  # a folder name, not a path of this machine
        # A fine-tuned model keeps its base's scheduler, so its base's step count too.
        steps = RECOMMENDED_STEPS if config.init is None else recommended_steps(config.init)
        about = {
            "num_inference_steps": steps,
            "made_by": "riff train",
            "training_clips": len(run.train_records),
            "held_out_clips": len(run.held_records),
            "settings": settings,
        }
        (out / "riff.json").write_text(json.dumps(about, indent=2) + "\n")
    run.accelerator.wait_for_everyone()
    return out


def _export_lora(run: Run) -> Path:
    """The trained adapters as a LoRA folder in OUT (riff.lora loads it)."""
    config, out = run.config, Path(run.config.out)
    if run.accelerator.is_main_process:
        about = {
            "base_model": shared_name(config.init),
            "rank": config.lora_rank,
            "text_encoder": run.train_text,
            "denoiser_steps": config.unet_steps,
            "made_by": "riff train --lora",
            "training_clips": len(run.train_records),
            "held_out_clips": len(run.held_records),
        }
        save_lora(run.components, out, about, run.train_text)
    run.accelerator.wait_for_everyone()
    return out


# ---------------------------------------------------------------------------------------------
# One step's pieces


def _generator(run: Run, step: int, salt: int) -> torch.Generator:
    """Batches depend on (seed, step, process) only, so a resumed run sees the same data."""
    seed = hash((run.config.seed, salt, step, run.accelerator.process_index)) % 2**63
    return torch.Generator().manual_seed(seed)


def _steps(run: Run, stage: str, start: int, total: int) -> tqdm:
    """Steps `start` to `total` - 1 of a stage, with a progress bar on each machine's main process."""
    disable = not run.accelerator.is_local_main_process
    return tqdm(range(start, total), desc=stage, initial=start, total=total, disable=disable)


def _denoiser_batch(
    latents: torch.Tensor, ids: torch.Tensor, timesteps: int, config: TrainConfig, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(latent crops along time, caption token ids, timesteps, noise) of one step.

    `ids` holds one row per clip and the empty caption last, which replaces dropped captions.
    """
    count, width = config.batch_size, min(config.crop, latents.shape[-1])
    rows = torch.randint(0, len(latents), (count,), generator=generator)
    offsets = torch.randint(0, latents.shape[-1] - width + 1, (count,), generator=generator)
    z = torch.stack([latents[r, :, :, o : o + width] for r, o in zip(rows.tolist(), offsets.tolist())])
    drop = torch.rand(count, generator=generator) < config.caption_dropout
    tokens = ids[torch.where(drop, len(ids) - 1, rows)]
    t = torch.randint(0, timesteps, (count,), generator=generator)
    noise = torch.randn(z.shape, generator=generator)
    return z, tokens, t, noise


def _record(run: Run, stage: str, loss: torch.Tensor, losses: list[float], bar: tqdm) -> None:
    """Append the loss, averaged over processes, and show the recent mean on the bar."""
    value = float(run.accelerator.gather(loss.detach()[None]).mean())
    if not math.isfinite(value):
        raise ValueError(f"{stage} loss became {value}: lower the learning rate")
    losses.append(value)
    recent = losses[-50:]
    bar.set_postfix(loss=f"{sum(recent) / len(recent):.4f}")


def spectral_loss(reconstruction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Spectral convergence (||S - S_hat||_F / ||S||_F over the batch) of the mel amplitudes
    of (N, 3, H, W) images in [-1, 1], read back as `riff evaluate` and the decoder read them,
    plus the same on their difference along frequency (rows), where harmonic lines live.

    Plain L1 on the pixels weighs a quiet pixel like a loud one (the image's amplitude is
    compressed) and is content with a blurred line; in linear amplitude the loud lines count.
    """
    params = SpectrogramParams()
    s = mel_from_pixels(pixels_from_unit(target), params, 1.0)
    s_hat = mel_from_pixels(pixels_from_unit(reconstruction), params, 1.0)

    def convergence(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (b - a).norm() / (a.norm() + 1e-6)  # + eps: a crop can be silent

    return convergence(s, s_hat) + convergence(s.diff(dim=-2), s_hat.diff(dim=-2))


class _AutoencoderLoss(torch.nn.Module):
    """L1 reconstruction of a posterior sample, the spectral term (`spectral_loss`) times
    `spectral_weight`, plus a light KL pull towards N(0, 1)."""

    def __init__(self, vae: torch.nn.Module, kl_weight: float = 1e-3, spectral_weight: float = 0.0) -> None:
        super().__init__()
        self.vae, self.kl_weight, self.spectral_weight = vae, kl_weight, spectral_weight

    def forward(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        posterior = self.vae.encode(x).latent_dist
        z = posterior.sample(generator)  # the step's generator: a resumed run draws the same noise
        reconstruction = self.vae.decode(z).sample
        loss = F.l1_loss(reconstruction, x) + self.kl_weight * posterior.kl().mean() / z[0].numel()
        if self.spectral_weight:
            loss = loss + self.spectral_weight * spectral_loss(reconstruction, x)
        return loss


def _token_ids(tokenizer: object, texts: list[str]) -> torch.Tensor:
    return tokenizer(
        texts,
        padding="max_length",
        truncation=True,
        max_length=tokenizer.model_max_length,
        return_tensors="pt",
    ).input_ids


def _random_crops(
    pixels: torch.Tensor, count: int, height: int, width: int, generator: torch.Generator
) -> torch.Tensor:
    rows = torch.randint(0, len(pixels), (count,), generator=generator).tolist()
    tops = torch.randint(0, pixels.shape[-2] - height + 1, (count,), generator=generator).tolist()
    lefts = torch.randint(0, pixels.shape[-1] - width + 1, (count,), generator=generator).tolist()
    return torch.stack([pixels[r, :, y : y + height, x : x + width] for r, y, x in zip(rows, tops, lefts)])


def _set_lr(optimizer: torch.optim.Optimizer, peak: float, step: int, total: int) -> None:
    """Linear warm-up over 5% of the steps, then cosine decay to a tenth."""
    warm = max(1, total // 20)
    if step < warm:
        lr = peak * (step + 1) / warm
    else:
        progress = (step - warm) / max(1, total - warm)
        lr = peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))
    for group in optimizer.param_groups:
        group["lr"] = lr
