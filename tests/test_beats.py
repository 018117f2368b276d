"""A song's own bars: tempo and downbeat estimated from its onsets, and a restyle cut on them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from riff import seedgen
from riff.audio.params import SpectrogramParams
from riff.beats import Beat, bar_segments, estimate_beat, song_beat
from riff.grid import Grid
from riff.request import PromptEnd, Restyle, Settings

SR = 44100
FAST = Settings(num_inference_steps=4, griffin_lim_iters=2)


def drum_track(name: str, bpm: float, offset_s: float, loops: int = 5) -> torch.Tensor:
    """A synthesised drum loop played `loops` times after `offset_s` of silence: (1, samples)."""
    loop = seedgen.render(name, Grid.parse(bpm, key="A minor", bars=2))
    return torch.from_numpy(np.concatenate([np.zeros(int(offset_s * SR)), np.tile(loop, loops)])).float()[
        None
    ]


def bar_error(found: Beat, downbeat_s: float) -> float:
    """Seconds from `downbeat_s` to the nearest of `found`'s bar lines."""
    return abs((found.downbeat_s - downbeat_s + found.bar_s / 2) % found.bar_s - found.bar_s / 2)


@pytest.mark.parametrize(
    "name, bpm, offset", [("og_beat", 96, 0.37), ("motorway", 124, 1.1), ("vibes", 72, 0.9)]
)
def test_the_tempo_and_first_downbeat_of_a_drum_track(name, bpm, offset):
    found = estimate_beat(drum_track(name, bpm, offset), SR)
    assert abs(found.bpm / bpm - 1) < 0.005
    assert bar_error(found, offset) < 0.025
    assert found.downbeat_s < found.bar_s  # the first bar line in the song
    # Told a wrong downbeat (one beat late), the check fails: it judges the bar, not the beat.
    assert bar_error(found, offset + 60 / bpm) > 0.5 * 60 / bpm


def test_a_slower_track_reads_slower():
    assert (
        estimate_beat(drum_track("og_beat", 80, 0.0), SR).bpm
        < estimate_beat(drum_track("og_beat", 88, 0.0), SR).bpm
    )


def test_silence_has_no_tempo():
    with pytest.raises(ValueError, match="clear onsets"):
        estimate_beat(torch.zeros(1, 10 * SR), SR)


def test_what_is_given_is_kept():
    song = drum_track("og_beat", 96, 0.37)
    assert song_beat(song, SR, 100.0, 0.5) == Beat(100.0, 0.5)
    given = song_beat(song, SR, None, 0.5)
    assert given.downbeat_s == 0.5 and abs(given.bpm - 96) < 0.5


