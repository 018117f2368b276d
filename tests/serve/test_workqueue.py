"""Turns on the model (`riff.serve.workqueue`): in the order asked, and no client filling the
queue."""

from __future__ import annotations

import threading
import time

import pytest

from riff.serve.engine import Busy
from riff.serve.workqueue import WorkQueue


def test_turns_go_in_the_order_they_were_asked_for():
    queue = WorkQueue()
    order: list[str] = []
    holding, release = threading.Event(), threading.Event()

    def long_work():
        with queue.turn():  # its first clip
            holding.set()
            release.wait(10)
            order.append("long 1")
        with queue.turn():  # it asks again at once, but the short request asked first
            order.append("long 2")

    def short_work():
        with queue.turn():
            order.append("short")

    long = threading.Thread(target=long_work)
    long.start()
    holding.wait(10)
    short = threading.Thread(target=short_work)
    short.start()
    deadline = time.monotonic() + 10
    while queue.waiting() < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    release.set()
    long.join(10)
    short.join(10)
    assert order == ["long 1", "short", "long 2"]


def test_one_client_cannot_fill_the_queue():
    queue = WorkQueue(max_waiting=32, per_client=2, endless_per_client=1)
    with queue.admit("10.0.0.1"), queue.admit("10.0.0.1"):
        with pytest.raises(Busy, match="this address already has 2"), queue.admit("10.0.0.1"):
            pass
        with queue.admit("10.0.0.2"):  # someone else still gets in
            pass
    with queue.admit("10.0.0.1", endless=True):
        with pytest.raises(Busy, match="endless"), queue.admit("10.0.0.1", endless=True):
            pass
        with queue.admit("10.0.0.2", endless=True):
            pass
    with queue.admit("10.0.0.1"), queue.admit("10.0.0.1"):  # its caps came back
        pass
