"""Turns on the model (`riff.serve.workqueue`): one at a time in the order asked, a bounded wait,
and no client filling the queue."""

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


def test_one_render_at_a_time_and_a_bounded_wait():
    import threading

    from riff.serve.engine import Busy, WorkQueue

    queue = WorkQueue(max_waiting=1)
    holding, release, order = threading.Event(), threading.Event(), []

    def hold():
        with queue.slot():
            holding.set()
            release.wait(10)
            order.append("first")

    def wait_turn():
        with queue.slot():
            order.append("second")

    first, second = threading.Thread(target=hold), threading.Thread(target=wait_turn)
    first.start()
    holding.wait(10)
    second.start()
    time.sleep(0.2)  # the second now waits its turn
    with pytest.raises(Busy, match="busy"), queue.slot():
        pass
    release.set()
    first.join(10)
    second.join(10)
    assert order == ["first", "second"]
    with queue.slot():  # free again
        pass
