"""Renders on a beat grid: the seed image a tempo asks for, and clips cut at the bar.

A clip's image is a little wider than its bars (`riff.grid.clip_columns`: whole columns, a
multiple of 8), and its audio is cut where its bars end. Clip k of a track spans samples
`round(k x c)` to `round((k + 1) x c)`, c the unrounded samples of a clip's bars, so the track
is exactly its bars long, rounded once, and every join sits on a bar line.
"""

from __future__ import annotations

import torch
from PIL import Image

from riff import seedgen
from riff.audio.params import SpectrogramParams
from riff.grid import Grid
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
    waveform: torch.Tensor, index: int, settings: SettingsLike, params: SpectrogramParams
) -> torch.Tensor:
    """Clip `index`'s audio (channels, samples) cut at its last bar line when `settings` has a
    tempo; as it is otherwise."""
    grid = settings.grid()  # type: ignore[attr-defined]
    waveform = waveform.float().cpu()
    if grid is None:
        return waveform
    length = clip_length(grid, index, params.sample_rate)
    if waveform.shape[-1] < length:
        raise ValueError(f"a clip of {waveform.shape[-1]} samples is shorter than its bars ({length})")
    return waveform[..., :length].contiguous()


def check_continuation(continuation: bool, settings: SettingsLike) -> None:
    """Raises ValueError for continuation on a grid: a continued clip's kept part is latent
    columns (80 ms each), which bar lines do not fall on."""
    if continuation and settings.grid() is not None:  # type: ignore[attr-defined]
        raise ValueError("continuation does not keep a bar grid yet: turn off continuation or the tempo")
