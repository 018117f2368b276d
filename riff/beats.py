"""Renders on a beat grid: the seed image a tempo asks for, and clips cut at the bar.

A clip's image is a little wider than its bars (`riff.grid.clip_columns`: whole columns, a
multiple of 8), and its audio is cut where its bars end. Clip k of a track spans samples
`round(k x c)` to `round((k + 1) x c)`, c the unrounded samples of a clip's bars, so the track
is exactly its bars long, rounded once, and every join sits on a bar line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from riff import seedgen
from riff.audio.params import SpectrogramParams
from riff.grid import MAX_BPM, MIN_BPM, Grid
from riff.seed_images import REFERENCE_SEEDS

# riff.request.Settings; typed loosely here so this module stays below the request layer.
SettingsLike = object


def grid_seed(name: str, grid: Grid, bed: str = "auto", width: int | None = None) -> Image.Image:
    """The seed image of bundled pattern `name` (or a reference id) on `grid`.

    Raises:
        ValueError: a seed that is not a bundled pattern, a width set beside the tempo, or a
            meter the pattern has no arrangement for.
    """
    return seedgen.seed_image(check_seed(name, grid, width), grid, bed)


def check_seed(name: str, grid: Grid | None, width: int | None = None) -> str:
    """The pattern a request on `grid` renders its seed from (nothing rendered: a check before
    any work); `name` itself without a grid.

    Raises:
        ValueError: as `grid_seed`.
    """
    if grid is None:
        return name
    if width is not None:
        raise ValueError("a tempo sets the clip's width from its bars: leave the width unset")
    pattern = REFERENCE_SEEDS.get(name, name)
    if pattern not in seedgen.PATTERNS:
        raise ValueError(
            f"a tempo needs a bundled pattern as seed image ({', '.join(seedgen.PATTERNS)}), got {name!r}"
        )
    if grid.meter == "6/8" and not seedgen.PATTERNS[pattern].six_eight:
        six = ", ".join(n for n, p in seedgen.PATTERNS.items() if p.six_eight)
        raise ValueError(f"{pattern} has no 6/8 arrangement: use 4/4, 3/4 or one of {six}")
    return pattern


def clip_length(grid: Grid, index: int, sample_rate: int) -> int:
    """Samples of clip `index` of a track on `grid` (its share of the once-rounded length)."""
    bounds = grid.clip_bounds(index + 1, sample_rate)
    return bounds[index + 1] - bounds[index]


def on_bars(
    waveform: torch.Tensor,
    index: int,
    settings: SettingsLike,
    params: SpectrogramParams,
    lead: int = 0,
) -> torch.Tensor:
    """Clip `index`'s audio (channels, samples) cut at its bar lines when `settings` has a
    tempo: its bars from `lead` on (samples of its image before its first bar line); as it is
    otherwise."""
    grid = settings.grid()  # type: ignore[attr-defined]
    waveform = waveform.float().cpu()
    if grid is None:
        return waveform
    length = clip_length(grid, index, params.sample_rate)
    if waveform.shape[-1] < lead + length:
        raise ValueError(f"a clip of {waveform.shape[-1]} samples is shorter than its bars ({length})")
    return waveform[..., lead : lead + length].contiguous()


@dataclass(frozen=True)
class Continued:
    """A continued clip on a grid. Its image starts `lead` samples before its first bar line:
    the clip before's last `kept` latent columns, then the seed's loop from `phase` samples
    past a bar line, `width` latent columns in all. Its audio is cut from `lead` on."""

    lead: int
    width: int
    phase: int
    kept: int


def continued(
    grid: Grid, before: tuple[int, int, int], length: int, kept: int, params: SpectrogramParams, factor: int
) -> Continued:
    """How a clip of `length` samples of bars continues the one `before` (its lead, latent
    width and samples of bars) on one beat grid: its kept columns are the clip before's end,
    so its image starts where they start, and its seed part is the loop at the phase the grid
    has there. Its image is wider than a first clip's by about the kept part.

    Raises:
        ValueError: the kept columns do not reach back to the clip before's last bar line.
    """
    lead_before, width_before, length_before = before
    column = factor * params.hop_length  # samples a latent column spans
    lead = lead_before + length_before - (width_before - kept) * column
    if lead < 0:
        raise ValueError(f"a continued clip keeps {kept} latent columns, too few to reach its bar line")
    width = -(-((lead + length) // params.hop_length + 2) // factor)
    loop = round(grid.clip_samples(params.sample_rate))
    return Continued(lead, width, (kept * column - lead) % loop, kept)


def continued_seed(name: str, grid: Grid, bed: str, step: Continued, factor: int) -> Image.Image:
    """The seed part of a continued clip's image: the loop from `step.phase` on, as many
    columns as the clip's latent width less the kept ones."""
    pattern = check_seed(name, grid)
    return seedgen.seed_image_from(pattern, grid, bed, step.phase, (step.width - step.kept) * factor)


