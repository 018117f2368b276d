"""The studio end to end: the app served on 127.0.0.1, every named Gradio endpoint through
gradio_client, the riffusion-compatible POST /run_inference/ through httpx, errors as one line."""

from __future__ import annotations

import base64
import io
import json
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import soundfile as sf
import torch
from conftest import serve, sine
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from riff.audio.files import save_audio
from riff.request import MAX_SEED, PromptEnd, Restyle, Settings, Variations, Walk, from_dict, to_dict
from riff.serve.engine import Engine
from riff.studio import build_app, build_demo
from riff.studio.explorer import clips_for, length_s, track_seconds

HOP = 441  # samples per image column at 44.1 kHz (10 ms)


def wav_frames(path: str | Path) -> int:
    info = sf.info(str(path))
    assert info.samplerate == 44100
    return info.frames


def one_line_error(excinfo: pytest.ExceptionInfo) -> str:
    message = str(excinfo.value)
    assert message and "\n" not in message and "Traceback" not in message
    return message


@pytest.fixture(scope="module")
def client(url, tmp_path_factory) -> Iterator[Client]:
    c = Client(url, verbose=False, download_files=str(tmp_path_factory.mktemp("downloads")))
    yield c
    c.close()


@pytest.fixture(scope="module")
def song(tmp_path_factory) -> str:
    """Six seconds of two tones at 48 kHz (the app resamples)."""
    tones = sine(220.0, 6.0, 48000) + sine(330.0, 6.0, 48000)
    return str(save_audio(tmp_path_factory.mktemp("song") / "song.wav", tones, 48000))


def interpolate(client: Client, seed_upload: str, **overrides):
    inputs = dict(
        start_prompt="solo piano, slow",
        start_seed=3,
        end_prompt="rock drum beat",
        end_seed=4,
        num_clips=2,
        num_inference_steps=5,
        denoising=0.75,
        guidance=7.0,
        seed_upload=handle_file(seed_upload),
    )
    return client.predict(**{**inputs, **overrides}, api_name="/interpolate")


# --- the Gradio endpoints --------------------------------------------------------------------


def test_the_app_names_every_endpoint(client):
    named = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert set(named) == {
        "/interpolate",
        "/generate",
        "/chain",
        "/loop",
        "/endless",
        "/up_next",
        "/teach",
        "/audio_to_audio",
        "/song_beat",
        "/audio_to_image",
        "/image_to_audio",
        # the MCP tools (riff.studio.mcp.tools), one file out each
        "/tool_generate",
        "/tool_interpolate",
        "/tool_loop",
        "/tool_audio_to_image",
        "/tool_image_to_audio",
    }


def test_every_render_endpoint_takes_the_beat_grid(client):
    named = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    every = ("/interpolate", "/generate", "/chain", "/loop", "/endless", "/teach")
    tools = ("/tool_generate", "/tool_interpolate", "/tool_loop")  # the MCP tools' API endpoints
    for endpoint in every + tools:
        parameters = {p["parameter_name"]: p for p in named[endpoint]["parameters"]}
        assert {"bpm", "key", "meter", "bars"} <= set(parameters), endpoint
        assert parameters["key"]["parameter_default"] == "as the seed"


def test_the_named_api_takes_a_lora_and_a_song_s_bars(client):
    named = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    every = ("/interpolate", "/generate", "/loop", "/chain", "/endless", "/audio_to_audio", "/teach")
    for endpoint in every:
        parameters = {p["parameter_name"]: p for p in named[endpoint]["parameters"]}
        assert parameters["lora"]["parameter_default"] == "none", endpoint
        assert parameters["lora_scale"]["parameter_default"] == 1, endpoint
    parameters = {p["parameter_name"]: p for p in named["/audio_to_audio"]["parameters"]}
    assert {"on_bars", "song_bpm", "downbeat_s"} <= set(parameters)
    assert [p["parameter_name"] for p in named["/song_beat"]["parameters"]] == ["audio", "on_bars"]


