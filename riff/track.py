"""Clips -> audio -> track: the one place that joins a request's clips by its kind and decides
the level, once, for the whole track (never clip by clip, so relative levels survive).

A walk, chain, loop or set of seeds centres its crossfades on each join (in the shared part of
continued clips) and a loop crossfades its wrap too (`stitch_walk`); a restyle fades across its
segments' shared overlap (`stitch_restyle`); the endless riff's track grows chunk by chunk at
one steady level (`StreamTrack`); a clip heard on its own is at the level a track is
(`clip_audio`).
"""

from __future__ import annotations

import torch

from riff.audio.loudness import TARGET_LUFS, normalize_loudness
from riff.audio.stitch import StreamLevel, TrackStream, stitch_clips, stitch_overlapping
from riff.request import Loop, Music, Restyle
from riff.walk import Clip, continued_columns


def stitch(clips: list[Clip], music: Music) -> torch.Tensor:
    """A request's track, joined as its kind asks and set to the target level."""
    if isinstance(music, Restyle):
        return stitch_restyle(clips, music.crossfade_ms)
    return stitch_walk(clips, music.crossfade_ms, wrap=isinstance(music, Loop))


def stitch_walk(
    clips: list[Clip], crossfade_ms: float, target_lufs: float = TARGET_LUFS, wrap: bool = False
) -> torch.Tensor:
    """The walk's track: clips on one beat grid with centred equal-power crossfades (`wrap`:
    the last clip fades into the first too), loudness normalised once over the whole track."""
    params = clips[0].params
    kept = [params.num_samples(c.kept) if c.kept else 0 for c in clips]
    track = stitch_clips([c.waveform for c in clips], _samples(crossfade_ms, params.sample_rate), kept, wrap)
    return normalize_loudness(track, params.sample_rate, target_lufs)


def stitch_restyle(clips: list[Clip], crossfade_ms: float, target_lufs: float = TARGET_LUFS) -> torch.Tensor:
    """The restyled track: segments crossfaded across their shared overlap, normalised once."""
    sample_rate = clips[0].params.sample_rate
    track = stitch_overlapping([c.waveform for c in clips], _samples(crossfade_ms, sample_rate))
    return normalize_loudness(track, sample_rate, target_lufs)


def clip_audio(clip: Clip, target_lufs: float = TARGET_LUFS) -> torch.Tensor:
    """One clip heard on its own (its own file, an API's one-clip answer): at the level a track
    is set to, so it sounds as loud as the tracks do."""
    return normalize_loudness(clip.waveform, clip.params.sample_rate, target_lufs)


class StreamTrack:
    """The endless riff's track as it grows: `push` each clip (every one after the first
    continuing the one before, `Walk.continuation`) and get the samples no later clip can
    change, at one steady level. The chunks, joined, are `stitch_walk`'s track but for the level,
    which is set from the first sound and only lowered after (`StreamLevel`)."""

    def __init__(self, crossfade_ms: float, sample_rate: int, target_lufs: float = TARGET_LUFS) -> None:
        self._stream = TrackStream(_samples(crossfade_ms, sample_rate))
        self._level = StreamLevel(sample_rate, target_lufs)

    def push(self, clip: Clip) -> torch.Tensor:
        """(channels, samples) now final, the next clip expected to continue this one."""
        params = clip.params
        kept = params.num_samples(clip.kept) if clip.kept else 0
        return self._level(self._stream.push(clip.waveform, kept, params.num_samples(_next_kept(clip))))


def _next_kept(clip: Clip) -> int:
    """Columns the clip after `clip` keeps from it when it continues it (`continued_columns`)."""
    if clip.latent is None:
        raise ValueError("a streamed clip needs its latent, to know what the next clip keeps of it")
    latent_width = clip.latent.shape[-1]
    return continued_columns(latent_width) * (clip.pixels.shape[-1] // latent_width)


def _samples(crossfade_ms: float, sample_rate: int) -> int:
    return int(crossfade_ms / 1000 * sample_rate)
