"""The studio's endpoints as MCP tools, through the mcp package's own client over Gradio's
streamable HTTP endpoint."""

import asyncio
import io
import json
import struct
from pathlib import PurePosixPath
from urllib.parse import unquote, urlparse

import httpx
import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("mcp")

from mcp import ClientSession  # noqa: E402
from mcp.client.streamable_http import streamablehttp_client  # noqa: E402

from riff.audio.tags import wav_chunks  # noqa: E402
from riff.grid import Grid  # noqa: E402
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


def _audio_url(result) -> str:
    """The URL of the audio file a tool call gave back."""
    assert not result.isError, result.content
    text = " ".join(getattr(part, "text", "") for part in result.content)
    urls = [word.strip('",[]()') for word in text.split() if word.strip('",[]()').startswith("http")]
    audio_urls = [u for u in urls if u.split("?")[0].endswith((".wav", ".mp3", ".flac", ".ogg"))]
    assert audio_urls, text
    return audio_urls[0]


def test_generate_called_as_a_tool_gives_audio_back_as_a_url(mcp_url):
    async def work(session):
        return await session.call_tool(
            "generate", {"prompt": "warm jazz piano", "seed": 3, "num_seeds": 1, "num_inference_steps": 5}
        )

    url = _audio_url(_session(mcp_url, work))
    assert url.startswith(mcp_url.split("/gradio_api")[0])
    data, rate = sf.read(io.BytesIO(httpx.get(url, timeout=30).raise_for_status().content))
    assert rate > 0 and len(data) > rate  # a clip of seconds, not an empty file
    assert np.abs(data).max() > 0


def test_the_render_tools_take_the_beat_grid_as_the_page_does(mcp_url):
    tools = {tool.name: tool for tool in _session(mcp_url, lambda s: s.list_tools()).tools}
    for name in ("generate", "interpolate", "loop"):
        properties = tools[name].inputSchema["properties"]
        assert {"seed_image", "bpm", "key", "meter", "bars"} <= set(properties), name
        assert "40 to 240" in properties["bpm"].get("description", "")
        assert "24 keys" in properties["key"].get("description", "")
        # A description wrapped in the docstring reaches the assistant whole, not cut at its line.
        assert properties["num_inference_steps"]["description"].endswith("5 to 100.")
        assert properties["bpm"]["description"].endswith(("as the seed).", "tempo and key."))


@pytest.mark.parametrize(
    "tool, arguments, clips",
    [
        ("generate", {"prompt": "warm jazz piano", "num_seeds": 1}, 1),
        ("loop", {"prompt": "lofi beat", "clips": 2}, 2),
        ("interpolate", {"start_prompt": "piano", "start_seed": 1, "end_prompt": "drums", "end_seed": 2,
                         "num_clips": 2}, 2),
    ],
)  # fmt: skip
@pytest.mark.parametrize(
    "grid",
    [{"bpm": 120, "key": "A minor", "bars": 1}, {"bpm": 100, "key": "F#", "meter": "3/4", "bars": 1}],
    ids=["4/4", "3/4"],
)
def test_a_tool_call_with_a_tempo_gives_whole_bars_named_and_tagged(mcp_url, tool, arguments, clips, grid):
    async def work(session):
        return await session.call_tool(tool, {**arguments, **grid, "num_inference_steps": 5})

    url = _audio_url(_session(mcp_url, work))
    asked = Grid.parse(grid["bpm"], grid.get("meter", "4/4"), grid["bars"], grid["key"])
    name = PurePosixPath(unquote(urlparse(url).path)).name
    assert name.endswith(f"_{asked.tag()}.wav"), name  # e.g. "_120bpm_Am.wav"
    data, rate = sf.read(io.BytesIO(httpx.get(url, timeout=30).raise_for_status().content))
    # Exactly the bars asked for, to the sample: bars x beats x 60 / bpm seconds a clip.
    beats = {"4/4": 4, "3/4": 3}[asked.meter]
    assert len(data) == round(clips * asked.bars * beats * 60 / asked.bpm * rate)
    assert np.abs(data).max() > 0


def test_a_tool_s_file_carries_its_tempo_in_its_acid_chunk(mcp_url, tmp_path):
    async def work(session):
        arguments = {"prompt": "drums", "num_seeds": 1, "num_inference_steps": 5, "bpm": 96, "bars": 1}
        return await session.call_tool("generate", arguments)

    wav = tmp_path / "tool.wav"
    wav.write_bytes(httpx.get(_audio_url(_session(mcp_url, work)), timeout=30).raise_for_status().content)
    *_, bpm = struct.unpack("<IHHfIHHf", wav_chunks(wav)["acid"])
    assert bpm == 96.0


@pytest.mark.parametrize(
    "tool, arguments",
    [
        ("generate", {"prompt": "piano", "num_seeds": 1}),
        ("loop", {"prompt": "piano", "clips": 1}),
        ("interpolate", {"start_prompt": "piano", "start_seed": 1, "end_prompt": "drums", "end_seed": 2}),
    ],
)
@pytest.mark.parametrize(
    "grid, expected",
    [
        ({"bpm": 300}, "tempo must be 40-240 bpm, got 300.0"),
        ({"bpm": 96, "key": "H minor"}, "unknown key 'H minor'"),
        ({"bpm": 96, "bars": 0}, "bars must be a whole number of at least 1, got 0"),
        ({"bpm": 96, "meter": "5/4"}, "meter must be one of 4/4, 3/4, 6/8, got '5/4'"),
    ],
    ids=["tempo", "key", "bars", "meter"],
)
def test_a_bad_beat_grid_in_a_tool_call_is_one_line(mcp_url, tool, arguments, grid, expected):
    async def work(session):
        return await session.call_tool(tool, {**arguments, **grid})

    result = _session(mcp_url, work)
    text = " ".join(getattr(part, "text", "") for part in result.content)
    assert result.isError and expected in text, text
    assert "\n" not in text.strip() and "Traceback" not in text and "/tmp" not in text


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
