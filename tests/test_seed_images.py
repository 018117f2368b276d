"""Images a caller names (`riff.seed_images`): any mode reads or says why; broken files are refused
in one line."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from riff.audio.image import params_from_image
from riff.seed_images import open_image


@pytest.mark.parametrize("mode", ["1", "L", "P", "RGBA", "I;16", "I", "F", "CMYK", "LA"])
def test_any_image_mode_reads_or_says_why(tmp_path, mode):
    path = tmp_path / f"x.{'tiff' if mode in ('F', 'CMYK') else 'png'}"
    Image.new(mode, (64, 512)).save(path)
    try:
        image = open_image(path)
        params_from_image(image)
    except ValueError as error:
        assert "\n" not in str(error)


def test_truncated_and_fake_images(tmp_path):
    good = io.BytesIO()
    Image.new("RGB", (64, 512), "white").save(good, format="PNG")
    (tmp_path / "cut.png").write_bytes(good.getvalue()[:200])
    (tmp_path / "text.png").write_text("not a picture")
    for name in ["cut.png", "text.png"]:
        with pytest.raises(ValueError, match="cannot read image"):
            open_image(tmp_path / name)
