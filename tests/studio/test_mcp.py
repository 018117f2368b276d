"""The studio's endpoints as MCP tools, through the mcp package's own client over Gradio's
streamable HTTP endpoint."""

import asyncio
import io
import json

import httpx
import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("mcp")

from mcp import ClientSession  # noqa: E402
from mcp.client.streamable_http import streamablehttp_client  # noqa: E402

from riff.studio import build_app  # noqa: E402
from tests.conftest import serve  # noqa: E402


@pytest.fixture(scope="module")
def mcp_url(engine):
    with serve(build_app(engine, mcp_server=True)) as address:
        yield address.rstrip("/") + "/gradio_api/mcp/"


def _session(url: str, work):
    async def run():
        async with streamablehttp_client(url) as (read, write, _):
            async with ClientSession(read, write) as session:
                await session.initialize()
                return await work(session)

    return asyncio.run(run())


def test_tools_are_the_safe_endpoints_with_typed_documented_parameters(mcp_url):
    tools = {tool.name: tool for tool in _session(mcp_url, lambda s: s.list_tools()).tools}
    assert {"generate", "interpolate", "loop", "audio_to_image", "image_to_audio"} <= set(tools)
    assert not {"endless", "up_next", "queue_next", "teach", "cancel"} & set(tools)
    generate = tools["generate"]
    properties = generate.inputSchema["properties"]
    assert properties["prompt"]["type"] == "string"
    assert properties["num_seeds"]["type"] in ("integer", "number")
    assert "request" not in properties and "progress" not in properties
    assert "clip" in properties["num_seeds"].get("description", "")
    assert "steps" in properties["num_inference_steps"].get("description", "")


def test_generate_called_as_a_tool_gives_audio_back_as_a_url(mcp_url):
    async def work(session):
        return await session.call_tool(
            "generate", {"prompt": "warm jazz piano", "seed": 3, "num_seeds": 1, "num_inference_steps": 5}
        )

    result = _session(mcp_url, work)
    assert not result.isError, result.content
    text = " ".join(getattr(part, "text", "") for part in result.content)
    urls = [word.strip('",[]()') for word in text.split() if word.strip('",[]()').startswith("http")]
    audio_urls = [u for u in urls if u.split("?")[0].endswith((".wav", ".mp3", ".flac", ".ogg"))]
    assert audio_urls, text
    assert audio_urls[0].startswith(mcp_url.split("/gradio_api")[0])
    data, rate = sf.read(io.BytesIO(httpx.get(audio_urls[0], timeout=30).raise_for_status().content))
    assert rate > 0 and len(data) > rate  # a clip of seconds, not an empty file
    assert np.abs(data).max() > 0


def test_a_bad_tool_call_says_why_in_one_line(mcp_url):
    async def work(session):
        return await session.call_tool("generate", {"prompt": "", "num_seeds": 1})

    result = _session(mcp_url, work)
    text = " ".join(getattr(part, "text", "") for part in result.content)
    assert result.isError or "prompt" in text
    assert "Traceback" not in text and "/tmp" not in json.dumps(text)


def test_the_other_endpoints_cannot_be_called_as_tools_either(mcp_url):
    async def work(session):
        return [
            await session.call_tool(name, {"prompt": ""})  # without a prompt: quick either way
            for name in ("endless", "generate_1", "chain", "teach", "queue_next")
        ]

    for result in _session(mcp_url, work):
        text = " ".join(getattr(part, "text", "") for part in result.content)
        assert result.isError and "Unknown tool" in text
    schema = httpx.get(mcp_url.rstrip("/") + "/schema", timeout=30).raise_for_status().json()
    assert {tool["name"] for tool in schema} == {
        "generate",
        "interpolate",
        "loop",
        "audio_to_image",
        "image_to_audio",
    }
