"""The endless riff: its hops and the engine that plays it (its stream stitcher and level:
tests/audio/test_stitch.py)."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
import torch

from riff.endless import Endless, Listener
from riff.request import MAX_SEED, PromptEnd, Settings
from riff.serve.engine import Engine, Gone
from riff.serve.limits import Limits

FAST = Settings(num_inference_steps=3, griffin_lim_iters=2)


def test_a_hop_walks_to_the_next_seed_on_the_prompt_up_next():
    riff = Endless(PromptEnd("piano", seed=7), clips_per_seed=4)
    walk = riff.hop(riff.end)
    assert (walk.start.seed, walk.end.seed) == (7, 8) and walk.end.prompt == "piano"
    assert walk.clip_alphas() == [0.0, 0.25, 0.5, 0.75] and walk.continuation
    walk = riff.hop(walk.end, "drums")
    assert (walk.start.prompt, walk.end.prompt, walk.end.seed) == ("piano", "drums", 9)
    assert riff.hop(walk.end, "   ").end.prompt == "drums"  # a blank queue changes nothing
    assert riff.hop(PromptEnd("x", seed=MAX_SEED)).end.seed == 0


def test_the_engine_plays_on_and_takes_the_prompt_up_next(tiny_model, narrow_seed, tmp_path):
    engine = Engine(tiny_model, root=tmp_path)
    riff = Endless(PromptEnd("piano", seed=3), clips_per_seed=2, seed_image=narrow_seed, crossfade_ms=20)
    queued = iter([None, "drums"])
    chunks = list(itertools.islice(engine.endless(riff, FAST, lambda: next(queued, None)), 6))
    assert [c.walk.start.seed for c in chunks] == [3, 3, 4, 4, 5, 5]
    assert [c.walk.end.prompt for c in chunks] == ["piano", "piano", "drums", "drums", "drums", "drums"]
    assert all(c.audio.shape[-1] > 0 for c in chunks)
    assert [c.clip.kept for c in chunks] == [0, 16, 16, 16, 16, 16]  # every clip continues the last
    # Consecutive: what streamed is the clips' track so far, at one level, up to the next fade.
    audio = torch.cat([c.audio for c in chunks], dim=-1)
    assert chunks[-1].music_s == pytest.approx(audio.shape[-1] / 44100)
    assert float(audio.abs().max()) <= 1.0
    assert engine.queue.admitted() == 0  # no turn on the model is held between chunks


def test_the_engine_stops_when_the_page_leaves_or_at_its_limit(tiny_model, narrow_seed, tmp_path):
    riff = Endless(PromptEnd("piano"), clips_per_seed=2, seed_image=narrow_seed)
    engine = Engine(tiny_model, root=tmp_path)
    stream = engine.endless(riff, FAST, session="listener")
    next(stream)
    engine.forget_session("listener")
    with pytest.raises(Gone):
        next(stream)
    limited = Engine(tiny_model, root=tmp_path, limits=dataclasses.replace(Limits(), endless_s=0.3))
    assert len(list(limited.endless(riff, FAST))) == 1  # the first chunk passes 0.3 s
    with pytest.raises(ValueError, match="unknown seed image"):
        next(engine.endless(dataclasses.replace(riff, seed_image="nope"), FAST))


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_listener_hears_what_was_released_and_waits_when_it_runs_out():
    clock = FakeClock()
    listener = Listener(clock)
    assert listener.status() == "starting: the first music is on its way"
    listener.release(0.0)  # silence before the first sound does not start the player
    clock.now += 3
    listener.release(5.0)
    assert (listener.heard, listener.buffered) == (0.0, 5.0)
    clock.now += 2
    assert listener.status() == "2 s heard, 3 s buffered"  # too soon to tell a pace
    clock.now += 2  # 4 s in: the next 5 s arrive with 1 s still buffered
    listener.release(5.0)
    assert (listener.heard, listener.buffered, listener.waited) == (4.0, 6.0, 0.0)
    assert (
        listener.status() == "4 s heard, 6 s buffered · keeping up: music comes at 1.25x the speed it plays"
    )
    clock.now += 3  # between releases the pace holds, while heard and buffered move on
    assert (
        listener.status() == "7 s heard, 3 s buffered · keeping up: music comes at 1.25x the speed it plays"
    )
    # Then nothing comes for 20 s: the line says so between chunks, from the clock alone.
    clock.now += 13
    assert listener.status() == (
        "10 s heard · stalled 10 s: the player waits for music (music comes at 0.25x the speed it plays)"
    )
    assert listener.waited == 10.0
    clock.now += 4
    listener.release(5.0)  # the player resumes, having waited 14 s
    assert (listener.heard, listener.buffered, listener.waited) == (10.0, 5.0, 14.0)
    assert listener.status() == (
        "10 s heard, 5 s buffered · falling behind: music comes at 0.42x the speed it plays;"
        " the player waits in about 9 s"
    )


def test_the_listener_plays_out_its_buffer_after_the_last_chunk():
    clock = FakeClock()
    listener = Listener(clock)
    listener.release(5.0)
    clock.now += 1
    listener.release(5.0)
    listener.finish()
    assert listener.status() == "1 s heard, 9 s left to play; no more is coming"
    clock.now += 30  # long after: finished, so the silence is not a stall
    assert listener.status() == "done: all 10 s played"
    assert (listener.heard, listener.waited) == (10.0, 0.0)
