"""The page's handlers without a server: progress as the page shows it, the endless riff's
status line between chunks, the beat grid from every render tab into the settings."""

from __future__ import annotations

import dataclasses
import io
import json
import struct
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest
import soundfile as sf
import torch
from gradio.utils import get_upload_folder
from mutagen.flac import FLAC
from mutagen.id3 import ID3

from riff import seedgen
from riff.audio.files import save_audio
from riff.audio.tags import wav_chunks
from riff.grid import Grid, parse_key
from riff.lora import LORA_FILE
from riff.models import load_model
from riff.request import Settings, from_dict, to_dict
from riff.serve import engine as serving
from riff.serve.engine import Stopped
from riff.serve.loras import LoraFolder
from riff.serve.results import Result
from riff.studio import widgets
from riff.studio.edge import (
    AS_THE_SEED,
    FIT_BARS,
    KEY_NAMES,
    NO_LORA,
    grid_fields,
    panel_values,
    progress_bar,
)
from riff.studio.handlers import Studio
from riff.studio.walks import WALK_FIELDS, walk_fields, walk_request
from riff.train.lora import add_lora, save_lora


def test_progress_names_the_clip_being_denoised():
    labels: list[tuple[float, str]] = []
    report = progress_bar(lambda fraction, desc: labels.append((fraction, desc)))
    report(0.05, 5, 1, 20)  # clip 1, first step
    report(1.0, 5, 20, 20)  # clip 1, last step: still clip 1, not clip 2
    report(1.0, 5, 0, 0)  # clip 1 is audio; clip 2 is next
    report(2.5, 5, 10, 20)  # a batch of clips 2-5 half way
    assert [desc for _, desc in labels] == [
        "clip 1/5, step 1/20",
        "clip 1/5, step 20/20",
        "clip 2/5",
        "clip 3/5, step 10/20",
    ]
    assert [fraction for fraction, _ in labels] == [0.01, 0.2, 0.2, 0.5]


def test_the_pages_status_line_follows_the_listener_between_chunks(engine):
    studio = Studio(engine)
    assert studio.endless_status() == (gr.skip(), gr.skip())  # nothing plays yet: no change
    stream = studio.endless("piano", clips_per_seed=1, num_inference_steps=2)
    _, _, first = next(stream)
    assert first.startswith("Playing 'piano' · seed 0 → 1 · ") and " s heard, " in first
    status, timer = studio.endless_status()  # a tick, no chunk: the same listener's line
    assert status.startswith("Playing 'piano'") and " s buffered" in status and timer == gr.skip()
    stream.close()  # Stop, or the limit: the player plays out its buffer
    status, timer = studio.endless_status()
    assert status.endswith("left to play; no more is coming") and timer == gr.skip()
    said, timer = studio.endless_stopped()
    assert said.startswith("Stopped: ") and isinstance(timer, gr.Timer)
    assert studio.endless_status() == (gr.skip(), gr.skip())


def _page(session: str) -> SimpleNamespace:
    """A page's request, as Gradio hands it to a handler."""
    return SimpleNamespace(session_hash=session, client=SimpleNamespace(host="127.0.0.1"), headers={})


def test_stop_says_how_much_of_the_endless_riff_was_made_and_stops_it(engine):
    studio = Studio(engine)
    page = _page("endless-stop")
    said, timer = studio.endless_stopped(page)  # before any riff: nothing was made
    assert said == "Stopped before the first clip was done: nothing was made"
    stream = studio.endless("piano", clips_per_seed=1, num_inference_steps=2, request=page)
    chunks = [next(stream) for _ in range(2)]
    made = sum(sf.read(io.BytesIO(wav))[0].shape[0] for wav, _, _ in chunks) / 44100
    said, timer = studio.endless_stopped(page)
    # What the riff made, from its last chunk (not the renders' count, which it never updates).
    assert said.startswith(f"Stopped: {made:.0f} s of music made; ") and "nothing was made" not in said
    assert said.endswith(("no more is coming", "played")) and "\n" not in said
    assert isinstance(timer, gr.Timer) and studio.endless_status(page) == (gr.skip(), gr.skip())
    with pytest.raises(Stopped):  # the engine stops the riff at its next clip
        next(stream)
    stream.close()
    # A riff stopped before its first chunk: nothing was made, and it says so.
    stream = studio.endless("piano", clips_per_seed=1, num_inference_steps=2, request=page)
    studio.endless_started(page)
    said, _ = studio.endless_stopped(page)
    assert said == "Stopped before the first clip was done: nothing was made"
    stream.close()


