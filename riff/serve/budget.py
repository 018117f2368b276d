"""What a request costs on this machine, in seconds and megabytes, before any work is done.

Counts (clips, steps, columns) say how much a request asks; how long that takes depends on the
machine. A `Calibration` measures the machine once, on the model's device (one clip at two step
counts, so the per-step and the per-clip costs part); `estimate` scales it to a request by its
clips, steps and width, and `Budget.check` refuses, in one line saying what would fit, what
would pass the studio's limits (`Limits.request_s`, `Limits.request_mb`).
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from riff.audio.params import CLIP_SECONDS, CLIP_WIDTH, SpectrogramParams
from riff.models import Model
from riff.render import render, segment_latents
from riff.request import PromptEnd, Settings, Variations

# How far above its level before a burst of heavy requests the server's resident memory may
# stay once they are done (heap trimmed): caches kept in bytes (the codec's, 64 MB each) and
# allocator slack. bench/bench_budget.py measures it ("burst").
MEMORY_MARGIN_MB = 300


@dataclass(frozen=True)
class Calibration:
    """One machine's costs for a 512-column clip, measured on its device."""

    step_s: float  # one denoising step (both guidance halves)
    clip_s: float  # the rest of a clip: prompt encoding, VAE, inversion to audio
    clip_mb: float  # peak working memory while one clip renders, above what was resident
    device: str = "cpu"
    # A restyle's extra per segment: its mel image made from the song and encoded (a walk
    # encodes its one seed image once).
    encode_s: float = 0.0


@dataclass(frozen=True)
class Cost:
    """A request's estimated wall time and peak working memory."""

    seconds: float
    mb: float


def estimate(
    calibration: Calibration,
    clips: int,
    steps: int,
    width: int = CLIP_WIDTH,
    batch: int = 1,
    encodes: bool = False,
) -> Cost:
    """Seconds and peak MB of `clips` clips of `steps` steps, `width` columns each, rendered
    `batch` at a time; `encodes`: each clip's start image is encoded first (a restyle's).

    Time grows with the columns (the UNet's convolutions dominate at these sizes); memory is
    one batch's clips at a time, plus what the result keeps (each clip's float32 samples,
    twice: the clip and the track).
    """
    scale = width / CLIP_WIDTH
    per_clip = steps * calibration.step_s + calibration.clip_s + (calibration.encode_s if encodes else 0.0)
    seconds = clips * scale * per_clip
    kept_mb = clips * scale * CLIP_SECONDS * SpectrogramParams().sample_rate * 4 * 2 / 1e6
    return Cost(seconds, calibration.clip_mb * scale * max(1, min(batch, clips)) + kept_mb)


def fitting_clips(
    calibration: Calibration, steps: int, width: int, seconds: float, encodes: bool = False
) -> int:
    """The most clips of these settings that fit in `seconds`."""
    one = estimate(calibration, 1, steps, width, encodes=encodes).seconds
    return max(0, math.floor(seconds / one)) if one > 0 else 0


def check(
    calibration: Calibration,
    clips: int,
    steps: int,
    width: int,
    max_s: float,
    max_mb: float,
    batch: int = 1,
    encodes: bool = False,
) -> None:
    """Refuse, in one line saying what would fit, a request over the time or memory budget.

    Raises:
        ValueError: over `max_s` seconds or `max_mb` megabytes on this machine.
    """
    cost = estimate(calibration, clips, steps, width, batch, encodes)
    if cost.seconds > max_s:
        fit = fitting_clips(calibration, steps, width, max_s, encodes)
        advice = (
            f"at most {fit} clip(s) at these settings, or fewer steps"
            if fit
            else "fewer steps or a narrower clip"
        )
        raise ValueError(
            f"{clips} clip(s) of {steps} steps at {width} columns would take about {cost.seconds:.0f} s "
            f"on this machine, over its {max_s:g} s per request: {advice}"
        )
    if cost.mb > max_mb:
        raise ValueError(
            f"{clips} clip(s) at {width} columns, {batch} at a time, would need about {cost.mb:.0f} MB on "
            f"this machine, over its {max_mb:g} MB per request: a smaller batch, fewer or narrower clips"
        )


def resident_mb() -> float:
    """This process's resident memory now, in MB (0 where /proc is not there)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def peak_mb() -> float:
    """This process's peak resident memory since the last `reset_peak`, in MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def reset_peak() -> None:
    """Start measuring the peak afresh (Linux: writing 5 to clear_refs resets VmHWM)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def measure(render_clip, device: str, scale: float = 1.0, repeats: int = 2) -> Calibration:
    """Time `render_clip(steps)` at 2 and 4 steps on this machine, after one warm-up.

    The first render pays one-off costs (lazy set-up, the codec's caches), and a busy machine
    makes any one timing long: the warm-up is not counted and each step count keeps its fastest
    of `repeats` runs, so the calibration is the machine's own speed, not one unlucky moment.

    Args:
        render_clip: renders one clip of the given number of steps, start to audio.
        scale: 512 columns over the columns of the clip it renders.
        repeats: runs at each step count; the fastest counts.
    """
    render_clip(2)  # warm-up, not counted
    reset_peak()
    before = resident_mb()
    timings = {2: math.inf, 4: math.inf}
    for _ in range(max(1, repeats)):
        for steps in timings:
            began = time.perf_counter()
            render_clip(steps)
            timings[steps] = min(timings[steps], time.perf_counter() - began)
    two, four = timings[2], timings[4]
    step_s = max((four - two) / 2, 1e-4)
    return Calibration(
        step_s=step_s * scale,
        clip_s=max(two - 2 * step_s, 1e-4) * scale,
        clip_mb=max(peak_mb() - before, 1.0) * scale,
        device=device,
    )


def calibrate(model: Model) -> Calibration:
    """`measure` on a model: a quarter-width clip keeps it short (costs scale with the columns)."""
    music = Variations(PromptEnd("calibration", denoising=1.0), (0,), width=CLIP_WIDTH // 4)

    def one_clip(steps: int) -> None:
        list(render(model, music, Settings(num_inference_steps=steps, batch_size=1)))

    calibration = measure(one_clip, model.device.type, scale=4)
    segment = torch.zeros(1, 1, model.params.num_samples(CLIP_WIDTH // 4))
    timings = []
    for _ in range(3):  # the first pays the codec's set-up; the fastest of the rest counts
        began = time.perf_counter()
        segment_latents(model, segment)
        timings.append(time.perf_counter() - began)
    return dataclasses.replace(calibration, encode_s=min(timings[1:]) * 4)
