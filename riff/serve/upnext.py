"""Prompts queued for endless riffs: one per session, bounded in length, in number and in
time, and forgotten when the session leaves."""

from __future__ import annotations

import collections
import threading
import time

from riff.request import PromptEnd


class UpNext:
    """The prompt each session's endless riff moves to next.

    Args:
        prompt_chars: the longest prompt taken (the studio's prompt limit).
        total: entries kept over the whole server; the oldest is forgotten first.
        expire_s: an entry no riff took within this long is forgotten.
    """

    def __init__(self, prompt_chars: float = 1000, total: float = 1024, expire_s: float = 1800) -> None:
        self.prompt_chars = prompt_chars
        self.total = total
        self.expire_s = expire_s
        self._entries: collections.OrderedDict[str | None, tuple[str, float]] = collections.OrderedDict()
        self._lock = threading.Lock()

    def put(self, session: str | None, prompt: str, now: float | None = None) -> str:
        """Queue `prompt` for the session's riff (replacing any it had); returns it.

        Raises:
            ValueError: an empty, over-long or malformed prompt, in one line.
        """
        if len(prompt) > self.prompt_chars:
            raise ValueError(
                f"a prompt of {len(prompt)} characters is too long: at most {self.prompt_chars:g}"
            )
        PromptEnd(prompt)  # empty or bad (word:weight) fails here
        now = time.monotonic() if now is None else now
        with self._lock:
            self._expire(now)
            self._entries.pop(session, None)
            self._entries[session] = (prompt, now)
            while len(self._entries) > self.total:
                self._entries.popitem(last=False)
        return prompt

    def take(self, session: str | None, now: float | None = None) -> str | None:
        """The session's queued prompt, once; None if there is none (or it expired)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self._expire(now)
            entry = self._entries.pop(session, None)
        return entry[0] if entry else None

    def forget(self, session: str | None) -> None:
        """Drop what the session queued (it left, or starts a new riff)."""
        with self._lock:
            self._entries.pop(session, None)

    def __len__(self) -> int:
        return len(self._entries)

    def _expire(self, now: float) -> None:
        while self._entries:
            session, (_, when) = next(iter(self._entries.items()))
            if now - when <= self.expire_s:
                return
            del self._entries[session]
