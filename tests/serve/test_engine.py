"""The studio's engine (`riff.serve.engine`): refusals before the model loads, one calibration,
per-client caps across sessions, turns beside an endless riff, a render stopped within a step
when its page leaves or cancels, and bad input in one line."""

from __future__ import annotations

import dataclasses
import re
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import png_claiming, tagged
from PIL import Image

from riff.endless import Endless
from riff.request import PromptEnd, Restyle, Settings, Walk
from riff.serve.budget import Calibration
from riff.serve.engine import Busy, Engine
from riff.serve.limits import Limits
from riff.serve.workqueue import WorkQueue

SLOW = Calibration(step_s=0.1, clip_s=0.5, clip_mb=100)  # 5.5 s per clip of 50 steps


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


def test_the_engine_drops_up_next_when_a_session_leaves(tmp_path):
    engine = Engine("unused", root=tmp_path)
    engine.up_next.put("leaving", "piano")
    engine.forget_session("leaving")
    assert engine.up_next.take("leaving") is None
    with pytest.raises(ValueError, match="too long"):
        engine.up_next.put("s", "x" * (engine.limits.prompt_chars + 1))


END = PromptEnd("drums")


def test_the_service_path_reads_the_request_before_the_model(tmp_path):
    engine = Engine(str(tmp_path / "no such model"), root=tmp_path / "results")
    with pytest.raises(ValueError, match="unknown seed image"):
        engine.clips(Walk(END, END, seed_image="nope"), Settings())
    with pytest.raises(ValueError, match="mask"):
        engine.clips(Walk(END, END, mask="nope"), Settings())
    assert engine.status().startswith("Model: ")  # not tried, so no load error yet
    with pytest.raises(ValueError, match="no such model"):
        next(engine.clips(Walk(END, END), Settings()))
    assert "not available" in engine.status()


def test_the_studio_refuses_oversized_inputs_in_one_line(tmp_path):
    engine = Engine("unused", root=tmp_path / "root", limits=Limits(audio_s=10))
    long = tmp_path / "long.wav"
    sf.write(long, np.zeros((1000 * 20, 1), dtype=np.float32), 1000)  # 20 s at 1 kHz
    with pytest.raises(ValueError, match="20 s of audio is too long here"):
        engine.audio_to_image(long)
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_claiming(9000, 9000))
    with pytest.raises(ValueError, match="too large"):
        engine.image_to_audio(bomb)
    slow = tmp_path / "slow.png"  # 30 columns of a 1 s hop: 29 s of audio from 30 columns
    image = tagged({11010: 1000, 11000: 8000, 11060: 4000}, (30, 512))
    image.save(slow, exif=image.getexif())
    with pytest.raises(ValueError, match="29 s of audio is too long here"):
        engine.image_to_audio(slow)
    wide = tmp_path / "wide.png"
    Image.new("RGB", (8000, 512)).save(wide)
    with pytest.raises(ValueError, match="8000 columns wide"):
        list(engine.render(Walk(END, END, seed_image=str(wide)), Settings(num_inference_steps=5)))
    assert not any(Path(engine.root).rglob("*.wav"))


def test_a_region_starting_past_any_song_is_one_line(engine, tmp_path):
    song = tmp_path / "song.wav"
    sf.write(song, np.zeros((44100 * 6, 1), dtype=np.float32), 44100)
    for start in (1e308, 60.0):
        with pytest.raises(
            ValueError, match=re.escape(f"the song is 6.0 s long; the region starts at {start} s")
        ):
            list(engine.restyle(song, Restyle(PromptEnd("a"), PromptEnd("b"), start_s=start), Settings()))
    for start, duration in ((float("inf"), 5.0), (0.0, float("inf")), (float("nan"), 5.0)):
        with pytest.raises(ValueError, match="finite"):
            Restyle(PromptEnd("a"), PromptEnd("b"), start_s=start, duration_s=duration)


def test_a_page_that_leaves_stops_its_render_within_a_step(engine, narrow_seed):
    from riff.request import PromptEnd, Settings, Walk
    from riff.serve.engine import Gone

    walk = Walk(PromptEnd("drums"), PromptEnd("piano"), num_clips=6, seed_image=narrow_seed)
    steps: list[int] = []
    render = engine.render(
        walk, Settings(num_inference_steps=8, batch_size=1), "leaving", lambda *a: steps.append(a[2])
    )
    next(render)  # the first clip is out; the page closes now
    engine.forget_session("leaving")
    seen = len(steps)
    with pytest.raises(Gone):
        list(render)
    assert len(steps) - seen <= 1  # at most the step that was under way
    with engine.queue.slot():  # its turn is free again
        pass
    # The same session id rendering again (a page that came back) works.
    again = engine.render(dataclasses.replace(walk, num_clips=1), Settings(num_inference_steps=4), "leaving")
    assert list(again)[-1].done


def test_cancel_stops_a_render_within_a_step_and_keeps_what_it_made(engine, narrow_seed):
    from riff.request import PromptEnd, Settings, Walk
    from riff.serve.engine import Stopped

    walk = Walk(PromptEnd("drums"), PromptEnd("piano"), num_clips=6, seed_image=narrow_seed)
    reports: list[float] = []
    after_cancel: list[float] = []

    def report(done, clips, step, steps):
        (after_cancel if reports and reports[-1] >= 1.5 else reports).append(done)
        if done >= 1.5:  # half way through the second clip: Cancel
            engine.cancel("listener")

    results = []
    with pytest.raises(Stopped):
        results.extend(engine.render(walk, Settings(num_inference_steps=8, batch_size=1), "listener", report))
    assert after_cancel == []  # the next UNet step did not run
    assert len(results[-1].clips) == 1 and results[-1].clips[0].is_file()  # kept, playable
    with engine.queue.slot():  # its turn is free again
        pass
    # The next render of the same page runs as usual.
    again = engine.render(dataclasses.replace(walk, num_clips=1), Settings(num_inference_steps=4), "listener")
    assert list(again)[-1].done
