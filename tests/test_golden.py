"""Golden values, as diffusers pins `expected_slice`: a change to the numbers riff computes must
be a decision made here, not an accident that two runs of the same new code agree on.

Recorded on the 2-core CPU of CI with torch's CPU build; the tolerances allow for rounding
differences between CPUs, not for a change of algorithm.
"""

from __future__ import annotations

import torch

from riff import pipeline
from riff.audio.image import pixels_from_image
from riff.audio.params import SpectrogramParams
from riff.audio.spectrogram import mel_from_waveform, waveform_from_mel
from riff.render import render_walk
from riff.request import PromptEnd, Settings, Walk
from riff.seed_images import seed_image


def test_denoise_on_the_tiny_model(tiny_model, narrow_seed):
    init = pipeline.encode_image(tiny_model, pixels_from_image(seed_image(narrow_seed)))
    embeddings = pipeline.encode_prompts(tiny_model, ["drums", ""])
    noise = pipeline.latent_noise(0, tuple(init.shape))
    latents = pipeline.denoise(
        tiny_model, init, embeddings[:1], embeddings[1:], noise, torch.tensor([7.0]), 2, 6
    )
    expected = torch.tensor([-2.38319, -2.83103, -0.64383, -0.12861, 1.28822, 2.32189])
    torch.testing.assert_close(latents[0, 0, 0, :6], expected, rtol=0, atol=2e-4)
    assert abs(float(latents.std()) - 2.25633) < 2e-4


def test_decoding_a_chirp():
    params = SpectrogramParams()
    t = torch.arange(params.num_samples(64)) / 44100
    chirp = (0.3 * torch.sin(2 * torch.pi * (200 + 2000 * t) * t))[None]
    waveform = waveform_from_mel(mel_from_waveform(chirp, params), params, seed=0, griffin_lim_iters=8)
    expected = torch.tensor([0.18513, 0.18678, 0.1871, 0.18607, 0.18369, 0.17996])
    torch.testing.assert_close(waveform[0, 4000:4006], expected, rtol=0, atol=2e-4)
    assert abs(float(waveform.norm()) - 35.1585) < 2e-3


def test_a_walk_end_to_end(tiny_model, narrow_seed):
    walk = Walk(
        start=PromptEnd("solo piano, slow, minor", seed=3, negative_prompt="noise"),
        end=PromptEnd("rock drum beat, 120 bpm", seed=4, guidance=5.0),
        num_clips=3,
        seed_image=narrow_seed,
        crossfade_ms=100,
    )
    settings = Settings(num_inference_steps=6, batch_size=3, griffin_lim_iters=4)
    clips = list(render_walk(tiny_model, walk, settings))
    pixels = torch.tensor([119.828, 125.584, 136.578, 145.023, 134.689, 143.955])
    torch.testing.assert_close(clips[1].pixels[0, 300, :6], pixels, rtol=0, atol=2e-2)
    samples = torch.tensor([0.20371, 0.2217, 0.20752, 0.09896])
    torch.testing.assert_close(clips[2].waveform[0, 5000:5004], samples, rtol=0, atol=2e-4)
