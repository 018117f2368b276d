"""An endless riff's clips joined, as they come, into the chunks its listener streams: each
chunk the stream's next samples at one steady level, with what plays and how far it is."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from riff.endless import Listener
from riff.request import Walk
from riff.track import StreamTrack
from riff.walk import Clip


@dataclass
class Chunk:
    """The next piece of an endless riff."""

    audio: torch.Tensor  # (channels, samples) the stream's next samples, at its steady level
    clip: Clip  # the clip they come from
    walk: Walk  # the hop it belongs to
    music_s: float  # seconds of music streamed so far
    wall_s: float  # seconds spent making it

    def status(self, listener: Listener) -> str:
        """What plays, what its listener has heard and has buffered, and whether the riff keeps
        up with them."""
        walk = self.walk
        change = f" → {walk.end.prompt!r}" if walk.end.prompt != walk.start.prompt else ""
        return (
            f"Playing {walk.start.prompt!r}{change} · seed {walk.start.seed} → {walk.end.seed} · "
            f"{self.music_s:.0f} s of music made · {listener.status()}"
        )


class Chunker:
    """Joins an endless riff's clips into one stream: crossfaded across each join (in the
    shared part of continued clips), at a level that moves slowly, never per clip."""

    def __init__(self, crossfade_ms: float) -> None:
        self.crossfade_ms = crossfade_ms
        self._track: StreamTrack | None = None
        self.music_s = 0.0  # seconds of music streamed so far

    def __call__(self, clip: Clip) -> torch.Tensor:
        """The stream's next samples, (channels, samples): what `clip` adds up to the part the
        clip after it will crossfade or continue (`track.StreamTrack`)."""
        if self._track is None:
            self._track = StreamTrack(self.crossfade_ms, clip.params.sample_rate)
        audio = self._track.push(clip)
        self.music_s += audio.shape[-1] / clip.params.sample_rate
        return audio
