"""Pictures of spectrograms, drawn with PIL (no plotting library needed): a whole track's with
time (s) and frequency (Hz) axes, and an endless riff's, scrolling."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from PIL import Image, ImageDraw, ImageFont

from riff.audio.params import SpectrogramParams
from riff.audio.spectrogram import hz_to_mel

if TYPE_CHECKING:
    from riff.walk import Clip

MARGIN_LEFT, MARGIN_BOTTOM, MARGIN = 64, 36, 12
FREQ_TICKS = (100, 250, 500, 1000, 2000, 5000, 10000)


def spectrogram_picture(
    images: list[Image.Image], params: SpectrogramParams, width: int = 1200, joins: bool = True
) -> Image.Image:
    """Clip images side by side, scaled to `width`, framed by labelled axes.

    Args:
        joins: mark each clip boundary with a thin tick above the plot.
    """
    strip = Image.new("RGB", (sum(i.width for i in images), images[0].height), "white")
    x = 0
    for image in images:
        strip.paste(image.convert("RGB"), (x, 0))
        x += image.width
    height = images[0].height
    plot_w = min(width - MARGIN_LEFT - MARGIN, max(256, strip.width))
    strip = strip.resize((plot_w, height), Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (MARGIN_LEFT + plot_w + MARGIN, MARGIN + height + MARGIN_BOTTOM), "white")
    canvas.paste(strip, (MARGIN_LEFT, MARGIN))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=12)
    draw.rectangle([MARGIN_LEFT - 1, MARGIN - 1, MARGIN_LEFT + plot_w, MARGIN + height], outline="black")

    # Frequency axis: rows are evenly spaced in mel between min and max frequency.
    lo, hi = (float(hz_to_mel(torch.tensor(float(f)))) for f in (params.min_frequency, params.max_frequency))
    for hz in FREQ_TICKS:
        if not params.min_frequency <= hz <= params.max_frequency:
            continue
        y = MARGIN + height - 1 - (float(hz_to_mel(torch.tensor(float(hz)))) - lo) / (hi - lo) * (height - 1)
        draw.line([MARGIN_LEFT - 5, y, MARGIN_LEFT - 1, y], fill="black")
        label = f"{hz // 1000}k" if hz >= 1000 else str(hz)
        draw.text((MARGIN_LEFT - 8, y), label, fill="black", font=font, anchor="rm")
    draw.text((4, MARGIN), "Hz", fill="black", font=font)

    # Time axis: one column per hop.
    columns = sum(i.width for i in images)
    seconds = columns * params.step_size_ms / 1000
    step = next(s for s in (0.5, 1, 2, 5, 10, 15, 30, 60, 120) if seconds / s <= 12)
    t = 0.0
    while t <= seconds + 1e-9:
        x = MARGIN_LEFT + t / seconds * (plot_w - 1)
        draw.line([x, MARGIN + height, x, MARGIN + height + 5], fill="black")
        draw.text((x, MARGIN + height + 7), f"{t:g}", fill="black", font=font, anchor="mt")
        t += step
    draw.text((MARGIN_LEFT + plot_w, MARGIN + height + 22), "s", fill="black", font=font, anchor="rt")
    if params.stereo:  # say why the picture is coloured: the two sides share one image
        legend = (("green", "#080"), (" = left, ", "black"), ("blue", "#00c"), (" = right: ", "black"))
        legend += (("cyan", "#088"), (" where both sound alike", "black"))
        x = 4
        for text, colour in legend:
            draw.text((x, MARGIN + height + 22), text, fill=colour, font=font)
            x += draw.textlength(text, font=font)
    if joins and len(images) > 1:
        x = 0
        for image in images[:-1]:
            x += image.width
            px = MARGIN_LEFT + x / columns * (plot_w - 1)
            draw.line([px, MARGIN - 8, px, MARGIN - 2], fill="#d33", width=2)
    return canvas


class ScrollingPicture:
    """The endless riff's spectrogram: the newest columns of its clips, scrolling left."""

    def __init__(self, columns: int = 1536, height: int = 256) -> None:
        self.columns, self.height = columns, height
        self.strip: torch.Tensor | None = None

    def add(self, clip: Clip) -> Image.Image:
        new = clip.pixels[:, :, clip.kept :]  # a continued clip repeats the end of the last
        strip = new if self.strip is None else torch.cat([self.strip, new], dim=-1)
        self.strip = strip[:, :, -self.columns :]
        array = self.strip.clamp(0, 255).byte().permute(1, 2, 0).numpy()
        image = Image.fromarray(array)
        return image.resize((image.width, self.height), Image.Resampling.BOX)
