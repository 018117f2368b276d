"""The reference server's `POST /run_inference/` (`riff.serve.rest`): bad requests answered in
one JSON line, failures inside a render, the parser under arbitrary input, and 503 when the
queue or the caller's share of it is full."""

from __future__ import annotations

import json

import httpx
import pytest
import torch
from conftest import serve
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from riff import studio
from riff.pipeline import OutOfGPUMemory
from riff.serve.engine import Engine
from riff.serve.rest import InferenceInput, walk_request


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    engine = Engine("unused", root=tmp_path_factory.mktemp("limits"))
    with serve(studio.build_app(engine)) as address:
        yield address, engine


def post(site, body: bytes | str, content_type: str = "application/json") -> httpx.Response:
    return httpx.post(
        site[0] + "run_inference/", content=body, headers={"content-type": content_type}, timeout=60
    )


def request(**overrides) -> dict:
    return {"alpha": 0, "start": {"prompt": "a", "seed": 1}, "end": {"prompt": "b", "seed": 2}, **overrides}


@pytest.mark.parametrize(
    "body,status,match",
    [
        ("not json at all", 400, "not JSON"),
        ("[1, 2]", 400, "JSON object"),
        ('{"alpha": NaN, "start": {"prompt": "a"}, "end": {"prompt": "b"}}', 400, "alpha"),
        (json.dumps(request(alpha="half")), 400, "alpha"),
        (json.dumps(request(num_inference_steps=1_000_000)), 400, "num_inference_steps"),
        (json.dumps(request(num_inference_steps=500)), 400, "500 inference steps are too many"),
        (json.dumps(request(start={"prompt": "", "seed": 1})), 400, "prompt is empty"),
        (json.dumps(request(start={"prompt": None, "seed": 1})), 400, "start.prompt"),
        (json.dumps(request(start={"prompt": "a", "seed": 2**70})), 400, "seed must be an integer"),
        (json.dumps(request(start={"prompt": "a" * 5000, "seed": 1})), 400, "5000 characters"),
        (json.dumps(request(end={"prompt": "b", "guidance": float("inf")})), 400, "guidance"),
        (json.dumps(request(extra={"ignored": True}, seed_image_id=7)), 400, "seed_image_id"),
        ("{" * 5000, 400, "not JSON"),
        (json.dumps(request(padding="x" * 100_000)), 413, "over 64 kB"),
    ],
    ids=[
        "text", "array", "nan", "wrong-type", "huge-steps", "steps-over-limit", "empty-prompt", "null-prompt",
        "seed-beyond-64-bits", "huge-prompt", "infinite-guidance", "wrong-type-id", "deep-nesting", "huge-body",
    ],
)  # fmt: skip
def test_run_inference_answers_bad_requests_with_one_json_line(site, body, status, match):
    response = post(site, body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert match in error and "\n" not in error and "Traceback" not in error


def test_a_failure_inside_a_render_is_answered_and_the_next_request_works(site, monkeypatch):
    engine = site[1]

    def explode(*_, **__):
        raise RuntimeError("/secret/path/model.bin exploded")

    monkeypatch.setattr(engine, "clip", explode)
    response = post(site, json.dumps(request()))
    assert response.status_code == 500 and "secret" not in response.text
    assert response.json()["error"] == "the render failed on the server; try again"

    def no_memory(*_, **__):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20 GiB")

    monkeypatch.setattr(engine, "clip", no_memory)
    response = post(site, json.dumps(request()))
    assert response.status_code == 503 and "out of memory" in response.json()["error"]

    def no_gpu_memory(*_, **__):
        raise OutOfGPUMemory("out of GPU memory for 1 clips of 64 columns: lower the batch size or the width")

    monkeypatch.setattr(engine, "clip", no_gpu_memory)
    response = post(site, json.dumps(request()))
    assert response.status_code == 503 and response.json()["error"].startswith("out of GPU memory")
    assert response.headers["retry-after"] == "30"
    monkeypatch.undo()
    # The engine is unharmed: the next bad request still gets its own clear answer.
    assert post(site, json.dumps(request(alpha=2))).status_code == 400


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10)),
        lambda children: (
            st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=12), children, max_size=4)
        ),
        max_leaves=12,
    ).map(lambda extra: {**request(), **extra} if isinstance(extra, dict) else extra)
)
def test_the_rest_parser_only_raises_clear_errors(payload):
    try:
        data = InferenceInput.model_validate(payload)
        walk_request(data)
    except (ValidationError, ValueError):
        pass


def test_run_inference_answers_503_when_the_queue_is_full(tmp_path):
    import threading

    from riff.serve.engine import WorkQueue

    engine = Engine("unused", root=tmp_path)
    engine.queue = WorkQueue(max_waiting=0)
    holding, release = threading.Event(), threading.Event()

    def hold():
        with engine.queue.slot():
            holding.set()
            release.wait(30)

    worker = threading.Thread(target=hold)
    worker.start()
    holding.wait(10)
    try:
        with serve(studio.build_app(engine)) as site:
            payload = {"alpha": 0, "start": {"prompt": "a", "seed": 1}, "end": {"prompt": "b", "seed": 2}}
            response = httpx.post(site + "run_inference/", json=payload, timeout=60)
    finally:
        release.set()
        worker.join(10)
    assert response.status_code == 503 and response.headers["Retry-After"] == "30"
    assert "busy" in response.json()["error"]


def test_run_inference_counts_each_address_against_its_cap(tmp_path):
    """REST callers are capped per address like the page's: one address holding its share of
    renders gets 503, another address still gets in."""
    import threading

    from riff.serve.engine import WorkQueue

    engine = Engine("unused", root=tmp_path)
    engine.queue = WorkQueue(max_waiting=8, per_client=1)
    holding, release = threading.Event(), threading.Event()

    def hold():
        with engine.queue.admit("10.1.1.1"):
            holding.set()
            release.wait(30)

    worker = threading.Thread(target=hold)
    worker.start()
    holding.wait(10)
    payload = {"alpha": 0, "start": {"prompt": "a", "seed": 1}, "end": {"prompt": "b", "seed": 2}}
    try:
        with serve(studio.build_app(engine, trusted_proxies=1)) as site:  # behind one proxy

            def call(address: str) -> httpx.Response:
                headers = {"x-forwarded-for": address}
                return httpx.post(site + "run_inference/", json=payload, timeout=60, headers=headers)

            capped, other = call("10.1.1.1"), call("10.2.2.2")
    finally:
        release.set()
        worker.join(10)
    assert capped.status_code == 503 and "this address already has 1" in capped.json()["error"]
    # Another address is let in (and then cannot load the "unused" model: one line, 400).
    assert other.status_code == 400 and "unused" in other.json()["error"]