def test_interpolate_with_an_uploaded_seed(client, narrow_seed, engine):
    track, gallery, picture, downloads, note, status = interpolate(client, narrow_seed)

    # 64 columns make 63 hops per clip; the clips are laid end to end on one beat grid.
    assert wav_frames(track) == 2 * 63 * HOP
    assert len(gallery) == 2
    assert [item["caption"] for item in gallery] == ["clip 1 · alpha 0.00", "clip 2 · alpha 1.00"]
    for item in gallery:
        image = Image.open(item["image"])
        assert image.size == (64, 512) and image.getexif()  # the spectrogram metadata travels along
    assert Image.open(picture).width > 0
    assert note == "Seeds used: start 3, end 4"
    assert status == f"Model: {engine.model.describe()}"

    names = sorted(Path(p).name for p in downloads)
    assert names == ["settings.json", "spectrogram.png", "spectrograms.zip"]
    settings = json.loads(Path(next(p for p in downloads if p.endswith("settings.json"))).read_text())
    assert settings["kind"] == "walk"
    assert settings["model"] == Path(engine.model.name).name  # its folder's name, not its path
    music = settings["music"]
    assert music["start"] == {
        "prompt": "solo piano, slow",
        "seed": 3,
        "negative_prompt": "",
        "denoising": 0.75,
        "guidance": 7.0,
    }
    assert music["end"]["prompt"] == "rock drum beat" and music["end"]["seed"] == 4
    assert music["num_clips"] == 2 and settings["settings"]["num_inference_steps"] == 5
    assert music["seed_image"] == "narrow.png"  # the upload won over the dropdown; no server path
    zipped = next(p for p in downloads if p.endswith(".zip"))
    assert sorted(zipfile.ZipFile(zipped).namelist()) == ["clip_000.png", "clip_001.png", "settings.json"]


def test_interpolate_is_deterministic(client, narrow_seed):
    first = interpolate(client, narrow_seed, num_clips=1)
    again = interpolate(client, narrow_seed, num_clips=1)
    other = interpolate(client, narrow_seed, num_clips=1, start_seed=5)
    assert Path(first[0]).read_bytes() == Path(again[0]).read_bytes()
    assert Path(first[1][0]["image"]).read_bytes() == Path(again[1][0]["image"]).read_bytes()
    assert Path(first[0]).read_bytes() != Path(other[0]).read_bytes()
    assert other[4] == "Seeds used: start 5, end 4"


def test_a_walk_streams_clip_by_clip_and_can_be_cancelled(client, narrow_seed, engine):
    job = client.submit(
        start_prompt="solo piano, slow",
        start_seed=3,
        end_prompt="rock drum beat",
        end_seed=4,
        num_clips=12,
        num_inference_steps=5,
        seed_upload=handle_file(narrow_seed),
        api_name="/interpolate",
    )
    deadline = time.time() + 120
    while not job.outputs() and time.time() < deadline:
        time.sleep(0.1)
    first = job.outputs()[0]
    assert len(first[1]) == 1 and "rendering: 1 clip(s) ready" in first[4]  # heard before the rest
    assert wav_frames(first[0]) == 63 * HOP
    job.cancel()
    deadline = time.time() + 60
    while not job.done() and time.time() < deadline:
        time.sleep(0.1)
    assert job.done()
    assert len(job.outputs()[-1][1]) < 12  # stopped before the last clip
    # The cancelled walk gave its turn back: the engine's queue is free at once.
    deadline = time.time() + 30
    while engine.queue._count and time.time() < deadline:
        time.sleep(0.1)
    with engine.queue.slot():
        pass


