"""Tempo, key, meter and bars: parsing, seeds on demand, exact lengths, the CLI and REST
(tests/audio/test_tags.py: the tags)."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import soundfile as sf
import torch

from riff import seedgen
from riff.audio.tags import wav_chunks
from riff.cli import main
from riff.grid import Grid, Key, clip_columns, parse_key
from riff.render import render
from riff.request import Loop, PromptEnd, Settings, Variations, Walk, from_dict, to_dict
from riff.serve.rest import InferenceInput, walk_request
from riff.track import stitch

SR = 44100
FAST = {"num_inference_steps": 2, "griffin_lim_iters": 2}
# Krumhansl & Kessler's probe-tone profiles (C major, C minor): an estimator riff does not use
# to make its music.
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


@pytest.mark.parametrize(
    "text, name, short",
    [
        ("A minor", "A minor", "Am"),
        ("Am", "A minor", "Am"),
        ("a minor", "A minor", "Am"),
        ("F#", "F# major", "F#"),
        ("Gb major", "F# major", "F#"),
        ("Eb", "Eb major", "Eb"),
        ("E flat minor", "Eb minor", "Ebm"),
        ("c sharp min", "C# minor", "C#m"),
        ("B", "B major", "B"),
    ],
)
def test_keys_parse_as_people_type_them(text, name, short):
    key = parse_key(text)
    assert (key.name, key.short) == (name, short)


@pytest.mark.parametrize(
    "fields, match",
    [
        ({"bpm": 39.9}, "tempo must be 40-240"),
        ({"bpm": 241}, "tempo must be 40-240"),
        ({"bpm": 96, "key": "H minor"}, "unknown key"),
        ({"bpm": 96, "key": "A dorian"}, "unknown key"),
        ({"bpm": 96, "bars": 0}, "bars must be a whole number"),
        ({"bpm": 60, "bars": 6}, "at most 5 bars a clip"),
        ({"bpm": 96, "meter": "5/4"}, "meter must be one of"),
        ({"key": "Am"}, "needs a tempo"),
        ({"bpm": 96, "bed": "strings"}, "bed must be one of"),
    ],
)
def test_bad_grids_fail_in_one_line(fields, match):
    with pytest.raises(ValueError, match=match) as error:
        Settings(**fields)
    assert "\n" not in str(error.value)


def test_the_settings_json_keeps_the_grid():
    music = Variations(PromptEnd("drums"), (0,))
    settings = Settings(bpm=96.5, key="E flat minor", bars=3, meter="3/4", bed="pad")
    back = from_dict(to_dict(music, settings))[1]
    assert back == settings and back.grid() == Grid(96.5, "3/4", 3, Key(3, True))


def test_default_bars_fill_one_clip_and_the_image_is_a_little_wider():
    grid = Grid.parse(96)
    assert grid.bars == 2  # 5 s of 5.11
    columns = clip_columns(grid)
    assert columns % 8 == 0 and (columns - 1) * 441 >= grid.clip_samples(SR) > (columns - 9) * 441


def onsets(samples: np.ndarray, frame: int = 44) -> np.ndarray:
    """Onset times (s) of a clean synthetic signal: 1 ms frames whose energy jumps 8x over the
    mean of the 10 ms before."""
    energy = np.add.reduceat(samples**2, np.arange(0, len(samples), frame)) + 1e-9
    before = np.convolve(energy, np.ones(10) / 10)[: len(energy)]
    jumps = np.flatnonzero(energy[10:] > 8 * before[9:-1]) + 10
    firsts = jumps[np.insert(np.diff(jumps) > 20, 0, True)]  # one per 20 ms
    return firsts * frame / SR


@pytest.mark.parametrize(
    "name, bpm, meter",
    [
        ("og_beat", 80, "4/4"),
        ("og_beat", 143, "3/4"),
        ("agile", 61, "4/4"),
        ("breakbeat", 122, "4/4"),
        ("og_beat", 178, "4/4"),
    ],
)
def test_seed_onsets_sit_on_the_asked_grid_and_on_every_beat(name, bpm, meter):
    grid = Grid.parse(bpm, meter, bars=2)
    samples = seedgen.render(name, grid, "none")
    assert len(samples) == round(grid.clip_samples(SR))  # whole bars, nothing more
    found = onsets(np.tile(samples, 2))  # played round once: the loop's first beat has a before
    step = grid.bar_seconds / grid.steps_per_bar
    off_grid = np.abs(found / step - np.round(found / step)) * step
    # A soft hit's energy builds over a few ms on the tail of a loud one: 5 ms, not 0.
    assert len(found) >= 2 * grid.bars and off_grid.max() < 0.005
    # Every beat starts a sound (a tracker hears the beat, not its half or its 3:2): the 5 ms
    # after it hold twice the energy of the 5 ms before.
    looped, beat, ms = np.tile(samples, 3), 60 / bpm * SR, SR // 200

    def rises(at: float) -> list[float]:
        """Energy in the 5 ms after each time `at` past a beat over the 5 ms before."""
        times = [round(k * beat + at) for k in range(1, round(2 * len(samples) / beat))]
        return [np.sum(looped[t : t + ms] ** 2) / np.sum(looped[t - ms : t] ** 2) for t in times]

    assert min(rises(0)) > 2
    assert min(rises(beat / 4)) < 2  # a 16th after the beat, where no pattern plays: it can fail
    # The same onsets are off a grid 3% slower: the check can fail.
    slower = step * 1.03
    assert (np.abs(found / slower - np.round(found / slower)) * slower).max() > 0.01


def key_of(samples: np.ndarray) -> Key:
    """Krumhansl-Kessler key of a signal's 55-2000 Hz pitch-class profile."""
    spectrum = np.abs(np.fft.rfft(samples))
    freqs = np.fft.rfftfreq(len(samples), 1 / SR)
    band = (freqs > 55) & (freqs < 2000)
    classes = np.round(12 * np.log2(freqs[band] / 440.0) + 9).astype(int) % 12
    profile = np.bincount(classes, weights=spectrum[band], minlength=12)
    scores = {
        Key(t, minor): np.corrcoef(np.roll(p, t), profile)[0, 1]
        for t in range(12)
        for minor, p in ((False, KK_MAJOR), (True, KK_MINOR))
    }
    return max(scores, key=scores.get)


