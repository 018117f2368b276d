"""The endless riff as a browser receives it: the HLS segments the page plays, fetched and
decoded, are the track riff made, with no gap, no repeat and no level step at the joins
(bench/bench_stream.py runs it longer, on any model)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))


@pytest.mark.slow
def test_the_stream_a_browser_plays_is_the_track_riff_made():
    if shutil.which("ffmpeg") is None:
        pytest.skip("no ffmpeg: Gradio streams audio through it")
    import bench_stream

    report = bench_stream.main(["--seconds", "6", "--width", "128"])
    stream = report["stream"]
    assert report["chunks"] >= 4 and stream["joins"] == report["chunks"] - 1
    assert stream["no_gaps"] and stream["gap_windows"] == 0
    assert stream["no_repeats"] and stream["largest_drift_samples"] <= 2
    assert stream["level_steps_within_the_music"]
    assert abs(stream["received_s"] - stream["track_s"]) < 0.05
    # The checks catch what Gradio did before one encoder per stream: a hole at every join.
    control = report["one_encoder_per_chunk"]
    assert not control["no_gaps"] and not control["no_repeats"]
    assert not control["level_steps_within_the_music"]
    assert control["extra_samples"] > 1000 * stream["joins"]
