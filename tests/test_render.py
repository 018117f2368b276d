"""Each kind of request rendered on a tiny random model: shapes, determinism, endpoints, masks,
seeds and restyles (the walk loop itself: test_walk.py; joining clips: test_track.py)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from riff import pipeline
from riff.audio.image import pixels_from_image
from riff.audio.params import SpectrogramParams
from riff.render import render_clip, render_walk
from riff.request import PromptEnd, Restyle, Settings, Variations, Walk
from riff.seed_images import mask_names, seed_image, seed_image_names
from riff.track import stitch_walk

FAST = Settings(num_inference_steps=6, batch_size=3, griffin_lim_iters=4)


def walk(model, walk: Walk, settings: Settings = FAST, **changes) -> list:
    """The clips of `walk` with `changes` made to it."""
    return list(render_walk(model, dataclasses.replace(walk, **changes), settings))


def test_bundled_seeds_and_masks_exist_and_have_the_format():
    names = seed_image_names()
    assert len(names) >= 5 and {"og_beat", "agile", "marim", "motorway", "vibes"} <= set(names)
    assert {"keep_low", "keep_beats", "gradient_lr"} <= set(mask_names())
    for name in names:
        assert seed_image(name).size == (512, 512)


def test_walk_clips_have_the_right_shapes_and_order(tiny_model, walk_):
    clips = walk(tiny_model, walk_)
    assert [c.index for c in clips] == [0, 1, 2]
    assert [c.alpha for c in clips] == [0.0, 0.5, 1.0]
    for clip in clips:
        assert clip.pixels.shape == (3, 512, 64)
        assert clip.waveform.shape == (1, 63 * 441)
        assert torch.isfinite(clip.waveform).all()
        assert clip.image().size == (64, 512)
    track = stitch_walk(clips, walk_.crossfade_ms)
    assert track.shape == (1, 3 * 63 * 441)


def test_same_walk_same_bytes(tiny_model, walk_):
    first = walk(tiny_model, walk_)
    second = walk(tiny_model, walk_)
    for a, b in zip(first, second):
        assert torch.equal(a.pixels, b.pixels)
        assert torch.equal(a.waveform, b.waveform)
    other = walk(tiny_model, walk_, start=dataclasses.replace(walk_.start, seed=99))
    assert not torch.equal(first[0].pixels, other[0].pixels)


def test_alpha_zero_is_the_plain_start_render(tiny_model, walk_):
    first = walk(tiny_model, walk_, alphas=(0.0,))
    plain = render_clip(tiny_model, walk_.start, FAST, walk_.seed_image)
    torch.testing.assert_close(first[0].pixels, plain.pixels, rtol=0, atol=0.05)
    end = render_clip(tiny_model, walk_.end, FAST, walk_.seed_image)
    walk_end = walk(tiny_model, walk_, alphas=(1.0,))
    torch.testing.assert_close(walk_end[0].pixels, end.pixels, rtol=0, atol=0.05)


def test_negative_prompt_changes_the_result(tiny_model, walk_):
    with_negative = render_clip(tiny_model, walk_.start, FAST, walk_.seed_image)
    without = render_clip(
        tiny_model, dataclasses.replace(walk_.start, negative_prompt=""), FAST, walk_.seed_image
    )
    assert float((with_negative.pixels - without.pixels).abs().max()) > 0.1


def test_long_prompts_keep_guidance_working(tiny_model):
    long_prompt = "warm analog synth pad with slow attack " * 10  # far over 77 tokens
    embeddings = pipeline.encode_prompts(tiny_model, [long_prompt, ""])
    windows = embeddings.shape[1] // tiny_model.tokenizer.model_max_length
    assert windows >= 2 and embeddings.shape[1] % tiny_model.tokenizer.model_max_length == 0
    # The tail of the long prompt matters: a different last word changes the last window only.
    other = pipeline.encode_prompts(tiny_model, [long_prompt + "drums", ""])
    again = pipeline.encode_prompts(tiny_model, [long_prompt + "piano", ""])
    width = tiny_model.tokenizer.model_max_length
    assert other.shape == again.shape
    torch.testing.assert_close(other[0, :width], again[0, :width], rtol=0, atol=0)
    assert float((other[0, -width:] - again[0, -width:]).abs().max()) > 1e-3
    # Guidance has something to compare: the empty prompt's embedding is another.
    assert float((embeddings[0] - embeddings[1]).abs().max()) > 1e-3


def test_mask_keeps_the_kept_region(tiny_model, narrow_seed):
    init = pipeline.encode_image(tiny_model, pixels_from_image(seed_image(narrow_seed)))
    mask = torch.ones(1, 1, *init.shape[-2:])
    mask[..., init.shape[-2] // 2 :, :] = 0  # keep the lower half (low frequencies)
    embeddings = pipeline.encode_prompts(tiny_model, ["drums", ""])
    noise = pipeline.latent_noise(0, tuple(init.shape))
    latents = pipeline.denoise(
        tiny_model, init, embeddings[:1], embeddings[1:], noise, torch.tensor([7.0]), 2, 6, mask=mask
    )
    kept = mask[0, 0] == 0
    torch.testing.assert_close(latents[0][:, kept], init[0][:, kept])
    assert float((latents[0][:, ~kept] - init[0][:, ~kept]).abs().max()) > 0.01


def test_walk_with_a_bundled_mask_and_dpm_scheduler(tiny_model, walk_):
    plain = walk(tiny_model, walk_, num_clips=2)
    dpm = walk(tiny_model, walk_, dataclasses.replace(FAST, scheduler="dpm++"), num_clips=2)
    masked = walk(tiny_model, walk_, mask="keep_low", num_clips=2)
    assert len(dpm) == 2 and float((dpm[0].pixels - plain[0].pixels).abs().max()) > 1.0
    # The mask reaches the walk (what it keeps is test_mask_keeps_the_kept_region's business:
    # this random autoencoder smears any region over the whole image).
    assert float((masked[1].pixels - plain[1].pixels).abs().max()) > 1.0


@pytest.mark.parametrize(
    "change,match",
    [
        ({"num_clips": 0}, "num_clips"),
        ({"num_clips": 257}, "num_clips"),
        ({"alpha_curve": "zigzag"}, "alpha curve"),
        ({"crossfade_ms": -1}, "crossfade"),
        ({"alphas": (0.5, 2.0)}, "alphas"),
    ],
)
def test_bad_walks_are_rejected(walk_, change, match):
    with pytest.raises(ValueError, match=match):
        dataclasses.replace(walk_, **change)


@pytest.mark.parametrize(
    "change,match",
    [
        ({"batch_size": 0}, "batch_size"),
        ({"scheduler": "euler"}, "scheduler"),
        ({"num_inference_steps": 0}, "num_inference_steps"),
        ({"num_inference_steps": 1001}, "num_inference_steps"),
    ],
)
def test_bad_settings_are_rejected(change, match):
    with pytest.raises(ValueError, match=match):
        Settings(**change)


def test_bad_seeds_and_restyles_are_rejected():
    end = PromptEnd("x")
    for seeds, match in [((), "number of seeds"), (tuple(range(17)), "number of seeds"), ((-1,), "seeds")]:
        with pytest.raises(ValueError, match=match):
            Variations(end, seeds)
    with pytest.raises(ValueError, match="seeds must stay"):
        Variations.counting(PromptEnd("x", seed=2**32 - 1), 2)
    with pytest.raises(ValueError, match="region"):
        Restyle(end, end, start_s=-1)


@pytest.mark.parametrize(
    "change,match",
    [({"seed": -1}, "seed"), ({"denoising": 0.0}, "denoising"), ({"guidance": 99.0}, "guidance")],
)
def test_bad_prompt_ends_are_rejected(change, match):
    with pytest.raises(ValueError, match=match):
        PromptEnd("x", **change)


def test_unknown_seed_image_and_mask(tiny_model, walk_):
    with pytest.raises(ValueError, match="unknown seed image"):
        walk(tiny_model, walk_, seed_image="nope")
    with pytest.raises(ValueError, match="unknown mask"):
        walk(tiny_model, walk_, mask="nope")


def test_audio_file_as_seed(tmp_path):
    from riff.audio.files import save_audio

    tone = torch.sin(torch.arange(44100 * 6) / 44100 * 2 * torch.pi * 220)[None] * 0.5
    path = save_audio(tmp_path / "tone.wav", tone, 44100)
    image = seed_image(str(path))
    assert image.size == (512, 512)


def test_models_load_errors_are_one_line(tmp_path):
    from riff.models import load_model

    with pytest.raises(ValueError, match="not a diffusers model folder"):
        load_model(str(tmp_path))
    with pytest.raises(ValueError, match="cannot load model") as error:
        load_model("nobody/no-such-model-anywhere")
    assert "\n" not in str(error.value)


def test_render_seeds_gives_one_distinct_clip_per_seed(tiny_model, walk_):
    from riff.render import render_variations

    seeds = Variations(walk_.start, (5, 6, 5), seed_image=walk_.seed_image)
    clips = list(render_variations(tiny_model, seeds, dataclasses.replace(FAST, batch_size=2)))
    assert [c.index for c in clips] == [0, 1, 2]
    assert not torch.equal(clips[0].pixels, clips[1].pixels)
    torch.testing.assert_close(clips[0].pixels, clips[2].pixels, rtol=0, atol=0.05)


def test_restyle_walks_over_segments_of_a_song(tiny_model, walk_):
    from riff.render import render_restyle, restyle_segments
    from riff.track import stitch_restyle

    song = torch.sin(torch.arange(44100 * 12) / 44100 * 2 * torch.pi * 330)[None] * 0.3
    segments = restyle_segments(song, 250, SpectrogramParams())
    assert len(segments) == 2 and all(s.shape[-1] == 511 * 441 for s in segments)
    restyle = Restyle(walk_.start, walk_.end, duration_s=12.0)
    clips = list(render_restyle(tiny_model, song, restyle, dataclasses.replace(FAST, num_inference_steps=4)))
    assert [c.alpha for c in clips] == [0.0, 1.0]
    track = stitch_restyle(clips, 250)
    assert track.shape[-1] == 2 * 511 * 441 - int(0.25 * 44100)
    with pytest.raises(ValueError, match="restyling needs at least"):
        restyle_segments(song[:, :44100], 250, SpectrogramParams())


@pytest.mark.parametrize("seconds", [5.11, 5.2, 9.96, 9.98, 12.0, 60.0])
def test_a_restyle_counts_the_segments_it_is_cut_into(walk_, seconds):
    from riff.render import restyle_segments

    song = torch.zeros(1, int(seconds * 44100))
    restyle = Restyle(walk_.start, walk_.end, duration_s=seconds)
    segments = len(restyle_segments(song, restyle.crossfade_ms, SpectrogramParams()))
    assert restyle.clip_count() == segments  # what the budget counts is what renders
    assert dataclasses.replace(restyle, stereo=True).clip_count() == 2 * segments
    assert segments == (1 if seconds < 9.97 else 2 if seconds < 14.83 else segments)


def test_a_stereo_restyle_keeps_left_and_right(tiny_model, walk_):
    from riff.render import render_restyle
    from riff.track import stitch_restyle

    t = torch.arange(44100 * 6) / 44100
    song = torch.stack([torch.sin(2 * torch.pi * 220 * t), torch.sin(2 * torch.pi * 1500 * t)]) * 0.3
    settings = dataclasses.replace(FAST, num_inference_steps=4)
    restyle = Restyle(walk_.start, walk_.end, duration_s=6.0)
    mono = list(render_restyle(tiny_model, song, restyle, settings))
    stereo = list(render_restyle(tiny_model, song, dataclasses.replace(restyle, stereo=True), settings))
    assert [c.index for c in stereo] == [c.index for c in mono] == [0]
    clip = stereo[0]
    assert clip.waveform.shape[0] == 2 and mono[0].waveform.shape[0] == 1
    assert clip.params.stereo and clip.image().getexif() != mono[0].image().getexif()
    assert torch.equal(clip.pixels[0], torch.zeros_like(clip.pixels[0]))  # G left, B right
    assert not torch.allclose(clip.pixels[1], clip.pixels[2], atol=1.0)  # two sides, two songs
    assert stitch_restyle(stereo, 250).shape[0] == 2


def test_a_model_declares_its_spectrogram_format(tiny_model_dir, tmp_path, narrow_seed):
    import json
    import shutil

    from riff.models import load_model

    folder = shutil.copytree(tiny_model_dir, tmp_path / "model")
    card = folder / "riff.json"
    old = json.loads(card.read_text()) if card.exists() else {}
    card.write_text(json.dumps({**old, "spectrogram": {"sample_rate": 22050}}))
    model = load_model(str(folder), device="cpu")
    assert model.params == SpectrogramParams(sample_rate=22050)
    clip = render_clip(model, PromptEnd("drums"), FAST, narrow_seed)
    assert clip.params.sample_rate == 22050 and clip.waveform.shape[-1] == 63 * 220
    card.write_text(json.dumps({"spectrogram": {"sample_rate": -5}}))
    with pytest.raises(ValueError, match="sample_rate"):
        load_model(str(folder), device="cpu")
    card.write_text(json.dumps({"spectrogram": {"colour": "blue"}}))
    with pytest.raises(ValueError, match="bad spectrogram format"):
        load_model(str(folder), device="cpu")


def test_a_mono_clip_image_is_grey_and_decodes_as_its_colours_do(tiny_model, walk_):
    from riff.audio.image import mel_from_image, mel_from_pixels, pixels_from_image

    clip = next(render_walk(tiny_model, dataclasses.replace(walk_, num_clips=1), FAST))
    assert not torch.equal(clip.pixels[0], clip.pixels[1])  # the VAE's colours differ
    grey = pixels_from_image(clip.image())
    assert torch.equal(grey[0], grey[1]) and torch.equal(grey[1], grey[2])
    mel, _, _ = mel_from_image(clip.image())
    colour = mel_from_pixels(clip.pixels, clip.params)
    torch.testing.assert_close(mel / mel.max(), colour / colour.max(), atol=0.01, rtol=0)
