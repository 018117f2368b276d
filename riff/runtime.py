"""Process-wide settings for speed, applied by the entry points (CLI, app, benchmarks), never
on import."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import math
import os
from collections.abc import Mapping
from pathlib import Path

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
# At most this many cores, one intra-op thread: a second thread that another process keeps off
# its core stalls the first at every parallel region (8x slower, not 2x; see the README).
SMALL_CPU = 2


def give_back_memory() -> bool:
    """Return the heap's free pages to the OS (glibc's malloc_trim) and an accelerator's cached
    blocks: after a peak, on a server that shares its machine. Returns whether glibc trimmed."""
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    try:
        return bool(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0))
    except (OSError, AttributeError):
        return False


def keep_large_buffers() -> bool:
    """Stop glibc from returning big buffers to the OS after each use.

    Every Griffin-Lim iteration allocates FFT buffers of tens of MB; by default glibc maps and
    unmaps each one, and the page faults of touching fresh pages cost as much as the FFTs on
    small virtual machines. Keeping them in the heap halves the CPU decode time. No-op where
    the C library is not glibc. Returns whether it applied.
    """
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    applied = bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 2**30))
    log.debug("glibc buffer retention %s", "on" if applied else "unavailable")
    return applied


def usable_cores(cgroup: Path = Path("/sys/fs/cgroup/cpu.max")) -> int:
    """The cores this process may run on: its CPU affinity, capped by a container's CPU quota
    (cgroup v2 `cpu.max`, as on Spaces), which `os.cpu_count` does not see."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    try:
        quota, period = cgroup.read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return cores


def choose_threads(
    requested: int | None = None,
    *,
    environ: Mapping[str, str],
    cores: int | None = None,
    torch_default: int | None = None,
) -> int | None:
    """The intra-op threads torch should use, or None to leave torch's choice alone.

    `requested` (--threads) wins, then RIFF_THREADS in `environ` (the entry point's
    environment); a user's OMP_NUM_THREADS is left to
    torch, which reads it. Otherwise one thread on a CPU of at most `SMALL_CPU` usable cores,
    where the page's phase retrieval and ffmpeg, or another process, take the other; on larger
    ones torch's own choice (`torch_default`, its physical cores) capped one below the usable
    cores.

    Raises:
        ValueError: for a thread count below 1 or not a whole number.
    """
    setting = requested if requested is not None else environ.get("RIFF_THREADS", "").strip() or None
    if setting is not None:
        try:
            threads = int(setting)
        except ValueError:
            raise ValueError(f"RIFF_THREADS={setting!r}: use a whole number of threads, 1 or more") from None
        if threads < 1:
            raise ValueError(f"threads must be 1 or more, got {threads}")
        return threads
    if environ.get("OMP_NUM_THREADS", "").strip():
        return None
    cores = cores or usable_cores()
    if cores <= SMALL_CPU:
        return 1
    return min(cores - 1, torch_default or cores)


def set_threads(requested: int | None, environ: Mapping[str, str]) -> int:
    """Apply `choose_threads` to torch (from an entry point, before any work); returns the
    threads torch now uses."""
    import torch

    threads = choose_threads(requested, environ=environ, torch_default=torch.get_num_threads())
    if threads is not None:
        torch.set_num_threads(threads)
    log.debug("torch uses %d intra-op thread(s)", torch.get_num_threads())
    return torch.get_num_threads()
