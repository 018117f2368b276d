"""Caches sized in bytes: what they keep is bounded by memory, not by a count of entries (eight
entries of an absurd spectrogram format held gigabytes)."""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

import torch

F = TypeVar("F", bound=Callable[..., Any])


def tensor_bytes(value: object) -> int:
    """Bytes held by the tensors in `value` (a tensor, or tuples and lists of them), sparse
    CSR ones included; other values count as nothing."""
    if isinstance(value, tuple | list):
        return sum(tensor_bytes(v) for v in value)
    if not isinstance(value, torch.Tensor):
        return 0
    if value.layout == torch.sparse_csr:
        parts = (value.crow_indices(), value.col_indices(), value.values())
        return sum(p.numel() * p.element_size() for p in parts)
    return value.numel() * value.element_size()


def byte_cache(max_bytes: int) -> Callable[[F], F]:
    """Least-recently-used memoisation of a function of hashable arguments, keeping at most
    `max_bytes` of tensors (`tensor_bytes`); a result larger than that is returned, not kept.
    The wrapper has `cache_clear()`, `cache_bytes()` and its budget as `max_bytes`."""

    def decorate(function: F) -> F:
        entries: OrderedDict[tuple, tuple[object, int]] = OrderedDict()
        lock = threading.Lock()
        held = [0]

        @functools.wraps(function)
        def wrapper(*args: object) -> object:
            with lock:
                if args in entries:
                    entries.move_to_end(args)
                    return entries[args][0]
            value = function(*args)
            size = tensor_bytes(value)
            with lock:
                budget = wrapper.max_bytes  # type: ignore[attr-defined]
                if size <= budget and args not in entries:
                    entries[args] = (value, size)
                    held[0] += size
                    while held[0] > budget:
                        _, (_, freed) = entries.popitem(last=False)
                        held[0] -= freed
            return value

        def cache_clear() -> None:
            with lock:
                entries.clear()
                held[0] = 0

        wrapper.max_bytes = max_bytes  # type: ignore[attr-defined]
        wrapper.cache_clear = cache_clear  # type: ignore[attr-defined]
        wrapper.cache_bytes = lambda: held[0]  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
