"""Prompts queued for endless riffs (`riff.serve.upnext`): bounded in length, number and time."""

from __future__ import annotations

import pytest

from riff.serve.upnext import UpNext


def test_up_next_is_bounded_in_length_number_and_time():
    store = UpNext(prompt_chars=20, total=2, expire_s=60)
    with pytest.raises(ValueError, match="too long: at most 20"):
        store.put("a", "x" * 21)
    with pytest.raises(ValueError):
        store.put("a", "   ")
    store.put("a", "piano", now=0)
    store.put("a", "drums", now=1)  # one per session: the newer replaces it
    store.put("b", "bass", now=2)
    store.put("c", "choir", now=3)  # over the total: the oldest ("a") goes
    assert len(store) == 2 and store.take("a", now=4) is None
    assert store.take("b", now=4) == "bass" and store.take("b", now=4) is None
    assert store.take("c", now=100) is None  # expired
    store.put("d", "organ")
    store.forget("d")
    assert store.take("d") is None