ALL_KEYS = [Key(t, m) for t in range(12) for m in (False, True)]


@pytest.mark.parametrize("key", ALL_KEYS, ids=lambda k: k.short)
def test_the_bed_is_in_the_asked_key(key):
    grid = Grid(100.0, bars=4, key=key)
    loop = seedgen.Loop(4, np.random.default_rng(0), round(grid.clip_samples(SR)), key=key)
    seedgen.bed(loop, "both")
    assert key_of(loop.buf) == key


@pytest.mark.parametrize("key", ALL_KEYS, ids=lambda k: k.short)
def test_pitched_patterns_move_to_the_asked_key(key):
    loop = seedgen.Loop(2, np.random.default_rng(0), 1000, key=key)
    a_minor = [57, 59, 60, 62, 64, 65, 67]  # the scale the patterns are written in
    moved = sorted({round(loop.pitch(m)) % 12 for m in a_minor})
    steps = (0, 2, 3, 5, 7, 8, 10) if key.minor else (0, 2, 4, 5, 7, 9, 11)
    assert moved == sorted((key.tonic + s) % 12 for s in steps)
    assert all(abs(loop.pitch(m) - m) <= 7 for m in a_minor)  # moved the short way


@pytest.mark.parametrize("name, key", [("og_beat", "C major"), ("breakbeat", "Eb minor"), ("halftime", "E")])
def test_drum_patterns_in_a_key_sound_in_it(name, key):
    grid = Grid.parse(100, key=key, bars=4)
    assert key_of(seedgen.render(name, grid)) == parse_key(key)


def test_no_bed_no_key():
    grid = Grid.parse(100, key="C major", bars=4)  # the drums alone read as F# major (a 180 Hz snare)
    assert key_of(seedgen.render("og_beat", grid, "none")) != parse_key("C major")


def test_seeds_are_deterministic_and_cached():
    grid = Grid.parse(117, key="Gm", bars=3)
    first, second = seedgen.seed_image("halftime", grid), seedgen.seed_image("halftime", grid)
    assert first.tobytes() == second.tobytes() and first.size == (clip_columns(grid), 512)
    assert np.array_equal(seedgen.render("halftime", grid), seedgen.render("halftime", grid))
    assert seedgen._cached.cache_info().hits >= 1
    other = seedgen.seed_image("halftime", Grid.parse(118, key="Gm", bars=3))
    assert other.tobytes() != first.tobytes()


def test_six_eight_only_where_the_pattern_has_it():
    assert len(seedgen.render("vibes", Grid.parse(90, "6/8", bars=2))) == round(2 * 3 * 60 / 90 * SR)
    with pytest.raises(ValueError, match="no 6/8 arrangement"):
        seedgen.render("agile", Grid.parse(90, "6/8", bars=2))


@pytest.mark.parametrize(
    "music",
    [
        Variations(PromptEnd("drums"), (0, 1, 2)),
        Loop(PromptEnd("drums"), clips=3),
        Walk(PromptEnd("drums"), PromptEnd("bass", 1), num_clips=3, seed_image="motorway"),
    ],
)
def test_tracks_are_exactly_their_bars_long(tiny_model, music):
    settings = Settings(bpm=227, key="Am", bars=1, **FAST)
    grid = settings.grid()
    clips = list(render(tiny_model, music, settings))
    bounds = grid.clip_bounds(3, SR)  # 46625.11 samples a clip: rounded once, not per clip
    assert [c.waveform.shape[-1] for c in clips] == np.diff(bounds).tolist()
    assert stitch(clips, music).shape[-1] == grid.track_samples(3, SR) == round(3 * 4 * 60 / 227 * SR)