# --- the beat grid: tempo, key, meter and bars -------------------------------------------------

GRID = {"bpm": 96, "key": "Am", "meter": "3/4", "bars": 2}
ASKED = {"bpm": 96.0, "key": "Am", "meter": "3/4", "bars": 2}


def _asked(settings: Settings) -> dict:
    return {name: getattr(settings, name) for name in ASKED}


def _rendering(studio: Studio) -> list:
    """Each request the handlers hand to the engine, instead of rendering it."""
    asked: list = []

    def results(music, settings, session, progress):
        asked.append((music, settings))
        return iter(())

    studio._results = results
    return asked


@pytest.mark.parametrize(
    "handler, args",
    [
        ("interpolate", ("piano", 1, "drums", 2)),
        ("generate", ("piano",)),
        ("loop", ("piano",)),
        ("chain", ([["piano", 0], ["drums", 1]],)),
    ],
)
def test_every_render_tab_hands_its_beat_grid_to_the_settings(engine, handler, args):
    studio = Studio(engine)
    asked = _rendering(studio)
    list(getattr(studio, handler)(*args, num_inference_steps=2, **GRID))
    [(_, settings)] = asked
    assert _asked(settings) == ASKED and settings.grid().beats == 6.0
    # No tempo (empty or 0) and "as the seed": the seed image as it plays, as before.
    list(getattr(studio, handler)(*args, bpm=0, key=AS_THE_SEED, bars=None))
    list(getattr(studio, handler)(*args, bpm=None, key="", bars=FIT_BARS))
    assert [s.grid() for _, s in asked[1:]] == [None, None]


def test_the_endless_riff_and_the_teaching_view_take_the_grid(engine, monkeypatch):
    studio = Studio(engine)
    asked: list = []

    def handed(what, settings, *rest):
        asked.append(settings)
        raise LookupError  # handed over: the rest is the engine's

    monkeypatch.setattr(engine, "endless", handed)
    monkeypatch.setattr(engine, "teach", handed)
    with pytest.raises(LookupError):
        next(studio.endless("piano", **GRID))
    with pytest.raises(LookupError):
        studio.teach("piano", **GRID)
    assert [_asked(s) for s in asked] == [ASKED, ASKED]


@pytest.mark.parametrize(
    "grid, expected",
    [
        ({"bpm": 500}, "tempo must be 40-240 bpm, got 500.0"),
        ({"bpm": 20}, "tempo must be 40-240 bpm"),
        ({"bpm": 96, "key": "H minor"}, "unknown key 'H minor'"),
        ({"bpm": 96, "bars": 0}, "bars must be a whole number of at least 1, got 0"),
        ({"bpm": 96, "bars": 2.5}, "bars must be a whole number of at least 1, got 2.5"),
        ({"bpm": 240, "bars": 500}, "more than 2048: at most"),
        ({"bpm": 96, "meter": "5/4"}, "meter must be one of 4/4, 3/4, 6/8, got '5/4'"),
        ({"key": "Am"}, "needs a tempo"),
    ],
    ids=["fast", "slow", "key", "no-bars", "half-bar", "too-many-bars", "meter", "key-alone"],
)
@pytest.mark.parametrize("handler", ["interpolate", "generate", "loop", "chain", "endless", "teach"])
def test_a_bad_beat_grid_is_one_line_before_any_work(engine, handler, grid, expected, monkeypatch):
    studio = Studio(engine)
    asked = _rendering(studio)
    for work in ("endless", "teach", "render"):
        monkeypatch.setattr(engine, work, lambda *args, **kwargs: asked.append(args))
    args = {
        "interpolate": ("piano", 1, "drums", 2),
        "chain": ([["piano", 0], ["drums", 1]],),
    }.get(handler, ("piano",))
    with pytest.raises(gr.Error) as excinfo:
        result = getattr(studio, handler)(*args, **grid)
        if handler != "teach":
            list(result)
    message = str(excinfo.value.message)
    assert expected in message and "\n" not in message and "Traceback" not in message
    assert asked == []


