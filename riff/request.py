"""What to render, and how: the frozen requests that travel unchanged from the studio, the CLI
and the API down to the pipeline.

A piece of music says what to play: a `Walk` between two prompt ends, `Variations` (one prompt,
a clip per seed), a `Chain` of walks through several prompts, a seamless `Loop`, or a `Restyle`
of a song. `Settings` says how to render any of them (steps,
scheduler, batching, phase retrieval), as audiocraft keeps `set_generation_params` apart from
`generate`. Every default and limit is declared here once; the callers read them, and
`to_dict`/`from_dict` turn a request into the settings JSON and back.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from riff import interp
from riff.audio.params import CLIP_WIDTH, SpectrogramParams
from riff.audio.spectrogram import GRIFFIN_LIM_ITERS
from riff.grid import Grid, check_bpm
from riff.lora import Adapter
from riff.models import SCHEDULERS
from riff.prompts import parse_weights
from riff.seed_images import DEFAULT_SEED
from riff.seedgen import BEDS

MAX_SEED = 2**32 - 1  # torch.Generator takes 64 bits; 32 keep seeds easy to type and share
MAX_CLIPS = 256  # a walk's clips
MAX_SEEDS = 16  # clips of one text-to-audio request
MAX_LORAS = 4  # adapters applied at once
MAX_STEPS = 1000  # the schedulers' training timesteps
MAX_GUIDANCE = 50.0
MAX_CROSSFADE_MS = 2000.0
MAX_ENDS = 16  # prompts of one chain


def _check_width(width: int | None) -> None:
    if width is not None and (
        isinstance(width, bool) or not isinstance(width, int) or width < 64 or width % 8
    ):
        raise ValueError(f"width must be a multiple of 8, at least 64 columns, got {width!r}")


def _check_seed(seed: object, what: str = "seed") -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"{what} must be an integer in 0..{MAX_SEED}, got {seed!r}")


def _check_crossfade(crossfade_ms: float) -> None:
    if not 0 <= crossfade_ms <= MAX_CROSSFADE_MS:
        raise ValueError(f"crossfade must be in 0..{MAX_CROSSFADE_MS:g} ms, got {crossfade_ms}")


@dataclass(frozen=True)
class PromptEnd:
    """One end of a walk: what to play and how hard to push the seed image towards it."""

    prompt: str
    seed: int = 0
    negative_prompt: str = ""
    denoising: float = 0.75  # img2img strength: 0 keeps the seed image, 1 ignores it
    guidance: float = 7.0  # classifier-free guidance scale

    def __post_init__(self) -> None:
        if not isinstance(self.prompt, str) or not isinstance(self.negative_prompt, str):
            raise ValueError("prompts must be text")
        if not self.prompt.strip():
            raise ValueError("the prompt is empty: write what it should sound like")
        _check_seed(self.seed)
        if not 0.0 < self.denoising <= 1.0:
            raise ValueError(f"denoising must be in (0, 1], got {self.denoising}")
        if not 0.0 <= self.guidance <= MAX_GUIDANCE:
            raise ValueError(f"guidance must be in 0..{MAX_GUIDANCE:g}, got {self.guidance}")
        parse_weights(self.prompt)  # a bad (word:weight) fails here, before any work
        parse_weights(self.negative_prompt)


@dataclass(frozen=True)
class Walk:
    """An interpolation walk from `start` to `end`: one clip per alpha, played in order."""

    start: PromptEnd
    end: PromptEnd
    num_clips: int = 5
    alpha_curve: str = "linear"
    alpha_power: float = 2.0  # for the "power" curve
    alphas: tuple[float, ...] | None = None  # explicit alphas override num_clips and the curve
    seed_image: str = DEFAULT_SEED  # bundled name, reference id, image or audio path
    mask: str | None = None  # bundled mask name or image path; white = repaint
    crossfade_ms: float = 250.0  # centred on each join; 0 for hard cuts
    width: int | None = None  # clip columns (1024 = 10.2 s); None: the seed image's own
    continuation: bool = False  # each clip keeps the previous clip's end as its start

    def __post_init__(self) -> None:
        _check_width(self.width)
        if self.alphas is None and not 1 <= self.num_clips <= MAX_CLIPS:
            raise ValueError(f"num_clips must be in 1..{MAX_CLIPS}, got {self.num_clips}")
        if self.alphas is not None and (
            not self.alphas or len(self.alphas) > MAX_CLIPS or any(not 0 <= a <= 1 for a in self.alphas)
        ):
            raise ValueError(f"alphas must be 1..{MAX_CLIPS} values in [0, 1], got {self.alphas}")
        _check_crossfade(self.crossfade_ms)
        interp.alpha_curve(1, self.alpha_curve, self.alpha_power)  # validates the curve

    def clip_alphas(self) -> list[float]:
        if self.alphas is not None:
            return list(self.alphas)
        return interp.alpha_curve(self.num_clips, self.alpha_curve, self.alpha_power)

    def prompt_ends(self) -> tuple[PromptEnd, ...]:
        return (self.start, self.end)

    def clip_count(self) -> int:
        return len(self.clip_alphas())

    def caption(self, index: int, alpha: float) -> str:
        """What clip `index` is, under its spectrogram."""
        return f"clip {index + 1} · alpha {alpha:.2f}"


@dataclass(frozen=True)
class Variations:
    """Text to audio: one clip of `end` per seed (its own seed is not used), in seed order."""

    end: PromptEnd
    seeds: tuple[int, ...]
    seed_image: str = DEFAULT_SEED
    mask: str | None = None
    crossfade_ms: float = 0.0  # the clips are separate takes: cut, not blended
    width: int | None = None

    def __post_init__(self) -> None:
        _check_width(self.width)
        if not 1 <= len(self.seeds) <= MAX_SEEDS:
            raise ValueError(f"number of seeds must be in 1..{MAX_SEEDS}, got {len(self.seeds)}")
        for seed in self.seeds:
            _check_seed(seed, "seeds")
        _check_crossfade(self.crossfade_ms)

    @classmethod
    def counting(cls, end: PromptEnd, count: int, **fields: Any) -> Variations:
        """`count` seeds from `end.seed` on: seed, seed + 1, ..."""
        if not 1 <= count <= MAX_SEEDS:  # before the tuple is built: a count may be huge
            raise ValueError(f"number of seeds must be in 1..{MAX_SEEDS}, got {count}")
        if end.seed + count - 1 > MAX_SEED:
            raise ValueError(f"seeds must stay at most {MAX_SEED}")
        return cls(end, tuple(range(end.seed, end.seed + count)), **fields)

    def prompt_ends(self) -> tuple[PromptEnd, ...]:
        return (self.end,)

    def clip_count(self) -> int:
        return len(self.seeds)

    def caption(self, index: int, alpha: float) -> str:
        """What clip `index` is, under its spectrogram: its seed."""
        return f"seed {self.seeds[index]}"


@dataclass(frozen=True)
class Chain:
    """A prompt chain: a walk from each end to the next, each hop starting exactly where the one
    before ended (same prompt, seed and noise), `clips_per_hop` clips a hop, then the last end."""

    ends: tuple[PromptEnd, ...]
    clips_per_hop: int = 4
    alpha_curve: str = "linear"  # within each hop
    alpha_power: float = 2.0
    seed_image: str = DEFAULT_SEED
    mask: str | None = None
    crossfade_ms: float = 250.0
    width: int | None = None
    continuation: bool = False

    def __post_init__(self) -> None:
        if not 2 <= len(self.ends) <= MAX_ENDS:
            raise ValueError(f"a chain needs 2..{MAX_ENDS} prompts, got {len(self.ends)}")
        if not 1 <= self.clips_per_hop <= MAX_CLIPS:
            raise ValueError(f"clips per hop must be in 1..{MAX_CLIPS}, got {self.clips_per_hop}")
        _check_crossfade(self.crossfade_ms)
        _check_width(self.width)
        interp.alpha_curve(1, self.alpha_curve, self.alpha_power)

    def stops(self) -> list[tuple[int, float]]:
        """(hop, alpha) of every clip: hop h walks from ends[h] to ends[h + 1]."""
        alphas = interp.alpha_curve(self.clips_per_hop + 1, self.alpha_curve, self.alpha_power)[:-1]
        last = len(self.ends) - 2
        return [(hop, a) for hop in range(last + 1) for a in alphas] + [(last, 1.0)]

    def prompt_ends(self) -> tuple[PromptEnd, ...]:
        return self.ends

    def clip_count(self) -> int:
        return (len(self.ends) - 1) * self.clips_per_hop + 1

    def caption(self, index: int, alpha: float) -> str:
        """What clip `index` is, under its spectrogram: its hop and where along it."""
        hop, along = self.stops()[index]
        return f"clip {index + 1} · hop {hop + 1} · alpha {along:.2f}"


@dataclass(frozen=True)
class Loop:
    """A seamless loop: `clips` clips of one prompt end whose noise goes once round the circle
    through its seed's noise and the next seed's, so the last clip leads back into the first;
    the wrap is crossfaded like every other join, and the file repeats without a seam."""

    end: PromptEnd
    clips: int = 1
    seed_image: str = DEFAULT_SEED
    mask: str | None = None
    crossfade_ms: float = 250.0  # every join, the wrap included
    width: int | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.clips <= MAX_CLIPS:
            raise ValueError(f"a loop has 1..{MAX_CLIPS} clips, got {self.clips}")
        if self.clips > 1 and self.end.seed == MAX_SEED:
            raise ValueError(f"a loop of several clips needs a seed below {MAX_SEED}")
        _check_crossfade(self.crossfade_ms)
        _check_width(self.width)

    def prompt_ends(self) -> tuple[PromptEnd, ...]:
        return (self.end,)

    def clip_count(self) -> int:
        return self.clips

    def caption(self, index: int, alpha: float) -> str:
        """What clip `index` is, under its spectrogram."""
        return f"clip {index + 1} of {self.clips}"


@dataclass(frozen=True)
class Restyle:
    """Audio to audio: a song's region restyled segment by segment (each 5.11 s segment its own
    seed image), walking from `start` to `end` across the segments."""

    start: PromptEnd
    end: PromptEnd
    start_s: float = 0.0  # where the region begins in the song
    duration_s: float = 15.0
    alpha_curve: str = "linear"
    alpha_power: float = 2.0
    crossfade_ms: float = 250.0  # segments overlap by this and fade across it
    stereo: bool = False  # left and right restyled side by side (twice the work), else mono
    # Segments cut on the song's bars (each whole bars, joins on bar lines), at `song_bpm` from
    # `downbeat_s` (a bar line, in the song's seconds); either None: estimated from the song.
    on_bars: bool = False
    song_bpm: float | None = None
    downbeat_s: float | None = None

    def __post_init__(self) -> None:
        if self.song_bpm is not None:
            check_bpm(self.song_bpm)
        if self.downbeat_s is not None and not 0 <= self.downbeat_s < math.inf:
            raise ValueError(f"the downbeat must be at >= 0 s (finite), got {self.downbeat_s} s")
        if not (0 <= self.start_s < math.inf and 0 < self.duration_s < math.inf):
            raise ValueError(
                f"the region must start at >= 0 s and last > 0 s (finite), got {self.start_s} s for "
                f"{self.duration_s} s"
            )
        _check_crossfade(self.crossfade_ms)
        interp.alpha_curve(1, self.alpha_curve, self.alpha_power)

    def prompt_ends(self) -> tuple[PromptEnd, ...]:
        return (self.start, self.end)

    def clip_count(self) -> int:
        """Clips the region is cut into (`render.restyle_segments`: clip-wide, overlapping by the
        crossfade; on bars, at most this many: whole bars from the first bar line on; a song
        shorter than the region gives fewer), both channels counted when stereo."""
        params = SpectrogramParams()
        length = params.num_samples(CLIP_WIDTH)
        overlap = int(self.crossfade_ms / 1000 * params.sample_rate)
        region = int(min(self.duration_s, 1e7) * params.sample_rate)
        segments = max(0, region - length) // (length - overlap) + 1
        if self.on_bars:  # whole bars a segment, at the tempo given (else a typical 120 bpm)
            bar = 4 * 60 / (self.song_bpm or 120.0) * params.sample_rate
            stride = max(1, int((length - overlap) // bar)) * bar
            segments = max(1, int(region // stride))
        return segments * (2 if self.stereo else 1)

    def caption(self, index: int, alpha: float) -> str:
        """What clip `index` is, under its spectrogram."""
        return f"clip {index + 1} · alpha {alpha:.2f}"


@dataclass(frozen=True)
class Settings:
    """How to render: the same for every kind of music."""

    num_inference_steps: int | None = None  # None: the model's recommendation (its riff.json)
    scheduler: str = "default"
    batch_size: int = 4  # clips per UNet batch (x2 for guidance)
    griffin_lim_iters: int = GRIFFIN_LIM_ITERS
    # Phase retrieval of a batch while the next denoises (a worker thread and CUDA stream);
    # None: on CUDA only, since on a CPU both share the same cores.
    overlap: bool | None = None
    # The beat grid (riff.grid): with a tempo, the seed image is its pattern rendered at that
    # tempo, meter and key (riff.seedgen), and every clip is `bars` whole bars. None: as the
    # seed image plays.
    bpm: float | None = None
    meter: str = "4/4"
    bars: int | None = None  # per clip; None: as many as fit one 5.11 s clip
    key: str | None = None  # any of the 24, as typed: "A minor", "Am", "F#", "E flat minor"
    bed: str = "auto"  # under a drum pattern in a key: bass, pad, both, none (auto: both)
    # LoRA adapters (riff.lora) as (folder, scale), applied together; a public server takes
    # only the names of those its operator put in its LoRA folder (`Engine.lora_dir`).
    loras: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        self.grid()  # a bad tempo, meter, key or bar count fails here, before any work
        adapters = tuple(Adapter(str(path), float(scale)) for path, scale in self.loras)  # scales checked
        if len(adapters) > MAX_LORAS:
            raise ValueError(f"at most {MAX_LORAS} LoRAs at once, got {len(adapters)}")
        object.__setattr__(self, "loras", tuple((a.path, a.scale) for a in adapters))  # JSON lists too
        steps = self.num_inference_steps
        if steps is not None and not 1 <= steps <= MAX_STEPS:
            raise ValueError(f"num_inference_steps must be in 1..{MAX_STEPS}, got {steps}")
        if self.scheduler not in SCHEDULERS:
            raise ValueError(f"unknown scheduler {self.scheduler!r}: choose one of {', '.join(SCHEDULERS)}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.griffin_lim_iters < 0:
            raise ValueError(f"griffin_lim_iters must be at least 0, got {self.griffin_lim_iters}")

    def grid(self) -> Grid | None:
        """The beat grid asked for, or None without a tempo.

        Raises:
            ValueError: a bad tempo, meter, key, bed or bar count, or a key or bars without a tempo.
        """
        if self.bed not in BEDS:
            raise ValueError(f"bed must be one of {', '.join(BEDS)}, got {self.bed!r}")
        if self.bpm is None:
            if self.key or self.bars is not None or self.meter != "4/4":
                raise ValueError("a key, meter or bar count needs a tempo: set bpm too")
            return None
        return Grid.parse(self.bpm, self.meter, self.bars, self.key)

    def steps(self, recommended: int) -> int:
        """The steps to run, given the model's recommendation."""
        return recommended if self.num_inference_steps is None else self.num_inference_steps

    def adapters(self) -> list[Adapter]:
        """The LoRAs to apply, in order."""
        return [Adapter(path, scale) for path, scale in self.loras]

    def overlaps(self, device: object) -> bool:
        """Whether phase retrieval overlaps denoising on `device` (a torch.device)."""
        return getattr(device, "type", "cpu") == "cuda" if self.overlap is None else self.overlap


