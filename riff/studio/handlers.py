"""The page's handlers over one engine (`Studio`), one class per kind of work: walks, clips,
a song restyled, the endless riff, the spectrogram tools. Each unpacks widgets into a request (`riff.request`)
and hands it to the engine (`riff.serve.engine.Engine`); parameter names are the named API's."""

from __future__ import annotations

from riff.studio.clips import Clips
from riff.studio.codec import Codec
from riff.studio.restyle import Restyles
from riff.studio.stream import Streams
from riff.studio.walks import Walks


class Studio(Walks, Clips, Restyles, Streams, Codec):
    """Every handler of the page, sharing one engine and what it keeps per page (`Handlers`)."""
