"""Files a DAW reads: the name carries tempo and key, each format's tags read back, a WAV's
acid and smpl chunks."""

from __future__ import annotations

import struct

import pytest
import soundfile as sf
import torch

from riff.audio.files import save_audio
from riff.audio.tags import file_name, tag_file, wav_chunks
from riff.grid import Grid

SR = 44100


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg", ".mp3"])
def test_tags_read_back(tmp_path, suffix):
    import mutagen

    grid = Grid.parse(96, key="A minor", bars=2)
    frames = grid.track_samples(2, SR)
    path = save_audio(tmp_path / file_name("Jazz piano!", grid, suffix), torch.zeros(1, frames), SR)
    assert path.name == f"jazz-piano_96bpm_Am{suffix}"
    tag_file(path, grid, clips=2, loop=True)
    if suffix == ".wav":
        chunks = wav_chunks(path)
        flags, root, _, _, beats, denominator, numerator, tempo = struct.unpack("<IHHfIHHf", chunks["acid"])
        assert (root, beats, numerator, denominator, tempo) == (69, 16, 4, 4, 96.0) and flags & 0x02
        loop = struct.unpack("<15I", chunks["smpl"])
        assert loop[7] == 1 and loop[11:13] == (0, frames - 1)
        assert sf.info(str(path)).frames == frames  # still a WAV every reader plays
        assert mutagen.File(path) is not None
    elif suffix == ".mp3":
        tags = mutagen.File(path).tags
        assert (str(tags["TBPM"]), str(tags["TKEY"])) == ("96", "Am")
    else:
        tags = mutagen.File(path).tags
        assert (tags["BPM"], tags["KEY"]) == (["96"], ["Am"])


def test_a_wav_that_is_no_loop_has_no_smpl_chunk(tmp_path):
    path = save_audio(tmp_path / "x.wav", torch.zeros(1, 1000), SR)
    tag_file(path, Grid.parse(120, "3/4", bars=1), clips=3)
    chunks = wav_chunks(path)
    assert "smpl" not in chunks and struct.unpack("<IHHfIHHf", chunks["acid"])[4:7] == (9, 4, 3)
