"""Does a model's text conditioning work? A classifier trained on real spectrograms judges
generated ones.

The classifier learns three labels of the dataset's real (rendered) clips: the leading
instrument family, drums or not, and the tempo band. It is scored on the held-out real clips
(the same split `riff train` keeps out), then on clips the model generates from the held-out
captions that no training clip has verbatim. Mel statistics (per-band mean and spread) of the
generated clips are compared with the held-out real ones by Fréchet distance, next to the same
distance between the real training and held-out clips as a floor.

The autoencoder is measured alone too (`autoencoder_figures`): held-out clips encoded and
decoded, compared as mel amplitudes (the image read back to linear amplitude) by spectral
convergence, and the same on their difference along frequency, where harmonic lines live.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from riff import pipeline
from riff.audio.image import mel_from_pixels, pixels_from_unit, unit_from_pixels
from riff.audio.params import SpectrogramParams
from riff.models import Model, display_name, model_card
from riff.train.dataset.readers import HOLDOUT, load_pixels, read_dataset, split

log = logging.getLogger("riff")

TEMPO_BANDS = ("slow", "medium", "fast")
LAGS = 160  # onset autocorrelation lags, 10 ms each: up to 1.6 s, so 40 bpm and up
# Prompts a person would type, with the labels they must produce.
PROMPT_CHECKS = {
    "drum beat": {"has_drums": True},
    "rock drum beat, 120 bpm": {"has_drums": True},
    "hip hop drums": {"has_drums": True},
    "solo piano": {"family": "keys", "has_drums": False},
    "solo piano, slow, minor": {"family": "keys", "has_drums": False},
}


def features(pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(image, rhythm) inputs of the classifier for (N, 3, 512, W) intensities in [0, 255].

    image: (N, 1, 128, W / 4) mean intensity in [0, 1]; rhythm: (N, LAGS) normalised
    autocorrelation of the onset envelope (the rise of each column's energy).
    """
    gray = pixels.float().mean(dim=1, keepdim=True) / 255.0
    image = F.avg_pool2d(gray, 4)
    energy = gray.mean(dim=(1, 2))  # (N, W)
    onset = torch.relu(energy[:, 1:] - energy[:, :-1])
    onset = onset - onset.mean(dim=1, keepdim=True)
    spectrum = torch.fft.rfft(onset, n=2 * onset.shape[1])
    autocorr = torch.fft.irfft(spectrum.abs() ** 2)[:, 1 : LAGS + 1]
    rhythm = autocorr / (autocorr.abs().amax(dim=1, keepdim=True) + 1e-8)
    return image, rhythm


