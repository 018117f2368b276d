"""A cap on what one upload request sends, all its files together: an ASGI middleware in front
of Gradio's upload route (Gradio bounds each file, not their number or their sum)."""

from __future__ import annotations

import json


class UploadCap:
    """Refuse, with 413 and one line, an upload request over `max_bytes` or `max_files`.

    The declared Content-Length is checked first; the body is counted as it streams in too, so
    a chunked or lying request is cut off at the cap all the same.
    """

    def __init__(self, app, max_bytes: float, max_files: float, path_suffix: str = "/upload") -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_files = max_files
        self.path_suffix = path_suffix

    async def __call__(self, scope, receive, send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not scope["path"].endswith(self.path_suffix)
        ):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
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
        if refused and not started:
            await self._refuse(send)

    async def _refuse(self, send) -> None:
        line = (
            f"an upload is at most {self.max_files:g} files and {self.max_bytes / 1e6:g} MB in all here: "
            "send fewer or smaller files"
        )
        body = json.dumps({"error": line}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
