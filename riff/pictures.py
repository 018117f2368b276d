"""Every picture riff draws, with PIL (no plotting library needed): a whole track's spectrogram
with time (s) and frequency (Hz) axes, an endless riff's scrolling, the teaching view's titled
pictures and plots, and the loss curves `riff train` keeps beside its checkpoint. What the
pictures show is worked out elsewhere (`riff.teach`, `riff.train`); here it is only drawn."""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from PIL import Image, ImageDraw, ImageFont

from riff.audio.params import SpectrogramParams
from riff.audio.spectrogram import hz_to_mel

if TYPE_CHECKING:
    from riff.walk import Clip

MARGIN_LEFT, MARGIN_BOTTOM, MARGIN = 64, 36, 12
FREQ_TICKS = (100, 250, 500, 1000, 2000, 5000, 10000)
HEIGHT = 256  # every teaching picture's height, its title band included
TITLE_BAND = 20
MIN_WIDTH = 220  # so a narrow clip's title still fits
DYNAMIC_RANGE_DB = 80.0  # the linear-magnitude picture shows this far below its loudest bin


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
    font = _font()
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


# The teaching view's pictures: each HEIGHT px high under a title band.


def _font() -> ImageFont.ImageFont:
    return ImageFont.load_default(size=12)


def framed(
    image: Image.Image, title: str, resample: Image.Resampling = Image.Resampling.LANCZOS
) -> Image.Image:
    """`image` scaled to fit under a title band, HEIGHT px high in all, at least MIN_WIDTH wide."""
    inner = HEIGHT - TITLE_BAND
    if image.height != inner:
        image = image.resize((max(1, round(image.width * inner / image.height)), inner), resample)
    canvas = Image.new("RGB", (max(MIN_WIDTH, image.width), HEIGHT), "white")
    canvas.paste(image.convert("RGB"), ((canvas.width - image.width) // 2, TITLE_BAND))
    ImageDraw.Draw(canvas).text((4, 4), title, fill="black", font=_font())
    return canvas


RULER = 22  # the beat grid's ruler under a seed image


def beat_grid_picture(
    image: Image.Image, bars: list[float], beats: list[float], title: str = "seed image"
) -> Image.Image:
    """`image` under a title band with its beat grid drawn under it: a ruler with a numbered tick
    at each bar line and a short one at each beat, and faint bar lines over the image, HEIGHT
    px high in all.

    Args:
        bars: image columns (of `image` as given) where each bar begins, the last bar's end too.
        beats: image columns of every beat.
    """
    inner = HEIGHT - TITLE_BAND - RULER
    scale = inner / image.height
    shown = image.convert("RGB").resize((max(1, round(image.width * scale)), inner), Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (max(MIN_WIDTH, shown.width), HEIGHT), "white")
    left = (canvas.width - shown.width) // 2
    canvas.paste(shown, (left, TITLE_BAND))
    draw = ImageDraw.Draw(canvas)
    draw.text((4, 4), title, fill="black", font=_font())
    ruler = TITLE_BAND + inner
    draw.line([(left, ruler), (left + shown.width - 1, ruler)], fill="black")
    for column in beats:
        x = left + column * scale
        draw.line([(x, ruler), (x, ruler + 4)], fill="grey")
    for n, column in enumerate(bars):
        x = left + column * scale
        draw.line([(x, TITLE_BAND), (x, ruler)], fill=(230, 60, 40))  # over the image, thin
        draw.line([(x, ruler), (x, ruler + 9)], fill="black", width=2)
        if n < len(bars) - 1:
            draw.text((x + 3, ruler + 7), str(n + 1), fill="black", font=_font())
    return canvas


def picture_from_pixels(pixels: torch.Tensor) -> Image.Image:
    """(3, H, W) intensities in [0, 255] as an 8-bit RGB image, rounded and without metadata
    (to look at; `riff.audio.image.image_from_pixels` makes the image to keep)."""
    return Image.fromarray(pixels.float().clamp(0, 255).round().byte().permute(1, 2, 0).cpu().numpy())


def latent_grid(latent: torch.Tensor) -> Image.Image:
    """(C, h, w) latent as a grid of greyscale channels (2 x 2 for 4), each normalised to its own
    range, one white cell between them, scaled up without smoothing."""
    channels, height, width = latent.shape
    rows = max(1, math.isqrt(channels))
    cols = -(-channels // rows)
    grid = torch.full((rows * (height + 1) - 1, cols * (width + 1) - 1), 255, dtype=torch.uint8)
    for c, channel in enumerate(latent.float().cpu()):
        low, high = channel.min(), channel.max()
        grey = ((channel - low) / (high - low).clamp(min=1e-12) * 255).round().byte()
        r, k = divmod(c, cols)
        grid[r * (height + 1) : r * (height + 1) + height, k * (width + 1) : k * (width + 1) + width] = grey
    image = Image.fromarray(grid.numpy())
    inner = HEIGHT - TITLE_BAND
    return image.resize((max(1, round(image.width * inner / image.height)), inner), Image.Resampling.NEAREST)


def linear_picture(magnitudes: torch.Tensor, params: SpectrogramParams) -> Image.Image:
    """Linear magnitudes up to max_frequency in dB, loud dark and low at the bottom as in the
    spectrogram images, as wide as the spectrogram's picture, framed."""
    mag = magnitudes.reshape(-1, *magnitudes.shape[-2:]).float().mean(dim=0)
    top = min(mag.shape[0], math.ceil(params.max_frequency * params.win_length / params.sample_rate) + 1)
    db = 20 * torch.log10(mag[:top] / mag.max().clamp(min=1e-12) + 1e-12)
    grey = (-db.clamp(-DYNAMIC_RANGE_DB, 0) / DYNAMIC_RANGE_DB * 255).round().byte().flip(0)
    inner = HEIGHT - TITLE_BAND
    width = max(1, round(mag.shape[-1] * inner / params.num_frequencies))
    return framed(
        Image.fromarray(grey.cpu().numpy()).resize((width, inner), Image.Resampling.LANCZOS), "mel to linear"
    )


def convergence_plot(convergence: list[tuple[int, float]]) -> Image.Image:
    """Phase retrieval's (iterations, mel spectral convergence) as a line from 0 up, framed."""
    iters, values = [i for i, _ in convergence], [c for _, c in convergence]
    top = max(values, default=1.0) * 1.1 or 1.0
    plot = line_plot(
        [("convergence", iters, values, "#2456b3")], "mel spectral convergence", "iterations", (0.0, top)
    )
    return framed(plot, "phase retrieval")


def noise_norm_plot(t: list[float], lerp: list[float], slerp: list[float]) -> Image.Image:
    """Lerp's and slerp's noise norms (as fractions of the ends') against alpha, with guides at
    1 and 1/sqrt(2), framed."""
    series = [("lerp", t, lerp, "#d33"), ("slerp", t, slerp, "#2456b3")]
    plot = line_plot(series, "noise norm / ends' norm", "alpha", (0.6, 1.05), guides=(1.0, 1 / math.sqrt(2)))
    return framed(plot, "slerp vs lerp")


def line_plot(
    series: list[tuple[str, list[float], list[float], str]],
    y_label: str,
    x_label: str,
    y_range: tuple[float, float],
    guides: tuple[float, ...] = (),
    width: int = 380,
) -> Image.Image:
    """A small line plot: (name, xs, ys, colour) per series, dashed grey lines at `guides`."""
    height = HEIGHT - TITLE_BAND
    left, right, top, bottom = 46, 10, 24, 34
    image = Image.new("RGB", (width, height), "white")
    draw, font = ImageDraw.Draw(image), _font()
    xs = [x for _, sx, _, _ in series for x in sx]
    x_low, x_high = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    y_low, y_high = y_range

    def at(x: float, y: float) -> tuple[float, float]:
        px = left + (x - x_low) / (x_high - x_low) * (width - left - right)
        return px, top + (1 - (y - y_low) / (y_high - y_low)) * (height - top - bottom)

    draw.rectangle([left, top, width - right, height - bottom], outline="black")
    draw.text((4, 2), y_label, fill="black", font=font)
    draw.text(((left + width - right) / 2, height - 8), x_label, fill="black", font=font, anchor="mm")
    for y in (y_low, y_high, *guides):
        draw.text((left - 4, at(x_low, y)[1]), f"{y:.2f}", fill="black", font=font, anchor="rm")
    for y in guides:
        (x0, py), (x1, _) = at(x_low, y), at(x_high, y)
        for x in range(int(x0), int(x1), 8):
            draw.line([x, py, min(x + 4, x1), py], fill="#999")
    ticks = (
        sorted(set(series[0][1])) if len(set(series[0][1])) <= 6 else [x_low, (x_low + x_high) / 2, x_high]
    )
    for x in ticks:
        px, py = at(x, y_low)
        draw.line([px, py, px, py + 4], fill="black")
        draw.text((px, py + 6), f"{x:g}", fill="black", font=font, anchor="mt")
    for n, (name, sx, sy, colour) in enumerate(series):
        points = [at(x, y) for x, y in zip(sx, sy)]
        if len(points) > 1:
            draw.line(points, fill=colour, width=2)
        for px, py in points:
            draw.ellipse([px - 2, py - 2, px + 2, py + 2], fill=colour)
        if len(series) > 1:  # a legend in the bottom right corner
            y = height - bottom - 10 - 14 * (len(series) - 1 - n)
            draw.line([width - right - 64, y, width - right - 48, y], fill=colour, width=2)
            draw.text((width - right - 44, y), name, fill="black", font=font, anchor="lm")
    return image


def png_base64(image: Image.Image) -> str:
    """`image` as a PNG in base64 text, for JSON."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


# Training loss curves.


def _smooth(values: list[float], width: int) -> Iterator[float]:
    total = 0.0
    for i, value in enumerate(values):
        total += value
        if i >= width:
            total -= values[i - width]
        yield total / min(i + 1, width)


def _place(frame: tuple, i: int, v: float) -> tuple[float, float]:
    """Pixel position of step `i`, log-loss `v` in a panel (left, top, width, height, n, low, high)."""
    left, top, width, height, n, low, high = frame
    return left + width * i / max(1, n - 1), top + height * (1 - (v - low) / (high - low))


def plot_losses(curves: dict[str, list[float]], path: str | Path, size: tuple[int, int] = (720, 300)) -> Path:
    """A PNG with one panel per stage: the loss per step (light) and its running mean (dark)."""
    curves = {name: values for name, values in curves.items() if values}
    width, height = size
    image = Image.new("RGB", (width, height * max(1, len(curves))), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    left, right, top, bottom = 60, 12, 22, 28
    for panel, (name, values) in enumerate(curves.items()):
        y0 = panel * height
        logs = [math.log10(max(v, 1e-8)) for v in values]
        low, high = min(logs), max(logs)
        high = high if high > low else low + 1
        plot_w, plot_h = width - left - right, height - top - bottom

        frame = (left, y0 + top, plot_w, plot_h, len(logs), low, high)
        draw.rectangle([left, y0 + top, width - right, y0 + top + plot_h], outline="black")
        draw.text((left, y0 + 4), f"{name} loss (log scale), {len(values)} steps", fill="black", font=font)
        for tick in (low, high):
            draw.text((4, _place(frame, 0, tick)[1] - 6), f"{10**tick:.3g}", fill="black", font=font)
        draw.text((left, y0 + top + plot_h + 6), "0", fill="black", font=font)
        draw.text((width - right - 40, y0 + top + plot_h + 6), f"{len(values)}", fill="black", font=font)
        if len(logs) > 1:
            draw.line([_place(frame, i, v) for i, v in enumerate(logs)], fill=(190, 200, 230), width=1)
            smooth = list(_smooth(logs, max(1, len(logs) // 50)))
            draw.line([_place(frame, i, v) for i, v in enumerate(smooth)], fill=(20, 60, 160), width=2)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path