class Classifier(torch.nn.Module):
    """A small CNN over the spectrogram image plus an MLP over the rhythm vector."""

    def __init__(self, families: list[str]) -> None:
        super().__init__()
        self.families = list(families)
        layers, width = [], 1
        for out in (16, 32, 64, 64):
            layers += [
                torch.nn.Conv2d(width, out, 3, stride=2, padding=1),
                torch.nn.GroupNorm(4, out),
                torch.nn.SiLU(),
            ]
            width = out
        self.conv = torch.nn.Sequential(*layers)
        self.rhythm = torch.nn.Sequential(torch.nn.Linear(LAGS, 64), torch.nn.SiLU())
        self.body = torch.nn.Sequential(
            torch.nn.Dropout(0.2), torch.nn.Linear(64 * 8 * 2 + 64, 128), torch.nn.SiLU()
        )
        self.heads = torch.nn.ModuleDict(
            {
                "family": torch.nn.Linear(128, len(self.families)),
                "has_drums": torch.nn.Linear(128, 2),
                "tempo_band": torch.nn.Linear(128, len(TEMPO_BANDS)),
            }
        )

    def forward(self, image: torch.Tensor, rhythm: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.conv(image)  # (N, 64, 8, w): frequency kept, time pooled
        x = torch.cat([x.mean(dim=-1), x.amax(dim=-1)], dim=1).flatten(1)
        x = self.body(torch.cat([x, self.rhythm(rhythm)], dim=1))
        return {name: head(x) for name, head in self.heads.items()}


def targets(records: list[dict], families: list[str]) -> dict[str, torch.Tensor]:
    return {
        "family": torch.tensor([families.index(r["labels"]["family"]) for r in records]),
        "has_drums": torch.tensor([int(bool(r["labels"]["has_drums"])) for r in records]),
        "tempo_band": torch.tensor([TEMPO_BANDS.index(r["labels"]["tempo_band"]) for r in records]),
    }


def train_classifier(
    pixels: torch.Tensor, records: list[dict], epochs: int = 16, seed: int = 0
) -> Classifier:
    """Fit the classifier on real clips, with random time shifts and level changes."""
    torch.manual_seed(seed)
    families = sorted({r["labels"]["family"] for r in records})
    model = Classifier(families)
    image, rhythm = features(pixels)
    labels = targets(records, families)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-3)
    steps = epochs * max(1, len(records) // 32)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=2e-3, total_steps=steps)
    model.train()
    for _ in tqdm(range(steps), desc="classifier", unit="step", leave=False):
        rows = torch.randint(0, len(records), (32,))
        x = torch.roll(image[rows], int(torch.randint(0, image.shape[-1], ())), dims=-1)
        x = (x + 0.1 * (torch.rand(len(rows), 1, 1, 1) - 0.5)).clamp(0, 1)
        out = model(x, rhythm[rows])
        loss = sum(F.cross_entropy(out[name], labels[name][rows]) for name in out)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    return model.eval()


@torch.no_grad()
def predict(classifier: Classifier, pixels: torch.Tensor) -> dict[str, list]:
    image, rhythm = features(pixels)
    out = classifier(image, rhythm)
    return {
        "family": [classifier.families[i] for i in out["family"].argmax(1).tolist()],
        "has_drums": [bool(i) for i in out["has_drums"].argmax(1).tolist()],
        "tempo_band": [TEMPO_BANDS[i] for i in out["tempo_band"].argmax(1).tolist()],
    }


def accuracy(predicted: dict[str, list], records: list[dict]) -> dict[str, float]:
    return {
        name: float(np.mean([p == r["labels"][name] for p, r in zip(values, records)]))
        for name, values in predicted.items()
    }


def mel_statistics(pixels: torch.Tensor, bands: int = 64) -> np.ndarray:
    """(N, 2 * bands): mean and standard deviation over time of each of `bands` mel bands."""
    gray = pixels.float().mean(dim=1) / 255.0  # (N, 512, W)
    grouped = gray.reshape(gray.shape[0], bands, -1, gray.shape[-1]).mean(dim=2)
    return torch.cat([grouped.mean(dim=-1), grouped.std(dim=-1)], dim=1).double().numpy()


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussian fits of two feature sets (as FID does)."""
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # trace of sqrt(cov_a cov_b) from the eigenvalues of sqrt(cov_a) cov_b sqrt(cov_a).
    values, vectors = np.linalg.eigh(cov_a)
    root_a = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    middle = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    trace_root = np.sqrt(np.clip(middle, 0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_root)


@torch.no_grad()
def generate_images(
    model: Model,
    prompts: list[str],
    seeds: list[int],
    steps: int = 25,
    guidance: float = 7.0,
    batch_size: int = 8,
) -> torch.Tensor:
    """Text-to-spectrogram (no seed image): (N, 3, 512, 512) intensities in [0, 255] on the CPU."""
    scale = model.vae_scale
    channels = model.vae.config.latent_channels
    shape = (1, channels, 512 // scale, 512 // scale)
    init = torch.zeros(shape, device=model.device, dtype=model.dtype)
    images = []
    for first in tqdm(range(0, len(prompts), batch_size), desc="generating", unit="batch", leave=False):
        chunk = prompts[first : first + batch_size]
        embeddings = pipeline.encode_prompts(model, [*chunk, ""])  # one length for both halves
        cond, uncond = embeddings[:-1], embeddings[-1:].expand(len(chunk), -1, -1)
        noise = torch.cat([pipeline.latent_noise(s, shape) for s in seeds[first : first + batch_size]])
        latents = pipeline.denoise(
            model, init, cond, uncond, noise, torch.full((len(chunk),), guidance), 0, steps
        )
        images.append(pipeline.decode_latents(model, latents).cpu())
    return torch.cat(images)


def spectral_convergence(reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
    """(N,) ||S - S_hat||_F / ||S||_F per clip of (N, ...) magnitudes (Sturmel and Daudet 2011)."""
    error = (reference - estimate).flatten(1).norm(dim=1)
    return error / reference.flatten(1).norm(dim=1).clamp_min(1e-12)


def fine_structure(mel: torch.Tensor) -> torch.Tensor:
    """(..., F - 1, T) difference along frequency of (..., F, T) magnitudes: harmonic lines
    stand out of it, smooth spectral envelopes cancel."""
    return mel.diff(dim=-2)


@torch.no_grad()
def round_trip(vae: torch.nn.Module, pixels: torch.Tensor, batch_size: int = 4) -> torch.Tensor:
    """(N, 3, H, W) uint8 images through the autoencoder (the latent mean, as `riff train`
    encodes its dataset), back as float intensities in [0, 255] as the decoder hears them."""
    parameter = next(vae.parameters())
    out = []
    for batch in pixels.split(batch_size):
        x = unit_from_pixels(batch.to(parameter.device, parameter.dtype))
        decoded = vae.decode(vae.encode(x).latent_dist.mode()).sample
        out.append(pixels_from_unit(decoded.float()).cpu())
    return torch.cat(out)


def autoencoder_figures(vae: torch.nn.Module, pixels: torch.Tensor) -> dict[str, float]:
    """The autoencoder's round trip of (N, 3, H, W) uint8 clips, as mean spectral convergence of
    the mel amplitudes ("spectral_convergence") and of their fine structure ("fine_structure");
    0 is a perfect copy, 1 as far off as silence."""
    params = SpectrogramParams()
    # One level for every clip: the ratios do not depend on it.
    mel = mel_from_pixels(pixels, params, 1.0)
    decoded = mel_from_pixels(round_trip(vae, pixels), params, 1.0)
    return {
        "spectral_convergence": float(spectral_convergence(mel, decoded).mean()),
        "fine_structure": float(spectral_convergence(fine_structure(mel), fine_structure(decoded)).mean()),
        "clips": len(pixels),
    }


@dataclass
class Report:
    figures: dict

    def table(self) -> str:
        f = self.figures
        lines = [f"model: {f['model']}"]
        if "autoencoder" in f:
            a = f["autoencoder"]
            lines.append(
                f"autoencoder round trip of {a['clips']} held-out clips: mel spectral convergence "
                f"{a['spectral_convergence']:.3f}, fine structure {a['fine_structure']:.3f}"
            )
        if "accuracy" not in f:  # the autoencoder alone was measured
            return "\n".join(lines)
        lines.append(
            f"clips: {f['train_clips']} train, {f['held_out_clips']} held out, "
            f"{f['generated_clips']} generated from held-out captions"
        )
        lines.append(f"{'':28}{'family':>9}{'drums':>9}{'tempo':>9}")
        for key, name in (
            ("held_out_real", "held-out real clips"),
            ("generated", "generated clips"),
            ("chance", "majority-class guess"),
        ):
            a = f["accuracy"][key]
            lines.append(f"{name:28}{a['family']:9.2f}{a['has_drums']:9.2f}{a['tempo_band']:9.2f}")
        lines.append(
            f"mel-statistics Fréchet distance to held-out: generated {f['mel_distance']['generated']:.3f}, "
            f"as many real training clips {f['mel_distance']['real_floor']:.3f}"
        )
        for prompt, check in f["prompt_checks"].items():
            lines.append(f"{prompt!r}: {check['passed']}/{check['clips']} clips judged {check['expect']}")
        return "\n".join(lines)


def trained_holdout(name: str | None = None, default: float = HOLDOUT) -> float:
    """The held-out share the model was trained with (its riff.json), so evaluation holds out
    exactly the clips training never saw."""
    try:
        return float(model_card(name)["settings"]["holdout"])
    except (KeyError, TypeError, ValueError):
        return default


def _labelled(record: dict) -> bool:
    labels = record.get("labels") or {}
    return (
        labels.get("family") is not None and labels.get("tempo_band") in TEMPO_BANDS and "has_drums" in labels
    )


def evaluate(
    model: Model,
    data: str | Path,
    clips: int = 40,
    steps: int = 25,
    holdout: float = HOLDOUT,
    checks_per_prompt: int = 4,
    seed: int = 0,
) -> Report:
    """Train the classifier on the dataset's training split and score real and generated clips."""
    folder = Path(data)
    records = read_dataset(folder)
    # The classifier needs labels; clips of the user's own audio (the folder source) have none.
    every_train, every_held = split(records, holdout)
    train_records, held = [r for r in every_train if _labelled(r)], [r for r in every_held if _labelled(r)]
    if not train_records:
        raise ValueError(
            "no labelled clips to train the classifier on: build clips from the generated or music21 sources"
        )
    if len(held) < 2:
        raise ValueError("too few held-out clips to evaluate: build more clips or raise --holdout")
    train_pixels = load_pixels(folder, train_records)
    held_pixels = load_pixels(folder, held)
    classifier = train_classifier(train_pixels, train_records, seed=seed)

    seen = {r["caption"] for r in every_train}
    unseen = [r for r in held if r["caption"] not in seen][:clips]
    if len(unseen) < 2:
        raise ValueError(
            f"{len(unseen)} held-out captions are new (no training clip has them); at least 2 are needed"
        )
    prompts = [r["caption"] for r in unseen]
    generated = generate_images(model, prompts, [seed + i for i in range(len(prompts))], steps)

    prompt_checks = check_prompts(model, classifier, steps, checks_per_prompt, seed)

    # The best guess without listening: each label's commonest value in training, scored on
    # the clips the generated ones are compared with.
    majority = {
        name: max(set(v := [r["labels"][name] for r in train_records]), key=v.count)
        for name in ("family", "has_drums", "tempo_band")
    }
    generated_stats, held_stats = mel_statistics(generated), mel_statistics(held_pixels)
    floor = real_floor(mel_statistics(train_pixels), held_stats, len(prompts), seed)
    figures = {
        "model": display_name(model.name),
        "train_clips": len(train_records),
        "held_out_clips": len(held),
        "generated_clips": len(prompts),
        "steps": steps,
        "accuracy": {
            "held_out_real": accuracy(predict(classifier, held_pixels), held),
            "generated": accuracy(predict(classifier, generated), unseen),
            "chance": {k: float(np.mean([r["labels"][k] == v for r in unseen])) for k, v in majority.items()},
        },
        "mel_distance": {
            "generated": frechet_distance(generated_stats, held_stats),
            "real_floor": floor,
        },
        "prompt_checks": prompt_checks,
        "autoencoder": autoencoder_figures(model.vae, held_pixels),
    }
    return Report(figures)


def evaluate_autoencoder(model: Model, data: str | Path, holdout: float = HOLDOUT) -> Report:
    """The autoencoder's round trip of every held-out clip, labelled or not (no classifier,
    nothing generated): a minute where `evaluate` takes many."""
    folder = Path(data)
    _, held = split(read_dataset(folder), holdout)
    if not held:
        raise ValueError("no held-out clips to measure the autoencoder on: raise --holdout")
    figures = {"model": display_name(model.name), "held_out_clips": len(held)}
    figures["autoencoder"] = autoencoder_figures(model.vae, load_pixels(folder, held))
    return Report(figures)


def check_prompts(model: Model, classifier: Classifier, steps: int, clips: int, seed: int) -> dict[str, dict]:
    """Each of PROMPT_CHECKS generated `clips` times (seeds from `seed + 1000` up) and judged:
    {prompt: {"expect": labels, "passed": clips judged so, "clips": clips}}."""
    prompts = [p for p in PROMPT_CHECKS for _ in range(clips)]
    images = generate_images(model, prompts, [seed + 1000 + i for i in range(len(prompts))], steps)
    predictions = predict(classifier, images)
    checks = {}
    for prompt, expect in PROMPT_CHECKS.items():
        rows = [i for i, p in enumerate(prompts) if p == prompt]
        passed = sum(all(predictions[k][i] == v for k, v in expect.items()) for i in rows)
        checks[prompt] = {"expect": expect, "passed": passed, "clips": len(rows)}
    return checks


def real_floor(
    train_stats: np.ndarray, held_stats: np.ndarray, clips: int, seed: int, draws: int = 8
) -> float:
    """The Fréchet distance real clips reach: `clips` training clips against the held-out ones,
    as many as were generated (the distance grows when fewer clips are compared), averaged over
    `draws` random picks."""
    generator = torch.Generator().manual_seed(seed)
    distances = [
        frechet_distance(
            train_stats[torch.randperm(len(train_stats), generator=generator)[:clips].numpy()], held_stats
        )
        for _ in range(draws)
    ]
    return float(np.mean(distances))


def write_report(report: Report, path: str | Path) -> None:
    Path(path).write_text(json.dumps(report.figures, indent=2) + "\n")
