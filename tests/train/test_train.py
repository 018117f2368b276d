"""Training and evaluation on a small synthetic dataset, with the tiny preset."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from conftest import KINDS, synthetic_image, write_dataset

import riff.train.train
from riff.cli import main
from riff.train.dataset.readers import load_pixels, read_dataset, split
from riff.train.tokenizer import learn_tokenizer
from riff.train.train import (
    Resume,
    TrainConfig,
    load_checkpoint,
    prepare,
    train,
    train_autoencoder,
)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("dataset"))


def tiny_config(dataset, out, **changes) -> TrainConfig:
    settings = dict(
        data=str(dataset),
        out=str(out),
        preset="tiny",
        vae_steps=4,
        unet_steps=6,
        batch_size=4,
        vae_batch_size=4,
        vae_crop=32,
        crop=4,
        checkpoint_every=3,
        holdout=0.25,
        vae_spectral_weight=0.5,  # the spectral term trains and resumes with the rest
    )
    return TrainConfig(**{**settings, **changes})


@pytest.fixture(scope="module")
def trained(dataset, tmp_path_factory):
    return train(tiny_config(dataset, tmp_path_factory.mktemp("trained")))


def test_tokenizer_learns_caption_words_and_still_reads_anything(tmp_path):
    from transformers import CLIPTokenizer

    tokenizer = learn_tokenizer(list(KINDS) * 3)
    assert tokenizer.tokenize("solo piano") == ["solo</w>", "piano</w>"]
    unknown = tokenizer.tokenize("xylophone")
    assert len(unknown) > 1 and "".join(unknown).replace("</w>", "") == "xylophone"
    tokenizer.save_pretrained(tmp_path)
    again = CLIPTokenizer.from_pretrained(tmp_path)
    assert again("drum beat, 120 bpm").input_ids == tokenizer("drum beat, 120 bpm").input_ids


@pytest.mark.parametrize(("holdout", "held_count"), [(0.1, 4), (0.25, 10), (0.3, 13), (0.5, 20), (0.0, 0)])
def test_split_holds_out_clips_evenly_and_never_trains_on_them(holdout, held_count):
    records = [{"caption": str(i)} for i in range(40)]
    train_records, held = split(records, holdout)
    assert len(held) == held_count and len(train_records) == 40 - held_count
    assert not {r["caption"] for r in held} & {r["caption"] for r in train_records}


def test_holdout_over_half_is_refused(dataset, tmp_path):
    with pytest.raises(ValueError, match="holdout"):
        tiny_config(dataset, tmp_path, holdout=0.6)


def test_trained_folder_loads_and_renders_a_clip(trained, narrow_seed):
    from safetensors.torch import load_file

    from riff.models import load_model, recommended_steps
    from riff.render import render_clip
    from riff.request import PromptEnd, Settings
    from riff.train.train import RECOMMENDED_STEPS

    weights = load_file(trained / "unet" / "diffusion_pytorch_model.safetensors")
    assert {t.dtype for t in weights.values()} == {torch.float16}
    assert (trained / "training" / "loss.png").is_file()
    assert recommended_steps(str(trained)) == RECOMMENDED_STEPS
    assert str(trained.parent) not in (trained / "riff.json").read_text()  # no paths of this machine
    model = load_model(str(trained), device="cpu")
    assert type(model.scheduler).__name__ == "DPMSolverMultistepScheduler"
    end = PromptEnd("solo piano", seed=3)
    clip = render_clip(model, end, Settings(num_inference_steps=3), narrow_seed)
    assert clip.pixels.shape == (3, 512, 64)
    assert torch.isfinite(clip.waveform).all() and clip.waveform.abs().max() > 0


def test_checkpoint_records_both_stages_and_a_finished_run_is_not_trained_again(trained, dataset):
    saved = torch.load(trained / "training" / "checkpoint.pt", weights_only=False)
    assert saved["state"]["stage"] == "done"
    assert len(saved["losses"]["autoencoder"]) == 4 and len(saved["losses"]["denoiser"]) == 6
    assert all(np.isfinite(saved["losses"]["denoiser"]))
    before = {f: f.read_bytes() for f in trained.rglob("*.safetensors")}
    vae_config = (trained / "vae" / "config.json").read_text()
    config = json.loads((trained / "training" / "config.json").read_text())
    train(tiny_config(config["data"], trained))
    assert {f: f.read_bytes() for f in trained.rglob("*.safetensors")} == before
    assert (trained / "vae" / "config.json").read_text() == vae_config  # the latent scale survives


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["autoencoder", "denoiser"])
def test_an_interrupted_run_resumes_to_the_same_weights(dataset, tmp_path, monkeypatch, stage):
    straight = train(tiny_config(dataset, tmp_path / "straight"))
    save = riff.train.train.save_checkpoint

    def save_then_crash(run, resume):
        save(run, resume)
        if (resume.stage, resume.step) == (stage, 3):  # the mid-stage checkpoint (every 3 steps)
            raise KeyboardInterrupt

    monkeypatch.setattr(riff.train.train, "save_checkpoint", save_then_crash)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(dataset, tmp_path / "resumed"))
    monkeypatch.undo()
    resume = load_checkpoint(prepare(tiny_config(dataset, tmp_path / "resumed")))
    assert (resume.stage, resume.step, len(resume.losses[stage])) == (stage, 3, 3)
    assert resume.optimizer is not None
    assert (resume.ema is not None) == (stage == "denoiser")

    resumed = train(tiny_config(dataset, tmp_path / "resumed"))
    a = torch.load(straight / "training" / "checkpoint.pt", weights_only=False)
    b = torch.load(resumed / "training" / "checkpoint.pt", weights_only=False)
    assert a["state"] == b["state"] == {"stage": "done", "step": 0}
    for name in ("autoencoder", "denoiser"):
        np.testing.assert_allclose(a["losses"][name], b["losses"][name], rtol=1e-5, err_msg=name)
    for name, weights in a["weights"].items():
        assert all(torch.allclose(weights[k], b["weights"][name][k], atol=1e-6) for k in weights), name
    assert a["scaling_factor"] == pytest.approx(b["scaling_factor"], rel=1e-6)


def test_resume_refuses_a_checkpoint_made_with_other_settings_or_clips(dataset, trained, tmp_path):
    import shutil

    with pytest.raises(ValueError, match="other seed"):
        load_checkpoint(prepare(tiny_config(dataset, trained, seed=1)))
    with pytest.raises(ValueError, match="other train text encoder"):
        load_checkpoint(prepare(tiny_config(dataset, trained, train_text_encoder=False)))
    # The same folder named another way is the same run.
    assert load_checkpoint(prepare(tiny_config(dataset.parent / "." / dataset.name, trained))).stage == "done"
    # An extended dataset is another one: its tokenizer and latents would differ.
    extended = write_dataset(tmp_path / "extended", clips_per_kind=7)
    shutil.copytree(trained, tmp_path / "out")
    config = tiny_config(extended, tmp_path / "out")
    saved = torch.load(tmp_path / "out" / "training" / "checkpoint.pt", weights_only=False)
    saved["identity"]["data"] = str(extended.resolve())
    torch.save(saved, tmp_path / "out" / "training" / "checkpoint.pt")
    with pytest.raises(ValueError, match="other clips"):
        load_checkpoint(prepare(config))


@pytest.mark.slow
def test_autoencoder_loss_falls(dataset, tmp_path):
    run = prepare(tiny_config(dataset, tmp_path, vae_steps=60, vae_batch_size=8))
    losses = train_autoencoder(run, load_pixels(dataset, run.train_records), Resume("autoencoder"))
    assert len(losses) == 60
    assert np.mean(losses[-10:]) < 0.7 * np.mean(losses[:3])


def test_spectral_loss_is_zero_for_a_copy_and_grows_with_blur():
    from riff.train.train import spectral_loss

    x = torch.ones(2, 3, 32, 16)  # white: silence
    x[:, :, 10] = x[:, :, 20] = -1.0  # two loud harmonic lines (black)
    assert float(spectral_loss(x.clone(), x)) == pytest.approx(0, abs=1e-6)
    blurred = torch.nn.functional.avg_pool2d(x, (3, 1), stride=1, padding=(1, 0), count_include_pad=False)
    softer = 0.5 * (x + blurred)
    assert spectral_loss(blurred, x) > spectral_loss(softer, x) > 0
    # Overshoot past black or white decodes as the clamped image does: no penalty.
    assert float(spectral_loss(x * 1.2, x)) == pytest.approx(0, abs=1e-6)


def test_autoencoder_loss_adds_the_weighted_spectral_term(dataset, tmp_path):
    from riff.audio.image import unit_from_pixels
    from riff.train.train import _AutoencoderLoss, spectral_loss

    run = prepare(tiny_config(dataset, tmp_path))
    vae = run.components["vae"]
    x = unit_from_pixels(load_pixels(dataset, run.train_records[:2])[..., :32, :32].float())
    plain = _AutoencoderLoss(vae)(x, torch.Generator().manual_seed(1))
    weighted = _AutoencoderLoss(vae, spectral_weight=2.0)(x, torch.Generator().manual_seed(1))
    with torch.no_grad():
        z = vae.encode(x).latent_dist.sample(torch.Generator().manual_seed(1))
        term = spectral_loss(vae.decode(z).sample, x)
    assert term > 0
    assert float((weighted - plain).detach()) == pytest.approx(2.0 * float(term), rel=1e-4)


def test_fine_tuning_keeps_the_autoencoder_and_tokenizer(dataset, tmp_path, tiny_model_dir):
    import shutil

    from riff.models import load_model, recommended_steps

    base = shutil.copytree(tiny_model_dir, tmp_path / "base")
    (base / "riff.json").write_text(json.dumps({"num_inference_steps": 7}))
    before = load_model(str(base), device="cpu")
    folder = train(tiny_config(dataset, tmp_path / "tuned", init=str(base), unet_steps=4, lr=1e-2))
    after = load_model(str(folder), device="cpu")
    for key, value in before.vae.state_dict().items():
        assert torch.allclose(value, after.vae.state_dict()[key], rtol=1e-2, atol=1e-3), key
    assert after.tokenizer.get_vocab() == before.tokenizer.get_vocab()
    assert type(after.scheduler) is type(before.scheduler)
    assert recommended_steps(str(folder)) == 7  # the base's, as its scheduler is kept
    moved = max(
        float((v - after.unet.state_dict()[k]).abs().max()) for k, v in before.unet.state_dict().items()
    )
    assert moved > 0.02
    # The text encoder is frozen when fine-tuning unless asked for.
    for key, value in before.text_encoder.state_dict().items():
        assert torch.allclose(value, after.text_encoder.state_dict()[key], rtol=1e-2, atol=1e-3), key


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "{tmp}/nowhere", "{tmp}/out"], "no metadata.jsonl"),
        (["train", "{data}", "{tmp}/out", "--preset", "huge"], "unknown preset"),
        (["train", "{data}", "{tmp}/out", "--holdout", "1.5"], "holdout"),
        (["evaluate", "{data}", "--clips", "1"], "--clips must be at least 2"),
        (["train", "{data}", "{tmp}/out", "--crop", "0"], "crop must be at least 1"),
        (["train", "{data}", "{tmp}/out", "--lr", "0"], "learning rates must be positive"),
        (["train", "{data}", "{tmp}/out", "--vae-spectral-weight", "-1"], "vae spectral weight"),
        (["evaluate", "{tmp}/nowhere", "--model", "{tmp}/nomodel"], "no such model folder"),
    ],
)
def test_train_and_evaluate_bad_input_is_one_line(capsys, tmp_path, dataset, argv, message):
    code = main([a.format(tmp=tmp_path, data=dataset) for a in argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_read_dataset_rejects_a_broken_journal(tmp_path):
    (tmp_path / "metadata.jsonl").write_text("not json\n")
    with pytest.raises(ValueError, match="line 1"):
        read_dataset(tmp_path)


# --- networks ---------------------------------------------------------------------------------


def saved_config(path) -> dict:
    """A saved config.json, less the versions of the library that wrote it."""
    versions = ("_diffusers_version", "transformers_version")
    return {k: v for k, v in json.loads(path.read_text()).items() if k not in versions}


def test_the_small_preset_is_the_bundled_models_architecture(tmp_path):
    from transformers import CLIPTokenizer

    from riff.models import BUNDLED_MODEL, load_model, save_model
    from riff.train.networks import PRESETS, build_components

    bundled = load_model(str(BUNDLED_MODEL), device="cpu", dtype=torch.float32)
    fresh = build_components(PRESETS["small"], CLIPTokenizer.from_pretrained(BUNDLED_MODEL / "tokenizer"))
    fresh["vae"].register_to_config(scaling_factor=bundled.vae.config.scaling_factor)  # training sets it
    save_model(fresh, tmp_path, torch.float16)
    for name in ("unet", "vae", "text_encoder", "scheduler"):
        (ours,) = (tmp_path / name).glob("*config.json")
        assert saved_config(ours) == saved_config(BUNDLED_MODEL / name / ours.name), name
    for name in ("unet", "vae", "text_encoder"):
        fresh[name].load_state_dict(getattr(bundled, name).state_dict())  # strict: every weight fits


def test_the_sd15_preset_is_stable_diffusion_15s_architecture():
    from riff.train.networks import PRESETS, build_components
    from riff.train.tokenizer import tiny_tokenizer

    with torch.device("meta"):  # sizes without the memory
        components = build_components(PRESETS["sd15"], tiny_tokenizer())
    counts = {
        name: sum(p.numel() for p in components[name].parameters())
        for name in ("unet", "vae", "text_encoder")
    }
    assert counts == {"unet": 859_520_964, "vae": 83_653_863, "text_encoder": 123_060_480}
    unet, text = components["unet"].config, components["text_encoder"].config  # what counts miss
    assert (unet.attention_head_dim, unet.cross_attention_dim, text.num_attention_heads) == (8, 768, 12)
    assert (text.vocab_size, text.projection_dim, components["vae"].config.sample_size) == (49408, 768, 512)
    assert type(components["scheduler"]).__name__ == "PNDMScheduler"


def test_the_tiny_fixture_is_the_tiny_test_preset_and_seeded():
    from riff.train.networks import PRESETS, Architecture, build_components, tiny_components
    from riff.train.tokenizer import tiny_tokenizer

    a, b = tiny_components(seed=0), build_components(PRESETS["tiny-test"], tiny_tokenizer(), seed=0)
    other = tiny_components(seed=1)
    for name in ("unet", "vae", "text_encoder"):
        weights = a[name].state_dict()
        assert all(torch.equal(weights[k], b[name].state_dict()[k]) for k in weights), name
        assert not all(torch.equal(weights[k], other[name].state_dict()[k]) for k in weights), name
    assert a["text_encoder"].config.vocab_size == len(a["tokenizer"].get_vocab())
    with pytest.raises(ValueError, match="one entry per UNet level"):
        Architecture(unet_channels=(8, 16), attention=(True,))


# --- evaluation -------------------------------------------------------------------------------


def test_frechet_distance_is_zero_for_the_same_set_and_grows_with_a_shift():
    from riff.train.evaluate import frechet_distance

    rng = np.random.default_rng(0)
    a = rng.normal(size=(200, 6))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    near, far = frechet_distance(a, a + 0.1), frechet_distance(a, a + 1.0)
    assert 0 < near < far
    assert far == pytest.approx(6.0, rel=1e-6)  # a mean shift of 1 in each of 6 dimensions


def test_rhythm_features_peak_at_the_beat_period():
    from riff.train.evaluate import features

    rng = np.random.default_rng(0)
    image = synthetic_image({"has_drums": True, "tempo_band": "medium"}, rng, 512)
    pixels = torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1)[None]
    _, rhythm = features(pixels)
    assert int(rhythm[0, :40].argmax()) + 1 == 16  # lag 1 is index 0


@pytest.mark.slow
def test_classifier_learns_real_labels_and_evaluation_reports_figures(tmp_path, trained):
    from riff.models import load_model
    from riff.train.evaluate import evaluate, predict, train_classifier

    data = write_dataset(tmp_path / "data", clips_per_kind=12, width=256, seed=1, numbered=True)
    records = read_dataset(data)
    train_records, held = split(records, 0.25)
    classifier = train_classifier(load_pixels(data, train_records), train_records, epochs=40)
    predicted = predict(classifier, load_pixels(data, held))
    assert predicted["has_drums"] == [r["labels"]["has_drums"] for r in held]
    assert predicted["family"] == [r["labels"]["family"] for r in held]

    report = evaluate(
        load_model(str(trained), device="cpu"), data, clips=2, steps=2, holdout=0.25, checks_per_prompt=1
    )
    figures = report.figures
    assert figures["generated_clips"] == 2
    assert 0 <= figures["accuracy"]["generated"]["family"] <= 1
    assert figures["mel_distance"]["generated"] > figures["mel_distance"]["real_floor"] >= 0
    assert figures["accuracy"]["held_out_real"]["has_drums"] == 1.0
    assert set(figures["prompt_checks"]) >= {"drum beat", "solo piano"}
    assert "held-out real clips" in report.table()
    assert figures["autoencoder"]["clips"] == figures["held_out_clips"]
    assert figures["autoencoder"]["spectral_convergence"] > 0 and "autoencoder round trip" in report.table()


def test_evaluation_says_so_when_no_clip_has_labels(tmp_path, trained):
    from riff.models import load_model
    from riff.train.evaluate import evaluate

    data = write_dataset(tmp_path / "data", clips_per_kind=2)
    lines = [json.loads(line) for line in (data / "metadata.jsonl").read_text().splitlines()]
    (data / "metadata.jsonl").write_text("".join(json.dumps({**r, "labels": {}}) + "\n" for r in lines))
    with pytest.raises(ValueError, match="no labelled clips"):
        evaluate(load_model(str(trained), device="cpu"), data, clips=1, steps=1)


def test_evaluation_holds_out_what_training_held_out(trained):
    from riff.train.evaluate import trained_holdout

    assert trained_holdout(str(trained)) == 0.25  # tiny_config's
    assert trained_holdout("riffusion/riffusion-model-v1") == 0.1


def test_spectral_convergence_is_zero_for_a_copy_and_one_for_silence():
    from riff.train.evaluate import fine_structure, spectral_convergence

    mel = torch.rand(3, 1, 16, 8) + 0.1
    assert torch.all(spectral_convergence(mel, mel) == 0)
    assert torch.allclose(spectral_convergence(mel, torch.zeros_like(mel)), torch.ones(3))
    assert torch.all(spectral_convergence(mel, 1.1 * mel) > 0)
    assert fine_structure(mel).shape == (3, 1, 15, 8)
    assert torch.allclose(fine_structure(mel + 2.0), fine_structure(mel), atol=1e-6)


def test_evaluate_measures_the_autoencoders_round_trip(trained, dataset, capsys):
    from riff.models import load_model
    from riff.train.evaluate import autoencoder_figures

    model = load_model(str(trained), device="cpu", dtype=torch.float32)
    pixels = load_pixels(dataset, read_dataset(dataset)[:3])
    figures = autoencoder_figures(model.vae, pixels)
    assert figures["clips"] == 3
    assert 0 < figures["spectral_convergence"] and 0 < figures["fine_structure"]

    class Identity(torch.nn.Module):  # a perfect autoencoder
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(1))

        def encode(self, x):
            return type("Out", (), {"latent_dist": type("D", (), {"mode": lambda _: x})()})()

        def decode(self, z):
            return type("Out", (), {"sample": z})()

    perfect = autoencoder_figures(Identity(), pixels)
    assert perfect["spectral_convergence"] < 1e-5 and perfect["fine_structure"] < 1e-5

    assert main(["evaluate", str(dataset), "--model", str(trained), "--autoencoder-only"]) == 0
    out = capsys.readouterr().out
    assert "autoencoder round trip of" in out and "mel spectral convergence" in out


def test_config_is_saved_with_the_run(trained):
    config = json.loads((trained / "training" / "config.json").read_text())
    assert config["preset"] == "tiny" and config == dataclasses.asdict(
        tiny_config(config["data"], config["out"])
    )