def test_reuse_these_settings_keeps_the_beat_grid_and_reads_old_json():
    walk, settings = walk_request("piano", 1, "drums", 2, bpm=96, key="a minor", meter="6/8", bars=1)
    saved = json.loads(json.dumps(to_dict(walk, settings)))
    assert {n: saved["settings"][n] for n in GRID} == {
        "bpm": 96.0,
        "key": "a minor",
        "meter": "6/8",
        "bars": 1,
    }
    fields = walk_fields(*from_dict(saved))
    # Back into the fields as the dropdown lists the key; the same request again.
    assert {n: fields[n] for n in GRID} == {"bpm": 96.0, "key": "A minor", "meter": "6/8", "bars": 1}
    again = walk_request(**{n: fields[n] for n in WALK_FIELDS if n in fields})
    assert again[1].grid() == settings.grid() and again[0] == walk
    # A settings JSON written before the beat grid existed still loads, as the seed plays.
    for name in GRID:
        del saved["settings"][name]
    old = walk_fields(*from_dict(saved))
    assert {n: old[n] for n in GRID} == {"bpm": None, "key": AS_THE_SEED, "meter": "4/4", "bars": FIT_BARS}
    assert walk_request(**{n: old[n] for n in WALK_FIELDS if n in old})[1].grid() is None


def test_the_24_keys_are_offered_and_each_reads_back():
    assert len(set(KEY_NAMES)) == 24
    assert [parse_key(name).name for name in KEY_NAMES] == list(KEY_NAMES)
    assert grid_fields(0, AS_THE_SEED, "4/4", None) == {
        "bpm": None,
        "key": None,
        "meter": "4/4",
        "bars": None,
    }
    assert grid_fields("120", "Eb", "3/4", 4.0) == {"bpm": 120.0, "key": "Eb", "meter": "3/4", "bars": 4}


def _track(engine, grid: Grid | None, name: str = "jazz-piano", loop: bool = False) -> Result:
    """A finished two-clip track in the page's (session None) folder, as a render leaves it."""
    folder = engine.sessions.folder(None) / name
    folder.mkdir(exist_ok=True)
    frames = Grid(96.0, "4/4", 2).track_samples(2, 44100)
    track = save_audio(folder / "track_002.wav", 0.1 * torch.randn(2, frames), 44100)
    return Result(folder, track=track, done=True, name=name, grid=grid, loop=loop)


def test_a_tempo_names_and_tags_the_track_a_listener_keeps(engine):
    grid = Grid(96.0, "4/4", 2, parse_key("A minor"))
    result = _track(engine, grid)
    named = result.named_track()
    assert named.name == "jazz-piano_96bpm_Am.wav"
    flags, root, _, _, beats, denominator, numerator, bpm = struct.unpack(
        "<IHHfIHHf", wav_chunks(named)["acid"]
    )
    assert (bpm, beats, numerator, denominator, root) == (96.0, 16, 4, 4, 69) and flags & 0x02
    assert "smpl" not in wav_chunks(named) and "acid" not in wav_chunks(result.track)
    assert sf.read(named)[0].shape == sf.read(result.track)[0].shape  # the same audio, tagged
    # The page's "Save the track": the same name in each format, with that format's tags.
    studio = Studio(engine)
    state = panel_values(result, "")[5]
    flac = Path(studio.export(state, "flac"))
    assert flac.name == "jazz-piano_96bpm_Am.flac"
    assert (FLAC(flac)["BPM"], FLAC(flac)["KEY"]) == (["96"], ["Am"])
    mp3 = Path(studio.export(state, "mp3"))
    assert mp3.name == "jazz-piano_96bpm_Am.mp3"
    assert (str(ID3(mp3)["TBPM"]), str(ID3(mp3)["TKEY"])) == ("96", "Am")
    wav = Path(studio.export(state, "wav"))
    assert struct.unpack("<f", wav_chunks(wav)["acid"][20:24]) == (96.0,)


def test_a_loop_on_a_tempo_loops_its_whole_file_and_no_tempo_keeps_files_as_they_were(engine):
    looped = _track(engine, Grid(120.0, "3/4", 2), "lofi-loop", loop=True).named_track()
    assert looped.name == "lofi-loop_120bpm.wav"
    chunks = wav_chunks(looped)
    frames = len(chunks["data"]) // 4  # 16-bit stereo
    start, end = struct.unpack("<II", chunks["smpl"][36 + 8 : 36 + 16])  # the one loop, after the header
    assert (start, end) == (0, frames - 1)
    # No tempo: the name and the bytes of today.
    plain = _track(engine, None, "solo-piano")
    assert plain.named_track().name == "solo-piano.wav"
    assert plain.named_track().read_bytes() == plain.track.read_bytes()
    kept = Path(Studio(engine).export(panel_values(plain, "")[5], "flac"))
    assert kept.name == "solo-piano.flac" and "BPM" not in FLAC(kept)