def test_generate_one_clip_per_seed(client):
    track, gallery, picture, downloads, note = client.predict(
        prompt="rock drum beat, 120 bpm",
        seed=5,
        num_seeds=2,
        num_inference_steps=5,
        api_name="/generate",
    )
    # Full 512-column clips (5.11 s each), played one after another with hard cuts.
    assert wav_frames(track) == 2 * 511 * HOP
    assert [item["caption"] for item in gallery] == ["seed 5", "seed 6"]
    assert Path(gallery[0]["image"]).read_bytes() != Path(gallery[1]["image"]).read_bytes()
    assert note == "Seeds used: 5..6"
    settings = json.loads(Path(next(p for p in downloads if p.endswith("settings.json"))).read_text())
    assert (
        settings["kind"] == "variations" and settings["music"]["end"]["prompt"] == "rock drum beat, 120 bpm"
    )
    assert settings["music"]["seeds"] == [5, 6]


def table(*rows) -> dict:
    return {"headers": ["Prompt", "Seed"], "data": [list(r) for r in rows]}


def test_a_chain_with_continuation_and_wider_clips(client):
    track, gallery, picture, downloads, note = client.predict(
        prompts=table(["solo piano", 7], ["  ", None], ["rock drum beat", None]),  # a blank row
        clips_per_hop=1,
        continuation=True,
        num_inference_steps=5,
        width=256,
        api_name="/chain",
    )
    assert note == "Seeds used: 7, 1"  # a missing seed counts on
    assert [item["caption"] for item in gallery] == [
        "clip 1 · hop 1 · alpha 0.00",
        "clip 2 · hop 1 · alpha 1.00",
    ]
    # Two 256-column clips, the second keeping the first's last 64 columns.
    assert wav_frames(track) == 2 * 255 * HOP - 63 * HOP
    settings = json.loads(Path(next(p for p in downloads if p.endswith("settings.json"))).read_text())
    assert settings["kind"] == "chain" and settings["music"]["width"] == 256
    assert [e["prompt"] for e in settings["music"]["ends"]] == ["solo piano", "rock drum beat"]


def test_the_teaching_view_shows_one_clips_journey(client):
    pictures, audio, said, noise, why, numbers = client.predict(
        prompt="jazz trio", seed=2, denoising=0.5, num_inference_steps=8, api_name="/teach"
    )
    # Seed, latent, noised latent, the previews, spectrogram, linear magnitudes, phase retrieval.
    assert numbers["preview_steps"] and len(pictures) == 6 + len(numbers["preview_steps"])
    assert all(p["caption"] for p in pictures)
    assert numbers["start_step"] == 4 and numbers["steps_run"] == len(numbers["timesteps"])  # strength 0.5
    assert wav_frames(audio) == 511 * HOP and "phase retrieved" in said
    walk = numbers["noise_walk"]
    assert walk["slerp_norms"][10] == pytest.approx(walk["end_norm"], rel=0.02)
    assert walk["lerp_norms"][10] == pytest.approx(walk["end_norm"] / 2**0.5, rel=0.05)
    assert Path(noise).is_file() and "Lerp" in why


def test_the_teaching_view_shows_the_seeds_beat_grid_at_a_tempo(client):
    pictures, audio, _, _, _, numbers = client.predict(
        prompt="jazz trio", num_inference_steps=5, bpm=120, key="D minor", meter="3/4", api_name="/teach"
    )
    grid = numbers["beat_grid"]
    assert (grid["bpm"], grid["meter"], grid["key"], grid["bars"]) == (120.0, "3/4", "D minor", 3)
    assert grid["bar_columns"] == pytest.approx([0.0, 150.0, 300.0, 450.0])  # 1.5 s bars
    seed = pictures[0]
    assert "120 bpm in 3/4 in D minor: 3 bar(s)" in seed["caption"]
    # The seed is its pattern at that tempo, as wide as 3 bars and a column (to a multiple of 8).
    assert Image.open(seed["image"]).height == 256 and wav_frames(audio) == 455 * HOP


def test_every_control_says_what_it_does_to_the_sound():
    demo = build_demo(Engine("riff-small"))
    controls = [
        c["props"]
        for c in demo.get_config_file()["components"]
        if c["type"] in ("slider", "number", "dropdown")
    ]
    assert len(controls) > 40
    assert [c["label"] for c in controls if not c.get("info")] == ["Phase seed"]  # the tools' own