DEFAULT_SETTINGS = Settings()
Music = Walk | Variations | Chain | Loop | Restyle
KINDS: dict[str, type] = {
    "walk": Walk,
    "variations": Variations,
    "chain": Chain,
    "loop": Loop,
    "restyle": Restyle,
}
OLD_KINDS = {"seeds": "variations"}  # names settings files of earlier releases use


def to_dict(music: Music, settings: Settings) -> dict:
    """A request as JSON-ready data: {"kind", "music", "settings"} (see `from_dict`)."""
    kind = next(name for name, cls in KINDS.items() if isinstance(music, cls))
    return {"kind": kind, "music": dataclasses.asdict(music), "settings": dataclasses.asdict(settings)}


def from_dict(data: dict) -> tuple[Music, Settings]:
    """The request `to_dict` wrote; unknown keys are ignored.

    Raises:
        ValueError: an unknown kind, missing prompt ends, or bad values, in one line.
    """
    try:
        cls = KINDS[OLD_KINDS.get(data["kind"], data["kind"])]
        music = _build(cls, data["music"])
        settings = _build(Settings, data.get("settings") or {})
    except (KeyError, TypeError) as error:
        raise ValueError(f"not riff settings: {error!r}") from None
    return music, settings


def _build(cls: type, values: dict) -> Any:
    """A request dataclass from plain data, its prompt ends and tuples rebuilt."""
    fields = {f.name for f in dataclasses.fields(cls)}
    kept = {k: v for k, v in values.items() if k in fields}
    for name in ("start", "end"):
        if name in kept:
            kept[name] = _build(PromptEnd, kept[name])
    if "ends" in kept:
        kept["ends"] = tuple(_build(PromptEnd, end) for end in kept["ends"])
    for name in ("alphas", "seeds"):
        if kept.get(name) is not None:
            kept[name] = tuple(kept[name])
    return cls(**kept)
