"""Joining clips into one track with equal-power crossfades, at once or as a stream grows
(`TrackStream`, at one steady level: `StreamLevel`)."""

from __future__ import annotations

import math

import torch

from riff.audio.loudness import PEAK_DB, TARGET_LUFS, integrated_loudness, true_peak


def equal_power_fades(length: int, device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Fade-out and fade-in gains over `length` samples with out^2 + in^2 = 1."""
    phase = (torch.arange(length, dtype=torch.float32, device=device) + 0.5) / length * (math.pi / 2)
    return torch.cos(phase), torch.sin(phase)


def stitch_loops(clips: list[torch.Tensor], crossfade: int) -> torch.Tensor:
    """Join loop-shaped clips (each one a whole number of bars) on an unbroken beat grid.

    Every clip keeps exactly its own length in the track. Each join is a crossfade of
    `crossfade` samples centred on the boundary: the outgoing clip continues into its own
    beginning (it is a loop) while the incoming one rises out of its own end, so the tempo never
    shifts, unlike an overlap that pulls each clip earlier by the fade length.

    Args:
        clips: (channels, samples) each, same channels.
        crossfade: fade length in samples; 0 gives hard cuts.
    Returns:
        (channels, sum of clip lengths).
    """
    return stitch_clips(clips, crossfade)


def stitch_clips(
    clips: list[torch.Tensor], crossfade: int, kept: list[int] | None = None, wrap: bool = False
) -> torch.Tensor:
    """`stitch_loops`, for clips that may continue each other and tracks that may loop.

    A continued clip starts with `kept` samples that repeat the end of the clip before (the
    continuation's kept part, decoded again): it starts that much earlier in the track, and the
    join is cut at the middle of the shared part, with a crossfade no longer than half of it.
    With `wrap`, the track is a loop: the last clip fades into the first as at any other join,
    and what the fades put past either end folds onto the other, so the file repeats seamlessly.

    Args:
        kept: samples each clip shares with the one before (the first's is ignored); None: 0s.
    Returns:
        (channels, sum of clip lengths - sum of kept samples after the first clip).
    """
    _check(clips, crossfade)
    kept = [0, *(kept or [0] * len(clips))[1:]]
    half = crossfade // 2
    offsets = [0]
    for clip, k in zip(clips[:-1], kept[1:]):
        if not 0 <= k < clip.shape[-1]:
            raise ValueError(f"a clip cannot keep {k} samples of one {clip.shape[-1]} long")
        offsets.append(offsets[-1] + clip.shape[-1] - k)
    total = offsets[-1] + clips[-1].shape[-1]
    # Join i, before clip i: its centre in the track and its half-width.
    centres = [o + k // 2 for o, k in zip(offsets, kept)] + [total]
    halves = [half if k == 0 else min(half, k // 2) for k in kept] + [half]
    track = torch.zeros(clips[0].shape[0], total + 2 * half, dtype=clips[0].dtype, device=clips[0].device)
    for i, clip in enumerate(clips):
        if half > clip.shape[-1]:
            raise ValueError(f"crossfade of {crossfade} samples is longer than a clip ({clip.shape[-1]})")
        # The clip wrapped around by `half` on each side: [end tail, clip, head], from track
        # time offsets[i] - half (track index offsets[i]).
        piece = torch.cat([clip[:, clip.shape[-1] - half :], clip, clip[:, :half]], dim=-1)
        gain = torch.ones(piece.shape[-1], dtype=piece.dtype, device=piece.device)
        start = offsets[i] - half
        if i > 0 or wrap:
            h, c = halves[i], centres[i] - start
            gain[: c - h] = 0
            gain[c - h : c + h] = equal_power_fades(2 * h, piece.device)[1]
        else:
            gain[:half] = 0  # nothing before the first clip
        if i < len(clips) - 1 or wrap:
            h, c = halves[i + 1], centres[i + 1] - start
            gain[c - h : c + h] = equal_power_fades(2 * h, piece.device)[0]
            gain[c + h :] = 0
        else:
            gain[piece.shape[-1] - half :] = 0
        track[:, offsets[i] : offsets[i] + piece.shape[-1]] += piece * gain
    if wrap and half:
        track[:, total : total + half] += track[:, :half]  # before the start: the end's fade-in
        track[:, half : 2 * half] += track[:, total + half :]  # past the end: the start's fade-out
    return track[:, half : half + total]


def stitch_overlapping(clips: list[torch.Tensor], crossfade: int) -> torch.Tensor:
    """Join clips whose last `crossfade` samples cover the same moment as the next clip's first
    ones (cut from a source with that overlap), crossfading across it.

    Returns:
        (channels, sum of clip lengths - (len(clips) - 1) * crossfade).
    """
    _check(clips, crossfade)
    fade_out, fade_in = equal_power_fades(crossfade, clips[0].device)
    track = clips[0]
    for clip in clips[1:]:
        if crossfade > min(track.shape[-1], clip.shape[-1]):
            raise ValueError(f"crossfade of {crossfade} samples is longer than a clip ({clip.shape[-1]})")
        if crossfade == 0:
            track = torch.cat([track, clip], dim=-1)
            continue
        joint = track[:, -crossfade:] * fade_out + clip[:, :crossfade] * fade_in
        track = torch.cat([track[:, :-crossfade], joint, clip[:, crossfade:]], dim=-1)
    return track


def _check(clips: list[torch.Tensor], crossfade: int) -> None:
    if not clips:
        raise ValueError("nothing to stitch: no clips")
    if crossfade < 0:
        raise ValueError(f"crossfade must be >= 0 samples, got {crossfade}")
    if len({c.shape[0] for c in clips}) != 1:
        raise ValueError(f"clips differ in channels: {[tuple(c.shape) for c in clips]}")


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

    def __init__(self, sample_rate: int, target_lufs: float = TARGET_LUFS, peak_db: float = PEAK_DB) -> None:
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
