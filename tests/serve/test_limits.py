"""Bounded work (`riff.serve.limits`): what one caller may ask for, read from the environment;
an image past the limits refused by its header; the page's errors in one line."""

from __future__ import annotations

import pytest
import torch
from conftest import png_claiming

from riff.request import PromptEnd, Restyle, Variations, Walk
from riff.seed_images import image_size, open_image
from riff.serve.engine import Engine
from riff.serve.limits import Limits
from riff.studio.handlers import Studio

END = PromptEnd("drums")


# --- limits -------------------------------------------------------------------------------------


def test_limits_read_the_environment():
    limits = Limits.from_env({"RIFF_MAX_CLIPS": "64", "RIFF_MAX_UPLOAD_MB": "2.5", "UNRELATED": "x"})
    assert limits.clips == 64 and limits.upload_mb == 2.5 and limits.steps == Limits().steps
    for bad in ["many", "0", "-3"]:
        with pytest.raises(ValueError, match="RIFF_MAX_STEPS"):
            Limits.from_env({"RIFF_MAX_STEPS": bad})


@pytest.mark.parametrize(
    "music,steps,width,match",
    [
        (Walk(END, END, num_clips=33), 20, 512, "33 clips are too many"),
        (Variations(END, tuple(range(16))), 101, 512, "101 inference steps"),
        (Walk(PromptEnd("x" * 1001), END), 20, 512, "1001 characters"),
        (Walk(END, PromptEnd("y", negative_prompt="n" * 2000)), 20, 512, "2000 characters"),
        (Walk(END, END), 20, 4096, "4096 columns wide"),
        (Walk(END, END, num_clips=32), 100, 1024, "too much work"),
        (Restyle(END, END, duration_s=601), 20, 512, "601 s"),
        (Restyle(END, END, duration_s=600), 100, 512, "too much work"),
    ],
)  # fmt: skip
def test_requests_beyond_the_limits_are_refused(music, steps, width, match):
    with pytest.raises(ValueError, match=match):
        Limits().check(music, steps, width)


def test_requests_within_the_limits_pass():
    Limits().check(Walk(END, END, num_clips=32), 100, 512)
    Limits().check(Restyle(END, END, duration_s=60), 50)
    Limits(clips=300, work=10**9).check(Walk(END, END, num_clips=256), 20, 512)


def test_the_cli_has_no_limits():
    big = Walk(END, END, num_clips=256)
    with pytest.raises(ValueError):
        Limits().check(big, 1000, 4096)
    Limits.none().check(big, 1000, 4096)


# --- images -------------------------------------------------------------------------------------


def test_a_bomb_is_refused_by_its_header(tmp_path):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_claiming(9000, 9000))
    assert image_size(bomb) == (9000, 9000)  # read from the header: nothing decoded
    with pytest.raises(ValueError, match="too large"):
        Limits().check_image(*image_size(bomb))
    bigger = tmp_path / "bigger.png"
    bigger.write_bytes(png_claiming(100_000, 100_000))
    for read in (image_size, open_image):  # past Pillow's own bomb limit, even the header says no
        with pytest.raises(ValueError, match="cannot read image"):
            read(bigger)


# --- the page -----------------------------------------------------------------------------------


def test_the_page_shows_out_of_memory_as_one_line(tmp_path, monkeypatch):
    import gradio as gr

    engine = Engine("unused", root=tmp_path)

    def no_memory(*_args, **_kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20 GiB")
        yield  # a generator, as the engine's renders are

    monkeypatch.setattr(engine, "render", no_memory)
    with pytest.raises(gr.Error, match="out of memory for this request"):
        list(Studio(engine).generate("drums", num_inference_steps=5))


@pytest.mark.parametrize(
    "raised,match",
    [
        (
            RuntimeError("istft(CPUComplexFloatType[1, 2206, 513], n_fft=4410, hop_length=441) failed"),
            "failed on",
        ),
        (RuntimeError("MKL FFT error: Intel MKL DFTI ERROR: Not enough memory"), "out of memory for this"),
        (
            RuntimeError("[enforce fail at alloc_cpu.cpp:118] you tried to allocate 15627389120 bytes"),
            "failed on",
        ),
    ],
)
def test_the_page_shows_library_errors_as_one_line_without_their_text(tmp_path, monkeypatch, raised, match):
    import gradio as gr

    engine = Engine("unused", root=tmp_path)

    def failing(*_args, **_kwargs):
        raise raised
        yield

    monkeypatch.setattr(engine, "render", failing)
    with pytest.raises(gr.Error, match=match) as error:
        list(Studio(engine).generate("drums", num_inference_steps=5))
    assert not any(word in error.value.message for word in ("istft", "MKL", "alloc", "bytes", "\n"))
