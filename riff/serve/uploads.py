"""Caps on uploads and on Gradio's cache: an ASGI middleware in front of Gradio's upload route
(Gradio bounds each file, not their number, their sum, or what one client sends over time), and
a byte cap on the folder where Gradio keeps uploads and what it served, oldest files first."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from pathlib import Path

from riff.serve.trust import client_address

log = logging.getLogger("riff")


class UploadCap:
    """Refuse, with 413 and one line, an upload request over `max_bytes` or `max_files`.

    The declared Content-Length is checked first; the body is counted as it streams in too, so
    a chunked or lying request is cut off at the cap all the same.
    """

    def __init__(
        self,
        app,
        max_bytes: float,
        max_files: float,
        path_suffix: str = "/upload",
        client_bytes: float = float("inf"),
        window_s: float = 3600.0,
        trusted_proxies: int = 0,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_files = max_files
        self.path_suffix = path_suffix
        self.client_bytes = client_bytes  # what one client may upload within `window_s`
        self.window_s = window_s
        self.trusted_proxies = trusted_proxies  # as for the page's per-client caps
        self._sent: dict[str | None, deque] = {}  # client -> (time, bytes) of its recent uploads

    async def __call__(self, scope, receive, send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not scope["path"].endswith(self.path_suffix)
        ):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        forwarded = headers.get(b"x-forwarded-for", b"").decode("latin-1") or None
        client = client_address((scope.get("client") or (None,))[0], forwarded, self.trusted_proxies)
        if self._recent(client) >= self.client_bytes:
            await self._refuse(send, self._client_line())
            return
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        seen, files, tail, refused = 0, 0, b"", False

        async def counted():
            nonlocal seen, files, tail, refused
            message = await receive()
            if message["type"] == "http.request":
                body = message.get("body", b"")
                seen += len(body)
                files += (tail + body).count(b'filename="') - tail.count(b'filename="')
                tail = body[-16:]
                if seen > self.max_bytes or files > self.max_files:
                    refused = True
                    return {"type": "http.disconnect"}  # the route stops reading
            return message

        started = False

        async def guarded_send(message):
            nonlocal started
            if refused:
                if not started:
                    started = True
                    await self._refuse(send)
                return
            started = True
            await send(message)

        try:
            await self.app(scope, counted, guarded_send)
        except Exception:
            if not refused:
                raise
        finally:
            self._count(client, seen)
        if refused and not started:
            await self._refuse(send)

    def _recent(self, client: str | None) -> float:
        """Bytes `client` uploaded within the window (older entries forgotten)."""
        now = time.monotonic()
        sent = self._sent.get(client)
        while sent and now - sent[0][0] > self.window_s:
            sent.popleft()
        if sent is not None and not sent:
            del self._sent[client]
        return sum(size for _, size in sent or ())

    def _count(self, client: str | None, size: int) -> None:
        if size and self.client_bytes != float("inf"):
            if client not in self._sent and len(self._sent) >= 100_000:  # bounded: oldest client goes
                self._sent.pop(next(iter(self._sent)))
            self._sent.setdefault(client, deque()).append((time.monotonic(), size))

    def _client_line(self) -> str:
        return (
            f"this address has uploaded {self.client_bytes / 1e6:g} MB within the last "
            f"{self.window_s / 60:g} minutes, the most one client may here: try again later"
        )

    async def _refuse(self, send, line: str | None = None) -> None:
        line = line or (
            f"an upload is at most {self.max_files:g} files and {self.max_bytes / 1e6:g} MB in all here: "
            "send fewer or smaller files"
        )
        body = json.dumps({"error": line}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def trim_folder(folder: Path, max_bytes: float, skip: Path | None = None) -> int:
    """Delete `folder`'s oldest files (by modification time) until it holds at most `max_bytes`;
    returns the bytes freed. Files under `skip` (riff's own results, which the engine keeps to
    its own caps) are neither counted nor deleted; files that vanish meanwhile are skipped."""
    files = []
    for path in folder.rglob("*"):
        try:
            if skip is not None and path.is_relative_to(skip):
                continue
            if path.is_file() and not path.is_symlink():
                stat = path.stat()
                files.append((stat.st_mtime, stat.st_size, path))
        except OSError:
            continue
    total = sum(size for _, size, _ in files)
    freed = 0
    for _, size, path in sorted(files, key=lambda f: f[0]):
        if total <= max_bytes:
            break
        try:
            path.unlink()
        except OSError:
            continue
        total -= size
        freed += size
        parent = path.parent
        if parent != folder and not any(parent.iterdir()):
            parent.rmdir()
    return freed


def keep_trimmed(
    folder: Path, max_bytes: float, every_s: float = 30.0, skip: Path | None = None
) -> threading.Thread:
    """Trim `folder` to `max_bytes` every `every_s` seconds in a daemon thread (Gradio's cache:
    its own sweep goes by age only, so a burst of uploads could fill the disk); see
    `trim_folder` for `skip`."""

    def run() -> None:
        while True:
            time.sleep(every_s)
            try:
                freed = trim_folder(folder, max_bytes, skip) if folder.is_dir() else 0
            except OSError:
                freed = 0
            if freed:
                log.info(
                    "Gradio's cache over %.0f MB: freed %.0f MB, oldest first", max_bytes / 1e6, freed / 1e6
                )

    thread = threading.Thread(target=run, name="riff-cache-trim", daemon=True)
    thread.start()
    return thread