def test_a_loop_is_whole_clips_with_the_wrap_crossfaded(client):
    track, gallery, picture, downloads, note = client.predict(
        prompt="lofi beat", seed=3, clips=2, num_inference_steps=5, width=256, api_name="/loop"
    )
    assert wav_frames(track) == 2 * 255 * HOP  # no tail: the wrap folds onto the start
    assert [item["caption"] for item in gallery] == ["clip 1 of 2", "clip 2 of 2"]
    assert note == "Seed used: 3 (and 4 round the loop)"


@pytest.mark.parametrize(
    "inputs, expected",
    [
        (dict(prompts=table(["only one", 0])), "2..16 prompts"),
        (dict(prompts=table(["a", "x"], ["b", 1])), "not a whole number"),
    ],
)
def test_chain_errors(client, inputs, expected):
    with pytest.raises(AppError) as excinfo:
        client.predict(**inputs, num_inference_steps=5, api_name="/chain")
    assert expected in one_line_error(excinfo)


def test_audio_to_audio_restyles_the_region(client, song):
    track, gallery, picture, downloads, note = client.predict(
        audio=handle_file(song),
        prompt="piano cover, soft",
        duration_s=15.0,
        seed=2,
        num_inference_steps=5,
        api_name="/audio_to_audio",
    )
    # Six seconds hold one 5.11 s segment (the region is cut to what the song has).
    assert wav_frames(track) == 511 * HOP
    assert len(gallery) == 1 and Image.open(gallery[0]["image"]).size == (512, 512)
    assert note == "Seed used: 2"


def test_audio_to_audio_keeps_stereo_when_asked(client, tmp_path):
    stereo = torch.cat([sine(220.0, 6.0), sine(1500.0, 6.0)])
    song = save_audio(tmp_path / "stereo.wav", stereo, 44100)
    track, gallery, *_ = client.predict(
        audio=handle_file(str(song)), prompt="piano", seed=2, num_inference_steps=5, keep_stereo=True,
        api_name="/audio_to_audio",
    )  # fmt: skip
    assert sf.info(track).channels == 2 and wav_frames(track) == 511 * HOP
    assert len(gallery) == 1


def test_audio_to_image_and_back(client, song):
    preview, info, image = client.predict(audio=handle_file(song), stereo=False, api_name="/audio_to_image")
    assert Image.open(image).size == (601, 512)  # 6 s at 10 ms per column
    # The page shows it with time and frequency axes around it; the download is the PNG itself.
    assert Image.open(preview).size[1] > 512 // 2 and Path(preview).read_bytes() != Path(image).read_bytes()
    assert info["tagged"] is True
    assert (info["width"], info["height"], info["sample_rate"], info["stereo"]) == (601, 512, 44100, False)
    assert info["duration_s"] == pytest.approx(6.0, abs=0.01)

    audio, used = client.predict(image=handle_file(image), seed=0, api_name="/image_to_audio")
    assert wav_frames(audio) == 600 * HOP
    assert {k: v for k, v in used.items() if k != "note"} == info

    _, stereo_info, stereo_image = client.predict(
        audio=handle_file(song), stereo=True, api_name="/audio_to_image"
    )
    assert stereo_info["stereo"] is True
    assert Image.open(stereo_image).getexif() != Image.open(image).getexif()


