"""An endless riff: music that keeps going while someone listens, as riffusion's web app played.

It walks seeds on the current prompt (seed s to s + 1 in `clips_per_seed` alpha steps), moves to
the prompt a listener queues "up next" at the next seed, and continues every clip from the one
before (`Walk.continuation`) so that it never restarts. The track is stitched as it grows
(`TrackStream`: each sample leaves once no later clip can change it) at one steady level
(`StreamLevel`), so it can be streamed without gaps.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from riff.audio.loudness import PEAK_DB, integrated_loudness, true_peak
from riff.audio.stitch import stitch_clips
from riff.request import MAX_SEED, PromptEnd, Walk, _check_crossfade, _check_width
from riff.seeds import DEFAULT_SEED


@dataclass(frozen=True)
class Endless:
    """The first prompt end and how to walk on from it; `hop` says what comes next."""

    end: PromptEnd
    clips_per_seed: int = 4  # alpha steps from one seed to the next
    seed_image: str = DEFAULT_SEED
    width: int | None = None
    crossfade_ms: float = 250.0

    def __post_init__(self) -> None:
        if not 1 <= self.clips_per_seed <= 16:
            raise ValueError(f"clips per seed must be in 1..16, got {self.clips_per_seed}")
        _check_crossfade(self.crossfade_ms)
        _check_width(self.width)

    def hop(self, start: PromptEnd, up_next: str | None = None) -> Walk:
        """The walk from `start` to the next seed, on the prompt up next if one is queued. Its
        last clip stops short of the next end, where the next hop starts."""
        prompt = up_next if up_next and up_next.strip() else start.prompt
        end = dataclasses.replace(start, prompt=prompt, seed=(start.seed + 1) % (MAX_SEED + 1))
        alphas = tuple(j / self.clips_per_seed for j in range(self.clips_per_seed))
        return Walk(
            start,
            end,
            alphas=alphas,
            seed_image=self.seed_image,
            crossfade_ms=self.crossfade_ms,
            width=self.width,
            continuation=True,
        )


class TrackStream:
    """`stitch_clips`, one clip at a time: `push` returns the samples no later clip can change,
    `finish` the rest. The chunks, joined, are the track `stitch_clips` makes of all the clips;
    only the last three clips are kept."""

    def __init__(self, crossfade: int) -> None:
        self.half = crossfade // 2
        self.crossfade = crossfade
        self._window: list[tuple[torch.Tensor, int, int]] = []  # (clip, kept, track offset)
        self._emitted = 0

    def push(self, clip: torch.Tensor, kept: int = 0, next_kept: int | None = None) -> torch.Tensor:
        """Add the next clip (`kept` samples shared with the one before) and return the samples
        now final: up to where the next join's fade begins if the next clip will keep
        `next_kept` samples, else up to where this clip's own join's fade begins."""
        if self._window:
            last, _, offset = self._window[-1]
            start = offset + last.shape[-1] - kept
        else:
            start, kept = 0, 0
        self._window = [*self._window[-2:], (clip, kept, start)]
        if next_kept is not None:
            return self._emit(self._fade_start(start + clip.shape[-1] - next_kept, next_kept))
        return self._emit(self._fade_start(start, kept) if len(self._window) > 1 else 0)

    def finish(self) -> torch.Tensor:
        """The rest of the track, up to the end of the last clip."""
        if not self._window:
            return torch.zeros(1, 0)
        last, _, offset = self._window[-1]
        return self._emit(offset + last.shape[-1])

    def _fade_start(self, offset: int, kept: int) -> int:
        """Where the fade of a join begins, for a clip starting at `offset` keeping `kept`."""
        half = self.half if kept == 0 else min(self.half, kept // 2)
        return offset + kept // 2 - half

    def _emit(self, until: int) -> torch.Tensor:
        origin = self._window[0][2]
        if until <= self._emitted:
            return self._window[-1][0][:, :0]
        track = stitch_clips([c for c, _, _ in self._window], self.crossfade, [k for _, k, _ in self._window])
        chunk = track[:, self._emitted - origin : until - origin]
        self._emitted = until
        return chunk


class StreamLevel:
    """One steady gain for a stream: set from the first chunk to `target_lufs`, and lowered
    (never raised) whenever a chunk's true peak would pass `peak_db`, so nothing clips and the
    level never pumps; ramped down (over at most 50 ms) before the chunk's first loud sample."""

    def __init__(self, sample_rate: int, target_lufs: float = -14.0, peak_db: float = PEAK_DB) -> None:
        self.sample_rate = sample_rate
        self.target_lufs = target_lufs
        self.peak = 10 ** (peak_db / 20)
        self.gain: float | None = None

    def __call__(self, chunk: torch.Tensor) -> torch.Tensor:
        if chunk.shape[-1] == 0:
            return chunk
        if self.gain is None:
            loudness = integrated_loudness(chunk, self.sample_rate)
            if not math.isfinite(loudness):
                return chunk  # silence so far: decide on the first sound
            self.gain = 10 ** ((self.target_lufs - loudness) / 20)
        before = self.gain
        out = chunk * before
        peak = true_peak(out, self.sample_rate)
        if peak <= self.peak:
            return out
        # Lower the gain for good, ramping down from the old one before the first sample the
        # old gain would push too high (a step only if the chunk starts that loud).
        self.gain = before * self.peak / peak
        over = (out.abs() > 0.9 * self.peak).any(dim=0).nonzero()
        ramp = min(int(over[0]) if len(over) else chunk.shape[-1], int(0.05 * self.sample_rate))
        gains = torch.full((chunk.shape[-1],), self.gain, dtype=chunk.dtype)
        gains[:ramp] = torch.linspace(before, self.gain, ramp, dtype=chunk.dtype)
        out = chunk * gains
        peak = true_peak(out, self.sample_rate)
        if peak > self.peak:  # only an overshoot between samples is left: a hair more
            self.gain *= self.peak / peak
            out = out * (self.peak / peak)
        return out


