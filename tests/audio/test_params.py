"""The spectrogram format (`riff.audio.params`): its numbers, formats too big to build, and metadata
that can only be read or refused with a ValueError."""

from __future__ import annotations

import pytest
from conftest import tagged
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riff.audio.image import (
    mel_from_image,
)
from riff.audio.params import EXIF_MAX_VALUE, EXIF_TAGS, MAX_FORMAT_CELLS, SpectrogramParams

P = SpectrogramParams()


def test_format_numbers_match_the_reference():
    assert (P.hop_length, P.win_length, P.n_fft) == (441, 4410, 17640)
    assert P.width_for(568 * 441 - 1) == 568
    assert round(P.num_samples(512) / P.sample_rate, 3) == 5.11


def test_a_format_each_tag_in_range_but_too_big_together_is_refused_in_one_line():
    """192 kHz and a 1 s window, each tag in range, once built 8 GB of filterbank: refused by
    its size before anything is allocated."""
    tags = {11000: 192000, 11020: 1000, 11030: 1000, 11040: 512, 11060: 96000}
    image = tagged(tags, color="black")
    assert len(image.fp.getvalue()) < 1000  # a few hundred bytes ask for it
    with pytest.raises(ValueError, match=r"^a format of 512 frequencies .* at most 16,000,000") as error:
        mel_from_image(image)
    assert "\n" not in str(error.value)
    # The bound is a count of cells, by construction below what the codec's matrices can take.
    assert P.num_frequencies * (P.n_fft // 2 + 1) <= MAX_FORMAT_CELLS


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
