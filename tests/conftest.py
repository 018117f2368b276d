"""Shared fixtures: a tiny random model folder in diffusers layout, built offline."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory):
    from riff.train.networks import save_tiny_model

    return save_tiny_model(tmp_path_factory.mktemp("tiny-model"))


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
