"""The dataset builder: MIDI bytes, captions, a tiny offline build, the CLI's error paths."""

from __future__ import annotations

import json
import shutil
import struct

import numpy as np
import pytest
from PIL import Image

from riff.audio.image import mel_from_image
from riff.audio.params import SpectrogramParams
from riff.cli import main
from riff.train.dataset.build import CLIP_SAMPLES, build_dataset, find_soundfont
from riff.train.dataset.drums import STYLES, drum_notes
from riff.train.dataset.generated import PAD, PADS, generated_piece
from riff.train.dataset.midi import PPQ, Note, midi_from_notes
from riff.train.dataset.music import INSTRUMENTS


def _fluidsynth_or_skip() -> None:
    if shutil.which("fluidsynth") is None:
        pytest.skip("fluidsynth is not installed (apt install fluidsynth)")
    try:
        find_soundfont()
    except ValueError as error:
        pytest.skip(str(error))


def _parse_midi(data: bytes) -> tuple[tuple[int, int, int], list[tuple[int, bytes]]]:
    """(format, tracks, division) and the (absolute tick, message) events of the one track."""
    assert data[:4] == b"MThd"
    length, fmt, tracks, division = struct.unpack(">IHHH", data[4:14])
    assert length == 6
    assert data[14:18] == b"MTrk"
    (size,) = struct.unpack(">I", data[18:22])
    track = data[22:]
    assert len(track) == size, "track chunk length must match its bytes"
    events, i, tick = [], 0, 0
    while i < len(track):
        delta = 0
        while True:
            byte = track[i]
            i += 1
            delta = (delta << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        tick += delta
        status = track[i]
        if status == 0xFF:
            n = track[i + 2]
            events.append((tick, track[i : i + 3 + n]))
            i += 3 + n
        else:
            n = 2 if status & 0xF0 in (0x80, 0x90) else 1
            events.append((tick, track[i : i + 1 + n]))
            i += 1 + n
    return (fmt, tracks, division), events


def test_midi_file_parses_back():
    notes = [Note(0, 1, 60, 100, 0), Note(0.5, 1, 64, 90, 0), Note(200, 0.25, 36, 110, 9)]
    (fmt, tracks, division), events = _parse_midi(midi_from_notes(notes, 120, {0: 24}, end=202))
    assert (fmt, tracks, division) == (0, 1, PPQ)
    assert events[0] == (0, b"\xff\x51\x03" + (500_000).to_bytes(3, "big"))  # 120 bpm
    assert events[1] == (0, bytes([0xC0, 24]))
    ons = [(t, m[1]) for t, m in events if m[0] & 0xF0 == 0x90]
    offs = [(t, m[1]) for t, m in events if m[0] & 0xF0 == 0x80]
    assert ons == [(0, 60), (240, 64), (96000, 36)]  # 200 beats: a delta over 2 bytes
    assert sorted(offs) == [(480, 60), (720, 64), (96120, 36)]
    assert events[-1] == (202 * PPQ, b"\xff\x2f\x00")


def test_midi_rejects_bad_notes():
    with pytest.raises(ValueError, match="out of MIDI range"):
        midi_from_notes([Note(0, 1, 128)], 120)
    with pytest.raises(ValueError, match="tempo"):
        midi_from_notes([Note(0, 1, 60)], 0)


def test_every_drum_style_plays():
    rng = np.random.default_rng(0)
    for style in STYLES.values():
        notes = drum_notes(style, 2, rng)
        assert notes and all(n.channel == 9 and 0 <= n.start < 8 for n in notes), style.name


def test_captions_name_tempo_and_instruments():
    for i in range(60):
        piece = generated_piece(np.random.default_rng([0, i, 1]))
        caption, labels = piece.caption, piece.labels
        bpm, band = round(labels["tempo_bpm"]), labels["tempo_band"]
        assert f"{bpm} bpm" in caption or band in caption, caption
        lead = labels["instruments"][0].removesuffix(" drums")
        assert lead in caption or caption.startswith("jazz trio"), caption
        if not caption.startswith("jazz trio"):  # the pad and the bass are named too
            assert all(name.removesuffix(" drums") in caption for name in labels["instruments"]), caption
        assert labels["has_drums"] == ("drums" in labels["families"])
        assert labels["tempo_band"] in ("slow", "medium", "fast")


def test_bands_often_hold_a_pad_under_the_lead():
    pieces = [generated_piece(np.random.default_rng([0, i, 1])) for i in range(80)]
    padded = [p for p in pieces if PAD in p.programs]
    assert padded and all(p.labels["arrangement"] in ("band", "duo") for p in padded)
    for piece in padded:
        held = [n for n in piece.notes if n.channel == PAD]
        assert held and all(n.duration == 4.0 for n in held)
        assert piece.labels["instruments"][1] in PADS and piece.labels["instruments"][1] in piece.caption
        # The lead keeps the label a classifier learns.
        assert piece.labels["family"] == INSTRUMENTS[piece.labels["instruments"][0]].family
    solos = [p for p in pieces if p.labels["arrangement"] == "solo"]
    assert solos and all(set(p.programs) <= {2, 3} for p in solos)  # a solo stays solo


def test_same_seed_same_pieces():
    a = generated_piece(np.random.default_rng([3, 7, 1]))
    b = generated_piece(np.random.default_rng([3, 7, 1]))
    assert a == b


def _lines(folder) -> list[dict]:
    return [json.loads(line) for line in (folder / "metadata.jsonl").read_text().splitlines()]


def test_tiny_build(tmp_path):
    _fluidsynth_or_skip()
    records = build_dataset(tmp_path / "a", 3, seed=5, sources=["generated"], workers=2)
    lines = _lines(tmp_path / "a")
    assert lines == records and [r["file"] for r in lines] == sorted(
        p.name for p in (tmp_path / "a").glob("*.png")
    )
    for record in lines:
        image = Image.open(tmp_path / "a" / record["file"])
        assert image.size == (512, 512)
        mel, params, _ = mel_from_image(image)
        assert params == SpectrogramParams() and params.num_samples(512) == CLIP_SAMPLES
        assert float(mel.max()) > 0, "a rendered clip is not silent"
        assert image.text["caption"] == record["caption"]
        assert record["source"] == "generated" and "MIT" in record["license"]
        assert record["provenance"]["soundfont"].endswith(".sf2")

    # Same seed, same captions and same bytes; a rerun skips what is there.
    build_dataset(tmp_path / "b", 3, seed=5, sources=["generated"])
    assert _lines(tmp_path / "b") == lines
    for record in lines:
        assert (tmp_path / "a" / record["file"]).read_bytes() == (
            tmp_path / "b" / record["file"]
        ).read_bytes()
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "a").glob("*.png")}
    assert build_dataset(tmp_path / "a", 3, seed=5, sources=["generated"]) == lines
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "a").glob("*.png")} == before