# --- errors come back as one line -------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"start_prompt": "   "}, "both prompts are needed"),
        ({"end_prompt": ""}, "both prompts are needed"),
        # Gradio checks the widgets' ranges and choices before the handler runs.
        ({"start_seed": -1}, "Value -1 is less than minimum value 0"),
        ({"end_seed": MAX_SEED + 1}, f"Value {MAX_SEED + 1} is greater than maximum value {MAX_SEED}"),
        ({"alpha_curve": "wobbly"}, "wobbly is not in the list of choices"),
        ({"mask": "no_such_mask"}, "no_such_mask is not in the list of choices"),
        ({"bpm": 300}, "Value 300 is greater than maximum value 240"),
        ({"bpm": 20}, "tempo must be 40-240 bpm, got 20.0"),
        ({"bpm": 96, "key": "H minor"}, "unknown key 'H minor'"),
        ({"bpm": 96, "bars": 0}, "bars must be a whole number of at least 1, got 0"),
        ({"bpm": 96, "meter": "5/4"}, "5/4 is not in the list of choices"),
        ({"bpm": 96}, "a tempo needs a bundled pattern as seed image"),  # the upload is no pattern
    ],
    ids=[
        "start-prompt",
        "end-prompt",
        "negative-seed",
        "seed-too-big",
        "curve",
        "mask",
        "tempo-too-fast",
        "tempo-too-slow",
        "key",
        "no-bars",
        "meter",
        "uploaded-seed-with-a-tempo",
    ],
)
def test_interpolate_errors(client, narrow_seed, overrides, expected):
    with pytest.raises(AppError) as excinfo:
        interpolate(client, narrow_seed, **overrides)
    assert expected in one_line_error(excinfo)


def test_a_seed_upload_that_is_not_an_image_or_audio(client, tmp_path):
    bogus = tmp_path / "notes.png"
    bogus.write_text("not a picture")
    with pytest.raises(AppError) as excinfo:
        interpolate(client, str(bogus))
    assert "cannot read image" in one_line_error(excinfo)


def test_generate_errors(client):
    with pytest.raises(AppError) as excinfo:
        client.predict(prompt=" ", api_name="/generate")
    assert one_line_error(excinfo) == "write a prompt first"
    with pytest.raises(AppError) as excinfo:
        client.predict(prompt="(drums:11)", api_name="/generate")
    assert one_line_error(excinfo) == "prompt weight 11 is outside -10..10"
    with pytest.raises(AppError) as excinfo:
        client.predict(prompt="drums", seed=MAX_SEED, num_seeds=2, api_name="/generate")
    assert one_line_error(excinfo) == f"seeds must stay at most {MAX_SEED}"


def test_audio_errors(client, song, tmp_path):
    with pytest.raises(AppError) as excinfo:
        client.predict(audio=None, prompt="piano", api_name="/audio_to_audio")
    assert one_line_error(excinfo) == "upload a song first"
    with pytest.raises(AppError) as excinfo:
        client.predict(audio=handle_file(song), prompt="piano", start_s=100.0, api_name="/audio_to_audio")
    assert "the region starts at 100.0 s" in one_line_error(excinfo)
    short = save_audio(tmp_path / "short.wav", sine(440.0, 2.0), 44100)
    with pytest.raises(AppError) as excinfo:
        client.predict(audio=handle_file(str(short)), prompt="piano", api_name="/audio_to_audio")
    assert "restyling needs at least 5.11 s" in one_line_error(excinfo)
    with pytest.raises(AppError) as excinfo:
        client.predict(audio=None, api_name="/audio_to_image")
    assert one_line_error(excinfo) == "upload an audio file first"
    with pytest.raises(AppError) as excinfo:
        client.predict(image=None, api_name="/image_to_audio")
    assert one_line_error(excinfo) == "upload a spectrogram image first"
    narrow = tmp_path / "narrow.png"
    Image.new("RGB", (4, 512), (255, 255, 255)).save(narrow)
    with pytest.raises(AppError) as excinfo:
        client.predict(image=handle_file(str(narrow)), api_name="/image_to_audio")
    assert "4 columns wide is too narrow to decode" in one_line_error(excinfo)


# --- the riffusion-compatible REST route ------------------------------------------------------


def reference_request(**overrides) -> dict:
    """A request as riffusion's web app sends it: JSON integers where floats are meant."""
    return {
        "alpha": 0,
        "num_inference_steps": 3,
        "seed_image_id": "og_beat",
        "start": {"prompt": "church bells", "seed": 1, "denoising": 1, "guidance": 7},
        "end": {"prompt": "jazz trumpet", "seed": 2, "denoising": 0.75, "guidance": 7.0},
        **overrides,
    }


