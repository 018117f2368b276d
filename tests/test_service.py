"""The load script in its short form: 8 clients x 3 requests against `python app.py`, hostile
requests and abandoned ones mixed in (bench/bench_service.py has the full one)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))


@pytest.mark.slow
def test_the_studio_holds_a_short_load_run():
    import bench_service

    report = bench_service.main(["--users", "8", "--requests", "3"])
    assert report["requests"] == 24 and report["failed"] == 0
    assert report["completed"] >= 12  # most of the good requests went through
    assert report["after"]["open_files"] <= report["before"]["open_files"] + 5
    # Nothing outlives the server (its results, Gradio's cache).
    assert report["temp_mb_after_stop"] <= report["before"]["temp_mb"] + 0.5
