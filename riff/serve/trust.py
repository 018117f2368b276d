"""The trust boundary of the studio and its API: what a caller may name, and what it is told.

The library's path-taking functions (`seed_image`, `mask_tensor`, `load_audio`, ...) serve the CLI
and Python users, who own the machine. A caller of the studio or of `/run_inference/` does not:
it may name only bundled seed images and masks, hand in only files it uploaded, and act only on
its own session's folder; and the errors it gets back name no server path.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from pathlib import Path

from riff.seed_images import REFERENCE_SEEDS, mask_names, seed_image_names

log = logging.getLogger(__name__)

SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
# An absolute path (or ~/...) with at least one folder: everything up to the last slash goes.
_PATH = re.compile(r"~?/(?:[^/\s'\"]+/)+")
MAX_MESSAGE = 300


def _shown(name: str) -> str:
    """A caller's string, quoted and cut short, for an error message."""
    return repr(name[:40] + ("..." if len(name) > 40 else ""))


def bundled_seed(name: str) -> str:
    """A bundled seed image's name (or one of the reference's ids).

    Raises:
        ValueError: anything else, a path included.
    """
    if name in REFERENCE_SEEDS or name in seed_image_names():
        return name
    raise ValueError(f"unknown seed image {_shown(name)}: use one of {', '.join(seed_image_names())}")


def bundled_mask(name: str) -> str:
    """A bundled mask's name. Raises ValueError for anything else, a path included."""
    if name in mask_names():
        return name
    raise ValueError(f"unknown mask {_shown(name)}: use one of {', '.join(mask_names())}")


def uploaded(path: str | Path, roots: Iterable[str | Path]) -> Path:
    """A file the caller uploaded: an existing regular file inside one of `roots`.

    Raises:
        ValueError: anything else (the message does not say whether the path exists).
    """
    resolved = Path(path).resolve()
    for root in roots:
        if resolved.is_relative_to(Path(root).resolve()) and resolved.is_file():
            return resolved
    log.warning("refused a file input outside the upload folders: %s", path)
    raise ValueError("that file was not uploaded here: upload it first")


def session_dir(root: Path, session: str | None) -> Path:
    """`root / session`, for a well-formed session id only, checked to stay inside `root`.

    Raises:
        ValueError: a malformed id ("..", "a/b", an empty or huge string).
    """
    name = "anonymous" if session is None else session
    path = root / name
    if not SESSION_ID.fullmatch(name) or path.resolve().parent != root.resolve():
        raise ValueError(f"invalid session id {_shown(name)}")
    return path


def public_message(message: str) -> str:
    """An error message fit for a caller: server folders removed (a file keeps its own name)
    and one line of at most 300 characters."""
    line = " ".join(_PATH.sub("", message).split())
    return line if len(line) <= MAX_MESSAGE else line[: MAX_MESSAGE - 3] + "..."


def client_address(host: str | None, forwarded_for: str | None, trusted_proxies: int = 0) -> str | None:
    """Who is calling, for per-client caps: the connection's address, or where
    `trusted_proxies` proxies stand in front of the server (Spaces: one), the address the
    outermost of them saw, read from the right of X-Forwarded-For (entries further left are
    the caller's to write, so they are never trusted).
    """
    if trusted_proxies > 0 and forwarded_for:
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        if hops:
            return hops[-min(trusted_proxies, len(hops))][:64]
    return host