def decode_data_url(url: str, prefix: str) -> bytes:
    assert url.startswith(prefix)
    return base64.b64decode(url.removeprefix(prefix))


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"alpha": 0.5, "seed_image_id": "vibes", "mask_image_id": "keep_low"},
        {"start": {"prompt": "(church bells:1.3), [noise]", "seed": 1, "negative_prompt": "(hiss)"}},
    ],
    ids=["og_beat", "vibes-masked", "weighted-prompts"],
)
def test_run_inference(url, overrides):
    response = httpx.post(url + "run_inference/", json=reference_request(**overrides), timeout=600)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"image", "audio", "duration_s"}
    image = Image.open(io.BytesIO(decode_data_url(body["image"], "data:image/jpeg;base64,")))
    assert image.format == "JPEG" and image.size == (512, 512)
    data, rate = sf.read(io.BytesIO(decode_data_url(body["audio"], "data:audio/mpeg;base64,")))
    assert rate == 44100
    assert len(data) / rate == pytest.approx(5.11, abs=0.1)  # MP3 frames pad the ends a little
    assert body["duration_s"] == pytest.approx(5.11, abs=0.01)


@pytest.mark.parametrize(
    "payload, expected",
    [
        (reference_request(alpha=3), "alpha: Input should be less than or equal to 1"),
        ({k: v for k, v in reference_request().items() if k != "start"}, "start: Field required"),
        (reference_request(seed_image_id="no_such_seed"), "unknown seed image 'no_such_seed'"),
        (reference_request(start={"prompt": "a", "seed": -4}), "seed must be an integer"),
        (reference_request(end={"prompt": "(bells:.)", "seed": 3}), "prompt weight '.' is not a number"),
    ],
    ids=["alpha", "missing-start", "seed-image", "negative-seed", "prompt-weight"],
)
def test_run_inference_rejects_bad_requests(url, payload, expected):
    response = httpx.post(url + "run_inference/", json=payload, timeout=120)
    assert response.status_code == 400
    error = response.json()["error"]
    assert expected in error and "\n" not in error


# --- sessions and settings ---------------------------------------------------------------------


def test_closing_a_session_deletes_its_files(url, engine, song, tmp_path):
    visitor = Client(url, verbose=False, download_files=str(tmp_path))
    visitor.predict(audio=handle_file(song), api_name="/audio_to_image")
    folder = engine.root / visitor.session_hash
    assert any(folder.rglob("song.png"))
    visitor.close()  # the page's heartbeat ends, so Gradio runs the unload event
    deadline = time.monotonic() + 90
    while folder.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not folder.exists()


def test_forget_session_leaves_other_sessions_alone(tmp_path):
    engine = Engine("unused", root=tmp_path)
    mine, theirs = engine.session_folder("mine"), engine.session_folder("theirs")
    (mine / "clip.wav").write_bytes(b"x")
    engine.forget_session("mine")
    assert not (tmp_path / "mine").exists() and theirs.is_dir()
    engine.forget_session("never-seen")  # nothing to delete is fine


def test_settings_round_trip_through_json():
    walk = Walk(
        start=PromptEnd("piano", 3, "noise", 0.6, 5.0),
        end=PromptEnd("drums", 4, "", 0.9, 9.5),
        num_clips=7,
        seed_image="vibes",
        mask="keep_low",
        alpha_curve="smooth",
        crossfade_ms=120.0,
    )
    settings = Settings(num_inference_steps=20, scheduler="dpm++")
    for music in [
        walk,
        Walk(start=walk.start, end=walk.end, alphas=(0.0, 0.25, 1.0)),
        Variations(walk.start, (5, 6, 9), seed_image="agile"),
        Restyle(walk.start, walk.end, start_s=3.0, duration_s=20.0),
    ]:
        assert from_dict(json.loads(json.dumps(to_dict(music, settings)))) == (music, settings)
    with pytest.raises(ValueError, match="not riff settings"):
        from_dict({"kind": "walk", "music": {"start": {"prompt": "piano"}}})
    with pytest.raises(ValueError, match="not riff settings"):
        from_dict({"kind": "symphony", "music": {}})
    broken = to_dict(walk, settings)
    broken["music"]["num_clips"] = 0
    with pytest.raises(ValueError, match="num_clips must be in 1..256"):
        from_dict(broken)