def test_a_tempo_needs_a_pattern(tiny_model, narrow_seed):
    settings = Settings(bpm=200, **FAST)
    with pytest.raises(ValueError, match="bundled pattern"):
        list(render(tiny_model, Variations(PromptEnd("x"), (0,), seed_image=narrow_seed), settings))


def test_the_keep_bass_mask_keeps_the_low_band_and_repaints_the_rest():
    from riff.audio.params import SpectrogramParams
    from riff.seed_images import GRID_MASK, grid_mask, mask_names, mask_tensor

    params = SpectrogramParams()
    column = np.array(grid_mask(16, params))[:, 0]  # row 0 is the top: 10 kHz
    hz = 700 * (10 ** (np.linspace(2595 * np.log10(1 + 10000 / 700), 0, 512) / 2595) - 1)
    assert (column[hz < 250] == 0).all() and (column[hz > 700] == 255).all()
    assert GRID_MASK in mask_names()
    mask = mask_tensor(GRID_MASK, (64, 40))
    assert mask.shape == (1, 1, 64, 40) and mask[..., -1, :].max() == 0 and mask[..., 0, :].min() == 1


def test_a_tempo_without_a_mask_keeps_the_bass(tiny_model):
    """With a tempo and no mask named, the seed's bass band is kept (its tempo and key)."""
    import dataclasses

    from riff.seed_images import GRID_MASK

    settings = Settings(bpm=120, key="D minor", bars=1, **FAST)
    music = Variations(PromptEnd("drums"), (0,))
    default = next(render(tiny_model, music, settings)).waveform
    bass = next(render(tiny_model, dataclasses.replace(music, mask=GRID_MASK), settings)).waveform
    other = next(render(tiny_model, dataclasses.replace(music, mask="keep_high"), settings)).waveform
    assert torch.equal(default, bass) and not torch.equal(default, other)


def test_cli_generate_on_a_grid(capsys, tiny_model_dir, tmp_path):
    argv = ["generate", "jazz piano", "--bpm", "230", "--key", "A minor", "--bars", "2", "-o", tmp_path]
    argv += ["--model", tiny_model_dir, "--num-inference-steps", "2"]
    assert main([str(a) for a in argv]) == 0
    path = tmp_path / "jazz-piano_230bpm_Am.wav"
    assert capsys.readouterr().out.strip() == str(path)
    assert sf.info(str(path)).frames == round(2 * 4 * 60 / 230 * SR)
    assert struct.unpack("<IHHfIHHf", wav_chunks(path)["acid"])[-1] == 230.0


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--bpm", "300"], "tempo must be 40-240"),
        (["--bpm", "90", "--key", "Hm"], "unknown key"),
        (["--bpm", "90", "--bars", "0"], "bars must be"),
        (["--bpm", "90", "--seed-image", "x.png"], "bundled pattern"),
        (["--bpm", "90", "--meter", "6/8", "--seed-image", "agile"], "6/8"),
    ],
)
def test_cli_bad_grids_fail_before_the_model_loads(capsys, tmp_path, extra, match):
    for command in (
        ["generate", "x"],
        ["loop", "x"],
        ["chain", "x", "y"],
        ["interpolate", "--start", "x", "--end", "y"],
    ):
        argv = [*command, "-o", str(tmp_path / "o.wav"), "--model", str(tmp_path / "no-model"), *extra]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert match in err and err.count("\n") == 1


def test_rest_takes_the_grid_and_the_reference_request_still_works():
    base = {"alpha": 0.5, "start": {"prompt": "a"}, "end": {"prompt": "b"}}
    assert walk_request(InferenceInput.model_validate(base))[1].grid() is None
    walk, settings = walk_request(InferenceInput.model_validate({**base, "bpm": 90, "key": "Dm"}))
    assert settings.grid().key == Key(2, True)
    with pytest.raises(ValueError, match="tempo"):
        walk_request(InferenceInput.model_validate({**base, "bpm": 20}))


def test_the_studio_counts_a_grid_clip_s_width_against_the_work_limit(engine):
    music = Variations(PromptEnd("drums"), tuple(range(16)))
    list(engine.clips(Variations(PromptEnd("drums"), (0,)), Settings(bpm=240, bars=1, **FAST)))  # fits
    with pytest.raises(ValueError, match="too much work"):
        engine.clips(music, Settings(num_inference_steps=60, bpm=40, bars=3))
