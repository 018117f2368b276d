"""What the server keeps of each session (one open page, or one REST caller): a folder of its
results, the client (an address) its requests come from, and whether its page has closed or its
listener cancelled. Old results are swept, and results over a session's or the server's share of
the disk are trimmed, oldest first."""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from riff.serve.limits import Limits
from riff.serve.trust import session_dir
from riff.serve.upnext import UpNext
from riff.walk import Progress

log = logging.getLogger(__name__)
# The session the page's examples render under: rendered once, shared by every visitor, who may
# play and keep their files (`Sessions.own_file`) but not change them.
EXAMPLES = "examples"


class Gone(RuntimeError):
    """The page that asked for a render has closed."""


class Stopped(RuntimeError):
    """The listener stopped the render (Cancel, Stop)."""


class Sessions:
    """Session folders under one root, and each session's client and stop flags."""

    def __init__(self, root: str | Path | None, limits: Limits) -> None:
        self._root = Path(root) if root is not None else None
        self.limits = limits
        self._lock = threading.Lock()
        self._clients: dict[str, str] = {}  # session -> client (an address), newest last
        self._swept = 0.0
        self._gone: set[str] = set()  # sessions whose page has closed
        self._stopped: set[str] = set()  # sessions whose listener pressed Cancel or Stop
        self._active: set[Path] = set()  # result folders a render is writing
        # What each session's endless riff moves to next (`Studio.queue_next`).
        self.up_next = UpNext(limits.prompt_chars, limits.up_next, limits.endless_s)

    @property
    def root(self) -> Path:
        """Where session folders go: a fresh temporary folder, made on first use."""
        if self._root is None:
            self._root = Path(tempfile.mkdtemp(prefix="riff-studio-"))
        return self._root

    def folder(self, session: str | None) -> Path:
        """A fresh folder for one render of one session.

        Raises:
            ValueError: a malformed session id (see `trust.session_dir`).
        """
        base = session_dir(self.root, session)
        self.sweep()
        base.mkdir(parents=True, exist_ok=True)
        self.trim(base)
        return Path(tempfile.mkdtemp(dir=base))

    @contextlib.contextmanager
    def writing(self, session: str | None) -> Iterator[Path]:
        """A fresh folder for a render to write, kept from trimming while it does; a render that
        fails leaves nothing, one its listener stopped keeps what it made (the page plays it)."""
        folder = self.folder(session)
        self._active.add(folder)
        try:
            yield folder
        except Stopped:
            raise
        except Exception:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        finally:
            self._active.discard(folder)

    def trim(self, session: Path) -> None:
        """Delete the oldest finished results, the session's own first, until the session keeps
        at most `limits.session_mb` and the server `limits.disk_mb` (a render under way keeps
        its folder)."""
        results = []
        for folder in self.root.glob("*/*"):
            try:
                size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
                results.append((folder.stat().st_mtime, folder, size))
            except OSError:
                continue  # removed meanwhile
        results.sort()
        mine = sum(size for _, folder, size in results if folder.parent == session)
        total = sum(size for _, _, size in results)
        for _, folder, size in results:
            over_mine = folder.parent == session and mine > self.limits.session_mb * 1e6
            if not (over_mine or total > self.limits.disk_mb * 1e6) or folder in self._active:
                continue
            shutil.rmtree(folder, ignore_errors=True)
            total -= size
            mine -= size if folder.parent == session else 0

    def sweep(self, now: float | None = None) -> None:
        """Delete results older than `limits.keep_s` (callers that never open a page never
        close one either), at most once a minute."""
        now = time.time() if now is None else now
        if now - self._swept < 60:
            return
        self._swept = now
        for done in self.root.glob("*/*"):
            try:
                if now - done.stat().st_mtime > self.limits.keep_s:
                    shutil.rmtree(done, ignore_errors=True)
                    if not any(done.parent.iterdir()):
                        done.parent.rmdir()
            except OSError:
                continue  # another request removed it first

    def close(self) -> None:
        """Delete every result (the server is shutting down)."""
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)

    def forget(self, session: str | None) -> None:
        """Delete everything a session rendered and stop its render; a malformed session id
        deletes nothing."""
        try:
            folder = session_dir(self.root, session)
        except ValueError:
            log.warning("not forgetting a malformed session id %r", str(session)[:40])
            return
        if session is not None:
            with self._lock:
                self._gone.add(session)  # its render, if one runs, stops at its next step
                self._clients.pop(session, None)
        self.up_next.forget(session)
        shutil.rmtree(folder, ignore_errors=True)

    def own_file(self, path: str | Path, session: str | None) -> Path:
        """`path`, if it is a file the session's own renders wrote, or one of the examples'.

        Raises:
            ValueError: anything else (another session's file, a server path).
        """
        resolved = Path(path).resolve()
        for owner in (session, EXAMPLES):
            if session_dir(self.root, owner).resolve() in resolved.parents and resolved.is_file():
                return resolved
        raise ValueError("that file is not one this page made")

    def identify(self, session: str | None, client: str | None) -> None:
        """Remember which client (an address) a session's requests come from, for its caps."""
        if session is None or client is None:
            return
        with self._lock:
            self._clients.pop(session, None)
            self._clients[session] = client
            while len(self._clients) > 4096:  # sessions that never said goodbye
                del self._clients[next(iter(self._clients))]

    def client(self, session: str | None) -> str | None:
        """The client a session's requests come from; a session stands for itself otherwise."""
        return self._clients.get(session, session) if session is not None else None

    def cancel(self, session: str | None) -> None:
        """Mark the session's render stopped: `check` raises `Stopped` from now on."""
        if session is not None:
            with self._lock:
                self._stopped.add(session)

    def watch(self, session: str | None, progress: Progress | None = None) -> Progress:
        """A progress callback for a new render of the session that also stops it (within one
        UNet step) once the session's page has gone (nobody is left to hear it) or its listener
        cancelled."""
        if session is not None:
            with self._lock:
                self._gone.discard(session)  # a new render from a page that came back
                self._stopped.discard(session)

        def report(done: float, clips: int, step: int, steps: int) -> None:
            self.check(session)
            if progress is not None:
                progress(done, clips, step, steps)

        return report

    def check(self, session: str | None) -> None:
        """Raise if the session's page has gone or its listener stopped the render."""
        if session is not None and session in self._gone:
            raise Gone(f"session {session[:12]} left: render stopped")
        if session is not None and session in self._stopped:
            raise Stopped(f"session {session[:12]} cancelled: render stopped")