# --- a model that cannot be loaded -------------------------------------------------------------


@pytest.fixture(scope="module")
def broken_engine(tmp_path_factory) -> Engine:
    return Engine("/nonexistent/folder", "cpu", root=tmp_path_factory.mktemp("broken"))


def test_missing_model_fails_in_one_line_that_says_how_to_fix_it(broken_engine, song, tmp_path):
    assert broken_engine.status().startswith("Model: /nonexistent/folder (loads on first use")
    with serve(build_app(broken_engine)) as address:
        visitor = Client(address, verbose=False, download_files=str(tmp_path))
        try:
            with pytest.raises(AppError) as excinfo:
                visitor.predict(
                    start_prompt="piano",
                    start_seed=0,
                    end_prompt="drums",
                    end_seed=1,
                    api_name="/interpolate",
                )
            message = one_line_error(excinfo)
            # The operator's path is theirs to know (the console has it), not the visitor's.
            assert "no such model folder: 'folder'" in message and "/nonexistent" not in message
            assert "--model" in message and "RIFF_MODEL" in message
            # Spectrogram tools need no model, so they keep working.
            image, info, _ = visitor.predict(audio=handle_file(song), api_name="/audio_to_image")
            assert info["width"] == 601
        finally:
            visitor.close()
        response = httpx.post(address + "run_inference/", json=reference_request(), timeout=60)
        assert response.status_code == 400 and "RIFF_MODEL" in response.json()["error"]

    status = broken_engine.status()
    assert status.startswith("Model not available: no such model folder") and "\n" not in status
    # A page built after the failure (as `python app.py` does) says so where the status shows.
    demo = build_demo(broken_engine)
    shown = [b.value for b in demo.blocks.values() if getattr(b, "elem_id", None) == "model-status"]
    assert shown == [status]


# --- the page's pieces -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "clips, width, continuation, hops",
    [
        (5, None, False, 5 * 511),
        (2, 64, False, 2 * 63),  # as test_interpolate_with_an_uploaded_seed measures
        (2, 256, True, 2 * 255 - 63),  # as test_a_chain_with_continuation_and_wider_clips does
    ],
)
def test_the_length_shown_before_rendering_is_the_tracks(clips, width, continuation, hops):
    assert track_seconds(clips, width, continuation) == pytest.approx(hops * HOP / 44100, rel=0.02)
    assert length_s(5) == 25.6
    assert clips_for(30) == 6 and clips_for(25.6) == 5 and clips_for(1) == 1


def test_examples_are_every_pages_to_play_and_keep(tiny_model, tmp_path):
    from riff.serve.engine import EXAMPLES

    engine = Engine(tiny_model, root=tmp_path)
    seeds = Variations.counting(PromptEnd("solo piano"), 1)
    *_, result = engine.render(seeds, Settings(num_inference_steps=5), EXAMPLES)
    # Any page may read an example's files; another page's files stay its own.
    assert engine.own_file(result.clips[0], "visitor") == result.clips[0].resolve()
    *_, theirs = engine.render(seeds, Settings(num_inference_steps=5), "someone")
    with pytest.raises(ValueError, match="not one this page made"):
        engine.own_file(theirs.track, "visitor")
    # Keeping an example's track writes into the page's own folder, never the example's.
    kept = engine.export(result.track, result.name, ".flac", "visitor")
    assert (tmp_path / "visitor") in kept.parents and kept.name == "solo-piano.flac"
    assert not list(result.folder.glob("*.flac"))
    # The finished track also goes by its prompts' name (the player's own download).
    named = result.named_track()
    assert named.name == "solo-piano.wav" and named.read_bytes() == result.track.read_bytes()
