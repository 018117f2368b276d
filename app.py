"""riff studio, as Hugging Face Spaces (and `python app.py`) runs it: the page lives in
`riff.studio`; `python app.py --help` lists its options."""

from __future__ import annotations

from riff.studio import build_app, build_demo, main

__all__ = ["build_app", "build_demo", "main"]

if __name__ == "__main__":
    main()
