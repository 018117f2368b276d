"""Phase retrieval beside denoising: the same clips, in order, whether it overlaps or not."""

from __future__ import annotations

import dataclasses
import threading

import torch

from riff import walk as walk_module
from riff.render import render
from riff.request import Chain, PromptEnd, Settings, Walk

A, B, C = PromptEnd("solo piano", seed=1), PromptEnd("rock drums", seed=2), PromptEnd("jazz", seed=3)


def test_overlapped_clips_are_the_same_and_in_order(tiny_model, narrow_seed, monkeypatch):
    threads: list[str] = []
    retrieve = walk_module.waveforms_from_pixels

    def watched(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return retrieve(*args, **kwargs)

    monkeypatch.setattr(walk_module, "waveforms_from_pixels", watched)
    settings = Settings(num_inference_steps=4, batch_size=2, griffin_lim_iters=4)
    for music in (
        Walk(A, B, num_clips=7, seed_image=narrow_seed),  # batches of 1, 2, 2, 2
        Chain((A, B, C), clips_per_hop=2, seed_image=narrow_seed, continuation=True),
    ):
        reports: list[float] = []
        plain = list(render(tiny_model, music, dataclasses.replace(settings, overlap=False)))
        assert not any(t.startswith("riff-phase") for t in threads)
        beside = list(
            render(tiny_model, music, dataclasses.replace(settings, overlap=True), reports_to(reports))
        )
        assert [c.index for c in beside] == list(range(len(plain)))
        for a, b in zip(plain, beside, strict=True):
            assert torch.equal(a.pixels, b.pixels) and torch.equal(a.waveform, b.waveform)
            assert a.kept == b.kept
        assert reports == sorted(reports) and reports[-1] == len(plain)
        assert any(t.startswith("riff-phase") for t in threads)  # some batch went beside
        threads.clear()


def reports_to(reports: list[float]):
    return lambda done, *_: reports.append(done)


def test_overlap_is_on_by_default_only_on_cuda():
    assert Settings().overlaps(torch.device("cuda")) and not Settings().overlaps(torch.device("cpu"))
    assert Settings(overlap=True).overlaps(torch.device("cpu"))
    assert not Settings(overlap=False).overlaps(torch.device("cuda"))
