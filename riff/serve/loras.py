"""The LoRA adapters a server offers: those its operator put in one folder (`--lora-dir`,
$RIFF_LORA_DIR), each a subfolder holding `pytorch_lora_weights.safetensors`. A request names
them; it never gives a path."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from riff.lora import LORA_FILE
from riff.request import Settings


class LoraFolder:
    def __init__(self, folder: str | Path | None = None) -> None:
        self.folder = Path(folder).expanduser() if folder else None

    def names(self) -> list[str]:
        """The adapters on offer, by name, sorted."""
        if self.folder is None or not self.folder.is_dir():
            return []
        return sorted(p.name for p in self.folder.iterdir() if (p / LORA_FILE).is_file())

    def resolve(self, settings: Settings) -> Settings:
        """`settings` with each LoRA name replaced by its folder here.

        Raises:
            ValueError: in one line, for a name this server does not offer (a path included).
        """
        if not settings.loras:
            return settings
        offered = self.names()
        for name, _ in settings.loras:
            if name not in offered:
                choices = f"choose one of {', '.join(offered)}" if offered else "this server offers none"
                raise ValueError(f"no LoRA named {Path(name).name!r} here: {choices}")
        folders = tuple((str(self.folder / name), scale) for name, scale in settings.loras)
        return dataclasses.replace(settings, loras=folders)
