"""Shared fixtures and dummy inputs: a tiny random model folder in diffusers layout, built offline;
the studio served locally; an environment off Spaces; test tones, tagged and forged images, a
synthetic training set."""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import struct
import sys
import threading
import time
import zlib
from collections.abc import Iterator

import numpy as np
import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
torch.set_num_threads(min(2, torch.get_num_threads()))


SPACE_VARIABLES = ("SPACE_ID", "SPACES_ZERO_GPU", "RIFF_MODEL", "HF_HUB_OFFLINE", "RIFF_COMPILE")


@pytest.fixture
def space(monkeypatch: pytest.MonkeyPatch):
    """A clean environment: no Space, no GPU, no `spaces` package; tests add what they need."""
    for key in SPACE_VARIABLES:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setitem(sys.modules, "spaces", None)  # find_spec: not installed
    return monkeypatch


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory):
    from riff.train.networks import save_tiny_model

    return save_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="module")
def walk_(narrow_seed):
    """A three-clip walk on the narrow seed, ends that differ in every field a walk lerps."""
    from riff.request import PromptEnd, Walk

    return Walk(
        start=PromptEnd("solo piano, slow, minor", seed=3, negative_prompt="noise"),
        end=PromptEnd("rock drum beat, 120 bpm", seed=4, guidance=5.0),
        num_clips=3,
        seed_image=narrow_seed,
        crossfade_ms=100,
    )


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir):
    from riff.models import load_model

    return load_model(str(tiny_model_dir), device="cpu")


@pytest.fixture(scope="session")
def narrow_seed(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A 64-column slice of a bundled seed: same format, an eighth of the work."""
    from PIL import Image

    from riff.seed_images import SEED_DIR

    path = tmp_path_factory.mktemp("seed") / "narrow.png"
    Image.open(SEED_DIR / "og_beat.png").convert("RGB").crop((0, 0, 64, 512)).save(path)
    return str(path)


@pytest.fixture(scope="module")
def engine(tiny_model, tmp_path_factory: pytest.TempPathFactory):
    """A studio engine over the tiny model, its files in a folder of its own."""
    from riff.serve.budget import Calibration
    from riff.serve.engine import Engine

    # A fixed calibration: the tests' renders are never refused for a busy machine's timings.
    fast = Calibration(step_s=0.01, clip_s=0.1, clip_mb=50)
    return Engine(tiny_model, root=tmp_path_factory.mktemp("studio"), calibration=fast)


@pytest.fixture(scope="module")
def url(engine) -> Iterator[str]:
    """The studio (page and REST route) served on a free local port."""
    from riff.studio import build_app

    with serve(build_app(engine)) as address:
        yield address


@contextlib.contextmanager
def serve(app) -> Iterator[str]:
    """Run an ASGI app with uvicorn on a free 127.0.0.1 port in a daemon thread; yields its URL."""
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Gradio's heartbeat streams never end on their own, so shutdown must not wait for them.
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"the app did not start on port {port}")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def sine(
    freq: float, seconds: float = 5.11, sample_rate: int = 44100, amplitude: float = 0.5
) -> torch.Tensor:
    t = torch.arange(int(seconds * sample_rate), dtype=torch.float64) / sample_rate
    return (amplitude * torch.sin(2 * torch.pi * freq * t)).float()[None]


def png_roundtrip(image):
    """`image` saved as a PNG (with its metadata) and opened again."""
    from PIL import Image

    from riff.audio.image import save_image

    buffer = io.BytesIO()
    save_image(image, buffer, format="PNG")
    return Image.open(io.BytesIO(buffer.getvalue()))


def tagged(tags: dict, size: tuple[int, int] = (64, 512), color: str = "white"):
    """A PNG of `size` carrying the EXIF `tags` (tag number -> value), opened from its bytes."""
    from PIL import Image

    image = Image.new("RGB", size, color)
    exif = image.getexif()
    exif.update(tags)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", exif=exif)
    return Image.open(io.BytesIO(buffer.getvalue()))


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims `width` x `height` (a decompression bomb's first bytes)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    ihdr = data[12:29]  # b"IHDR" + 13 bytes
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    return bytes(data)


FILE = {"_type": "gradio.FileData"}  # marks a file input in a raw Gradio event


def call(site: str, api_name: str, data: list, session_hash: str | None = None) -> str:
    """One event through Gradio's queue, as a raw client sends it; returns the event stream."""
    import httpx

    config = httpx.get(site + "config").json()
    fn_index = next(i for i, d in enumerate(config["dependencies"]) if d.get("api_name") == api_name)
    session = session_hash or "probe1234"
    joined = httpx.post(
        site + "gradio_api/queue/join",
        json={
            "data": data,
            "fn_index": fn_index,
            "session_hash": session,
            "event_data": None,
            "trigger_id": None,
        },
    )
    assert joined.status_code == 200, joined.text
    return httpx.get(site + "gradio_api/queue/data", params={"session_hash": session}, timeout=120).text


KINDS = {
    # caption -> labels; drums draw vertical stripes (onsets), keys horizontal lines (pitches)
    "rock drum beat, 120 bpm": {"family": "drums", "has_drums": True, "tempo_band": "medium"},
    "fast techno drums": {"family": "drums", "has_drums": True, "tempo_band": "fast"},
    "solo piano, slow, minor": {"family": "keys", "has_drums": False, "tempo_band": "slow"},
    "piano chords, slow": {"family": "keys", "has_drums": False, "tempo_band": "slow"},
}


def synthetic_image(labels: dict, rng: np.random.Generator, width: int):
    """A spectrogram-like picture of one kind: stripes for drums, lines for keys."""
    from PIL import Image

    pixels = rng.uniform(0, 20, (512, width))
    if labels["has_drums"]:
        period = {"slow": 24, "medium": 16, "fast": 10}[labels["tempo_band"]]
        start = int(rng.integers(0, period))
        pixels[:, start::period] += 200
    else:
        for row in rng.choice(np.arange(300, 500), 6, replace=False):
            pixels[row : row + 2] += 180
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).convert("RGB")


def write_dataset(folder, clips_per_kind: int = 6, width: int = 64, seed: int = 0, numbered: bool = False):
    """A training folder of synthetic clips of each of `KINDS`, with its metadata.jsonl."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(clips_per_kind * len(KINDS)):
        caption, labels = list(KINDS.items())[i % len(KINDS)]
        file = f"{i:05d}.png"
        synthetic_image(labels, rng, width).save(folder / file)
        caption = f"{caption}, take {i}" if numbered else caption
        lines.append(json.dumps({"caption": caption, "file": file, "labels": labels}))
    (folder / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    return folder
