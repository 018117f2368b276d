"""The load script in its short form: 8 clients x 3 requests against `python app.py`, hostile
requests and abandoned ones mixed in (bench/bench_service.py has the full one)."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest
from conftest import FILE, call, serve

from riff import studio
from riff.serve.engine import Engine

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))


@pytest.mark.slow
def test_the_studio_holds_a_short_load_run():
    import bench_service

    report = bench_service.main(["--users", "8", "--requests", "3"])
    assert report["requests"] == 24 and report["failed"] == 0
    assert report["completed"] >= 12  # most of the good requests went through
    assert report["after"]["open_files"] <= report["before"]["open_files"] + 5
    # Nothing outlives the server (its results, Gradio's cache).
    assert report["temp_mb_after_stop"] <= report["before"]["temp_mb"] + 0.5


@pytest.mark.slow
def test_sigterm_cleans_up_like_sigint(tmp_path):
    import signal

    import bench_service
    from gradio_client import Client

    server = bench_service.Server(tmp_path)
    server.start()
    try:
        client = Client(server.url, verbose=False, download_files=str(tmp_path / "downloads"))
        client.predict(prompt="drums", seed=1, num_seeds=2, num_inference_steps=5, api_name="/generate")
        cache = server.tmp / "gradio"
        results = [p for p in cache.glob("riff-studio-*/**/*") if p.is_file()]
        assert results  # the render left its files while the server runs
        # Gradio serves them from riff's folder inside its cache: it keeps no copy of its own.
        names = {p.name for p in results}
        copies = [p for p in cache.rglob("*") if p.is_file() and p.name in names and p not in results]
        assert copies == []
        # The page stays open: the server must not wait for it to leave.
    finally:
        server.stop()  # SIGTERM, as Spaces and most supervisors stop a server
    assert server.process.returncode in (0, 128 + signal.SIGTERM)
    assert list(server.tmp.rglob("riff-studio-*")) == []


@pytest.mark.slow
def test_the_budget_bench_in_its_short_form():
    import bench_budget

    report = bench_budget.main(["--quick", "--request-s", "60"])
    for row in report["heaviest"]:  # what fits ran; more was refused in one line before any work
        refusal = row["one_more_than_fits"] if row["clips"] else row["refused"]
        # the budget's line, or the count limit's where that binds first (a fast machine)
        assert refusal and "\n" not in refusal
        assert "at most" in refusal or "over its 60 s" in refusal or "must be in" in refusal
    assert "too long" in report["up_next"]["answer"] and report["up_next"]["kept"] <= 1024
    sessions = report["many_sessions"]
    assert sessions["one_client_completed"] <= 4 and sessions["one_client_refused"] >= 30
    assert sessions["other_client"] == "completed"
    assert report["behind_endless"]["riff_clips_meanwhile"] <= 2
    assert report["uploads"]["statuses"] == [413]
    burst = report["burst"]  # memory comes back after the heavy requests, within the stated margin
    assert burst["requests"] >= 3 and burst["peak_mb"] > burst["before_mb"]
    assert burst["after_above_mb"] <= burst["margin_mb"]


def test_up_next_and_a_server_file_get_one_plain_line(tmp_path):
    with serve(studio.build_app(Engine("unused", root=tmp_path / "root"))) as site:
        stream = call(site, "up_next", ["x" * 100_000])
        assert '"success":false' in stream and "too long: at most 1000" in stream
        app_py = str(Path(__file__).resolve().parents[2] / "app.py")  # a server file
        stream = call(site, "image_to_audio", [{"path": app_py, "meta": FILE}, 0])
        assert '"success":false' in stream and "not uploaded" in stream
        assert "cache dir" not in stream and "/app.py" not in stream and str(tmp_path) not in stream
        assert httpx.get(site + "config").status_code == 200
