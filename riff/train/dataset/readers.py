"""A built dataset read back: its clip records, the held-out split, the images as pixels.

`riff train` and `riff evaluate` read a folder the same way, so evaluation holds out exactly
the clips training never saw.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

HOLDOUT = 0.1  # the default share of clips kept out of training (see `split`)


def read_dataset(folder: str | Path) -> list[dict]:
    """The metadata lines of a dataset folder whose images exist.

    Raises:
        ValueError: not a dataset folder, or no clips in it.
    """
    folder = Path(folder)
    journal = folder / "metadata.jsonl"
    if not journal.is_file():
        raise ValueError(f"{str(folder)!r} is not a dataset: it has no metadata.jsonl (see riff dataset)")
    records = []
    for number, line in enumerate(journal.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            caption, file = record["caption"], record["file"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise ValueError(f"{journal}: line {number} is not a clip record") from None
        if isinstance(caption, str) and (folder / file).is_file():
            records.append(record)
    if not records:
        raise ValueError(f"no clips in {str(folder)!r}")
    return records


def split(records: list[dict], holdout: float) -> tuple[list[dict], list[dict]]:
    """(train, held out): a fixed share of clips, spread evenly, never trained on.

    Every n-th clip is held out, n = round(1 / holdout), at least 2; none for holdout 0.
    """
    if holdout <= 0:
        return records, []
    every = max(2, round(1 / holdout))
    held = [r for i, r in enumerate(records) if i % every == every - 1]
    train = [r for i, r in enumerate(records) if i % every != every - 1]
    return train, held


def load_pixels(folder: str | Path, records: list[dict], height: int = 512) -> torch.Tensor:
    """(N, 3, height, W) uint8 images; all must share one width."""
    folder = Path(folder)
    images = []
    for record in tqdm(records, desc="loading images", unit="image", leave=False):
        image = Image.open(folder / record["file"]).convert("RGB")
        if image.height != height:
            image = image.resize((image.width, height), Image.BICUBIC)
        images.append(torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1))
    widths = {image.shape[-1] for image in images}
    if len(widths) > 1:
        raise ValueError(f"clips have different widths {sorted(widths)}: build the dataset with one width")
    return torch.stack(images)
