"""The studio served: the page (`build_demo`), the page with the REST route and MCP on one
FastAPI server (`build_app`), and `main`, what `python app.py` runs."""

from __future__ import annotations

import argparse
import functools
import logging
import os
import signal
import tempfile
import threading
from pathlib import Path

import gradio as gr
import torch
from gradio.exceptions import InvalidPathError

from riff.gpu import compile_mode
from riff.models import default_model_reason, model_name
from riff.runtime import keep_large_buffers, set_threads
from riff.serve.engine import Engine
from riff.serve.uploads import keep_trimmed
from riff.studio.edge import WORKERS, gpu, session_of
from riff.studio.explorer import explorer_tab
from riff.studio.handlers import Studio
from riff.studio.journey import teach_tab
from riff.studio.mcp import call_only_tools, only_tools, tools
from riff.studio.tabs import chain_tab, endless_tab, loop_tab, restyle_tab, text_tab, tools_tab

# Phones: the examples table wraps its words instead of running off the screen, the seed
# thumbnails wrap onto two rows instead of scrolling out of sight, every tab's name shows (not
# behind "..."), and the explorer's prompts and Generate come first, without their help lines.
CSS = """
@media (max-width: 640px) {
  .overflow-menu > button { display: none !important; }
  .tab-wrapper { flex-wrap: wrap; height: auto !important; }
  .overflow-menu .overflow-dropdown {
    display: flex !important; flex-wrap: wrap; position: static !important; width: auto !important;
    min-width: 0 !important; box-shadow: none !important; border: none !important; padding: 0 !important;
  }
  .overflow-menu { flex-basis: 100%; }
  .overflow-menu .overflow-dropdown button { width: auto !important; }
  #walk-top .info-text, #walk-go .info-text { display: none; }
  #walk-go #generate { order: -1; }
  #walk-top, #walk-top > div { gap: 6px !important; }
  #walk-top > div { padding: 6px !important; }
  #walk-examples table { table-layout: fixed; width: 100%; }
  #walk-examples th, #walk-examples td { white-space: normal; overflow-wrap: anywhere; }
  #seed-gallery .grid-container { grid-template-columns: repeat(4, minmax(0, 1fr)) !important; }
  #seed-gallery .grid-wrap { height: auto !important; max-height: none !important; }
}
"""


