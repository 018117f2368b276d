"""riff: music from diffusion models over spectrogram images, in the line of Riffusion."""

__version__ = "0.1.0"
