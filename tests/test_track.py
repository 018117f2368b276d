"""Clips -> track (`riff.track`): joins by the kind of request, the level decided once."""

from __future__ import annotations

import pytest
import torch
from conftest import sine

from riff.audio.loudness import TARGET_LUFS, integrated_loudness, normalize_loudness
from riff.audio.params import SpectrogramParams
from riff.audio.stitch import StreamLevel, TrackStream, stitch_clips
from riff.request import Loop, PromptEnd, Restyle, Walk
from riff.track import StreamTrack, clip_audio, stitch, stitch_restyle, stitch_walk
from riff.walk import Clip, continued_columns

PARAMS = SpectrogramParams()
RATE = PARAMS.sample_rate
A, B = PromptEnd("a"), PromptEnd("b")


def clips(amplitudes=(0.1, 0.4, 0.2), kept: int = 0, columns: int = 64) -> list[Clip]:
    """Clips of `columns` columns, their latents a scale of 8 narrower; each after the first
    keeps `kept` columns of the one before."""
    waves = [a * sine(220.0 * (i + 1), PARAMS.num_samples(columns) / RATE) for i, a in enumerate(amplitudes)]
    return [
        Clip(
            i,
            0.0,
            torch.zeros(3, 512, columns),
            w,
            PARAMS,
            kept if i else 0,
            torch.zeros(4, 64, columns // 8),
        )
        for i, w in enumerate(waves)
    ]


def test_each_kind_is_joined_as_it_asks():
    made = clips()
    length = made[0].waveform.shape[-1]
    fade = int(0.1 * RATE)
    assert stitch(made, Walk(A, B, crossfade_ms=100)).shape[-1] == 3 * length  # joins centred
    assert stitch(made, Restyle(A, B, crossfade_ms=100)).shape[-1] == 3 * length - 2 * fade  # overlaps
    looped = stitch(made, Loop(A, clips=3, crossfade_ms=100))
    raw = stitch_clips([c.waveform for c in made], fade, [0, 0, 0], wrap=True)
    torch.testing.assert_close(looped, normalize_loudness(raw, RATE))
    assert not torch.equal(looped[:, :fade], stitch_walk(made, 100)[:, :fade])  # the wrap fades in


def test_the_level_is_decided_once_for_the_whole_track():
    made = clips((0.05, 0.5, 0.05))
    track = stitch_walk(made, 0)
    assert integrated_loudness(track, RATE) == pytest.approx(TARGET_LUFS, abs=0.3)
    length = made[0].waveform.shape[-1]
    # One gain for all: the loud clip stays ten times the quiet ones.
    quiet, loud = track[:, :length].abs().max(), track[:, length : 2 * length].abs().max()
    assert float(loud / quiet) == pytest.approx(10.0, rel=0.02)
    assert stitch_restyle(made, 0).shape == track.shape
    assert integrated_loudness(stitch_restyle(made, 100), RATE) == pytest.approx(TARGET_LUFS, abs=0.3)


def test_a_clip_alone_is_at_a_tracks_level():
    for clip in clips((0.01, 0.6)):
        assert integrated_loudness(clip_audio(clip), RATE) == pytest.approx(TARGET_LUFS, abs=0.3)


def test_the_stream_is_the_stitched_track_at_one_level():
    made = clips((0.2, 0.3, 0.25, 0.2), kept=16)
    stream = StreamTrack(100, RATE)
    chunks = [stream.push(c) for c in made]
    # What a caller stitching and levelling the stream itself gets, the next clip's keep
    # worked out from the latent: a quarter of its columns.
    by_hand, level = TrackStream(int(0.1 * RATE)), StreamLevel(RATE)
    following = PARAMS.num_samples(continued_columns(8) * 8)
    for clip, chunk in zip(made, chunks):
        expected = level(
            by_hand.push(clip.waveform, PARAMS.num_samples(clip.kept) if clip.kept else 0, following)
        )
        assert torch.equal(chunk, expected)
    joined = torch.cat(chunks, dim=-1)
    raw = stitch_clips([c.waveform for c in made], int(0.1 * RATE), [0, *[PARAMS.num_samples(16)] * 3])
    gain = float(joined.norm() / raw[:, : joined.shape[-1]].norm())
    torch.testing.assert_close(joined, raw[:, : joined.shape[-1]] * gain, rtol=0, atol=1e-5)
    without = Clip(0, 0.0, torch.zeros(3, 512, 64), made[0].waveform, PARAMS)
    with pytest.raises(ValueError, match="latent"):
        StreamTrack(100, RATE).push(without)
