"""Files a DAW reads: tempo and key in the file name and in each format's tags.

FLAC and OGG get `BPM` and `KEY` Vorbis comments and MP3 ID3 `TBPM` and `TKEY`, through
mutagen. WAV gets an `acid` chunk (tempo, beats, meter, root note) and, for a loop, a `smpl`
chunk looping the whole file: no kept library writes either (mutagen reads and writes only ID3
in WAV; libsndfile reads acid but cannot write it), so they are written here from the layout
libsndfile reads (wav.c) and the RIFF spec's `smpl`.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path
from typing import Protocol

ACID_ROOT_SET, ACID_STRETCH = 0x02, 0x04
MIDDLE_C = 60  # the acid and smpl chunks' root and unity notes are MIDI note numbers


class Key(Protocol):
    """The key a file is tagged with (`riff.grid.Key` is one)."""

    @property
    def tonic(self) -> int: ...  # pitch class, 0 = C

    @property
    def short(self) -> str: ...  # "Am", "Eb"


class Grid(Protocol):
    """What a file's tags say of a beat grid (`riff.grid.Grid` is one): the audio layer reads
    its tempo, meter and key and needs nothing else of a request."""

    @property
    def bpm(self) -> float: ...

    @property
    def meter(self) -> str: ...  # "4/4", "3/4", "6/8"

    @property
    def key(self) -> Key | None: ...

    @property
    def beats(self) -> float: ...  # quarter notes in a clip

    def tag(self) -> str: ...  # "96bpm_Am"


def file_name(stem: str, grid: Grid | None, suffix: str = ".wav") -> str:
    """ "jazz-piano_96bpm_Am.wav": the prompt's words as a slug, then the tempo and key."""
    slug = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")[:48].strip("-") or "riff"
    return f"{slug}_{grid.tag()}{suffix}" if grid is not None else f"{slug}{suffix}"


def tag_file(path: str | Path, grid: Grid, clips: float = 1, loop: bool = False) -> Path:
    """Write `grid`'s tempo and key into an audio file riff wrote, in its format's tags.

    Args:
        clips: clips in the file (each `grid.bars` bars; a fraction where they are shorter):
            the acid chunk counts its beats.
        loop: a WAV also gets a `smpl` chunk that loops the whole file.
    Raises:
        ValueError: a format riff does not tag.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    key = grid.key.short if grid.key else None
    if suffix == ".wav":
        _tag_wav(path, grid, clips, loop)
    elif suffix in (".flac", ".ogg"):
        from mutagen.flac import FLAC
        from mutagen.oggvorbis import OggVorbis

        audio = FLAC(path) if suffix == ".flac" else OggVorbis(path)
        audio["BPM"] = f"{grid.bpm:g}"
        if key:
            audio["KEY"] = key
        audio.save()
    elif suffix == ".mp3":
        from mutagen.id3 import ID3, TBPM, TKEY, ID3NoHeaderError

        try:
            tags = ID3(path)
        except ID3NoHeaderError:
            tags = ID3()
        tags.add(TBPM(encoding=3, text=str(round(grid.bpm))))  # ID3 counts whole beats a minute
        if key:
            tags.add(TKEY(encoding=3, text=key))
        tags.save(path)
    else:
        raise ValueError(f"cannot tag {suffix or 'extensionless'} files")
    return path


def acid_chunk(grid: Grid, clips: float = 1) -> bytes:
    """The 24-byte `acid` chunk body: flags, root note, two unused fields, beats, meter, tempo."""
    flags = ACID_STRETCH  # a loop on the grid, not a one-shot: the DAW stretches it to its tempo
    root = 0
    if grid.key is not None:
        flags |= ACID_ROOT_SET
        root = MIDDLE_C + grid.key.tonic
    numerator, denominator = (int(n) for n in grid.meter.split("/"))
    beats = round(clips * grid.beats)
    return struct.pack("<IHHfIHHf", flags, root, 0x8000, 0.0, beats, denominator, numerator, grid.bpm)


def smpl_chunk(frames: int, sample_rate: int, root: int = MIDDLE_C) -> bytes:
    """A `smpl` chunk body with one forward loop over all `frames` (its end is inclusive)."""
    header = struct.pack("<9I", 0, 0, round(1e9 / sample_rate), root, 0, 0, 0, 1, 0)
    return header + struct.pack("<6I", 0, 0, 0, frames - 1, 0, 0)


def wav_chunks(path: str | Path) -> dict[str, bytes]:
    """Every chunk of a RIFF WAVE file by id (the last of each), bodies without padding."""
    data = Path(path).read_bytes()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError(f"{Path(path).name} is not a RIFF WAVE file")
    chunks, at = {}, 12
    while at + 8 <= len(data):
        name, size = data[at : at + 4].decode("latin-1"), struct.unpack("<I", data[at + 4 : at + 8])[0]
        chunks[name] = data[at + 8 : at + 8 + size]
        at += 8 + size + (size & 1)
    return chunks


def _tag_wav(path: Path, grid: Grid, clips: float, loop: bool) -> None:
    chunks = wav_chunks(path)
    fmt = chunks.get("fmt ")
    if fmt is None or "data" not in chunks:
        raise ValueError(f"{path.name} has no fmt or data chunk")
    sample_rate = struct.unpack("<I", fmt[4:8])[0]
    block_align = struct.unpack("<H", fmt[12:14])[0]
    extra = b"acid" + struct.pack("<I", 24) + acid_chunk(grid, clips)
    if loop:
        frames = len(chunks["data"]) // block_align
        root = MIDDLE_C + (grid.key.tonic if grid.key else 0)
        body = smpl_chunk(frames, sample_rate, root)
        extra += b"smpl" + struct.pack("<I", len(body)) + body
    data = bytearray(path.read_bytes())
    data += extra  # both chunks are even-sized: no padding byte needed
    data[4:8] = struct.pack("<I", len(data) - 8)
    path.write_bytes(bytes(data))
