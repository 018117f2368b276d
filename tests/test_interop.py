"""Images the reference writes decode at their level, unclipped; riff writes what it writes.

The reference's writer is rebuilt here in numpy line by line from riffusion 0.0.5
(`SpectrogramConverter.spectrogram_from_audio` on int16 samples, `image_util.image_from_spectrogram`,
`SpectrogramParams.to_exif` plus the max value), so no test reads an image riff made itself.
"""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import soundfile as sf
import torch
from PIL import Image

from riff import cli
from riff.audio.decode import Spectrogram, decode, image_from_waveform
from riff.audio.image import UNIT_KEY, level_from_image, save_image
from riff.audio.loudness import true_peak
from riff.audio.params import EXIF_MAX_VALUE, SpectrogramParams
from riff.audio.spectrogram import mel_from_waveform

SECONDS = 2.0


def music(seconds: float = SECONDS, rms_db: float = -20.0, channels: int = 1, seed: int = 0) -> torch.Tensor:
    """Plucked harmonic notes over a little noise, at `rms_db` dBFS: music-like and seeded."""
    rate, rng = 44100, np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    out = np.zeros((channels, t.size))
    for c in range(channels):
        for start in np.arange(0, seconds, 0.25):
            f0 = rng.choice([110, 147, 196, 220, 262, 330]) * (1 + c)  # right an octave up
            env = np.where(t >= start, np.exp(-(t - start) * 6), 0)
            out[c] += sum(env * np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6))
        out[c] += 0.02 * rng.standard_normal(t.size)
    out *= 10 ** (rms_db / 20) / np.sqrt((out**2).mean())
    return torch.from_numpy(out).float()


def reference_image(waveform: torch.Tensor, params: SpectrogramParams) -> Image.Image:
    """A PNG as riffusion 0.0.5 writes it for this audio (read back from bytes)."""
    int16 = np.clip(np.round(waveform.numpy() * 32768), -32768, 32767).astype(np.int16)
    spectrogram = mel_from_waveform(torch.from_numpy(int16.astype(np.float32)), params).numpy()
    max_value = np.max(spectrogram)
    data = (255 - np.power(spectrogram / max_value, params.power_for_image) * 255).astype(np.uint8)
    if data.shape[0] == 1:
        image = Image.fromarray(data[0], mode="L").convert("RGB")
    else:
        image = Image.fromarray(np.array([np.zeros_like(data[0]), data[0], data[1]]).transpose(1, 2, 0))
    image = image.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    exif = image.getexif()
    exif.update(
        {
            11000: params.sample_rate,
            11005: params.stereo,
            11010: params.step_size_ms,
            11020: params.window_duration_ms,
            11030: params.padded_duration_ms,
            11040: params.num_frequencies,
            11050: params.min_frequency,
            11060: params.max_frequency,
            11070: float(params.power_for_image),
            EXIF_MAX_VALUE: float(max_value),
        }
    )
    buffer = io.BytesIO()
    image.save(buffer, exif=exif, format="PNG")
    return Image.open(io.BytesIO(buffer.getvalue()))


def decoded(image: Image.Image, seed: int = 0):
    [(_, clip)] = decode([Spectrogram.from_image(image)], seed=seed)
    return clip


def rms_db(x: torch.Tensor) -> float:
    return 20 * math.log10(float(x.pow(2).mean().sqrt()))


def mel_sc(source: torch.Tensor, out: torch.Tensor, params: SpectrogramParams) -> float:
    """Mel spectral convergence of the decoded audio to its source, level included."""
    n = min(source.shape[-1], out.shape[-1])
    a, b = mel_from_waveform(source[..., :n], params), mel_from_waveform(out[..., :n], params)
    return float((a - b).norm() / a.norm())


def test_riff_writes_the_reference_max_value():
    params = SpectrogramParams()
    audio = music()
    ours = level_from_image(image_from_waveform(audio, params)).tag_value
    theirs = float(reference_image(audio, params).getexif()[EXIF_MAX_VALUE])
    assert theirs > 1e6  # int16 units: a -20 dB clip's peak mel amplitude
    assert ours == pytest.approx(theirs, rel=0.01)


