"""riff: music from diffusion models over spectrogram images, in the line of Riffusion."""

from pathlib import Path

__version__ = "0.1.0"


def _assets() -> Path:
    """The bundled model and seed images: riff/assets/ in an installed wheel, else the
    checkout's top-level assets/ beside riff/."""
    package = Path(__file__).resolve().parent
    installed = package / "assets"
    return installed if installed.is_dir() else package.parent / "assets"


ASSETS = _assets()
