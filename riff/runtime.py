"""Process-wide settings for speed, applied by the entry points (CLI, app, benchmarks), never
on import."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4


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
