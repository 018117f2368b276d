"""Turns on the model, shared fairly: one piece of work at a time, first come first served, and
no caller holding more than its share of the queue."""

from __future__ import annotations

import collections
import contextlib
import threading
from collections.abc import Callable, Generator, Iterator
from typing import TypeVar

from riff.runtime import give_back_memory

T = TypeVar("T")


class Busy(RuntimeError):
    """Too many renders are waiting for the model (in all, or from one caller)."""


class WorkQueue:
    """One turn at a time on the model, shared by the studio's events and the REST route.

    A request is admitted once (`admit`): at most `max_waiting` wait besides the one running,
    at most `per_client` from one client and `endless_per_client` endless riffs from one client;
    the next is refused at once (`Busy`). It then takes a turn (`turn`) per clip, not per request:
    turns are handed out in the order they were asked for, so a short request waits about one
    clip behind a long one or an endless riff, which cannot retake the model ahead of it. When
    the last request is done, the memory of its peak goes back to the machine (a render keeps
    its buffers while it runs, for speed: see `runtime.keep_large_buffers`).
    """

    def __init__(self, max_waiting: float = 32, per_client: float = 4, endless_per_client: float = 1) -> None:
        self.max_waiting = max_waiting
        self.per_client = per_client
        self.endless_per_client = endless_per_client
        self._count = 0
        self._clients: collections.Counter[tuple[str, bool]] = collections.Counter()
        self._count_lock = threading.Lock()
        self._turns = threading.Condition()
        self._waiting: collections.deque[int] = collections.deque()
        self._tickets = 0
        self._busy = False

    def admitted(self) -> int:
        """Requests admitted and not yet done, running or waiting."""
        with self._count_lock:
            return self._count

    def waiting(self) -> int:
        """Turns asked for and not yet given (a measure of the queue, for benchmarks)."""
        with self._turns:
            return len(self._waiting)

    @contextlib.contextmanager
    def admit(self, client: str | None = None, endless: bool = False) -> Iterator[None]:
        """Count a request for as long as it lives, or refuse it (`Busy`) over a cap."""
        with self._count_lock:
            if self._count > self.max_waiting:
                raise Busy(f"the studio is busy ({self._count - 1} renders waiting): try again in a minute")
            if client is not None:
                if endless and self._clients[client, True] >= self.endless_per_client:
                    raise Busy(
                        f"this address already plays {self._clients[client, True]} endless riff(s), the "
                        "most one may: stop one first"
                    )
                held = self._clients[client, False] + self._clients[client, True]
                if held >= self.per_client:
                    raise Busy(
                        f"this address already has {held} renders running or waiting, the most one "
                        "may: wait for one to finish"
                    )
                self._clients[client, endless] += 1
            self._count += 1
        try:
            yield
        finally:
            with self._count_lock:
                self._count -= 1
                if client is not None:
                    self._clients[client, endless] -= 1
                    if self._clients[client, endless] <= 0:
                        del self._clients[client, endless]
                idle = self._count == 0
            if idle:
                give_back_memory()

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        """The model, alone, once every turn asked for before this one is done."""
        with self._turns:
            ticket = self._tickets
            self._tickets += 1
            self._waiting.append(ticket)
            while self._busy or self._waiting[0] != ticket:
                self._turns.wait()
            self._waiting.popleft()
            self._busy = True
        try:
            yield
        finally:
            with self._turns:
                self._busy = False
                self._turns.notify_all()

    def each_in_turn(self, items: Generator[T, None, None], check: Callable[[], None]) -> Iterator[T]:
        """`items`, each made in its own turn: whoever asked for a turn meanwhile goes first, and
        nothing holds the model while an item is used. `check` runs after each (it may raise to
        stop); `items` is closed when this is."""
        with contextlib.closing(items):
            while True:
                with self.turn():
                    item = next(items, None)
                if item is None:
                    return
                check()
                yield item

    @contextlib.contextmanager
    def slot(self, client: str | None = None) -> Iterator[None]:
        """Admitted, then one turn for the whole of the work (one clip, one decode)."""
        with self.admit(client), self.turn():
            yield
