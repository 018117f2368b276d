"""The studio as a hostile caller meets it: no server file is read, named or deleted through it.

A studio of its own, over a nested folder with a sentinel beside it, so that a failure here
cannot delete anything another test needs.
"""

from __future__ import annotations

import hashlib
import http.client
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import gradio as gr
import httpx
import pytest
from conftest import FILE, call, serve
from gradio.utils import get_upload_folder
from PIL import Image, PngImagePlugin

from riff import studio
from riff.seed_images import SEED_DIR
from riff.serve.engine import Engine
from riff.serve.trust import (
    bundled_mask,
    bundled_seed,
    client_address,
    public_message,
    session_dir,
    uploaded,
)


@pytest.fixture(scope="module")
def outer(tmp_path_factory) -> Path:
    """outer/root is the studio's folder; outer/keep.txt and outer/secret.png are not its."""
    outer = tmp_path_factory.mktemp("outer")
    (outer / "root").mkdir()
    (outer / "keep.txt").write_text("keep")
    secret = PngImagePlugin.PngInfo()
    secret.add_text("secret", uuid.uuid4().hex)  # bytes no other file has
    Image.open(SEED_DIR / "og_beat.png").save(outer / "secret.png", pnginfo=secret)
    return outer


@pytest.fixture(scope="module")
def site(outer) -> Iterator[str]:
    with serve(studio.build_app(Engine("unused", root=outer / "root"))) as address:
        yield address


