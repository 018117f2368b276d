"""Bounded work and bad input: every class of hostile or broken input gets one clear line.

Property-based tests (hypothesis) throw arbitrary values at the metadata readers and the REST
request parser: the only failure they may show is a ValueError.
"""

from __future__ import annotations

import io
import json
import math
import re
import struct
import zlib
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import serve
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from pydantic import ValidationError

from riff import studio
from riff.audio.files import load_audio
from riff.audio.image import level_from_image, params_from_image
from riff.audio.params import EXIF_MAX_VALUE, EXIF_TAGS, SpectrogramParams
from riff.pipeline import OutOfGPUMemory
from riff.request import PromptEnd, Restyle, Settings, Variations, Walk
from riff.seed_images import image_size, open_image
from riff.serve.engine import Engine
from riff.serve.limits import Limits
from riff.serve.rest import InferenceInput, walk_request
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


def test_empty_and_non_text_prompts_are_refused():
    for prompt in ["", "   "]:
        with pytest.raises(ValueError, match="prompt is empty"):
            PromptEnd(prompt)
    with pytest.raises(ValueError, match="must be text"):
        PromptEnd(None)  # type: ignore[arg-type]


# --- images -------------------------------------------------------------------------------------


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims `width` x `height` (a decompression bomb's first bytes)."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    ihdr = data[12:29]  # b"IHDR" + 13 bytes
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    return bytes(data)


def tagged(tags: dict, size: tuple[int, int] = (64, 512)) -> Image.Image:
    image = Image.new("RGB", size, "white")
    exif = image.getexif()
    exif.update(tags)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", exif=exif)
    return Image.open(io.BytesIO(buffer.getvalue()))


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


@pytest.mark.parametrize(
    "tags,match",
    [
        ({11000: 2**31 - 1}, "sample_rate\\) is 2.14748e\\+09, outside 4000..192000"),
        ({11010: 0}, "step_size_ms"),
        ({11030: 10**6}, "padded_duration_ms"),
        ({11070: float("nan")}, "power_for_image"),
        ({11000: float("inf")}, "sample_rate"),
        ({11040: 10**9}, "num_frequencies"),
        ({EXIF_MAX_VALUE: float("inf")}, "max value"),
        ({EXIF_MAX_VALUE: "loud"}, "max value"),
    ],
)
def test_absurd_tags_are_refused(tags, match):
    with pytest.raises(ValueError, match=match):
        params_from_image(tagged(tags))


@pytest.mark.parametrize("mode", ["1", "L", "P", "RGBA", "I;16", "I", "F", "CMYK", "LA"])
def test_any_image_mode_reads_or_says_why(tmp_path, mode):
    path = tmp_path / f"x.{'tiff' if mode in ('F', 'CMYK') else 'png'}"
    Image.new(mode, (64, 512)).save(path)
    try:
        image = open_image(path)
        params_from_image(image)
    except ValueError as error:
        assert "\n" not in str(error)


def test_truncated_and_fake_images(tmp_path):
    good = io.BytesIO()
    Image.new("RGB", (64, 512), "white").save(good, format="PNG")
    (tmp_path / "cut.png").write_bytes(good.getvalue()[:200])
    (tmp_path / "text.png").write_text("not a picture")
    for name in ["cut.png", "text.png"]:
        with pytest.raises(ValueError, match="cannot read image"):
            open_image(tmp_path / name)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        st.sampled_from([*EXIF_TAGS.values(), EXIF_MAX_VALUE]),
        st.one_of(
            st.integers(min_value=-(2**31), max_value=2**31 - 1),
            st.floats(allow_nan=True, allow_infinity=True),
            st.text(max_size=8),
        ),
        max_size=6,
    )
)
def test_metadata_readers_only_raise_value_errors(tags):
    exif = {tag: value for tag, value in tags.items()}
    try:
        params = SpectrogramParams.from_exif(exif)
    except ValueError:
        return
    assert params.sample_rate >= 4000 and params.hop_length >= 1 and params.n_fft <= 192000


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.integers(-(2**31), 2**31 - 1), st.floats(allow_nan=True), st.text(max_size=8)))
def test_the_level_reader_only_raises_value_errors(value):
    image = Image.new("RGB", (8, 512))
    image.getexif()[EXIF_MAX_VALUE] = value
    try:
        level = level_from_image(image)
    except ValueError:
        return
    assert math.isfinite(level.max_value) and level.max_value >= 0


# --- audio --------------------------------------------------------------------------------------


def test_broken_audio_is_a_clear_error(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "text.wav").write_text("not audio")
    sf.write(tmp_path / "zero.wav", np.zeros((0, 1), dtype=np.float32), 44100)
    nan = np.full((4410, 1), np.nan, dtype=np.float32)
    sf.write(tmp_path / "nan.wav", nan, 44100, subtype="FLOAT")
    for name, match in [
        ("empty.wav", "cannot read audio"),
        ("text.wav", "cannot read audio"),
        ("zero.wav", "no audio samples"),
        ("nan.wav", "not numbers"),
    ]:
        with pytest.raises(ValueError, match=match):
            load_audio(tmp_path / name, 44100)


def test_audio_is_read_only_as_far_as_asked(tmp_path):
    sf.write(tmp_path / "long.wav", np.zeros((8000 * 30, 8), dtype=np.float32), 8000)  # 8 channels, 8 kHz
    waveform = load_audio(tmp_path / "long.wav", 44100, 1, max_seconds=2.0)
    assert waveform.shape == (1, 2 * 44100)


# --- the studio and REST, end to end ---------------------------------------------------------


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


def test_an_upload_over_the_limit_is_refused(tmp_path):
    engine = Engine("unused", root=tmp_path / "root", limits=Limits(upload_mb=0.01))
    with serve(studio.build_app(engine)) as address:
        response = httpx.post(address + "gradio_api/upload", files={"files": ("big.wav", b"x" * 20_000)})
    assert response.status_code == 413


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


def test_silence_round_trips_to_silence(tmp_path):
    from riff.audio.decode import Spectrogram, decode, image_from_waveform
    from riff.audio.image import save_image

    path = save_image(image_from_waveform(torch.zeros(1, 44100), SpectrogramParams()), tmp_path / "quiet.png")
    [(_, clip)] = decode([Spectrogram.from_image(open_image(path))])
    assert torch.isfinite(clip.waveform).all() and float(clip.waveform.abs().max()) == 0.0


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