def build_demo(engine: Engine, cache_examples: bool = False, trusted_proxies: int = 0) -> gr.Blocks:
    """The studio's page over `engine` (models load lazily, on the first render).

    Args:
        trusted_proxies: proxies in front of the server whose X-Forwarded-For names the caller
            (Spaces: 1); 0 trusts the connection's own address only.
    """
    studio = Studio(engine, trusted_proxies)
    keep = int(engine.limits.keep_s)  # Gradio's copies of what it served go on riff's schedule
    with gr.Blocks(title="riff studio", delete_cache=(max(60, min(1800, keep // 2)), keep)) as demo:
        gr.Markdown(
            "# riff studio\nMusic from text, through spectrogram diffusion. Two prompts, two seeds: "
            "riff walks between them and plays the walk as one track."
        )
        status = gr.Markdown(engine.status(), elem_id="model-status", label="Model status")
        tools(studio)  # first, so the tools take the handlers' names
        with gr.Tab("Interpolation explorer"):
            explorer_tab(studio, status, cache_examples)
        with gr.Tab("Text to audio"):
            text_tab(studio)
        with gr.Tab("Prompt chain"):
            chain_tab(studio)
        with gr.Tab("Loop"):
            loop_tab(studio)
        with gr.Tab("Endless riff"):
            endless_tab(studio)
        with gr.Tab("How it works"):
            teach_tab(studio)
        with gr.Tab("Audio to audio"):
            restyle_tab(studio)
        with gr.Tab("Spectrogram tools"):
            tools_tab(studio)

        def forget(request: gr.Request) -> None:
            engine.forget_session(session_of(request))
            studio.forget(session_of(request))

        demo.unload(forget)  # Gradio fills in gr.Request only for a parameter annotated so
        # The status as it is when the page opens (the page is built once, before any load).
        demo.load(engine.status, None, status, api_visibility="private", show_progress="hidden", queue=False)
    # The engine's queue hands out the model one clip at a time, fairly and with per-client caps;
    # Gradio's limit only bounds the threads that wait for it.
    demo.queue(default_concurrency_limit=WORKERS, max_size=engine.limits.queue)
    _plain_path_errors(demo)
    only_tools(demo)
    return demo


def _plain_path_errors(demo: gr.Blocks) -> None:
    """A file input naming a server file is answered in one line that names no folder (Gradio's
    own message names the path and the app's folders)."""
    preprocess = demo.preprocess_data

    @functools.wraps(preprocess)
    async def checked(*args, **kwargs):
        try:
            return await preprocess(*args, **kwargs)
        except InvalidPathError:
            logging.getLogger("riff").warning("refused a file input that was not uploaded")
            raise gr.Error("that file was not uploaded here: upload it first") from None

    demo.preprocess_data = checked


def build_app(
    engine: Engine,
    cache_examples: bool = False,
    trusted_proxies: int = 0,
    mcp_server: bool | None = None,
    cors_origins: tuple[str, ...] = ("*",),
):
    """The page and the riffusion-compatible REST route on one FastAPI server; with
    `mcp_server` (default: as Gradio's GRADIO_MCP_SERVER says) the page's endpoints are also MCP
    tools at /gradio_api/mcp/. `cors_origins`: the pages that may call the API."""
    from fastapi import FastAPI
    from starlette.middleware.cors import CORSMiddleware

    from riff.serve.rest import router
    from riff.serve.uploads import UploadCap

    app = FastAPI(title="riff")
    # Any page may call the API (riffusion's web app lives elsewhere), but never with its
    # visitor's cookies: no credentials. Gradio's own CORS layer defers to this one.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(cors_origins),
        allow_credentials=False,
        allow_methods=["GET", "POST"],
        allow_headers=["*"],
    )
    app.include_router(router(engine, gpu(lambda _: 1, width=None), trusted_proxies))
    limits = engine.limits
    app.add_middleware(
        UploadCap,
        max_bytes=limits.upload_request_mb * 1e6,
        max_files=limits.upload_files,
        client_bytes=limits.client_upload_mb * 1e6,
        trusted_proxies=trusted_proxies,
    )
    demo = build_demo(engine, cache_examples, trusted_proxies)
    app = gr.mount_gradio_app(
        app,
        demo,
        path="/",
        allowed_paths=[str(engine.root)],
        max_file_size=int(engine.limits.upload_mb * 1e6),
        css=CSS,
        mcp_server=mcp_server,
    )
    call_only_tools(demo)
    # Gradio refuses file inputs that were not uploaded only in a Blocks marked launched, which
    # mount_gradio_app never does: without this, {"path": "/etc/passwd"} would be copied into
    # the cache and served back.
    demo.has_launched = True
    return app


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """`python app.py`'s (and `riff studio`'s) options; defaults from the environment (Spaces
    sets SPACE_ID), read here and in `main` only."""
    parser = argparse.ArgumentParser(prog=prog, description="riff studio: the page, on http://HOST:PORT")
    parser.add_argument(
        "--model", default=None, help="hub id or local diffusers folder (default: $RIFF_MODEL, else chosen)"
    )
    parser.add_argument(
        "--compile",
        default=os.environ.get("RIFF_COMPILE"),
        metavar="MODE",
        help="run the UNet under torch.compile: 1, or a torch.compile mode (default: $RIFF_COMPILE)",
    )
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: best available)")
    on_spaces = bool(os.environ.get("SPACE_ID"))
    parser.add_argument(
        "--host", default=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0" if on_spaces else "127.0.0.1")
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument(
        "--trusted-proxies",
        type=int,
        default=int(os.environ.get("RIFF_TRUSTED_PROXIES", "1" if on_spaces else "0")),
        help="proxies in front whose X-Forwarded-For names the caller (Spaces: 1; default 0 elsewhere)",
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch's CPU threads (default: $RIFF_THREADS, else chosen)"
    )
    parser.add_argument(
        "--mcp",
        action="store_true",
        default=None,
        help="also serve the endpoints as MCP tools at /gradio_api/mcp/ (default: $GRADIO_MCP_SERVER)",
    )
    parser.add_argument(
        "--lora-dir",
        default=os.environ.get("RIFF_LORA_DIR"),
        metavar="DIR",
        help="LoRAs the page offers, a folder each (riff train --lora); requests name them, never a path "
        "(default: $RIFF_LORA_DIR)",
    )
    parser.add_argument(
        "--cors-origins",
        default=os.environ.get("RIFF_CORS_ORIGINS", "*"),
        metavar="ORIGINS",
        help="comma-separated pages that may call the API, without credentials (default: $RIFF_CORS_ORIGINS, else *)",
    )
    return parser


def main(argv: list[str] | None = None, prog: str | None = None) -> None:
    """Serve the studio until the server stops (Ctrl+C, SIGTERM); no results outlive it."""
    options = build_parser(prog)
    args = options.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    keep_large_buffers()
    try:
        # Before any work: a shared CPU stays usable (README, "CPU threads").
        set_threads(args.threads, os.environ)
        compile_mode(args.compile, torch.device("cpu"))  # a bad --compile fails now, not at the load
    except ValueError as error:
        options.error(str(error))
    if args.model is None:
        print(f"riff: {default_model_reason(os.environ)}", flush=True)
    import uvicorn

    # Results go inside Gradio's cache, which Gradio serves as they are: copied out of a
    # folder of riff's own, every file a page is handed (a growing track is handed several
    # times) would be stored twice.
    cache = Path(gr.utils.get_upload_folder())
    cache.mkdir(parents=True, exist_ok=True)
    root = tempfile.mkdtemp(prefix="riff-studio-", dir=cache)
    model = model_name(args.model, os.environ)
    engine = Engine(model, args.device, root=root, lora_dir=args.lora_dir, compile=args.compile)

    def preload() -> None:
        # Load while the page is already up; a failure is kept and shown as one line.
        try:
            print(f"riff: {engine.model.describe()} ready", flush=True)
        except ValueError as error:
            print(f"riff: {error}", flush=True)

    threading.Thread(target=preload, daemon=True).start()
    keep_trimmed(cache, engine.limits.cache_mb * 1e6, skip=engine.root)  # the engine trims its own
    print(f"riff studio on http://{args.host}:{args.port}", flush=True)
    # uvicorn stops on SIGTERM as on SIGINT, then raises the signal again with the handler it
    # found: the default one would end the process here, skipping the clean-up below.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        uvicorn.run(
            build_app(
                engine,
                cache_examples=True,
                trusted_proxies=args.trusted_proxies,
                mcp_server=args.mcp,
                cors_origins=tuple(o.strip() for o in args.cors_origins.split(",") if o.strip()),
            ),
            host=args.host,
            port=args.port,
            log_level="warning",
            timeout_graceful_shutdown=5,  # Gradio's event streams never end on their own
        )
    finally:
        engine.close()  # no results outlive the server


def _exit_on_sigterm(signum, frame) -> None:
    raise SystemExit(128 + signum)
