"""A shared server's budget and fairness: requests costed in the machine's own units before
any work, turns on the model handed out in order, per-client caps, bounded `/up_next`."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
from conftest import serve

from riff import studio
from riff.endless import Endless
from riff.request import PromptEnd, Settings, Walk
from riff.serve import budget
from riff.serve.budget import Calibration, check, estimate, fitting_clips
from riff.serve.engine import Busy, Engine
from riff.serve.limits import Limits
from riff.serve.trust import client_address
from riff.serve.upnext import UpNext
from riff.serve.workqueue import WorkQueue

SLOW = Calibration(step_s=0.1, clip_s=0.5, clip_mb=100)  # 5.5 s per clip of 50 steps


def test_estimate_scales_with_clips_steps_and_width():
    one = estimate(SLOW, 1, 50)
    assert one.seconds == pytest.approx(5.5)
    assert estimate(SLOW, 4, 50).seconds == pytest.approx(4 * one.seconds)
    assert estimate(SLOW, 1, 50, 1024).seconds == pytest.approx(2 * one.seconds)
    assert estimate(SLOW, 1, 100).seconds > one.seconds
    assert estimate(SLOW, 1, 50, 2048).mb > estimate(SLOW, 1, 50).mb
    assert fitting_clips(SLOW, 50, 512, 60) == 10


def test_over_budget_is_refused_in_one_line_saying_what_fits():
    with pytest.raises(ValueError, match=r"at most 10 clip\(s\) at these settings") as error:
        check(SLOW, 32, 50, 512, max_s=60, max_mb=4000)
    assert "\n" not in str(error.value)
    check(SLOW, 10, 50, 512, max_s=60, max_mb=4000)  # what it said fits, fits
    with pytest.raises(ValueError, match="MB"):
        check(SLOW, 1, 50, 512, max_s=60, max_mb=50)
    with pytest.raises(ValueError, match="fewer steps or a narrower clip"):
        check(SLOW, 1, 100, 2048, max_s=10, max_mb=4000)


def test_the_engine_refuses_before_the_model_loads(tmp_path):
    # "unused" cannot load: a refusal that names the budget came before any model work.
    engine = Engine("unused", root=tmp_path, calibration=SLOW)
    walk = Walk(PromptEnd("drums"), PromptEnd("piano"), num_clips=32)
    with pytest.raises(ValueError, match=r"about 176 s .* at most 10 clip"):
        next(engine.render(walk, Settings(num_inference_steps=50)))
    assert engine.queue.admitted() == 0 and [p for p in tmp_path.rglob("*") if p.is_file()] == []
    lenient = Engine("unused", root=tmp_path, calibration=SLOW, limits=Limits(request_s=1000))
    with pytest.raises(ValueError, match="unused"):  # within budget: on to loading the model
        next(lenient.render(walk, Settings(num_inference_steps=50)))


def test_the_engine_measures_its_machine_once(tiny_model, tmp_path):
    engine = Engine(tiny_model, root=tmp_path)
    first = engine.measured()
    assert first.step_s > 0 and first.clip_s > 0 and first.clip_mb > 0 and first.device == "cpu"
    assert engine.measured() is first


def test_calibration_leaves_out_the_warm_up_and_unlucky_runs(monkeypatch):
    """A first render that pays one-off costs, or one run slowed by a busy machine, must not
    become the machine's speed: that refused requests the machine could serve."""
    clock = [0.0]
    monkeypatch.setattr(budget.time, "perf_counter", lambda: clock[0])
    costs = iter([100.0, 2.0, 30.0, 2.0, 3.0])  # warm-up; then 2 and 4 steps, twice
    rendered = []

    def render_clip(steps: int) -> None:
        rendered.append(steps)
        clock[0] += next(costs)

    measured = budget.measure(render_clip, "cpu")
    assert rendered == [2, 2, 4, 2, 4]
    assert measured.step_s == pytest.approx(0.5) and measured.clip_s == pytest.approx(1.0)


def test_turns_go_in_the_order_they_were_asked_for():
    queue = WorkQueue()
    order: list[str] = []
    holding, release = threading.Event(), threading.Event()

    def long_work():
        with queue.turn():  # its first clip
            holding.set()
            release.wait(10)
            order.append("long 1")
        with queue.turn():  # it asks again at once, but the short request asked first
            order.append("long 2")

    def short_work():
        with queue.turn():
            order.append("short")

    long = threading.Thread(target=long_work)
    long.start()
    holding.wait(10)
    short = threading.Thread(target=short_work)
    short.start()
    deadline = time.monotonic() + 10
    while queue.waiting() < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    release.set()
    long.join(10)
    short.join(10)
    assert order == ["long 1", "short", "long 2"]


def test_one_client_cannot_fill_the_queue():
    queue = WorkQueue(max_waiting=32, per_client=2, endless_per_client=1)
    with queue.admit("10.0.0.1"), queue.admit("10.0.0.1"):
        with pytest.raises(Busy, match="this address already has 2"), queue.admit("10.0.0.1"):
            pass
        with queue.admit("10.0.0.2"):  # someone else still gets in
            pass
    with queue.admit("10.0.0.1", endless=True):
        with pytest.raises(Busy, match="endless"), queue.admit("10.0.0.1", endless=True):
            pass
        with queue.admit("10.0.0.2", endless=True):
            pass
    with queue.admit("10.0.0.1"), queue.admit("10.0.0.1"):  # its caps came back
        pass