# --- audio to audio on the song's own bars -----------------------------------------------------


@pytest.fixture
def drum_song():
    """A 96 bpm drum loop (five 2-bar loops) after 0.37 s of silence, as an upload: its path."""
    rate = 44100
    loop = seedgen.render("og_beat", Grid.parse(96, key="A minor", bars=2))
    song = np.concatenate([np.zeros(int(0.37 * rate)), np.tile(loop, 5)])
    folder = Path(get_upload_folder()) / "riff-test-song"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "drums.wav"
    sf.write(path, song, rate)
    yield str(path)
    path.unlink()


def _restyling(engine, monkeypatch) -> list:
    """Each Restyle the handler hands to the engine, instead of rendering it."""
    asked: list = []
    monkeypatch.setattr(engine, "restyle", lambda song, restyle, *rest: asked.append(restyle) or iter(()))
    return asked


def test_the_song_s_bars_reach_the_restyle(engine, drum_song, monkeypatch):
    studio = Studio(engine)
    asked = _restyling(engine, monkeypatch)
    list(studio.audio_to_audio(drum_song, "piano", on_bars=True, song_bpm=95.5, downbeat_s=0.37))
    list(studio.audio_to_audio(drum_song, "piano", on_bars=True, song_bpm=None, downbeat_s=""))
    list(studio.audio_to_audio(drum_song, "piano"))
    list(studio.audio_to_audio(drum_song, "piano", on_bars=True, song_bpm=0, downbeat_s=0))  # both empty
    list(studio.audio_to_audio(drum_song, "piano", on_bars=True, song_bpm=120, downbeat_s=0))
    cut = [(r.on_bars, r.song_bpm, r.downbeat_s) for r in asked]
    assert cut == [
        (True, 95.5, 0.37),
        (True, None, None),
        (False, None, None),
        (True, None, None),
        (True, 120.0, 0.0),
    ]


def test_an_uploaded_song_s_tempo_and_first_downbeat_are_estimated(engine, drum_song):
    bpm, downbeat = Studio(engine).song_beat(drum_song)
    assert abs(bpm / 96 - 1) < 0.01
    bar = 4 * 60 / bpm
    assert abs((downbeat - 0.37 + bar / 2) % bar - bar / 2) < 0.03  # on one of the song's bar lines
    assert Studio(engine).song_beat(None) == (None, None)  # the song cleared: the boxes too
    assert Studio(engine).song_beat(drum_song, on_bars=False) == (gr.skip(), gr.skip())  # not asked


@pytest.mark.parametrize(
    "fields, expected",
    [
        ({"song_bpm": 500}, "tempo must be 40-240 bpm, got 500.0"),
        ({"downbeat_s": -1}, "the downbeat must be at >= 0 s"),
        ({"downbeat_s": "soon"}, "could not convert string to float"),
    ],
    ids=["tempo", "negative-downbeat", "not-a-number"],
)
def test_a_bad_song_beat_is_one_line_before_any_work(engine, drum_song, fields, expected, monkeypatch):
    asked = _restyling(engine, monkeypatch)
    with pytest.raises(gr.Error) as excinfo:
        list(Studio(engine).audio_to_audio(drum_song, "piano", on_bars=True, **fields))
    message = str(excinfo.value.message)
    assert expected in message and "\n" not in message and asked == []


def test_a_song_whose_beat_cannot_be_found_is_one_line(engine, drum_song, monkeypatch):
    studio = Studio(engine)
    silence = Path(drum_song).with_name("silence.wav")
    sf.write(silence, np.zeros(44100 * 8), 44100)
    not_audio = Path(drum_song).with_name("notes.wav")
    not_audio.write_text("not audio")
    try:
        for song, expected in [(silence, "clear onsets"), (not_audio, "")]:
            with pytest.raises(gr.Error) as excinfo:
                studio.song_beat(str(song))
            message = str(excinfo.value.message)
            assert expected in message and "\n" not in message and str(song.parent) not in message
        monkeypatch.setattr(engine, "limits", dataclasses.replace(engine.limits, audio_s=5.0))
        with pytest.raises(gr.Error, match="too long here: at most 5 s"):
            studio.song_beat(drum_song)
    finally:
        silence.unlink()
        not_audio.unlink()