class Listener:
    """What the listener of a stream has heard and has buffered, estimated where it is made:
    playback starts with the first audio released, plays on while audio is buffered, and
    waits when none is, until more is released. `clock` gives seconds (a fake one in tests)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.released = 0.0  # seconds of audio sent to the player
        self.heard = 0.0  # seconds of it played
        self.waited = 0.0  # seconds the player sat with nothing to play
        self.finished = False  # no more audio comes
        self._started: float | None = None
        self._first = 0.0  # seconds in the first release: what the player started with
        self._at = 0.0  # the clock time `heard` and `waited` are up to
        self._empty_since: float | None = None
        self._last = 0.0  # the clock time of the last release

    @property
    def buffered(self) -> float:
        """Seconds released and not yet heard."""
        return self.released - self.heard

    def release(self, seconds: float) -> None:
        """`seconds` more audio went to the player now."""
        now = self.clock()
        if self._started is None:
            if seconds <= 0:
                return  # playback starts with the first sound
            self._started, self._at, self._first = now, now, seconds
        self._advance(now)
        self.released += seconds
        self._last = now
        if seconds > 0:
            self._empty_since = None

    def finish(self) -> None:
        """No more audio comes: the player plays out what it has."""
        self._advance(self.clock())
        self.finished = True

    def speed(self, now: float | None = None) -> float | None:
        """Seconds of music made per second since playback started (1 keeps up): as of the last
        release, or up to `now` (lower while nothing arrives); None before a second's worth."""
        until = self._last if now is None else now
        if self._started is None or until - self._started < 1.0:
            return None
        return (self.released - self._first) / (until - self._started)

    def _advance(self, now: float) -> None:
        if self._started is None:
            return
        elapsed = max(0.0, now - self._at)
        played = min(elapsed, self.buffered)
        self.heard += played
        if played < elapsed and not self.finished:
            self.waited += elapsed - played
            if self._empty_since is None:
                self._empty_since = self._at + played
        self._at = now

    def status(self) -> str:
        """One line: heard, buffered, and whether the player waits or music keeps up with it."""
        if self._started is None:
            return "starting: the first music is on its way"
        now = self.clock()
        self._advance(now)
        heard = f"{self.heard:.0f} s heard"
        if self.finished:
            if self.buffered > 0:
                return f"{heard}, {self.buffered:.0f} s left to play; no more is coming"
            return f"done: all {self.released:.0f} s played"
        # While the player waits, the pace up to now (it only falls until music comes); else
        # as of the last release, so the line does not swing between releases.
        speed = self.speed(now if self._empty_since is not None else None)
        pace = "" if speed is None else f"music comes at {speed:.2f}x the speed it plays"
        if self._empty_since is not None:
            waiting = f"{heard} · stalled {now - self._empty_since:.0f} s: the player waits for music"
            return f"{waiting} ({pace})" if pace else waiting
        ahead = f"{heard}, {self.buffered:.0f} s buffered"
        if speed is None:
            return ahead
        if speed >= 1:
            return f"{ahead} · keeping up: {pace}"
        return (
            f"{ahead} · falling behind: {pace}; the player waits in about {self.buffered / (1 - speed):.0f} s"
        )
