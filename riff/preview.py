"""The old home of `riff.pictures`' spectrogram pictures, kept while its importers move."""

from riff.pictures import ScrollingPicture, spectrogram_picture

__all__ = ["ScrollingPicture", "spectrogram_picture"]