def test_the_endless_riff_on_a_tempo_streams_clips_on_its_grid(engine, monkeypatch):
    rendered: list = []

    def render_walk(model, walk, settings, *rest, **kwargs):
        for clip in real(model, walk, settings, *rest, **kwargs):
            rendered.append((settings, clip))
            yield clip

    real = serving.render_walk
    monkeypatch.setattr(serving, "render_walk", render_walk)
    stream = Studio(engine).endless(
        "piano", clips_per_seed=1, num_inference_steps=2, bpm=96, key="Am", bars=1
    )
    try:
        chunks = [next(stream) for _ in range(2)]
    finally:
        stream.close()
    assert [status.startswith("Playing 'piano'") for _, _, status in chunks] == [True, True]
    asked = Grid.parse(96, key="Am", bars=1)
    assert len(rendered) >= 2  # the second seed's hop goes on from the first's last clip
    for settings, clip in rendered[:2]:
        assert settings.grid() == asked  # the grid reaches every hop, not only the first
        assert clip.waveform.shape[-1] == round(asked.clip_samples(44100))  # one whole bar


# --- a LoRA from the server's folder, by name -------------------------------------------------


@pytest.mark.parametrize(
    "handler, args",
    [("interpolate", ("piano", 1, "drums", 2)), ("generate", ("piano",)), ("loop", ("piano",))],
)
def test_a_picked_lora_and_its_scale_reach_the_settings(engine, handler, args):
    studio = Studio(engine)
    asked = _rendering(studio)
    list(getattr(studio, handler)(*args, lora="grit", lora_scale=-0.5))
    list(getattr(studio, handler)(*args, lora=NO_LORA, lora_scale=1.5))
    list(getattr(studio, handler)(*args))
    assert [s.loras for _, s in asked] == [(("grit", -0.5),), (), ()]


def test_reuse_these_settings_keeps_the_lora():
    walk, settings = walk_request("piano", 1, "drums", 2, lora="grit", lora_scale=0.25)
    again = walk_fields(*from_dict(json.loads(json.dumps(to_dict(walk, settings)))))
    assert (again["lora"], again["lora_scale"]) == ("grit", 0.25)
    assert walk_request(**{n: again[n] for n in WALK_FIELDS if n in again}) == (walk, settings)
    plain = walk_fields(*walk_request("piano", 1, "drums", 2))
    assert (plain["lora"], plain["lora_scale"]) == (NO_LORA, 1.0)


@pytest.mark.parametrize(
    "lora, scale, expected",
    [
        ("jazz", 1.0, "no LoRA named 'jazz' here: choose one of grit"),
        ("../grit", 1.0, "no LoRA named 'grit' here"),  # a path is never looked up
        ("grit", 3.0, "a LoRA scale must be in -2..2, got 3"),
    ],
    ids=["unknown", "path", "scale"],
)
def test_a_lora_the_server_does_not_offer_is_one_line_before_any_work(
    engine, lora, scale, expected, tmp_path, monkeypatch
):
    (tmp_path / "grit").mkdir()
    (tmp_path / "grit" / LORA_FILE).write_bytes(b"")
    monkeypatch.setattr(engine, "loras", LoraFolder(tmp_path))
    worked: list = []
    monkeypatch.setattr(serving, "render", lambda *args, **kwargs: worked.append(args))
    with pytest.raises(gr.Error) as excinfo:
        list(Studio(engine).generate("piano", num_inference_steps=2, lora=lora, lora_scale=scale))
    message = str(excinfo.value.message)
    assert expected in message and "\n" not in message and str(tmp_path) not in message
    assert worked == []


