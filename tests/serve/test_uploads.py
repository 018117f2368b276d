"""Caps on uploads and on Gradio's cache (`riff.serve.uploads`): per request, per client over
time, and the cache trimmed oldest first."""

from __future__ import annotations

import httpx
from conftest import serve

from riff import studio
from riff.serve.engine import Engine
from riff.serve.limits import Limits


def test_an_upload_request_is_capped_in_files_and_bytes(tmp_path):
    limits = Limits(upload_request_mb=0.5, upload_files=2)
    with serve(studio.build_app(Engine("unused", root=tmp_path / "root", limits=limits))) as site:
        upload = site + "gradio_api/upload"
        small = [("files", (f"{i}.wav", b"x" * 1000)) for i in range(2)]
        assert httpx.post(upload, files=small).status_code == 200
        many = [("files", (f"{i}.wav", b"x" * 1000)) for i in range(3)]
        refused = httpx.post(upload, files=many)
        assert refused.status_code == 413 and "at most 2 files" in refused.json()["error"]
        big = [("files", ("big.wav", b"x" * 600_000))]
        assert httpx.post(upload, files=big).status_code == 413

        def chunks():  # no Content-Length: counted as it streams
            yield b'--zz\r\nContent-Disposition: form-data; name="files"; filename="a.wav"\r\n\r\n'
            for _ in range(10):
                yield b"x" * 100_000
            yield b"\r\n--zz--\r\n"

        headers = {"content-type": "multipart/form-data; boundary=zz"}
        assert httpx.post(upload, content=chunks(), headers=headers).status_code == 413
        assert httpx.get(site + "config").status_code == 200


def test_one_client_uploads_at_most_its_share_in_an_hour(tmp_path):
    limits = Limits(upload_request_mb=0.5, client_upload_mb=0.25)
    with serve(studio.build_app(Engine("unused", root=tmp_path / "root", limits=limits))) as site:
        upload = site + "gradio_api/upload"
        part = [("files", ("a.wav", b"x" * 100_000))]
        statuses = [httpx.post(upload, files=part).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 413]  # the third passed the share; the fourth is refused
        refused = httpx.post(upload, files=part)
        assert (
            refused.status_code == 413
            and "uploaded 0.25 MB within the last 60 minutes" in refused.json()["error"]
        )
        assert "\n" not in refused.json()["error"]


def test_gradios_cache_is_trimmed_oldest_first_to_its_cap(tmp_path):
    import os

    from riff.serve.uploads import trim_folder

    cache = tmp_path / "gradio"
    made = []
    for i in range(5):
        path = cache / f"hash{i}" / "song.wav"
        path.parent.mkdir(parents=True)
        path.write_bytes(b"x" * 100_000)
        os.utime(path, (i, i))
        made.append(path)
    assert trim_folder(cache, 250_000) == 300_000
    assert [p.exists() for p in made] == [False, False, False, True, True]
    assert not (cache / "hash0").exists()  # emptied folders go too
    assert trim_folder(cache, 250_000) == 0
    # riff's results inside the cache are the engine's to trim: neither counted nor deleted.
    ours = cache / "riff-studio-x" / "session" / "track.wav"
    ours.parent.mkdir(parents=True)
    ours.write_bytes(b"x" * 400_000)
    os.utime(ours, (0, 0))
    assert trim_folder(cache, 250_000, skip=cache / "riff-studio-x") == 0 and ours.exists()
    assert trim_folder(cache, 250_000) == 400_000 and not ours.exists()


def test_an_upload_over_the_limit_is_refused(tmp_path):
    engine = Engine("unused", root=tmp_path / "root", limits=Limits(upload_mb=0.01))
    with serve(studio.build_app(engine)) as address:
        response = httpx.post(address + "gradio_api/upload", files={"files": ("big.wav", b"x" * 20_000)})
    assert response.status_code == 413
