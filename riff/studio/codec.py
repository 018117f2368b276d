"""The spectrogram tools' handlers: audio to a riffusion-format image and back."""

from __future__ import annotations

import gradio as gr
from PIL import Image

from riff.audio.image import params_from_image
from riff.pictures import spectrogram_picture
from riff.studio.edge import Handlers, ui_errors, uploaded_path


class Codec(Handlers):
    """Audio to a spectrogram image and back, its metadata shown and honoured."""

    @ui_errors
    def audio_to_image(self, audio: str, stereo: bool = False, request: gr.Request = None):
        """Encode an audio file as a riffusion-format spectrogram image (PNG; time across,
        pitch up), the picture the model draws: the PNG file (a URL) that image_to_audio turns
        back into sound.

        Args:
            audio: the audio file to encode (WAV, MP3, FLAC, OGG; at most 600 s, 50 MB).
            stereo: keep left and right (in the image's green and blue) instead of mixing to mono.
        """
        if not audio:
            raise ValueError("upload an audio file first")
        session = self._session(request)
        path, info = self.engine.audio_to_image(uploaded_path(audio), bool(stereo), session)
        self._encoded[session] = str(path)  # what "Decode this image" decodes: the page's copy
        # of the PNG (the File output's value as an input) is Gradio's, not the studio's
        with Image.open(path) as image:  # shown with its axes; the PNG itself is the download
            picture = spectrogram_picture([image.convert("RGB")], params_from_image(image)[0], joins=False)
        return picture, info, str(path)

    @ui_errors
    def decode_encoded(self, png: str | None, seed: int = 0, request: gr.Request = None):
        """Decode the image just encoded, without downloading and uploading it."""
        session = self._session(request)
        if not png or session not in self._encoded:
            raise ValueError("encode an audio file first")
        own = self.engine.own_file(self._encoded[session], session)
        path, info = self.engine.image_to_audio(own, int(seed), self._session(request))
        return str(path), info

    @ui_errors
    def image_to_audio(self, image: str, seed: int = 0, request: gr.Request = None):
        """Decode a riffusion-format spectrogram image (a PNG from audio_to_image or from the
        model) back to audio, honouring the settings written in its metadata: an audio file (a
        URL).

        Args:
            image: the spectrogram image, 512 pixels high.
            seed: random seed of the phase reconstruction, 0 or more (changes little).
        """
        if not image:
            raise ValueError("upload a spectrogram image first")
        path, info = self.engine.image_to_audio(uploaded_path(image), int(seed), self._session(request))
        if info["note"]:
            gr.Warning(info["note"])
        return str(path), info