def test_folder_source_captions_from_names_and_sidecars(tmp_path):
    import soundfile as sf

    audio = tmp_path / "audio"
    audio.mkdir()
    t = np.arange(int(6 * 44100)) / 44100
    sf.write(audio / "lofi_piano-loop.wav", 0.3 * np.sin(2 * np.pi * 220 * t), 44100)
    sf.write(audio / "take2.wav", 0.3 * np.sin(2 * np.pi * 330 * t), 44100)
    (audio / "take2.txt").write_text("acoustic guitar strumming, 100 bpm\n")
    records = build_dataset(tmp_path / "out", 2, seed=0, sources=["folder"], audio_dir=audio)
    assert sorted(r["caption"] for r in records) == ["acoustic guitar strumming, 100 bpm", "lofi piano loop"]
    assert all(r["source"] == "folder" and "user" in r["license"] for r in records)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--sources", "generated,mp3s"], "unknown source"),
        (["--sources", "folder"], "needs --audio-dir"),
        (["--sources", "folder", "--audio-dir", "/no/such/dir"], "no such folder"),
        (["--sources", "generated", "--audio-dir", "."], "needs the folder source"),
        (["--clips", "0", "--sources", "generated"], "at least 1"),
    ],
)
def test_cli_errors_exit_2_with_one_line(tmp_path, capsys, args, message):
    assert main(["dataset", str(tmp_path / "out"), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def test_music21_is_optional(tmp_path, monkeypatch, capsys):
    import riff.train.dataset.corpus

    monkeypatch.setattr(riff.train.dataset.corpus, "available", lambda: False)
    assert main(["dataset", str(tmp_path / "out"), "--sources", "music21"]) == 2
    assert "pip install music21" in capsys.readouterr().err


def test_music21_clip(tmp_path):
    pytest.importorskip("music21")
    _fluidsynth_or_skip()
    records = build_dataset(tmp_path, 1, seed=0, sources=["music21"])
    (record,) = records
    assert record["source"] == "music21" and "public-domain" in record["license"]
    assert record["provenance"]["work"] and record["labels"]["instruments"]
