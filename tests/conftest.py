"""Shared fixtures: a tiny random model folder in diffusers layout, built offline."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory):
    from riff.tiny import save_tiny_model

    return save_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir):
    from riff.models import load_model

    return load_model(str(tiny_model_dir), device="cpu")


def sine(
    freq: float, seconds: float = 5.11, sample_rate: int = 44100, amplitude: float = 0.5
) -> torch.Tensor:
    t = torch.arange(int(seconds * sample_rate), dtype=torch.float64) / sample_rate
    return (amplitude * torch.sin(2 * torch.pi * freq * t)).float()[None]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked slow run in CI (CI=true), with RIFF_SLOW=1, or when asked for with -m."""
    if (
        os.environ.get("CI", "").lower() == "true"
        or os.environ.get("RIFF_SLOW") == "1"
        or config.getoption("-m")
    ):
        return
    skip = pytest.mark.skip(reason="slow: runs in CI (CI=true) or with RIFF_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
