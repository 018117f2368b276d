"""What every bench ends with: its report printed as JSON, and kept in a file if asked."""

from __future__ import annotations

import json
from pathlib import Path


def emit(report: dict, path: Path | None = None) -> dict:
    """Print `report` and write it to `path` (--json) when given; returns it."""
    text = json.dumps(report, indent=2)
    print(text)
    if path:
        Path(path).write_text(text)
    return report
