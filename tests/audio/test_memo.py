"""Caches sized in bytes (`riff.audio.memo`)."""

from __future__ import annotations

import torch

from riff.audio.memo import byte_cache


def test_a_byte_cache_evicts_the_oldest_and_keeps_nothing_too_big():
    calls = []

    @byte_cache(1000)
    def zeros(n: int) -> torch.Tensor:
        calls.append(n)
        return torch.zeros(n)  # 4 bytes each

    zeros(100), zeros(100), zeros(100)
    assert calls == [100] and zeros.cache_bytes() == 400
    zeros(200), zeros(10)
    assert zeros.cache_bytes() == 840  # 100 went first
    zeros(300)
    assert zeros.cache_bytes() == 840  # 1,200 bytes: returned, not kept
    zeros(300), zeros(10)
    assert calls == [100, 200, 10, 300, 300]