def test_the_lora_picker_offers_the_server_s_folder(engine, tmp_path, monkeypatch):
    with gr.Blocks():
        none = widgets.lora(engine)
    assert none["lora"].interactive is False and "--lora-dir" in none["lora"].info
    (tmp_path / "grit").mkdir()
    (tmp_path / "grit" / LORA_FILE).write_bytes(b"")
    (tmp_path / "empty").mkdir()  # no weights: not offered
    monkeypatch.setattr(engine, "loras", LoraFolder(tmp_path))
    with gr.Blocks():
        offered = widgets.lora(engine)
    assert [value for value, _ in offered["lora"].choices] == [NO_LORA, "grit"]
    assert offered["lora"].interactive and (offered["lora_scale"].minimum, offered["lora_scale"].maximum) == (
        -2,
        2,
    )


@pytest.fixture(scope="module")
def offered_lora(tiny_model_dir, tmp_path_factory) -> Path:
    """A LoRA folder offering "grit": adapters of the tiny model's UNet, saved as `riff train --lora`
    saves them, with random up matrices (a fresh adapter is a no-op; these change every clip)."""
    fresh = load_model(str(tiny_model_dir), device="cpu", dtype=torch.float32)
    components = {"unet": fresh.unet, "vae": fresh.vae, "text_encoder": fresh.text_encoder}
    add_lora(components, rank=4)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, weight in fresh.unet.named_parameters():
            if "lora_B" in name:
                weight.copy_(0.5 * torch.randn(weight.shape, generator=generator))
    folder = tmp_path_factory.mktemp("offered-loras")
    save_lora(components, folder / "grit", {"base_model": tiny_model_dir.name})
    return folder


FAST = {"num_inference_steps": 2, "bpm": 240, "bars": 1}  # one-second clips: little work


def _chain(studio: Studio, **lora) -> bytes:
    *_, last = studio.chain([["piano", 0], ["drums", 1]], clips_per_hop=1, **FAST, **lora)
    return Path(last[0]).read_bytes()


def _endless(studio: Studio, **lora) -> bytes:
    stream = studio.endless("piano", clips_per_seed=1, **FAST, **lora)
    try:
        wav, _, _ = next(stream)
    finally:
        stream.close()
    return wav


def _teach(studio: Studio, **lora) -> bytes:
    _, wav, *_ = studio.teach("piano", **FAST, **lora)
    return Path(wav).read_bytes()


def _restyle(studio: Studio, song: str, **lora) -> bytes:
    *_, last = studio.audio_to_audio(song, "piano", duration_s=5.11, num_inference_steps=2, **lora)
    return Path(last[0]).read_bytes()


@pytest.mark.parametrize("tab", ["chain", "endless", "teach", "restyle"])
def test_a_lora_picked_in_the_other_tabs_reaches_the_render(
    engine, offered_lora, drum_song, tab, monkeypatch
):
    monkeypatch.setattr(engine, "loras", LoraFolder(offered_lora))
    studio = Studio(engine)
    render = {"chain": _chain, "endless": _endless, "teach": _teach}.get(
        tab, lambda studio, **lora: _restyle(studio, drum_song, **lora)
    )
    plain = render(studio)
    assert render(studio, lora="grit", lora_scale=1.0) != plain  # the adapted model's music
    assert render(studio, lora="grit", lora_scale=0.0) == plain  # at scale 0, nothing changes
    assert render(studio, lora=NO_LORA, lora_scale=1.5) == plain  # none picked: the model as it is


@pytest.mark.parametrize("handler", ["chain", "endless", "teach", "audio_to_audio"])
def test_the_other_tabs_refuse_a_lora_the_server_does_not_offer_in_one_line(
    engine, offered_lora, drum_song, handler, monkeypatch
):
    monkeypatch.setattr(engine, "loras", LoraFolder(offered_lora))
    worked: list = []
    for work in ("render", "render_walk", "render_restyle", "journey"):
        monkeypatch.setattr(serving, work, lambda *args, **kwargs: worked.append(args))
    args = {
        "chain": ([["piano", 0], ["drums", 1]],),
        "audio_to_audio": (drum_song, "piano"),
    }.get(handler, ("piano",))
    for lora, scale, expected in [("jazz", 1.0, "no LoRA named 'jazz' here: choose one of grit"),
                                  ("grit", 3.0, "a LoRA scale must be in -2..2, got 3")]:  # fmt: skip
        with pytest.raises(gr.Error) as excinfo:
            result = getattr(Studio(engine), handler)(*args, lora=lora, lora_scale=scale)
            if handler != "teach":
                list(result)
        message = str(excinfo.value.message)
        assert expected in message and "\n" not in message and str(offered_lora) not in message
    assert worked == []
