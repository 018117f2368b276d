"""Note events -> Standard MIDI File bytes: a tiny format-0 writer, no dependency.

Times are in beats (quarter notes); the file carries one tempo and one program per channel.
Spec: "Standard MIDI-File Format Spec. 1.1", MIDI Manufacturers Association.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

DRUM_CHANNEL = 9  # General MIDI percussion: channel 10, counted from 1
PPQ = 480  # ticks per quarter note


@dataclass(frozen=True)
class Note:
    """One note: `start` and `duration` in beats, `channel` 0..15, `pitch` and `velocity` 0..127."""

    start: float
    duration: float
    pitch: int
    velocity: int = 96
    channel: int = 0


def _varlen(value: int) -> bytes:
    """MIDI variable-length quantity: 7 bits per byte, high bit set on all but the last."""
    if value < 0:
        raise ValueError(f"delta time must be non-negative, got {value}")
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def _check(note: Note) -> None:
    if not (0 <= note.channel < 16 and 0 <= note.pitch < 128 and 0 < note.velocity < 128):
        raise ValueError(f"note out of MIDI range: {note}")
    if note.start < 0 or note.duration <= 0:
        raise ValueError(f"note needs start >= 0 and duration > 0: {note}")


def midi_from_notes(
    notes: list[Note], tempo_bpm: float, programs: dict[int, int] | None = None, end: float | None = None
) -> bytes:
    """A format-0 Standard MIDI File playing `notes`.

    Args:
        programs: General MIDI program (0..127) per channel; the drum channel needs none.
        end: length of the file in beats (a trailing silence lets releases ring); default the
            last note-off.
    Returns:
        The file's bytes: an MThd chunk and one MTrk chunk.
    """
    if not 1 <= tempo_bpm <= 1000:
        raise ValueError(f"tempo must be 1..1000 bpm, got {tempo_bpm}")
    events: list[tuple[int, int, bytes]] = []  # (tick, order, message): note-offs sort first
    for channel, program in sorted((programs or {}).items()):
        if not (0 <= channel < 16 and 0 <= program < 128):
            raise ValueError(f"bad program {program} for channel {channel}")
        events.append((0, 0, bytes([0xC0 | channel, program])))
    for note in notes:
        _check(note)
        on = round(note.start * PPQ)
        off = max(on + 1, round((note.start + note.duration) * PPQ))
        events.append((on, 2, bytes([0x90 | note.channel, note.pitch, note.velocity])))
        events.append((off, 1, bytes([0x80 | note.channel, note.pitch, 0])))
    events.sort(key=lambda e: (e[0], e[1]))
    last = max((e[0] for e in events), default=0)
    end_tick = max(last, round(end * PPQ)) if end is not None else last

    tempo = round(60_000_000 / tempo_bpm)  # microseconds per quarter note
    track = bytearray(b"\x00\xff\x51\x03" + tempo.to_bytes(3, "big"))
    tick = 0
    for when, _, message in events:
        track += _varlen(when - tick) + message
        tick = when
    track += _varlen(end_tick - tick) + b"\xff\x2f\x00"  # end of track
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, PPQ)
    return header + b"MTrk" + struct.pack(">I", len(track)) + bytes(track)
