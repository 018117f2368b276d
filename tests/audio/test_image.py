"""Mel amplitudes <-> spectrogram images (`riff.audio.image`): layout, channels, metadata and
the level tag, read back or refused in one line."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
from conftest import png_roundtrip, sine, tagged
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from riff.audio.image import (
    image_from_mel,
    level_from_image,
    mel_from_image,
    mel_from_pixels,
    params_from_image,
    pixels_from_mel,
)
from riff.audio.params import EXIF_MAX_VALUE, SpectrogramParams
from riff.audio.spectrogram import mel_from_waveform

P = SpectrogramParams()


def test_image_layout_loud_is_dark_low_is_bottom():
    waveform = sine(200.0)
    mel = mel_from_waveform(waveform, P)
    image = image_from_mel(mel, P)
    array = np.asarray(image)
    assert array.shape == (512, 512, 3)
    assert (array[..., 0] == array[..., 1]).all() and (array[..., 1] == array[..., 2]).all()
    row = array[:, 256, 0].argmin()  # darkest = loudest row
    assert row > 400  # 200 Hz sits low in the image
    assert array[:50].min() > 200  # high frequencies silent: near white


def test_stereo_channels_are_g_and_b_with_r_zero():
    params = SpectrogramParams(stereo=True)
    waveform = torch.cat([sine(300.0), sine(3000.0)])
    image = image_from_mel(mel_from_waveform(waveform, params), params)
    array = np.asarray(image)
    assert (array[..., 0] == 0).all()
    mel, read, _ = mel_from_image(png_roundtrip(image))
    assert read.stereo and mel.shape == (2, 512, 512)
    # Left is the low tone, right the high one.
    assert mel[0].sum(dim=-1).argmax() < mel[1].sum(dim=-1).argmax()


def test_metadata_round_trip():
    params = SpectrogramParams(stereo=True, max_frequency=8000, min_frequency=20)
    mel = torch.rand(2, 512, 64)
    image = png_roundtrip(image_from_mel(mel, params))
    read, level = params_from_image(image)
    assert read == params
    assert level.source == "tag" and level.max_value == pytest.approx(float(mel.max()), rel=1e-6)


def test_image_without_metadata_uses_defaults():
    plain = Image.new("RGB", (64, 512), (128, 128, 128))
    params, level = params_from_image(plain)
    assert params == SpectrogramParams() and not level.stored
    mel, _, _ = mel_from_image(plain)
    assert mel.shape == (1, 512, 64) and float(mel.min()) > 0


@pytest.mark.parametrize(
    "tag,value,match",
    [
        (11000, "fast", "not a number"),
        (11050, 20000, "min_frequency"),
        (EXIF_MAX_VALUE, -1.0, "finite number >= 0"),
    ],
)
def test_malformed_metadata_is_a_clear_error(tag, value, match):
    image = Image.new("RGB", (64, 512))
    exif = image.getexif()
    exif[tag] = value
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", exif=exif.tobytes())
    with pytest.raises(ValueError, match=match):
        mel_from_image(Image.open(io.BytesIO(buffer.getvalue())))


def test_height_must_match_the_format():
    with pytest.raises(ValueError, match="512 frequency bins"):
        params_from_image(Image.new("RGB", (64, 100)))


def test_reference_layout_decodes_as_expected():
    """An image built by hand the reference's way (numpy, power, invert, uint8, flip)."""
    rng = np.random.default_rng(0)
    data = rng.random((1, 512, 32)).astype(np.float32) * 1000
    scaled = 255 - (data / data.max()) ** 0.25 * 255
    array = np.flipud(scaled[0].astype(np.uint8))
    image = Image.fromarray(array, mode="L").convert("RGB")
    mel, _, _ = mel_from_image(image)
    # Untagged: black is the reference's fixed 30e6 in int16 units, 30e6 / 32768 in float units.
    expected = (1 - array[::-1].astype(np.float32) / 255) ** 4 * 30e6 / 32768
    np.testing.assert_allclose(mel[0].numpy(), expected, rtol=1e-4, atol=1e-3)


def test_pixels_invert_exactly_before_quantisation():
    mel = torch.rand(1, 512, 40) * 5 + 0.01
    pixels = pixels_from_mel(mel, P, max_value=6.0)
    back = mel_from_pixels(pixels, P, max_value=6.0)
    torch.testing.assert_close(back, mel, rtol=1e-3, atol=1e-4)


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