def test_the_engine_caps_a_client_across_its_sessions(engine):
    for session in ("tab-one", "tab-two", "tab-three"):
        engine.identify(session, "192.0.2.7")
    limited = WorkQueue(32, per_client=2)
    engine.queue, saved = limited, engine.queue
    try:
        with limited.admit(engine.client("tab-one")), limited.admit(engine.client("tab-two")):
            walk = Walk(PromptEnd("drums"), PromptEnd("piano"), num_clips=1)
            with pytest.raises(Busy, match="this address"):
                next(engine.render(walk, Settings(num_inference_steps=4), "tab-three"))
    finally:
        engine.queue = saved
    engine.forget_session("tab-three")
    assert engine.client("tab-three") == "tab-three"  # forgotten: it stands for itself again


def test_a_render_waits_about_one_clip_behind_an_endless_riff(engine):
    riff = Endless(PromptEnd("lofi beat", 1), clips_per_seed=2)
    chunks = engine.endless(riff, Settings(num_inference_steps=4, batch_size=1), session="riffing")
    made: list[int] = []
    asked = threading.Event()
    done_after: list[int] = []

    def play():
        for _ in chunks:
            made.append(1)
            if len(made) == 2:
                asked.set()
            if done_after or len(made) > 40:
                break
        chunks.close()

    player = threading.Thread(target=play)
    player.start()
    asked.wait(60)
    before = len(made)
    walk = Walk(PromptEnd("drums"), PromptEnd("piano"), num_clips=1)
    result = list(engine.render(walk, Settings(num_inference_steps=4, batch_size=1), "short"))
    done_after.append(len(made) - before)
    player.join(120)
    assert result[-1].done
    assert done_after[0] <= 2  # the riff made at most the clip under way and one more


def test_up_next_is_bounded_in_length_number_and_time():
    store = UpNext(prompt_chars=20, total=2, expire_s=60)
    with pytest.raises(ValueError, match="too long: at most 20"):
        store.put("a", "x" * 21)
    with pytest.raises(ValueError):
        store.put("a", "   ")
    store.put("a", "piano", now=0)
    store.put("a", "drums", now=1)  # one per session: the newer replaces it
    store.put("b", "bass", now=2)
    store.put("c", "choir", now=3)  # over the total: the oldest ("a") goes
    assert len(store) == 2 and store.take("a", now=4) is None
    assert store.take("b", now=4) == "bass" and store.take("b", now=4) is None
    assert store.take("c", now=100) is None  # expired
    store.put("d", "organ")
    store.forget("d")
    assert store.take("d") is None


def test_the_engine_drops_up_next_when_a_session_leaves(tmp_path):
    engine = Engine("unused", root=tmp_path)
    engine.up_next.put("leaving", "piano")
    engine.forget_session("leaving")
    assert engine.up_next.take("leaving") is None
    with pytest.raises(ValueError, match="too long"):
        engine.up_next.put("s", "x" * (engine.limits.prompt_chars + 1))


def test_client_address_trusts_only_the_configured_proxies():
    spoofed = "6.6.6.6, 203.0.113.9"  # the caller wrote the first, the proxy appended the second
    assert client_address("10.0.0.1", spoofed, 0) == "10.0.0.1"
    assert client_address("10.0.0.1", spoofed, 1) == "203.0.113.9"
    assert client_address("10.0.0.1", spoofed, 2) == "6.6.6.6"
    assert client_address("10.0.0.1", None, 1) == "10.0.0.1"
    assert client_address("10.0.0.1", " , ", 1) == "10.0.0.1"


def test_up_next_and_a_server_file_get_one_plain_line(tmp_path):
    from test_trust import FILE, call

    with serve(studio.build_app(Engine("unused", root=tmp_path / "root"))) as site:
        stream = call(site, "up_next", ["x" * 100_000])
        assert '"success":false' in stream and "too long: at most 1000" in stream
        app_py = str(Path(__file__).resolve().parents[2] / "app.py")  # a server file
        stream = call(site, "image_to_audio", [{"path": app_py, "meta": FILE}, 0])
        assert '"success":false' in stream and "not uploaded" in stream
        assert "cache dir" not in stream and "/app.py" not in stream and str(tmp_path) not in stream
        assert httpx.get(site + "config").status_code == 200


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


def test_results_are_trimmed_oldest_first_to_the_disk_caps(tmp_path):
    import os

    engine = Engine("unused", root=tmp_path / "root", limits=Limits(session_mb=0.25, disk_mb=0.5))
    made = []
    for i in range(3):
        folder = engine.session_folder("heavy")
        (folder / "track.wav").write_bytes(b"x" * 100_000)
        os.utime(folder, (i, i))  # oldest first
        made.append(folder)
    engine.session_folder("heavy")  # 300 kB over the session's 250: its oldest goes
    assert [f.exists() for f in made] == [False, True, True]
    for i in range(4):
        other = engine.session_folder(f"other{i}")
        (other / "track.wav").write_bytes(b"x" * 100_000)
        os.utime(other, (10 + i, 10 + i))
    engine.session_folder("late")  # 500 kB in all, then over: the oldest anywhere go first
    kept = sum(f.stat().st_size for f in (tmp_path / "root").rglob("*") if f.is_file())
    assert kept <= 500_000 and not made[1].exists() and made[2].exists()
    assert (tmp_path / "root" / "other3").exists()
