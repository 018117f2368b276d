"""The pictures riff draws: a track's spectrogram with axes, the endless riff's scrolling strip,
the teaching view's framed pictures and plots, the training loss curves."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from riff import pictures
from riff.audio.params import SpectrogramParams


def _colours(image: Image.Image) -> set[tuple[int, ...]]:
    return {tuple(c) for c in np.asarray(image.convert("RGB")).reshape(-1, 3).tolist()}


def test_a_stereo_picture_says_why_it_is_cyan():
    clip = Image.new("RGB", (512, 512), (0, 200, 200))
    legends = []
    for stereo in (False, True):
        picture = pictures.spectrogram_picture([clip], SpectrogramParams(stereo=stereo))
        band = picture.crop((0, picture.height - 14, 300, picture.height))
        legends.append(_colours(band) & {(0, 136, 0), (0, 0, 204), (0, 136, 136)})
    assert legends[0] == set()  # a mono picture is grey: nothing to explain
    assert legends[1] == {(0, 136, 0), (0, 0, 204), (0, 136, 136)}  # green, blue, cyan named


def test_joins_are_marked_above_the_plot_only_when_asked():
    clips = [Image.new("RGB", (256, 512), "white")] * 2
    marked = pictures.spectrogram_picture(clips, SpectrogramParams(), joins=True)
    plain = pictures.spectrogram_picture(clips, SpectrogramParams(), joins=False)
    assert marked.size == plain.size
    above = (0, 0, marked.width, pictures.MARGIN - 1)
    red = {(221, 51, 51)}
    assert red <= _colours(marked.crop(above)) and not red & _colours(plain.crop(above))


def test_the_scrolling_picture_keeps_the_newest_columns_without_repeats():
    scroll = pictures.ScrollingPicture(columns=6, height=4)
    first = torch.arange(4, dtype=torch.float32).expand(3, 2, 4)  # columns 0..3
    second = torch.tensor([2.0, 3.0, 10.0, 11.0, 12.0]).expand(3, 2, 5)  # repeats 2, 3
    scroll.add(SimpleNamespace(pixels=first, kept=0))
    image = scroll.add(SimpleNamespace(pixels=second, kept=2))
    assert image.size == (6, 4)
    assert np.asarray(image)[0, :, 0].tolist() == [1, 2, 3, 10, 11, 12]


def test_the_latent_is_a_grid_of_its_channels():
    latent = torch.zeros(4, 8, 6)
    latent[3] = torch.linspace(-3, 5, 48).reshape(8, 6)  # bottom right, normalised to 0..255
    grid = pictures.latent_grid(latent).resize((13, 17), Image.Resampling.NEAREST)
    pixels = torch.from_numpy(np.asarray(grid).copy())
    assert pixels.shape == (17, 13)
    assert int(pixels[8, :].min()) == 255 and int(pixels[:, 6].min()) == 255  # white between
    assert int(pixels[9, 7]) == 0 and int(pixels[16, 12]) == 255  # its own min and max
    assert int(pixels[:8, :6].max()) == 0  # a flat channel stays at 0


@pytest.mark.parametrize("size", [(10, 40), (2000, 512)])
def test_a_framed_picture_has_one_height_and_room_for_its_title(size):
    image = pictures.framed(Image.new("RGB", size, "black"), "title")
    inner = pictures.HEIGHT - pictures.TITLE_BAND
    assert image.height == pictures.HEIGHT and image.mode == "RGB"
    assert image.width == max(pictures.MIN_WIDTH, round(size[0] * inner / size[1]))
    assert (0, 0, 0) in _colours(image.crop((0, pictures.TITLE_BAND, image.width, image.height)))


def test_picture_from_pixels_rounds_and_clamps():
    pixels = torch.tensor([-4.0, 0.4, 127.5, 300.0]).reshape(1, 1, 4).expand(3, 1, 4)
    image = pictures.picture_from_pixels(pixels)
    assert image.mode == "RGB" and np.asarray(image)[0, :, 0].tolist() == [0, 0, 128, 255]


def test_a_png_in_base64_reads_back():
    import base64
    import io

    image = Image.new("RGB", (5, 3), (1, 2, 3))
    back = Image.open(io.BytesIO(base64.b64decode(pictures.png_base64(image))))
    assert back.size == (5, 3) and back.getpixel((4, 2)) == (1, 2, 3)


def test_the_loss_plot_has_a_panel_per_stage_that_ran(tmp_path):
    curves = {"vae": [1.0 / (i + 1) for i in range(120)], "unet": [0.5] * 3, "text": []}
    path = pictures.plot_losses(curves, tmp_path / "run" / "loss.png", size=(300, 120))
    image = Image.open(path)
    assert image.size == (300, 240)  # the empty stage has no panel
    dark = (20, 60, 160)  # the running mean
    assert dark in _colours(image.crop((0, 0, 300, 120)))
    assert dark in _colours(image.crop((0, 120, 300, 240)))


def test_a_seed_on_a_tempo_shows_its_bars_and_beats_under_it():
    from riff.grid import Grid, parse_key
    from riff.teach import BeatGrid

    ruler = BeatGrid.of(Grid(120.0, "6/8", 2, parse_key("Eb")), SpectrogramParams())
    # 6/8 at 120 quarter notes a minute: 1.5 s bars of six eighths, 100 columns a second.
    assert ruler.bar_columns == pytest.approx([0.0, 150.0, 300.0])
    assert len(ruler.beat_columns) == 13 and ruler.beat_columns[1] == pytest.approx(25.0)
    assert (ruler.key, ruler.beat_s) == ("Eb major", 0.25)
    seed = Image.new("RGB", (304, 512), "white")
    picture = np.asarray(ruler.picture(seed)).astype(int)
    assert picture.shape[0] == pictures.HEIGHT
    # Red bar lines over the image where each bar begins, and nowhere between them.
    left = (
        picture.shape[1] - round(304 * (pictures.HEIGHT - pictures.TITLE_BAND - pictures.RULER) / 512)
    ) // 2
    scale = (pictures.HEIGHT - pictures.TITLE_BAND - pictures.RULER) / 512
    row = picture[pictures.TITLE_BAND + 50]
    red = [x for x in range(picture.shape[1]) if row[x, 0] > 200 and row[x, 1] < 120]
    assert red and all(min(abs(x - (left + c * scale)) for c in ruler.bar_columns) <= 1 for x in red)
    assert {round((x - left) / scale / 150) for x in red} == {0, 1, 2}