def copies_of(path: Path) -> list[Path]:
    """Files in Gradio's upload folder with the same bytes as `path`."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    folder = Path(get_upload_folder())
    return [
        p for p in folder.rglob("*") if p.is_file() and hashlib.sha256(p.read_bytes()).hexdigest() == digest
    ]


@pytest.mark.parametrize(
    "api_name,data",
    [
        ("image_to_audio", lambda f: [f, 0]),
        ("audio_to_image", lambda f: [f, False]),
    ],
)
def test_a_file_input_naming_a_server_file_is_refused(site, outer, api_name, data):
    secret = outer / "secret.png"
    stream = call(site, api_name, data({"path": str(secret), "meta": FILE}))
    assert '"success":false' in stream and "not uploaded" in stream
    assert copies_of(secret) == []


def test_the_explorers_seed_upload_cannot_name_a_server_file(site, outer):
    secret = outer / "secret.png"
    config = httpx.get(site + "config").json()
    names = next(d for d in config["dependencies"] if d.get("api_name") == "interpolate")
    data = [None] * len(names["inputs"])
    data[:4] = ["drums", 1, "piano", 2]
    # The seed upload is the one file input of the explorer.
    components = {c["id"]: c for c in config["components"]}
    upload = next(i for i, cid in enumerate(names["inputs"]) if components[cid]["type"] == "file")
    data[upload] = {"path": str(secret), "meta": FILE}
    stream = call(site, "interpolate", data)
    assert '"success":false' in stream and copies_of(secret) == []


@pytest.mark.parametrize("session", ["..", ".", "../../x", "a/b", "x" * 300])
def test_a_malformed_session_id_touches_nothing_outside_the_root(site, outer, session):
    upload = httpx.post(
        site + "gradio_api/upload", files={"files": ("seed.png", (outer / "secret.png").read_bytes())}
    )
    path = upload.json()[0]
    stream = call(site, "image_to_audio", [{"path": path, "meta": FILE}, 0], session_hash=session)
    assert '"success":false' in stream and "invalid session id" in stream
    assert sorted(p.name for p in outer.iterdir()) == ["keep.txt", "root", "secret.png"]


@pytest.mark.parametrize("session", ["..", "."])
def test_a_heartbeat_for_a_malformed_session_deletes_nothing(site, outer, session):
    (outer / "root" / "someone").mkdir(exist_ok=True)
    host = site.split("//")[1].rstrip("/")
    connection = http.client.HTTPConnection(host, timeout=10)
    connection.request("GET", f"/gradio_api/heartbeat/{session}")  # sent as is, not normalised
    connection.getresponse()
    connection.close()  # the page goes away: Gradio runs the unload event
    time.sleep(2)
    assert (outer / "keep.txt").exists() and (outer / "root" / "someone").exists()


@pytest.mark.parametrize(
    "field,value", [("seed_image_id", "/etc/passwd"), ("seed_image_id", "../seed_images/og_beat"),
                    ("seed_image_id", "~/x.png"), ("mask_image_id", "/etc/hostname"), ("seed_image_id", "x" * 10_000)],
)  # fmt: skip
def test_run_inference_names_only_bundled_images(site, outer, field, value):
    payload = {
        "alpha": 0,
        "num_inference_steps": 3,
        "start": {"prompt": "a", "seed": 1},
        "end": {"prompt": "b", "seed": 2},
        field: value,
    }
    response = httpx.post(site + "run_inference/", json=payload, timeout=60)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error.startswith("unknown seed image" if field == "seed_image_id" else "unknown mask")
    assert len(error) < 300 and "/" not in error.split(":")[0].replace(value[:40], "")


def test_bundled_names_only():
    assert bundled_seed("og_beat") == "og_beat" and bundled_mask("keep_low") == "keep_low"
    for name in [str(SEED_DIR / "og_beat.png"), "../og_beat", "og_beat.png", ""]:
        with pytest.raises(ValueError, match="unknown seed image"):
            bundled_seed(name)
    with pytest.raises(ValueError, match="unknown mask"):
        bundled_mask(str(SEED_DIR / "masks" / "keep_low.png"))


def test_uploaded_files_only(tmp_path):
    uploads = tmp_path / "uploads"
    (uploads / "a").mkdir(parents=True)
    (uploads / "a" / "song.wav").write_bytes(b"x")
    (tmp_path / "private.wav").write_bytes(b"x")
    assert uploaded(uploads / "a" / "song.wav", [uploads]) == (uploads / "a" / "song.wav").resolve()
    for path in [
        tmp_path / "private.wav",
        uploads / "a" / ".." / ".." / "private.wav",
        uploads / "missing.wav",
    ]:
        with pytest.raises(ValueError, match="not uploaded here"):
            uploaded(path, [uploads])


def test_session_ids(tmp_path):
    assert session_dir(tmp_path, "ab12_-XY") == tmp_path / "ab12_-XY"
    assert session_dir(tmp_path, None) == tmp_path / "anonymous"
    for bad in ["..", ".", "", "a/b", "a\\b", "x" * 129, "/etc"]:
        with pytest.raises(ValueError, match="invalid session id"):
            session_dir(tmp_path, bad)


def test_forgetting_a_malformed_session_deletes_nothing(tmp_path):
    root = tmp_path / "root"
    (root / "s1").mkdir(parents=True)
    engine = Engine("unused", root=root)
    for bad in ["..", ".", ""]:
        engine.forget_session(bad)
    assert (root / "s1").exists() and root.exists()


def test_client_address_trusts_only_the_configured_proxies():
    spoofed = "6.6.6.6, 203.0.113.9"  # the caller wrote the first, the proxy appended the second
    assert client_address("10.0.0.1", spoofed, 0) == "10.0.0.1"
    assert client_address("10.0.0.1", spoofed, 1) == "203.0.113.9"
    assert client_address("10.0.0.1", spoofed, 2) == "6.6.6.6"
    assert client_address("10.0.0.1", None, 1) == "10.0.0.1"
    assert client_address("10.0.0.1", " , ", 1) == "10.0.0.1"


def test_public_messages_name_no_server_folder():
    message = "cannot read audio from '/tmp/gradio/3f2a/song.wav': Error opening '/tmp/gradio/3f2a/song.wav'"
    assert public_message(message) == "cannot read audio from 'song.wav': Error opening 'song.wav'"
    assert public_message("no such file: '~/models/x'") == "no such file: 'x'"
    assert public_message("need 1..16 clips, 2/4 done") == "need 1..16 clips, 2/4 done"
    assert len(public_message("x" * 5000)) == 300
    assert "\n" not in public_message("one\ntwo")


def test_cors_never_hands_out_credentials(site):
    headers = {"Origin": "https://elsewhere.example", "Host": "riff.example.org"}
    preflight = httpx.options(
        site + "run_inference/", headers={**headers, "Access-Control-Request-Method": "POST"}
    )
    assert preflight.headers["access-control-allow-origin"] == "*"
    for response in (preflight, httpx.get(site + "config", headers=headers)):
        assert "access-control-allow-credentials" not in response.headers
        assert response.headers.get("access-control-allow-origin") in ("*", None)


def test_the_image_just_encoded_decodes_only_for_its_own_page(engine, tmp_path, monkeypatch):
    import types

    from conftest import sine

    from riff.audio.files import save_audio
    from riff.studio import codec
    from riff.studio.handlers import Studio

    song = save_audio(tmp_path / "tone.wav", sine(440.0, 1.0), 44100)
    monkeypatch.setattr(codec, "uploaded_path", str)  # as if the page had uploaded it
    page = Studio(engine)
    mine, other = types.SimpleNamespace(session_hash="mine"), types.SimpleNamespace(session_hash="other")
    _, _, png = page.audio_to_image(str(song), False, mine)
    # The page sends back its own copy of the PNG (Gradio's, elsewhere): the studio decodes the
    # image it encoded for this page, whatever path comes back.
    wav, info = page.decode_encoded("/tmp/gradio/copy/tone.png", 0, mine)
    assert Path(wav).is_file() and info["note"] is None  # its own level, nothing to say
    assert Path(wav).stem == Path(png).stem
    for path, request in ((png, other), ("/etc/passwd", other)):
        with pytest.raises(gr.Error, match="encode an audio file first"):
            page.decode_encoded(path, 0, request)
