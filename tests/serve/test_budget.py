"""What a request costs on this machine (`riff.serve.budget`): estimates, one-line refusals
saying what fits, and a calibration that leaves out warm-up and unlucky runs."""

from __future__ import annotations

import pytest

from riff.serve import budget
from riff.serve.budget import Calibration, check, estimate, fitting_clips

SLOW = Calibration(step_s=0.1, clip_s=0.5, clip_mb=100)  # 5.5 s per clip of 50 steps


def test_estimate_scales_with_clips_steps_and_width():
    one = estimate(SLOW, 1, 50)
    assert one.seconds == pytest.approx(5.5)
    assert estimate(SLOW, 4, 50).seconds == pytest.approx(4 * one.seconds)
    assert estimate(SLOW, 1, 50, 1024).seconds == pytest.approx(2 * one.seconds)
    assert estimate(SLOW, 1, 100).seconds > one.seconds
    assert estimate(SLOW, 1, 50, 2048).mb > estimate(SLOW, 1, 50).mb
    assert fitting_clips(SLOW, 50, 512, 60) == 10


def test_memory_counts_the_clips_a_batch_renders_together():
    """A restyle's batch of 4 clip-wide segments peaked at four clips' working memory."""
    one_at_a_time = estimate(SLOW, 8, 50, batch=1).mb
    assert estimate(SLOW, 8, 50, batch=4).mb == pytest.approx(one_at_a_time + 3 * SLOW.clip_mb)
    assert estimate(SLOW, 2, 50, batch=4).mb == estimate(SLOW, 2, 50, batch=2).mb  # no more than it has
    assert estimate(SLOW, 8, 50, batch=4).seconds == estimate(SLOW, 8, 50).seconds
    check(SLOW, 8, 50, 512, max_s=60, max_mb=250, batch=1)
    with pytest.raises(ValueError, match="4 at a time, would need about 4.. MB.*a smaller batch") as error:
        check(SLOW, 8, 50, 512, max_s=60, max_mb=250, batch=4)
    assert "\n" not in str(error.value)


def test_over_budget_is_refused_in_one_line_saying_what_fits():
    with pytest.raises(ValueError, match=r"at most 10 clip\(s\) at these settings") as error:
        check(SLOW, 32, 50, 512, max_s=60, max_mb=4000)
    assert "\n" not in str(error.value)
    check(SLOW, 10, 50, 512, max_s=60, max_mb=4000)  # what it said fits, fits
    with pytest.raises(ValueError, match="MB"):
        check(SLOW, 1, 50, 512, max_s=60, max_mb=50)
    with pytest.raises(ValueError, match="fewer steps or a narrower clip"):
        check(SLOW, 1, 100, 2048, max_s=10, max_mb=4000)


def test_calibration_leaves_out_the_warm_up_and_unlucky_runs(monkeypatch):
    """A first render that pays one-off costs, or one run slowed by a busy machine, must not
    become the machine's speed: that refused requests the machine could serve."""
    clock = [0.0]
    monkeypatch.setattr(budget.time, "perf_counter", lambda: clock[0])
    costs = iter([100.0, 2.0, 30.0, 2.0, 3.0])  # warm-up; then 2 and 4 steps, twice
    rendered = []

    def render_clip(steps: int) -> None:
        rendered.append(steps)
        clock[0] += next(costs)

    measured = budget.measure(render_clip, "cpu")
    assert rendered == [2, 2, 4, 2, 4]
    assert measured.step_s == pytest.approx(0.5) and measured.clip_s == pytest.approx(1.0)


def test_a_restyle_counts_encoding_each_segments_image():
    """A restyle of 31 segments estimated at 59.6 s took 63-65 s: each segment's mel image is
    made and encoded before it renders, which a walk does once for its seed."""
    slow = Calibration(step_s=0.1, clip_s=0.5, clip_mb=100, encode_s=0.5)
    assert estimate(slow, 4, 50, encodes=True).seconds == pytest.approx(4 * (5.5 + 0.5))
    assert estimate(slow, 4, 50).seconds == pytest.approx(4 * 5.5)
    check(slow, 10, 50, 512, max_s=60, max_mb=4000)
    with pytest.raises(ValueError, match=r"at most 10 clip\(s\)"):  # 60 s holds 10 of 6 s
        check(slow, 11, 50, 512, max_s=60, max_mb=4000, encodes=True)
    with pytest.raises(ValueError, match=r"at most 9 clip\(s\)"):
        check(slow, 10, 50, 512, max_s=59, max_mb=4000, encodes=True)
