"""The page's safe endpoints as MCP tools (and API endpoints named tool_*), and the MCP server
kept to them."""

from __future__ import annotations

import inspect
from pathlib import Path

import gradio as gr
from gradio.data_classes import FileData

from riff.request import Loop, Settings, Walk
from riff.seed_images import DEFAULT_SEED
from riff.studio.edge import AS_THE_SEED, FIT_BARS
from riff.studio.handlers import Studio


def _final(outputs) -> tuple:
    """The last values a page handler yields (its finished render)."""
    *_, last = outputs
    return last


def _file(path: str | None) -> FileData | None:
    """A file the tool returns: served by the page, so the assistant gets a URL."""
    return FileData(path=path, orig_name=Path(path).name) if path else None


def one_line_args(doc: str | None) -> str | None:
    """`doc` with each argument's description on one line: Gradio's MCP server reads only an
    argument's first line (`gradio.utils.get_function_description`), so a wrapped one would reach
    the assistant cut mid-sentence."""
    if not doc:
        return doc
    lines, joined, indent = inspect.cleandoc(doc).split("\n"), [], None
    for line in lines:
        depth = len(line) - len(line.lstrip())
        if line.strip() in ("Args:", "Parameters:", "Arguments:"):
            indent = -1  # the next line sets the arguments' indent
        elif line.strip().startswith("Returns:") or (indent is not None and not line.strip()):
            indent = None
        elif indent == -1:
            indent = depth
        elif indent is not None and depth > indent:
            joined[-1] += " " + line.strip()
            continue
        joined.append(line)
    return "\n".join(joined)


def tools(studio: Studio) -> None:
    """The page's safe endpoints as MCP tools (and API endpoints named tool_*): typed, each
    returning its file as a URL (one output: Gradio's MCP server flattens no more), under the page's limits (they call its handlers). The
    page's own endpoints are kept off the tool list: their galleries and states mean nothing
    to an assistant."""
    handlers = (
        Studio.generate,
        Studio.interpolate,
        Studio.loop,
        Studio.audio_to_image,
        Studio.image_to_audio,
    )
    for tool, handler in zip((*_render_tools(studio), *_codec_tools(studio)), handlers, strict=True):
        tool.__doc__ = one_line_args(handler.__doc__)
        tool._mcp_type = "tool"
        gr.api(tool, api_name=f"tool_{tool.__name__}", concurrency_id="gpu")


def _render_tools(studio: Studio) -> tuple:
    """generate, interpolate and loop, with the page's parameter names and defaults (Gradio
    reads each tool's signature)."""

    def generate(
        prompt: str,
        seed: int = 0,
        num_seeds: int = 1,
        negative_prompt: str = "",
        num_inference_steps: int | None = None,
        seed_image: str = DEFAULT_SEED,
        bpm: float | None = None,
        key: str = AS_THE_SEED,
        meter: str = Settings.meter,
        bars: int | str = FIT_BARS,
        request: gr.Request = None,
    ) -> FileData:
        grid = {"seed_image": seed_image, "bpm": bpm, "key": key, "meter": meter, "bars": bars}
        outputs = studio.generate(
            prompt, seed, num_seeds, negative_prompt, num_inference_steps, **grid, request=request
        )
        track, *_ = _final(outputs)
        return _file(track)

    def interpolate(
        start_prompt: str,
        start_seed: int,
        end_prompt: str,
        end_seed: int,
        num_clips: int = Walk.num_clips,
        num_inference_steps: int | None = None,
        seed_image: str = DEFAULT_SEED,
        bpm: float | None = None,
        key: str = AS_THE_SEED,
        meter: str = Settings.meter,
        bars: int | str = FIT_BARS,
        request: gr.Request = None,
    ) -> FileData:
        grid = {"seed_image": seed_image, "bpm": bpm, "key": key, "meter": meter, "bars": bars}
        outputs = studio.interpolate(
            start_prompt,
            start_seed,
            end_prompt,
            end_seed,
            num_clips,
            num_inference_steps,
            **grid,
            request=request,
        )
        track, *_ = _final(outputs)
        return _file(track)

    def loop(
        prompt: str,
        seed: int = 0,
        clips: int = Loop.clips,
        num_inference_steps: int | None = None,
        seed_image: str = DEFAULT_SEED,
        bpm: float | None = None,
        key: str = AS_THE_SEED,
        meter: str = Settings.meter,
        bars: int | str = FIT_BARS,
        request: gr.Request = None,
    ) -> FileData:
        grid = {"seed_image": seed_image, "bpm": bpm, "key": key, "meter": meter, "bars": bars}
        outputs = studio.loop(prompt, seed, clips, num_inference_steps, **grid, request=request)
        track, *_ = _final(outputs)
        return _file(track)

    return generate, interpolate, loop


def _codec_tools(studio: Studio) -> tuple:
    """audio_to_image and image_to_audio."""

    def audio_to_image(audio: FileData, stereo: bool = False, request: gr.Request = None) -> FileData:
        _, _, png = studio.audio_to_image(_path(audio), stereo, request=request)
        return _file(png)

    def image_to_audio(image: FileData, seed: int = 0, request: gr.Request = None) -> FileData:
        path, _ = studio.image_to_audio(_path(image), seed, request=request)
        return _file(path)

    return audio_to_image, image_to_audio


def only_tools(demo: gr.Blocks) -> None:
    """Keep every endpoint but the tools off the MCP tool list (the API page still lists them):
    Gradio lists as tools only functions whose MCP type, when set, is "tool"."""
    for block_fn in demo.fns.values():
        fn = getattr(block_fn.fn, "__func__", block_fn.fn)
        if fn is not None and getattr(fn, "_mcp_type", None) != "tool":
            fn._mcp_type = "none"


def call_only_tools(demo: gr.Blocks) -> None:
    """Gradio's MCP server hides the other endpoints from its tool list but still calls them
    by name (and lists them in its schema): drop them from its name table, so that only the
    tools are tools."""
    server = getattr(demo, "mcp_server_obj", None)
    if server is None:
        return
    server.tool_to_endpoint = {
        name: endpoint
        for name, endpoint in server.tool_to_endpoint.items()
        if getattr(server.get_block_fn_from_endpoint_name(endpoint).fn, "_mcp_type", None) == "tool"
    }


def _path(file) -> str:
    return file["path"] if isinstance(file, dict) else getattr(file, "path", file)
