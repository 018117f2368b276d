"""LoRA: trained for a few steps on the tiny model, loaded at a scale, stacked, and refused in one
line when it does not fit."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from conftest import write_dataset
from safetensors.torch import load_file, save_file

from riff.lora import LORA_FILE, Adapter, use_adapters
from riff.models import load_model
from riff.render import render, render_variations
from riff.request import PromptEnd, Settings, Variations
from riff.train.train import TrainConfig, train

SETTINGS = Settings(num_inference_steps=3, griffin_lim_iters=2)
DRUMS = PromptEnd("drum beat", seed=3)


def lora_config(dataset, out, base, **changes) -> TrainConfig:
    settings = dict(
        data=str(dataset), out=str(out), init=str(base), lora_rank=4, unet_steps=6,
        batch_size=4, crop=4, checkpoint_every=3, holdout=0.25, lr=1e-2, seed=0,
    )  # fmt: skip
    return TrainConfig(**{**settings, **changes})


@pytest.fixture(scope="module")
def loras(tiny_model_dir, tmp_path_factory):
    """Two LoRAs of the tiny model, trained on different seeds of the same clips."""
    dataset = write_dataset(tmp_path_factory.mktemp("lora-clips"), clips_per_kind=2)
    return [
        train(lora_config(dataset, tmp_path_factory.mktemp(f"lora{i}"), tiny_model_dir, seed=i))
        for i in (0, 1)
    ]


def pixels(model, *adapters: Adapter) -> torch.Tensor:
    """A clip rendered with `adapters` (the render applies them: `Settings.loras`)."""
    settings = dataclasses.replace(SETTINGS, loras=tuple((a.path, a.scale) for a in adapters))
    [clip] = render_variations(model, Variations(DRUMS, (DRUMS.seed,), width=64), settings)
    return clip.pixels


@pytest.fixture
def fresh(tiny_model_dir):
    return load_model(str(tiny_model_dir), device="cpu", dtype=torch.float32)


def test_a_trained_lora_is_a_diffusers_file_and_leaves_the_model_alone(loras, tiny_model_dir):
    folder = loras[0]
    about = json.loads((folder / "lora.json").read_text())
    assert about["rank"] == 4 and about["made_by"] == "riff train --lora"
    assert about["base_model"] == tiny_model_dir.name  # a name, never a path
    keys = list(load_file(folder / LORA_FILE))
    assert keys and all(k.startswith("unet.") and ".lora." in k for k in keys)
    assert not (folder / "unet").exists()  # adapters only, not a copy of the model


def test_scale_zero_changes_nothing_and_scale_one_changes_the_clip(loras, fresh, tiny_model_dir):
    base = pixels(fresh)
    assert torch.equal(pixels(fresh, Adapter(str(loras[0]), 0.0)), base)
    adapted = pixels(fresh, Adapter(str(loras[0]), 1.0))
    assert not torch.equal(adapted, base)
    assert torch.equal(pixels(fresh), base)  # none asked for: the model as it was
    again = load_model(str(tiny_model_dir), device="cpu", dtype=torch.float32)
    assert torch.equal(pixels(again, Adapter.parse(f"{loras[0]}:1")), adapted)  # same file, scale: same clip
    use_adapters(again, [])  # applied by hand too, as riff.lora's users may
    assert torch.equal(pixels(again), base)


def test_two_loras_stack_each_at_its_own_scale(loras, fresh):
    a, b = (str(folder / LORA_FILE) for folder in loras)
    only_a, only_b = pixels(fresh, Adapter(a, 1.0)), pixels(fresh, Adapter(b, 1.0))
    both = pixels(fresh, Adapter(a, 1.0), Adapter(b, 1.0))
    assert not torch.equal(both, only_a) and not torch.equal(both, only_b)
    assert torch.equal(pixels(fresh, Adapter(a, 1.0), Adapter(b, 0.0)), only_a)


def test_a_lora_for_another_model_is_refused_in_one_line_before_any_change(loras, fresh, tmp_path):
    state = load_file(loras[0] / LORA_FILE)
    key = next(k for k in state if k.endswith("lora.down.weight"))
    state[key] = torch.zeros(state[key].shape[0], state[key].shape[1] + 8)  # another model's width
    save_file(state, tmp_path / "wide.safetensors")
    base = pixels(fresh)
    with pytest.raises(ValueError, match="made for another model") as caught:
        use_adapters(fresh, [Adapter(str(tmp_path / "wide.safetensors"))])
    assert "\n" not in str(caught.value) and str(tmp_path) not in str(caught.value)
    unknown = {
        k.replace("down_blocks", "middle_blocks"): v for k, v in load_file(loras[0] / LORA_FILE).items()
    }
    save_file(unknown, tmp_path / "other.safetensors")
    with pytest.raises(ValueError, match="made for another model"):
        use_adapters(fresh, [Adapter(str(tmp_path / "other.safetensors"))])
    assert torch.equal(pixels(fresh), base)


def test_missing_corrupt_and_out_of_range_adapters_are_one_line_errors(tmp_path, fresh):
    with pytest.raises(ValueError, match="no LoRA at 'nowhere'"):
        use_adapters(fresh, [Adapter(str(tmp_path / "nowhere"))])
    (tmp_path / "broken.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(ValueError, match="cannot be read") as caught:
        use_adapters(fresh, [Adapter(str(tmp_path / "broken.safetensors"))])
    assert "\n" not in str(caught.value)
    for text in ("style:2.5", "style:-3", "style:nan"):
        with pytest.raises(ValueError, match=r"scale must be in -2..2"):
            Adapter.parse(text)
    assert Adapter.parse("style") == Adapter("style", 1.0)
    assert Adapter.parse("c:/loras/style:0.5") == Adapter("c:/loras/style", 0.5)
    assert Adapter.parse("c:/loras/style") == Adapter("c:/loras/style", 1.0)


def test_a_lora_needs_the_model_it_adapts(tmp_path):
    with pytest.raises(ValueError, match="--init"):
        TrainConfig(data=str(tmp_path), out=str(tmp_path / "out"), lora_rank=4)


def test_settings_carry_loras_through_json_and_interleaved_renders_keep_their_own(loras, fresh):
    from riff.request import Walk, from_dict, to_dict

    walk = Walk(DRUMS, PromptEnd("solo piano", seed=4), num_clips=2, width=64)
    plain = dataclasses.replace(SETTINGS, batch_size=1)
    styled = dataclasses.replace(plain, loras=[[str(loras[0]), 0.7]])  # as JSON gives it: lists
    assert styled.loras == ((str(loras[0]), 0.7),) and hash(styled)
    assert from_dict(to_dict(walk, styled)) == (walk, styled)
    alone = {s: [c.pixels for c in render(fresh, walk, s)] for s in (plain, styled)}
    assert not torch.equal(alone[plain][0], alone[styled][0])
    # A server takes turns between requests clip by clip: each keeps its own adapters.
    a, b = render(fresh, walk, styled), render(fresh, walk, plain)
    turns = [next(a).pixels, next(b).pixels, next(a).pixels, next(b).pixels]
    assert all(
        torch.equal(x, y)
        for x, y in zip(turns, [alone[styled][0], alone[plain][0], alone[styled][1], alone[plain][1]])
    )
    with pytest.raises(ValueError, match="at most 4 LoRAs"):
        Settings(loras=[(str(loras[0]), 0.1)] * 5)
    with pytest.raises(ValueError, match="scale must be in"):
        Settings(loras=[(str(loras[0]), 3.0)])


def test_the_cli_trains_a_lora_and_renders_with_it(capsys, tmp_path, tiny_model_dir, narrow_seed):
    import soundfile as sf

    from riff.cli import main

    data = write_dataset(tmp_path / "clips", clips_per_kind=2)
    common = ["--unet-steps", "3", "--batch-size", "2", "--crop", "4", "--holdout", "0.25"]
    assert (
        main(
            [
                "train",
                str(data),
                str(tmp_path / "style"),
                "--lora",
                "--rank",
                "2",
                "--init",
                str(tiny_model_dir),
                *common,
            ]
        )
        == 0
    )
    assert "trained LoRA" in capsys.readouterr().out
    assert json.loads((tmp_path / "style" / "lora.json").read_text())["rank"] == 2
    render = [
        "generate",
        "drums",
        "--model",
        str(tiny_model_dir),
        "--num-inference-steps",
        "3",
        "--seed-image",
        narrow_seed,
    ]
    assert main([*render, "-o", str(tmp_path / "plain.wav")]) == 0
    assert main([*render, "-o", str(tmp_path / "styled.wav"), "--lora", f"{tmp_path / 'style'}:2"]) == 0
    assert main([*render, "-o", str(tmp_path / "zero.wav"), "--lora", f"{tmp_path / 'style'}:0"]) == 0
    plain, styled, zero = (sf.read(tmp_path / f"{n}.wav")[0] for n in ("plain", "styled", "zero"))
    assert (plain == zero).all() and not (plain == styled).all()
    capsys.readouterr()
    assert main([*render, "-o", str(tmp_path / "x.wav"), "--lora", "nowhere:0.5"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("riff: error: no LoRA at 'nowhere'") and "\n" not in err
    assert not (tmp_path / "x.wav").exists()


def test_a_server_takes_lora_names_from_its_folder_never_paths(loras, tmp_path):
    from riff.serve.loras import LoraFolder

    folder = tmp_path / "offered"
    (folder / "grit").mkdir(parents=True)
    (folder / "grit" / LORA_FILE).write_bytes((loras[0] / LORA_FILE).read_bytes())
    (folder / "empty").mkdir()  # no weights: not on offer
    offered = LoraFolder(folder)
    assert offered.names() == ["grit"]
    resolved = offered.resolve(Settings(loras=[("grit", 0.5)]))
    assert resolved.loras == ((str(folder / "grit"), 0.5),)
    for asked in (str(loras[0]), "../grit", "empty", str(folder / "grit")):
        with pytest.raises(ValueError, match="no LoRA named") as caught:
            offered.resolve(Settings(loras=[(asked, 1.0)]))
        assert str(tmp_path) not in str(caught.value)  # never echoes a server path
    with pytest.raises(ValueError, match="this server offers none"):
        LoraFolder(None).resolve(Settings(loras=[("grit", 1.0)]))
    assert LoraFolder(None).resolve(SETTINGS) is SETTINGS


def test_the_engine_renders_an_offered_lora_and_its_json_names_it(loras, tiny_model, tmp_path):
    from riff.request import Walk
    from riff.serve.engine import Engine
    from riff.serve.limits import Limits

    folder = tmp_path / "offered"
    (folder / "grit").mkdir(parents=True)
    (folder / "grit" / LORA_FILE).write_bytes((loras[0] / LORA_FILE).read_bytes())
    engine = Engine(tiny_model, root=tmp_path / "root", limits=Limits.none(), lora_dir=folder)
    walk = Walk(DRUMS, PromptEnd("piano", seed=4), num_clips=1, width=64)
    styled = dataclasses.replace(SETTINGS, loras=(("grit", 1.0),))
    [*_, result] = engine.render(walk, styled)
    assert json.loads(result.settings.read_text())["settings"]["loras"] == [["grit", 1.0]]
    [*_, plain] = engine.render(walk, SETTINGS)
    assert sf_frames(result.track) != sf_frames(plain.track)
    with pytest.raises(ValueError, match="no LoRA named"):
        list(engine.render(walk, dataclasses.replace(SETTINGS, loras=((str(loras[0]), 1.0),))))


def sf_frames(path):
    import soundfile as sf

    return sf.read(path)[0].tobytes()