@pytest.mark.parametrize("stereo", [False, True])
def test_a_reference_image_decodes_at_its_source_level(stereo):
    params = SpectrogramParams(stereo=stereo)
    audio = music(channels=params.channels)
    image = reference_image(audio, params)
    assert UNIT_KEY not in image.info and level_from_image(image).source == "tag"
    clip = decoded(image)
    assert clip.note is None and clip.waveform.shape[0] == params.channels
    for channel in range(params.channels):  # left stays left: each at its own level
        assert abs(rms_db(clip.waveform[channel]) - rms_db(audio[channel])) < 2.0
    assert mel_sc(audio, clip.waveform, params) < 0.1


def test_other_sample_rates_in_the_tags_decode_at_their_level():
    params = SpectrogramParams(sample_rate=22050)
    audio = music()[:, ::2].contiguous()  # the same notes, read at 22.05 kHz
    clip = decoded(reference_image(audio, params))
    assert clip.params.sample_rate == 22050
    assert abs(rms_db(clip.waveform) - rms_db(audio)) < 2.0
    assert mel_sc(audio, clip.waveform, params) < 0.1


def test_a_hot_image_is_brought_under_full_scale_and_says_so():
    params = SpectrogramParams()
    # A square wave near full scale: its decode's peaks would go well over 0 dBFS.
    t = torch.arange(int(SECONDS * 44100)) / 44100
    hot = torch.sign(torch.sin(2 * math.pi * 220 * t))[None] * 0.999
    clip = decoded(reference_image(hot, params))
    assert true_peak(clip.waveform, 44100) <= 10 ** (-1 / 20) + 1e-4
    assert clip.note is not None and "brought down" in clip.note


def test_a_hot_image_from_the_cli_writes_no_saturated_sample(tmp_path, capsys):
    t = torch.arange(int(SECONDS * 44100)) / 44100
    hot = torch.sign(torch.sin(2 * math.pi * 220 * t))[None] * 0.999
    image = reference_image(hot, SpectrogramParams())
    image.save(tmp_path / "hot.png", exif=image.getexif())  # as the reference's CLI saves it
    assert cli.main(["image-to-audio", str(tmp_path / "hot.png"), "-o", str(tmp_path / "hot.wav")]) == 0
    samples, _ = sf.read(tmp_path / "hot.wav", dtype="int16")
    assert np.abs(samples.astype(np.int32)).max() < 32767
    assert "brought down" in capsys.readouterr().err


def test_images_riff_wrote_in_float_units_still_decode_at_their_level():
    params = SpectrogramParams()
    audio = music()
    image = image_from_waveform(audio, params)
    exif = image.getexif()
    exif[EXIF_MAX_VALUE] = float(mel_from_waveform(audio, params).max())  # the old unit
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", exif=exif)  # and no unit marker
    old = Image.open(io.BytesIO(buffer.getvalue()))
    assert level_from_image(old).source == "legacy tag"
    assert abs(rms_db(decoded(old).waveform) - rms_db(audio)) < 2.0


def test_the_unit_marker_keeps_a_very_quiet_image_at_its_level():
    """Below 32768 int16 units an unmarked tag reads as the old float unit; riff's marker says
    which it is."""
    params = SpectrogramParams()
    audio = music(rms_db=-75.0)
    buffer = io.BytesIO()
    save_image(image_from_waveform(audio, params), buffer, format="PNG")
    image = Image.open(io.BytesIO(buffer.getvalue()))
    assert image.info[UNIT_KEY] == "int16" and float(image.getexif()[EXIF_MAX_VALUE]) < 32768
    assert abs(rms_db(decoded(image).waveform) - rms_db(audio)) < 2.0


def test_an_unknown_unit_marker_is_refused():
    image = image_from_waveform(music(), SpectrogramParams())
    image.info[UNIT_KEY] = "furlongs"
    with pytest.raises(ValueError, match="unknown max-value unit"):
        level_from_image(image)


def test_a_clip_decodes_the_same_wherever_it_sits_in_a_batch():
    params = SpectrogramParams()
    a, b = (Spectrogram.from_image(image_from_waveform(music(seed=s), params)) for s in (1, 2))
    alone = decoded(image_from_waveform(music(seed=1), params), seed=5).waveform
    batch = dict(decode([b, a, b, a], seed=5))
    for i in (1, 3):
        torch.testing.assert_close(batch[i].waveform, alone, rtol=0, atol=1e-6)
    torch.testing.assert_close(batch[0].waveform, batch[2].waveform, rtol=0, atol=1e-6)
    # The seed still matters.
    other = decoded(image_from_waveform(music(seed=1), params), seed=6).waveform
    assert float((other - alone).abs().max()) > 1e-3