def test_segments_cut_on_the_song_s_bars():
    params = SpectrogramParams()
    beat = Beat(100.0, 0.37)
    song = drum_track("og_beat", 100, 0.37, loops=6)
    overlap = int(0.25 * SR)
    segments, keep = bar_segments(song, 0.0, song.shape[-1], overlap, params, params.num_samples(512), beat)
    bar = beat.bar_s * SR
    assert keep == round(2 * bar) + overlap  # two bars of 2.4 s and the overlap fit 5.11 s
    assert len(segments) == int((song.shape[-1] - 0.37 * SR) // (2 * bar))
    columns = params.width_for(segments[0].shape[-1])
    assert columns % 8 == 0 and segments[0].shape[-1] >= keep
    # Each segment starts half the overlap before a bar line: the song's own bar, found again.
    for k, segment in enumerate(segments[:3]):
        start = round(0.37 * SR + k * 2 * bar) - overlap // 2
        torch.testing.assert_close(segment[:, :keep], song[:, start : start + keep])


def test_a_restyle_on_bars_joins_on_bar_lines(tiny_model):
    from riff.render import render_restyle
    from riff.track import stitch_restyle

    song = drum_track("og_beat", 100, 0.37, loops=4)
    restyle = Restyle(PromptEnd("a"), PromptEnd("b", 1), duration_s=15.0, on_bars=True, song_bpm=100.0)
    clips = list(render_restyle(tiny_model, song, restyle, FAST))
    bar = 2.4 * SR
    overlap = int(0.25 * SR)
    assert len(clips) == restyle.clip_count() == 3
    assert all(c.waveform.shape[-1] == round(2 * bar) + overlap for c in clips)
    assert stitch_restyle(clips, 250).shape[-1] == 3 * round(2 * bar) + overlap


@pytest.mark.parametrize("fields, match", [({"song_bpm": 300}, "tempo"), ({"downbeat_s": -1.0}, "downbeat")])
def test_bad_song_beats_fail_in_one_line(fields, match):
    with pytest.raises(ValueError, match=match):
        Restyle(PromptEnd("a"), PromptEnd("b"), on_bars=True, **fields)


def test_continued_clips_keep_one_grid():
    """Each continued clip's image starts where the kept columns of the one before start, its
    audio is cut from its first bar line, and its seed part is the loop at the grid's phase."""
    from riff.beats import continued

    params = SpectrogramParams()
    grid = Grid.parse(113, bars=2)
    column, loop = 8 * params.hop_length, round(grid.clip_samples(SR))
    bounds = grid.clip_bounds(6, SR)
    image_start, before = 0, (0, 56, bounds[1])  # the first clip: 448 columns, no lead
    for i in range(1, 6):
        kept = 14
        step = continued(grid, before, bounds[i + 1] - bounds[i], kept, params, 8)
        image_start += (before[1] - kept) * column  # the kept columns are the clip before's end
        assert image_start + step.lead == bounds[i]  # its bars start on the track's bar line
        assert (step.width * 8 - 1) * params.hop_length >= step.lead + bounds[i + 1] - bounds[i]
        assert (image_start + kept * column - step.phase - bounds[i]) % loop in (0, loop - 1, 1)
        before = (step.lead, step.width, bounds[i + 1] - bounds[i])
    with pytest.raises(ValueError, match="too few"):
        continued(grid, (0, 56, bounds[1]), bounds[2] - bounds[1], 0, params, 8)


@pytest.mark.parametrize("kind", ["walk", "chain"])
def test_a_continued_walk_on_a_grid_is_exactly_its_bars(tiny_model, kind):
    from riff.render import render
    from riff.request import Chain, Walk
    from riff.track import stitch

    settings = Settings(num_inference_steps=2, griffin_lim_iters=2, bpm=200, bars=1, key="Dm")
    ends = (PromptEnd("x"), PromptEnd("y", 1))
    walk = (
        Walk(*ends, num_clips=3, seed_image="og_beat", continuation=True)
        if kind == "walk"
        else Chain(ends, clips_per_hop=3, seed_image="og_beat", continuation=True)
    )
    clips = list(render(tiny_model, walk, settings))
    assert len(clips) == (3 if kind == "walk" else 4)  # a chain ends on its last end
    bounds = settings.grid().clip_bounds(len(clips), SR)
    assert [c.waveform.shape[-1] for c in clips] == np.diff(bounds).tolist()
    assert stitch(clips, walk).shape[-1] == bounds[-1]
    assert clips[0].lead == 0 and all(c.lead > 0 for c in clips[1:])
    kept = clips[0].latent.shape[-1] // 4  # a quarter of the first clip's latent columns
    for before, after in zip(clips, clips[1:]):
        # The kept part is the clip before's end, untouched; the clip is wider by about it.
        torch.testing.assert_close(after.latent[..., :kept], before.latent[..., -kept:], atol=1e-5, rtol=0)
        assert after.latent.shape[-1] > clips[0].latent.shape[-1]


def test_the_endless_riff_plays_on_a_grid(tiny_model, tmp_path):
    import itertools

    from riff.endless import Endless
    from riff.serve.engine import Engine

    engine = Engine(tiny_model, root=tmp_path)
    settings = Settings(num_inference_steps=2, griffin_lim_iters=2, bpm=200, bars=1)
    riff = Endless(PromptEnd("piano", seed=3), clips_per_seed=2, seed_image="og_beat", crossfade_ms=20)
    chunks = list(itertools.islice(engine.endless(riff, settings, lambda: None), 4))
    bar = round(4 * 60 / 200 * SR)
    assert [c.clip.waveform.shape[-1] for c in chunks] == [bar] * 4  # every clip one bar
    assert [c.clip.lead > 0 for c in chunks] == [False, True, True, True]  # each continues the last
