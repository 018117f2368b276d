"""bench/gpu_check.sh rehearsed on the CPU: every step end to end with the tiny model, the same
JSON written, so the one command a GPU machine will run is known to work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_the_gpu_check_dry_run_writes_its_figures(tmp_path):
    env = {**os.environ, "OUT": str(tmp_path), "PYTHON": sys.executable}
    result = subprocess.run(
        ["bash", str(ROOT / "bench" / "gpu_check.sh"), "--dry-run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads((tmp_path / "gpu_check.json").read_text())
    assert summary["ok"] and summary["dry_run"]
    checks = summary["correctness"]["checks"]
    assert len(checks) == 4 and all(c["ok"] for c in checks)
    assert {r["case"] for r in summary["speed"]["rows"]} == {"clip", "walk", "first clip", "fast walk"}
    assert all(r["seconds"] > 0 for r in summary["speed"]["rows"])
    assert any(name.startswith("riff") for name in summary["codec"]["codec"])
    assert "gpu_check (dry run) ok" in (tmp_path / "gpu_check.txt").read_text()
