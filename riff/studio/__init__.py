"""riff studio: the Gradio page over the riff library (locally, installed, or on Spaces).

It only wires: layout (`explorer`, `tabs`, `journey`, shared controls in `widgets`, help texts
in `help`), events, and turning ValueError into gr.Error (`edge`). Each handler of
`handlers.Studio` unpacks widgets into a request (`riff.request`) and hands it to the engine
(`riff.serve.engine.Engine`); choices, defaults and limits come from the library. `server`
serves it: `build_demo` (the page), `build_app` (the page, the REST route and MCP), `main`.
"""

from __future__ import annotations

from riff.studio.server import build_app, build_demo, main

__all__ = ["build_app", "build_demo", "main"]
