"""Audio <-> spectrogram images end to end (`riff.audio.decode`)."""

from __future__ import annotations

import torch

from riff.audio.decode import Spectrogram, decode, image_from_waveform
from riff.audio.image import save_image
from riff.audio.params import SpectrogramParams
from riff.seed_images import open_image


def test_silence_round_trips_to_silence(tmp_path):
    path = save_image(image_from_waveform(torch.zeros(1, 44100), SpectrogramParams()), tmp_path / "quiet.png")
    [(_, clip)] = decode([Spectrogram.from_image(open_image(path))])
    assert torch.isfinite(clip.waveform).all() and float(clip.waveform.abs().max()) == 0.0
