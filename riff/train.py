"""Train a small text-to-spectrogram model on a `riff dataset` folder, or fine-tune a model.

Two stages, each resumable from `OUT/training/checkpoint.pt`:

1. autoencoder: an `AutoencoderKL` learns random crops of the spectrogram images (L1 plus a
   light KL term). Skipped when fine-tuning: the model's own VAE is kept.
2. denoiser: a `UNet2DConditionModel` and a CLIP text encoder learn together on the VAE's
   latents: epsilon prediction, min-SNR loss weights, one caption in ten dropped so guidance
   works, random crops along time (the UNet is convolutional, so it renders full clips).

The result is a diffusers-layout folder (fp16 safetensors) that `load_model` reads like
riffusion-model-v1. `accelerate launch -m riff train ...` spreads the same run over GPUs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm import tqdm

from riff.image import unit_from_pixels
from riff.models import load_model, recommended_steps, save_model
from riff.tiny import riffusion_scheduler, tiny_tokenizer

log = logging.getLogger("riff")

SPECIALS = ("<|startoftext|>", "<|endoftext|>")
# Settings a checkpoint or latent cache belongs to (see `Trainer._identity`).
RUN_KEYS = ("data", "init", "preset", "holdout", "seed")
RECOMMENDED_STEPS = 20  # with the DPM-Solver++ scheduler the trained folders carry


@dataclass(frozen=True)
class Architecture:
    """Sizes of the three networks (see `PRESETS`)."""

    vae_channels: tuple[int, ...] = (16, 32, 64, 128)
    latent_channels: int = 8
    unet_channels: tuple[int, ...] = (32, 64, 128, 128)
    attention_levels: int = 2  # the coarsest levels get self- and cross-attention
    text_width: int = 256
    text_layers: int = 2
    norm_groups: int = 16


PRESETS = {
    # About 17 MB in fp16; renders a 50-step clip in a few seconds on two CPU cores.
    "small": Architecture(),
    # Seconds to train: for tests and for trying the command.
    "tiny": Architecture(
        vae_channels=(8, 8, 16, 16),
        latent_channels=4,
        unet_channels=(8, 16),
        attention_levels=1,
        text_width=16,
        text_layers=1,
        norm_groups=4,
    ),
}


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
    crop: int = 32  # latent cells along time for the denoiser
    holdout: float = 0.1  # every n-th clip is kept out of training, n = round(1 / holdout) (see `split`)
    caption_dropout: float = 0.1
    train_text_encoder: bool | None = None  # default: only when training from scratch
    ema_decay: float = 0.999
    checkpoint_every: int = 250
    seed: int = 0

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}: choose one of {', '.join(PRESETS)}")
        for name in ("vae_steps", "unet_steps"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name.replace('_', '-')} must be at least 0")
        for name in ("batch_size", "vae_batch_size", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name.replace('_', '-')} must be at least 1")
        if self.crop < 1:
            raise ValueError(f"crop must be at least 1 latent cell, got {self.crop}")
        if self.lr <= 0 or self.vae_lr <= 0:
            raise ValueError("learning rates must be positive")
        if not 0 <= self.caption_dropout < 1:
            raise ValueError(f"caption dropout must be in [0, 1), got {self.caption_dropout}")
        if not 0 <= self.holdout <= 0.5:
            raise ValueError(f"holdout must be in [0, 0.5], got {self.holdout}")
        if self.vae_crop % 8 or self.vae_crop < 16:
            raise ValueError(f"vae crop must be a multiple of 8 of at least 16, got {self.vae_crop}")


# ---------------------------------------------------------------------------------------------
# Data


def read_dataset(folder: str | Path) -> list[dict]:
    """The metadata lines of a dataset folder whose images exist.

    Raises:
        ValueError: not a dataset folder, or no clips in it.
    """
    folder = Path(folder)
    journal = folder / "metadata.jsonl"
    if not journal.is_file():
        raise ValueError(f"{str(folder)!r} is not a dataset: it has no metadata.jsonl (see riff dataset)")
    records = []
    for number, line in enumerate(journal.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            caption, file = record["caption"], record["file"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise ValueError(f"{journal}: line {number} is not a clip record") from None
        if isinstance(caption, str) and (folder / file).is_file():
            records.append(record)
    if not records:
        raise ValueError(f"no clips in {str(folder)!r}")
    return records


def split(records: list[dict], holdout: float) -> tuple[list[dict], list[dict]]:
    """(train, held out): a fixed share of clips, spread evenly, never trained on."""
    if holdout <= 0:
        return records, []
    every = max(2, round(1 / holdout))
    held = [r for i, r in enumerate(records) if i % every == every - 1]
    train = [r for i, r in enumerate(records) if i % every != every - 1]
    return train, held


def load_pixels(folder: Path, records: list[dict], height: int = 512) -> torch.Tensor:
    """(N, 3, height, W) uint8 images; all must share one width."""
    images = []
    for record in tqdm(records, desc="loading images", unit="image", leave=False):
        image = Image.open(folder / record["file"]).convert("RGB")
        if image.height != height:
            image = image.resize((image.width, height), Image.BICUBIC)
        images.append(torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1))
    widths = {image.shape[-1] for image in images}
    if len(widths) > 1:
        raise ValueError(f"clips have different widths {sorted(widths)}: build the dataset with one width")
    return torch.stack(images)


def learn_tokenizer(captions: list[str], max_merges: int = 4000, min_count: int = 2) -> object:
    """A CLIP tokenizer whose merges are learned from the captions (byte-pair encoding).

    It keeps CLIP's byte-level alphabet, so any text tokenises; words the captions use often
    become single tokens.
    """
    from transformers import CLIPTokenizer

    characters = tiny_tokenizer()  # CLIP's byte alphabet, one token per character
    base = [t for t, _ in sorted(characters.get_vocab().items(), key=lambda item: item[1]) if t not in SPECIALS]
    counts: dict[tuple[str, ...], int] = {}
    for caption in captions:
        word: list[str] = []
        for token in characters.tokenize(caption):
            word.append(token)
            if token.endswith("</w>"):
                counts[tuple(word)] = counts.get(tuple(word), 0) + 1
                word = []
    merges: list[tuple[str, str]] = []
    vocab = list(base)
    while len(merges) < max_merges:
        pairs: dict[tuple[str, str], int] = {}
        for word, count in counts.items():
            for pair in zip(word, word[1:]):
                pairs[pair] = pairs.get(pair, 0) + count
        if not pairs:
            break
        best, count = max(pairs.items(), key=lambda item: (item[1], item[0]))
        if count < min_count:
            break
        merges.append(best)
        vocab.append(best[0] + best[1])
        counts = {_merge(word, best): n for word, n in counts.items()}
    return CLIPTokenizer(
        vocab={t: i for i, t in enumerate([*vocab, *SPECIALS])}, merges=merges, model_max_length=77
    )


def _merge(word: tuple[str, ...], pair: tuple[str, str]) -> tuple[str, ...]:
    out, i = [], 0
    while i < len(word):
        if i + 1 < len(word) and (word[i], word[i + 1]) == pair:
            out.append(word[i] + word[i + 1])
            i += 2
        else:
            out.append(word[i])
            i += 1
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# Networks


def build_components(arch: Architecture, tokenizer: object, seed: int = 0) -> dict[str, object]:
    """Fresh random unet, vae and text encoder of `arch`, with the tokenizer and a scheduler."""
    from diffusers import AutoencoderKL, DPMSolverMultistepScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    levels = len(arch.vae_channels)
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * levels,
        up_block_types=["UpDecoderBlock2D"] * levels,
        block_out_channels=list(arch.vae_channels),
        latent_channels=arch.latent_channels,
        norm_num_groups=arch.norm_groups,
        layers_per_block=1,
        mid_block_add_attention=False,
    )
    plain = len(arch.unet_channels) - arch.attention_levels
    unet = UNet2DConditionModel(
        sample_size=64,
        in_channels=arch.latent_channels,
        out_channels=arch.latent_channels,
        block_out_channels=arch.unet_channels,
        layers_per_block=1,
        norm_num_groups=arch.norm_groups,
        down_block_types=("DownBlock2D",) * plain + ("CrossAttnDownBlock2D",) * arch.attention_levels,
        up_block_types=("CrossAttnUpBlock2D",) * arch.attention_levels + ("UpBlock2D",) * plain,
        cross_attention_dim=arch.text_width,
        attention_head_dim=4,
    )
    vocab_size = len(tokenizer.get_vocab())
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=vocab_size,
            hidden_size=arch.text_width,
            intermediate_size=arch.text_width * 2,
            num_attention_heads=4 if arch.text_width % 4 == 0 else 1,
            num_hidden_layers=arch.text_layers,
            max_position_embeddings=tokenizer.model_max_length,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
    )
    # DPM-Solver++ is the shipped model's own scheduler: good clips in far fewer steps than PNDM.
    scheduler = DPMSolverMultistepScheduler.from_config(riffusion_scheduler().config, algorithm_type="dpmsolver++")
    return {"unet": unet, "vae": vae, "text_encoder": text_encoder, "tokenizer": tokenizer, "scheduler": scheduler}


# ---------------------------------------------------------------------------------------------
# Training


class Trainer:
    """One run: its config, networks, data, checkpoint and loss journal."""

    def __init__(self, config: TrainConfig) -> None:
        from accelerate import Accelerator

        self.config = config
        self.accelerator = Accelerator()
        self.out = Path(config.out)
        self.work = self.out / "training"
        self.checkpoint_path = self.work / "checkpoint.pt"
        self.folder = Path(config.data)
        records = read_dataset(self.folder)
        self.train_records, self.held_records = split(records, config.holdout)
        if not self.train_records:
            raise ValueError("no clips left to train on: lower --holdout or build more clips")
        self.losses: dict[str, list[float]] = {"autoencoder": [], "denoiser": []}
        self.state = {"stage": "autoencoder", "step": 0}
        self._resumed: dict = {}  # the checkpoint a resumed run started from
        self._set_up_components()
        self.identity = self._identity()  # fixed from here on: config, clips, text-encoder choice

    @property
    def device(self) -> torch.device:
        return self.accelerator.device

    def _set_up_components(self) -> None:
        config = self.config
        if config.init:
            model = load_model(config.init, device="cpu", dtype=torch.float32)
            self.components = {
                "unet": model.unet.requires_grad_(True),
                "vae": model.vae,
                "text_encoder": model.text_encoder,
                "tokenizer": model.tokenizer,
                "scheduler": model.scheduler,
            }
            self.state["stage"] = "denoiser"
        else:
            tokenizer = learn_tokenizer([r["caption"] for r in self.train_records])
            self.components = build_components(PRESETS[config.preset], tokenizer, config.seed)
        train_text = config.train_text_encoder
        self.train_text = (config.init is None) if train_text is None else train_text

    # -- checkpoints ---------------------------------------------------------------------------

    def resume(self) -> bool:
        """Load the checkpoint in OUT if there is one; False when starting fresh.

        Raises:
            ValueError: the checkpoint was made with other settings.
        """
        if not self.checkpoint_path.is_file():
            return False
        saved = torch.load(self.checkpoint_path, map_location="cpu", weights_only=False)
        identity = saved.get("identity", {})
        changed = [key for key, value in self.identity.items() if identity.get(key) != value]
        if changed:
            raise ValueError(
                f"{self.checkpoint_path} was made with other {', '.join(k.replace('_', ' ') for k in changed)}: use another OUT or delete it"
            )
        for name in ("unet", "vae", "text_encoder"):
            self.components[name].load_state_dict(saved["weights"][name])
        if saved.get("scaling_factor") is not None:
            self.components["vae"].register_to_config(scaling_factor=saved["scaling_factor"])
        self.state = saved["state"]
        self.losses = saved["losses"]
        self._resumed = saved
        return True

    def save_checkpoint(self, extra: dict) -> None:
        if not self.accelerator.is_main_process:
            return
        self.work.mkdir(parents=True, exist_ok=True)
        weights = {name: self.components[name].state_dict() for name in ("unet", "vae", "text_encoder")}
        payload = {
            "config": asdict(self.config),
            "identity": self.identity,
            "state": self.state,
            "losses": self.losses,
            "weights": weights,
            "scaling_factor": self.components["vae"].config.scaling_factor,
            **extra,
        }
        temporary = self.checkpoint_path.with_suffix(".tmp")
        torch.save(payload, temporary)
        os.replace(temporary, self.checkpoint_path)
        (self.work / "config.json").write_text(json.dumps(asdict(self.config), indent=2) + "\n")
        plot_losses(self.losses, self.work / "loss.png")

    # -- the run -------------------------------------------------------------------------------

    def run(self) -> Path:
        if self.resume():
            if self.state["stage"] == "done":  # finished: write the folder again, train no more
                return self.export()
            log.warning("resuming %s at %s step %d", self.checkpoint_path, self.state["stage"], self.state["step"])
        pixels = load_pixels(self.folder, self.train_records)
        if self.state["stage"] == "autoencoder":
            self.train_autoencoder(pixels)
            self.state = {"stage": "denoiser", "step": 0}
            self._resumed = {}
            self.save_checkpoint({})  # the finished autoencoder survives an interrupted denoiser
        latents = self.encode_dataset(pixels)
        del pixels
        self.train_denoiser(latents)
        self.state = {"stage": "done", "step": 0}
        self.save_checkpoint({})
        return self.export()

    def _generator(self, step: int, salt: int) -> torch.Generator:
        """Batches depend on (seed, step, process) only, so a resumed run sees the same data."""
        seed = hash((self.config.seed, salt, step, self.accelerator.process_index)) % 2**63
        return torch.Generator().manual_seed(seed)

    def train_autoencoder(self, pixels: torch.Tensor) -> None:
        config = self.config
        vae = self.components["vae"].train().requires_grad_(True)
        optimizer = torch.optim.AdamW(vae.parameters(), lr=config.vae_lr, weight_decay=0.0)
        if self._resumed.get("optimizer"):
            optimizer.load_state_dict(self._resumed["optimizer"])
        objective, optimizer = self.accelerator.prepare(_AutoencoderLoss(vae), optimizer)
        crop = min(config.vae_crop, pixels.shape[-2], pixels.shape[-1])
        start = self.state["step"]
        bar = tqdm(range(start, config.vae_steps), desc="autoencoder", initial=start, total=config.vae_steps,
                   disable=not self.accelerator.is_local_main_process)
        for step in bar:
            x = _random_crops(pixels, config.vae_batch_size, crop, crop, self._generator(step, 1))
            _set_lr(optimizer, config.vae_lr, step, config.vae_steps)
            loss = objective(unit_from_pixels(x.to(self.device, torch.float32)))
            self.accelerator.backward(loss)
            self.accelerator.clip_grad_norm_(vae.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            self._record("autoencoder", loss, bar)
            self.state["step"] = step + 1
            if (step + 1) % config.checkpoint_every == 0 and step + 1 < config.vae_steps:
                self.save_checkpoint({"optimizer": optimizer.state_dict()})
        self.components["vae"] = vae.eval().requires_grad_(False)

    @torch.no_grad()
    def encode_dataset(self, pixels: torch.Tensor) -> torch.Tensor:
        """Latent means of every training image, and the VAE's scaling factor set.

        The main process encodes them once into OUT/training/latents.pt; every process reads
        that file, so several GPUs never race on it and a resumed run skips the work.
        """
        vae = self.components["vae"].to(self.device).eval()
        cache = self.work / "latents.pt"
        saved = None
        if self.accelerator.is_main_process:
            saved = self._read_cache(cache, len(pixels))
            if saved is None:
                latents = []
                for batch in tqdm(pixels.split(8), desc="encoding", unit="batch", leave=False):
                    x = unit_from_pixels(batch.to(self.device, torch.float32))
                    latents.append(vae.encode(x).latent_dist.mode().cpu())
                latents = torch.cat(latents)
                # Unit variance in latent space, as Stable Diffusion's 0.18215 does for its VAE; a
                # fine-tuned model keeps its own.
                scale = float(1.0 / latents.std()) if self.config.init is None else vae.config.scaling_factor
                saved = {"latents": latents * scale, "count": len(pixels), "run": self._cache_key(),
                         "scaling_factor": scale}
                self.work.mkdir(parents=True, exist_ok=True)
                torch.save(saved, cache)
        self.accelerator.wait_for_everyone()
        if saved is None:
            saved = torch.load(cache, map_location="cpu")
        vae.register_to_config(scaling_factor=saved["scaling_factor"])
        return saved["latents"]

    def _read_cache(self, cache: Path, count: int) -> dict | None:
        """The cached latents when they belong to this run, else None."""
        if not cache.is_file():
            return None
        saved = torch.load(cache, map_location="cpu")
        return saved if saved.get("count") == count and saved.get("run") == self._cache_key() else None

    def _identity(self) -> dict:
        """What a checkpoint belongs to; resuming with anything else would mix two runs.

        Folders compare resolved, and the clips by their files and captions, so an extended or
        edited dataset is not taken for the one the checkpoint learned (its tokenizer differs).
        """
        settings = asdict(self.config)
        identity = {key: settings[key] for key in RUN_KEYS}
        for key in ("data", "init"):
            if identity[key] and Path(identity[key]).exists():
                identity[key] = str(Path(identity[key]).resolve())
        identity["train_text_encoder"] = self.train_text
        clips = json.dumps([(r["file"], r["caption"]) for r in self.train_records]).encode()
        identity["clips"] = hashlib.sha256(clips).hexdigest()
        return identity

    def _cache_key(self) -> dict:
        """What the cached latents depend on: the run, and how long its autoencoder trained."""
        return {**self.identity, "vae_steps": self.config.vae_steps}

    def train_denoiser(self, latents: torch.Tensor) -> None:
        from diffusers import DDPMScheduler

        config = self.config
        unet = self.components["unet"].train().requires_grad_(True)
        text_encoder = self.components["text_encoder"].requires_grad_(self.train_text)
        text_encoder.train(self.train_text)
        tokenizer = self.components["tokenizer"]
        noise_schedule = DDPMScheduler.from_config(self.components["scheduler"].config)
        alphas = noise_schedule.alphas_cumprod.to(self.device)
        snr = alphas / (1 - alphas)

        trained = [unet, text_encoder] if self.train_text else [unet]
        params = [p for module in trained for p in module.parameters()]
        optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=1e-2)
        ema = [p.detach().clone() for p in params]
        resumed = self._resumed
        if resumed.get("optimizer"):
            optimizer.load_state_dict(resumed["optimizer"])
            ema = [e.clone() for e in resumed["ema"]]
        if self.train_text:
            unet, text_encoder, optimizer = self.accelerator.prepare(unet, text_encoder, optimizer)
        else:
            unet, optimizer = self.accelerator.prepare(unet, optimizer)
            text_encoder = text_encoder.to(self.device)
        ema = [e.to(self.device) for e in ema]
        captions = [r["caption"] for r in self.train_records]
        ids = _token_ids(tokenizer, [*captions, ""])
        empty = len(captions)

        width = min(config.crop, latents.shape[-1])
        start = self.state["step"]
        bar = tqdm(range(start, config.unet_steps), desc="denoiser", initial=start, total=config.unet_steps,
                   disable=not self.accelerator.is_local_main_process)
        for step in bar:
            generator = self._generator(step, 2)
            rows = torch.randint(0, len(latents), (config.batch_size,), generator=generator)
            offsets = torch.randint(0, latents.shape[-1] - width + 1, (config.batch_size,), generator=generator)
            z = torch.stack([latents[r, :, :, o : o + width] for r, o in zip(rows.tolist(), offsets.tolist())])
            drop = torch.rand(config.batch_size, generator=generator) < config.caption_dropout
            tokens = ids[torch.where(drop, empty, rows)]
            t = torch.randint(0, len(alphas), (config.batch_size,), generator=generator)
            noise = torch.randn(z.shape, generator=generator)
            z, tokens, t, noise = (v.to(self.device) for v in (z, tokens, t, noise))
            noisy = noise_schedule.add_noise(z.float(), noise, t)
            _set_lr(optimizer, config.lr, step, config.unet_steps)
            hidden = text_encoder(tokens).last_hidden_state
            prediction = unet(noisy, t, encoder_hidden_states=hidden).sample
            # min-SNR-5 weights (Hang et al. 2023): no step size dominates the loss.
            weights = torch.clamp(snr[t], max=5.0) / snr[t]
            loss = (weights * (prediction - noise).pow(2).mean(dim=(1, 2, 3))).mean()
            self.accelerator.backward(loss)
            self.accelerator.clip_grad_norm_(params, 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            decay = min(config.ema_decay, (1 + step) / (10 + step))
            with torch.no_grad():
                torch._foreach_lerp_(ema, [p.detach() for p in params], 1 - decay)
            self._record("denoiser", loss, bar)
            self.state["step"] = step + 1
            if (step + 1) % config.checkpoint_every == 0 and step + 1 < config.unet_steps:
                self.save_checkpoint({"optimizer": optimizer.state_dict(), "ema": [e.cpu() for e in ema]})
        # Keep the averaged weights: smoother samples than the last step's.
        with torch.no_grad():
            for p, e in zip(params, ema):
                p.copy_(e)
        self.components["unet"] = self.accelerator.unwrap_model(unet).eval().requires_grad_(False)
        self.components["text_encoder"] = self.accelerator.unwrap_model(text_encoder).eval().requires_grad_(False)

    def _record(self, stage: str, loss: torch.Tensor, bar: tqdm) -> None:
        value = float(self.accelerator.gather(loss.detach()[None]).mean())
        if not math.isfinite(value):
            raise ValueError(f"{stage} loss became {value}: lower the learning rate")
        self.losses[stage].append(value)
        recent = self.losses[stage][-50:]
        bar.set_postfix(loss=f"{sum(recent) / len(recent):.4f}")

    def export(self) -> Path:
        """The trained model as a diffusers folder in OUT, fp16 safetensors."""
        if self.accelerator.is_main_process:
            save_model(self.components, self.out, torch.float16)  # loss.png: the last checkpoint drew it
            settings = {key: value for key, value in asdict(self.config).items() if key not in ("data", "out")}
            if settings["init"] and Path(settings["init"]).exists():
                settings["init"] = Path(settings["init"]).name  # a folder name, not a path of this machine
            # A fine-tuned model keeps its base's scheduler, so its base's step count too.
            steps = RECOMMENDED_STEPS if self.config.init is None else recommended_steps(self.config.init)
            about = {
                "num_inference_steps": steps,
                "made_by": "riff train",
                "training_clips": len(self.train_records),
                "held_out_clips": len(self.held_records),
                "settings": settings,
            }
            (self.out / "riff.json").write_text(json.dumps(about, indent=2) + "\n")
        self.accelerator.wait_for_everyone()
        return self.out


class _AutoencoderLoss(torch.nn.Module):
    """L1 reconstruction of a posterior sample plus a light KL pull towards N(0, 1)."""

    def __init__(self, vae: torch.nn.Module, kl_weight: float = 1e-3) -> None:
        super().__init__()
        self.vae, self.kl_weight = vae, kl_weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        posterior = self.vae.encode(x).latent_dist
        z = posterior.sample()
        reconstruction = self.vae.decode(z).sample
        return F.l1_loss(reconstruction, x) + self.kl_weight * posterior.kl().mean() / z[0].numel()


def _token_ids(tokenizer: object, texts: list[str]) -> torch.Tensor:
    return tokenizer(texts, padding="max_length", truncation=True, max_length=tokenizer.model_max_length,
                     return_tensors="pt").input_ids


def _random_crops(pixels: torch.Tensor, count: int, height: int, width: int, generator: torch.Generator) -> torch.Tensor:
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


def _smooth(values: list[float], width: int) -> Iterator[float]:
    total = 0.0
    for i, value in enumerate(values):
        total += value
        if i >= width:
            total -= values[i - width]
        yield total / min(i + 1, width)


def _place(frame: tuple, i: int, v: float) -> tuple[float, float]:
    """Pixel position of step `i`, log-loss `v` in a panel (left, top, width, height, n, low, high)."""
    left, top, width, height, n, low, high = frame
    return left + width * i / max(1, n - 1), top + height * (1 - (v - low) / (high - low))


def plot_losses(curves: dict[str, list[float]], path: str | Path, size: tuple[int, int] = (720, 300)) -> Path:
    """A PNG with one panel per stage: the loss per step (light) and its running mean (dark)."""
    from PIL import ImageDraw, ImageFont

    curves = {name: values for name, values in curves.items() if values}
    width, height = size
    image = Image.new("RGB", (width, height * max(1, len(curves))), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    left, right, top, bottom = 60, 12, 22, 28
    for panel, (name, values) in enumerate(curves.items()):
        y0 = panel * height
        logs = [math.log10(max(v, 1e-8)) for v in values]
        low, high = min(logs), max(logs)
        high = high if high > low else low + 1
        plot_w, plot_h = width - left - right, height - top - bottom

        frame = (left, y0 + top, plot_w, plot_h, len(logs), low, high)
        draw.rectangle([left, y0 + top, width - right, y0 + top + plot_h], outline="black")
        draw.text((left, y0 + 4), f"{name} loss (log scale), {len(values)} steps", fill="black", font=font)
        for tick in (low, high):
            draw.text((4, _place(frame, 0, tick)[1] - 6), f"{10**tick:.3g}", fill="black", font=font)
        draw.text((left, y0 + top + plot_h + 6), "0", fill="black", font=font)
        draw.text((width - right - 40, y0 + top + plot_h + 6), f"{len(values)}", fill="black", font=font)
        if len(logs) > 1:
            draw.line([_place(frame, i, v) for i, v in enumerate(logs)], fill=(190, 200, 230), width=1)
            smooth = list(_smooth(logs, max(1, len(logs) // 50)))
            draw.line([_place(frame, i, v) for i, v in enumerate(smooth)], fill=(20, 60, 160), width=2)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def train(config: TrainConfig) -> Path:
    """Run (or resume) training; returns the model folder."""
    return Trainer(config).run()
