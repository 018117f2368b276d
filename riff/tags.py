"""The old home of `riff.audio.tags`, kept while its importers move to the new name."""

from riff.audio.tags import file_name, tag_file, wav_chunks

__all__ = ["file_name", "tag_file", "wav_chunks"]
