"""Session folders (`riff.serve.sessions`): what a render leaves when it fails or is stopped, results
trimmed to the disk caps (sparing the folder being written) and old ones swept."""

from __future__ import annotations

import time

import pytest

from riff.serve.engine import Engine
from riff.serve.limits import Limits
from riff.serve.sessions import Gone, Sessions, Stopped


def test_a_failed_render_leaves_nothing_and_a_stopped_one_keeps_what_it_made(tmp_path):
    sessions = Sessions(tmp_path, Limits())
    with pytest.raises(RuntimeError), sessions.writing("tab") as failed:
        (failed / "clip_000.wav").write_bytes(b"x")
        raise RuntimeError("the model ran out of memory")
    assert not failed.exists()
    with pytest.raises(Stopped), sessions.writing("tab") as stopped:
        (stopped / "clip_000.wav").write_bytes(b"x")
        raise Stopped("cancelled")
    assert (stopped / "clip_000.wav").exists()  # the page still plays it


def test_trimming_spares_the_folder_a_render_is_writing(tmp_path):
    sessions = Sessions(tmp_path, Limits(session_mb=0.0005, disk_mb=0.0005))  # 500 bytes
    with sessions.writing("tab") as writing:
        (writing / "track.wav").write_bytes(b"x" * 1000)
        sessions.folder("tab")  # over the session's share, but this render is under way
        assert writing.exists()
    sessions.folder("tab")
    assert not writing.exists()  # done: the oldest result goes first


def test_a_cancel_stops_the_render_under_way_and_not_the_next(tmp_path):
    sessions = Sessions(tmp_path, Limits())
    seen = []
    report = sessions.watch("tab", lambda *progress: seen.append(progress))
    report(1.0, 2, 3, 4)
    sessions.cancel("tab")
    with pytest.raises(Stopped):
        report(1.5, 2, 4, 4)
    sessions.watch("tab")(0.0, 2, 0, 4)  # a new render of the same page runs
    sessions.forget("tab")
    with pytest.raises(Gone):
        sessions.check("tab")
    assert seen == [(1.0, 2, 3, 4)]


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


def test_old_results_are_swept_and_nothing_outlives_the_engine(tmp_path):
    import os

    engine = Engine("unused", root=tmp_path / "root")
    old, fresh = engine.session_folder("gone"), engine.session_folder("here")
    (old / "clip.wav").write_bytes(b"x")
    hours_ago = time.time() - 2 * engine.limits.keep_s
    os.utime(old, (hours_ago, hours_ago))
    engine.sweep(now=time.time() + 120)  # a minute after the last sweep
    assert not old.exists() and not (tmp_path / "root" / "gone").exists() and fresh.exists()
    engine.close()
    assert not (tmp_path / "root").exists()
