"""`python -m riff dataset`: captioned 5.11 s spectrogram clips, built offline.

midi (note events -> Standard MIDI File), drums (GM drum styles), music (instruments, keys,
bass/chords/melody), generated and corpus (pieces with captions), build (FluidSynth render,
cut, image, metadata.jsonl), readers (a built folder read back: records, splits, pixels).
"""