# --- A song's own bars: tempo and first downbeat from its onsets (audio to audio on bars) ---

ONSET_HOP = 220  # 5 ms frames at 44.1 kHz: the estimate's time resolution before refinement
BASS_HZ = 200.0  # below this, kicks and bass: where a bar's first beat is loudest
HARMONY_HZ = 600.0  # below this, bass notes and chords: they change on bar lines


@dataclass(frozen=True)
class Beat:
    """A song's tempo and where its bars start: bar lines at `downbeat_s + k x bar_s`."""

    bpm: float
    downbeat_s: float  # the first bar line at or after the song's start
    beats_per_bar: int = 4

    @property
    def bar_s(self) -> float:
        return self.beats_per_bar * 60.0 / self.bpm


def onset_envelopes(
    waveform: torch.Tensor, sample_rate: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(all-band, bass-band) spectral flux of log magnitudes (how much louder each frame is
    than the one before, half-wave rectified: Bello et al. 2005), the log magnitudes below
    `HARMONY_HZ` (bins, frames), and the frame rate."""
    mono = waveform.float().reshape(-1, waveform.shape[-1]).mean(0)
    hop = max(1, round(ONSET_HOP * sample_rate / 44100))
    n_fft = 4 * hop * 2
    spec = torch.stft(mono, n_fft, hop, window=torch.hann_window(n_fft), center=True, return_complex=True)
    logmag = torch.log1p(1000 * spec.abs()).numpy()
    flux = np.maximum(np.diff(logmag, axis=1, prepend=logmag[:, :1]), 0)
    bass = int(BASS_HZ * n_fft / sample_rate) + 1
    low = logmag[: int(HARMONY_HZ * n_fft / sample_rate) + 1]
    return flux.mean(0), flux[:bass].mean(0), low, sample_rate / hop


def estimate_beat(
    waveform: torch.Tensor, sample_rate: int, beats_per_bar: int = 4, prior_bpm: float = 120.0
) -> Beat:
    """A song's tempo (40-240 bpm) and first downbeat, from the autocorrelation of its onsets.

    The tempo is the autocorrelation lag that best explains the onsets, weighted by a log-normal
    prior around `prior_bpm` (one octave wide, as common trackers do against half and double
    readings), then refined by a comb over the whole song. The downbeat is the beat of the bar
    where the low spectrum changes most (bass notes and chords change on bar lines) and whose
    bass onsets (kicks) are strongest, the two weighed alike.

    Args:
        waveform: (channels, samples) or (samples,).
    Raises:
        ValueError: a song too short (under four beats at 40 bpm) or without onsets.
    """
    env, bass, low, rate = onset_envelopes(waveform, sample_rate)
    if len(env) < 6 * rate or env.max() <= 0:
        raise ValueError("the song needs at least 6 s with clear onsets to find its tempo")
    env = env - np.convolve(env, np.ones(int(rate)) / int(rate), mode="same")  # local mean out
    env = np.maximum(env, 0)
    ac = np.correlate(env, env, mode="full")[len(env) - 1 :]
    lags = np.arange(int(rate * 60 / MAX_BPM), int(rate * 60 / MIN_BPM) + 1)
    bpms = 60 * rate / lags
    score = np.log1p(1e6 * ac[lags] / ac[0]) - 0.5 * np.log2(bpms / prior_bpm) ** 2
    bpm = _refine(env, rate, float(bpms[np.argmax(score)]))
    period = 60 * rate / bpm
    beats = np.arange(0, len(env) - 1, period)
    phases = [_comb(env, beats + p) for p in np.arange(0, period, 0.25)]
    phase = float(np.argmax(phases)) * 0.25
    bar = beats_per_bar * period
    kicks = np.array(
        [_comb(bass, np.arange(phase + b * period, len(env) - 1, bar)) for b in range(beats_per_bar)]
    )
    change = _changes(low, phase, period, beats_per_bar)
    firsts = kicks / (kicks.mean() + 1e-9) + change / (change.mean() + 1e-9)
    downbeat = (phase + int(np.argmax(firsts)) * period) % bar
    return Beat(round(bpm, 2), downbeat / rate, beats_per_bar)


def _changes(low: np.ndarray, phase: float, period: float, beats_per_bar: int) -> np.ndarray:
    """How much the low spectrum changes into each beat of the bar: (beats_per_bar,), the mean
    over the song of the distance between a beat's mean spectrum and the one before's."""
    starts = np.arange(phase, low.shape[1] - period, period).astype(int)
    means = np.stack([low[:, s : s + int(period)].mean(1) for s in starts])
    jumps = np.r_[0.0, np.linalg.norm(np.diff(means, axis=0), axis=1)]
    return np.array([jumps[b::beats_per_bar][b == 0 :].mean() for b in range(beats_per_bar)])


def _comb(env: np.ndarray, frames: np.ndarray) -> float:
    """Mean onset strength at (fractional) `frames`, the best of each frame and its neighbours."""
    frames = frames[frames < len(env) - 1]
    near = np.stack([np.interp(frames + d, np.arange(len(env)), env) for d in (-1, 0, 1)])
    return float(near.max(0).mean()) if len(frames) else 0.0


def _refine(env: np.ndarray, rate: float, bpm: float) -> float:
    """The tempo within 3% of `bpm` whose beats, at their best phase, land on the most onset."""
    best, best_score = bpm, -1.0
    for candidate in bpm * np.linspace(0.97, 1.03, 121):
        period = 60 * rate / candidate
        beats = np.arange(0, len(env) - 1 - period, period)
        score = max(_comb(env, beats + p) for p in np.linspace(0, period, 24, endpoint=False))
        if score > best_score:
            best, best_score = float(candidate), score
    return best


def bar_cuts(beat: Beat, start_s: float, length: int, sample_rate: int, most: int) -> tuple[int, list[int]]:
    """Where a region cut on the song's bars is cut: (samples a segment spans, segment starts
    relative to the region start) for segments of as many whole bars as fit `most` samples, the
    first starting on the first bar line in the region. Raises ValueError if not one fits."""
    bar = beat.bar_s * sample_rate
    bars = int(most // bar)
    if bars < 1:
        raise ValueError(f"a bar at {beat.bpm:g} bpm is longer than a segment: restyle without bars")
    first = (beat.downbeat_s - start_s) % beat.bar_s * sample_rate
    stride = bars * bar
    starts = []
    k = 0
    while round(first + (k + 1) * stride) <= length:
        starts.append(round(first + k * stride))
        k += 1
    if not starts:
        raise ValueError(f"the region holds no {bars} whole bars at {beat.bpm:g} bpm: make it longer")
    return round(stride), starts


def bar_segments(
    song: torch.Tensor,
    start_s: float,
    region: int,
    overlap: int,
    params: SpectrogramParams,
    most: int,
    beat: Beat,
) -> tuple[list[torch.Tensor], int]:
    """A song's region cut on its bars: (segments, samples each clip keeps). Each segment is
    whole bars plus `overlap`, centred on its bar lines (the crossfade straddles each one), and
    padded with the song after it to whole latent columns (a multiple of 8 columns); its clip is
    cut back to the kept samples before the segments are crossfaded together.

    Args:
        song: (channels, samples); region: samples of it from `start_s` on that are restyled.
        most: samples a segment may span, overlap included.
    """
    first = int(start_s * params.sample_rate)
    stride, starts = bar_cuts(beat, start_s, region, params.sample_rate, most - overlap)
    keep = stride + overlap
    columns = -(-params.width_for(keep) // 8) * 8
    span = params.num_samples(columns)
    half = overlap // 2
    segments = []
    for s in starts:
        at = max(0, first + s - half)
        piece = song[:, at : at + span]
        segments.append(torch.nn.functional.pad(piece, (0, span - piece.shape[-1])))
    return segments, keep


def song_beat(song: torch.Tensor, sample_rate: int, bpm: float | None, downbeat_s: float | None) -> Beat:
    """The song's beat as given, what is not given estimated (`estimate_beat`)."""
    if bpm is not None and downbeat_s is not None:
        return Beat(float(bpm), float(downbeat_s))
    found = estimate_beat(song, sample_rate)
    return Beat(
        found.bpm if bpm is None else float(bpm), found.downbeat_s if downbeat_s is None else downbeat_s
    )
