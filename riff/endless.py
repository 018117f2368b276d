"""An endless riff: music that keeps going while someone listens, as riffusion's web app played.

It walks seeds on the current prompt (seed s to s + 1 in `clips_per_seed` alpha steps), moves to
the prompt a listener queues "up next" at the next seed, and continues every clip from the one
before (`Walk.continuation`) so that it never restarts. The track is stitched as it grows, at
one steady level (`riff.track.StreamTrack`), so it can be streamed without gaps.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

# riff.serve.engine imports the stream's stitcher and level from here until it uses riff.track.
from riff.request import MAX_SEED, PromptEnd, Walk, _check_crossfade, _check_width
from riff.seed_images import DEFAULT_SEED


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
