"""Audio without a model: the spectrogram format, the codec both ways, files, loudness and joins."""
