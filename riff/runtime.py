"""Process-wide settings for speed, applied by the entry points (CLI, app, benchmarks), never
on import."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4


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
