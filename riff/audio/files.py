"""Audio in and out: load, resample, save. Waveforms are (channels, samples) float32."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

# Audio files riff reads, by extension (through soundfile), and those it writes.
READABLE = frozenset({".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".opus"})
WRITABLE = {
    ".wav": ("WAV", "PCM_16"),
    ".flac": ("FLAC", "PCM_16"),
    ".ogg": ("OGG", "VORBIS"),
    ".mp3": ("MP3", "MPEG_LAYER_III"),
}


# Entries of the polyphase table `resample` builds for one rate pair: (new rate) x (old rate)
# over their common factor, times the sinc's width. Every common pair stays far below (48 kHz
# to 44.1 kHz: 147 x 400); a coprime pair (44,101 Hz to 44,100 Hz) would need billions, so such
# pairs go the way whose cost is per sample (`_resample_direct`), not per phase.
MAX_TABLE_ENTRIES = 1 << 20
# Output samples `_resample_direct` works on at once: its memory, whatever the length.
DIRECT_CHUNK = 1 << 14
# Phases `_resample_direct` tabulates its filter at.
DIRECT_PHASES = 4096
_KAISER_BETA = 14.769656459379492  # Kaiser beta for about 150 dB stop-band


def resample(waveform: torch.Tensor, orig_rate: int, new_rate: int, taps: int = 32) -> torch.Tensor:
    """Band-limited resampling with a Kaiser-windowed sinc (polyphase; as torchaudio's
    `sinc_interp_kaiser`, Smith's "Digital Audio Resampling").

    Rate pairs whose polyphase table would pass `MAX_TABLE_ENTRIES` take the same filter
    evaluated per output sample, in chunks: time and memory grow with the samples, never with
    the rates' common factor.

    Args:
        waveform: (..., samples).
        taps: zero crossings of the sinc on each side; more is sharper and slower.
    Returns:
        (..., ceil(samples * new_rate / orig_rate)).
    """
    if orig_rate <= 0 or new_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {orig_rate} and {new_rate}")
    if orig_rate == new_rate:
        return waveform
    g = math.gcd(orig_rate, new_rate)
    orig, new = orig_rate // g, new_rate // g
    cutoff = min(orig, new) * 0.97  # just below the lower Nyquist
    width = math.ceil(taps * orig / cutoff)
    if new * (2 * width + orig) > MAX_TABLE_ENTRIES:
        return _resample_direct(waveform, orig, new, taps)
    dtype = torch.float64
    idx = torch.arange(-width, width + orig, dtype=dtype, device=waveform.device)[None] / orig
    t = torch.arange(0, -new, -1, dtype=dtype, device=waveform.device)[:, None] / new + idx
    kernel = (_kaiser_sinc(t * cutoff, taps) * cutoff / orig).to(waveform.dtype)
    lead, length = waveform.shape[:-1], waveform.shape[-1]
    x = torch.nn.functional.pad(waveform.reshape(-1, 1, length), (width, width + orig))
    # A block of whole periods at a time: the convolution's scratch grows with its input (a
    # 60 s track upsampled for its true peak took 440 MB at once); a clip is one block.
    block = orig * max(1, DIRECT_CHUNK * 64 // orig)
    pieces = []
    for first in range(0, length, block):
        piece = x[..., first : first + block + 2 * width + orig]
        y = torch.nn.functional.conv1d(piece, kernel[:, None], stride=orig)
        pieces.append(y.transpose(1, 2).reshape(x.shape[0], -1))
    y = torch.cat(pieces, dim=-1)
    return y[:, : math.ceil(new * length / orig)].reshape(*lead, -1)


def _kaiser_sinc(t: torch.Tensor, taps: int) -> torch.Tensor:
    """sinc(t) under a Kaiser window reaching zero at +-taps (t clamped there)."""
    t = t.clamp(-taps, taps)
    beta = torch.tensor(_KAISER_BETA, dtype=t.dtype)
    window = torch.special.i0(beta * torch.sqrt(1 - (t / taps) ** 2)) / torch.special.i0(beta)
    return torch.special.sinc(t) * window


def _resample_direct(waveform: torch.Tensor, orig: int, new: int, taps: int) -> torch.Tensor:
    """`resample`'s filter for reduced rates `orig` -> `new`, at each output sample's own phase:
    2 * taps * max(1, orig / new) input samples an output, `DIRECT_CHUNK` outputs at a time.
    The filter is tabulated at `DIRECT_PHASES` phases and interpolated linearly between them
    (Smith's method), an error far below 16-bit resolution."""
    scale = min(1.0, new / orig) * 0.97  # the cutoff, in cycles per input sample
    width = math.ceil(taps / scale)
    lead, length = waveform.shape[:-1], waveform.shape[-1]
    x = torch.nn.functional.pad(waveform.reshape(-1, length), (width, width + 1))
    total = math.ceil(new * length / orig)
    offsets = torch.arange(-width, width + 1, device=waveform.device)
    phases = torch.arange(DIRECT_PHASES + 1, dtype=torch.float64, device=x.device) / DIRECT_PHASES
    table = _kaiser_sinc((offsets[None] - phases[:, None]) * scale, taps) * scale
    table = table.to(waveform.dtype)
    out = []
    for first in range(0, total, DIRECT_CHUNK):
        m = torch.arange(first, min(total, first + DIRECT_CHUNK), dtype=torch.int64, device=x.device)
        base = m * orig // new  # exact: the input sample at or before each output
        position = (m * orig - base * new).double() * (DIRECT_PHASES / new)
        low = position.long().clamp(max=DIRECT_PHASES - 1)
        blend = (position - low)[:, None].to(waveform.dtype)
        kernel = torch.lerp(table[low], table[low + 1], blend)
        windows = x[:, base[:, None] + offsets[None] + width]  # (rows, chunk, taps)
        out.append((windows * kernel).sum(dim=-1))
    return torch.cat(out, dim=-1).reshape(*lead, -1)


def audio_seconds(path: str | Path) -> float:
    """How long an audio file is, from its header (nothing decoded).

    Raises:
        ValueError: the file cannot be read as audio.
    """
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError) as error:
        raise ValueError(f"cannot read audio from {str(path)!r}: {error}") from None
    return info.frames / info.samplerate if info.samplerate > 0 else 0.0


def load_audio(
    path: str | Path, sample_rate: int, channels: int | None = None, max_seconds: float | None = None
) -> torch.Tensor:
    """Read an audio file (WAV, FLAC, OGG, MP3, ...) at `sample_rate`.

    Args:
        channels: 1 mixes down, 2 duplicates mono; None keeps the file's channels.
        max_seconds: read no more than this from the start (the rest is never decoded).
    Returns:
        (channels, samples) float32.
    Raises:
        ValueError: the file cannot be read as audio, or holds no finite samples.
    """
    try:
        with sf.SoundFile(str(path)) as file:
            wanted = math.inf if max_seconds is None else max_seconds * file.samplerate
            frames = -1 if wanted >= file.frames else math.ceil(wanted)  # 1e308 s: all of it
            data, rate = file.read(frames, dtype="float32", always_2d=True), file.samplerate
    except (sf.LibsndfileError, RuntimeError, TypeError) as error:
        raise ValueError(f"cannot read audio from {str(path)!r}: {error}") from None
    if data.shape[0] == 0:
        raise ValueError(f"{str(path)!r} holds no audio samples")
    if not np.isfinite(data).all():
        raise ValueError(f"{str(path)!r} holds samples that are not numbers (NaN or infinite)")
    waveform = torch.from_numpy(data.T.copy())
    if channels == 1:
        waveform = waveform.mean(dim=0, keepdim=True)
    elif channels == 2 and waveform.shape[0] == 1:
        waveform = waveform.expand(2, -1).clone()
    elif channels == 2 and waveform.shape[0] > 2:
        waveform = waveform[:2]
    return resample(waveform, rate, sample_rate)


def check_writable(path: str | Path) -> Path:
    """Raises ValueError, before any work, for a file name whose audio format riff cannot write."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in WRITABLE:
        raise ValueError(f"cannot write {suffix or 'extensionless'} audio: use one of {sorted(WRITABLE)}")
    return path


def save_audio(path: str | Path, waveform: torch.Tensor, sample_rate: int) -> Path:
    """Write (channels, samples) audio; the format follows the extension (.wav, .flac, .ogg,
    .mp3). Samples are clipped to [-1, 1].

    Raises:
        ValueError: an extension soundfile cannot write.
    """
    path = check_writable(path)
    container, subtype = WRITABLE[path.suffix.lower()]
    data = waveform.detach().to("cpu", torch.float32).clamp(-1, 1).numpy().T
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.ascontiguousarray(data), sample_rate, format=container, subtype=subtype)
    return path


def wav_bytes(waveform: torch.Tensor, sample_rate: int) -> bytes:
    """(channels, samples) audio as the bytes of a 16-bit WAV file (a streamed chunk)."""
    buffer = io.BytesIO()
    data = waveform.detach().to("cpu", torch.float32).clamp(-1, 1).numpy().T
    sf.write(buffer, np.ascontiguousarray(data), sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()
