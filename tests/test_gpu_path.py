"""The GPU path, checked on the CPU: Spaces defaults, the compiled UNet, memory savers and running
out of memory (ZeroGPU durations: tests/serve/test_spaces.py)."""

from __future__ import annotations

import importlib.machinery
import os
import shutil
import sys
import types

import huggingface_hub.constants
import pytest
import torch

from riff import pipeline
from riff.gpu import compile_mode, gpu_space
from riff.models import (
    BUNDLED_MODEL,
    DEFAULT_MODEL,
    REFERENCE_MODEL,
    default_model,
    default_model_reason,
    load_model,
    model_name,
)
from riff.pipeline import MemoryPlan, OutOfGPUMemory, memory_plan


def _install_spaces(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("spaces")
    module.__spec__ = importlib.machinery.ModuleSpec("spaces", None)
    monkeypatch.setitem(sys.modules, "spaces", module)


# 1. Which model by default, and why.


def test_default_off_spaces_is_bundled(space):
    assert gpu_space(os.environ) is None
    assert model_name(None, os.environ) == DEFAULT_MODEL == str(BUNDLED_MODEL)
    assert default_model_reason(os.environ).startswith("riff-small (bundled): the default off Spaces")


def test_cpu_space_keeps_bundled(space):
    space.setenv("SPACE_ID", "someone/riff")
    assert gpu_space(os.environ) is None and model_name(None, os.environ) == DEFAULT_MODEL
    assert "on a Space's CPU" in default_model_reason(os.environ)


def test_gpu_space_runs_reference(space):
    space.setenv("SPACE_ID", "someone/riff")
    space.setattr(torch.cuda, "is_available", lambda: True)
    assert gpu_space(os.environ) == "GPU"
    assert model_name(None, os.environ) == REFERENCE_MODEL
    reason = default_model_reason(os.environ)
    assert reason.startswith(REFERENCE_MODEL) and "GPU" in reason and "\n" not in reason


def test_zero_gpu_space_runs_reference(space):
    space.setenv("SPACE_ID", "someone/riff")
    space.setenv("SPACES_ZERO_GPU", "true")
    assert gpu_space(os.environ) is None  # the variable without the package lends no GPU
    _install_spaces(space)
    assert gpu_space(os.environ) == "ZeroGPU"
    assert model_name(None, os.environ) == REFERENCE_MODEL and "ZeroGPU" in default_model_reason(os.environ)
    space.setenv("SPACES_ZERO_GPU", "false")
    assert gpu_space(os.environ) is None


def test_gpu_space_offline_keeps_bundled(space):
    space.setenv("SPACE_ID", "someone/riff")
    space.setenv("HF_HUB_OFFLINE", "1")
    space.setattr(torch.cuda, "is_available", lambda: True)
    assert default_model(os.environ) == DEFAULT_MODEL
    assert "offline" in default_model_reason(os.environ)


def test_riff_model_and_argument_win(space):
    space.setenv("SPACE_ID", "someone/riff")
    space.setattr(torch.cuda, "is_available", lambda: True)
    space.setenv("RIFF_MODEL", str(BUNDLED_MODEL))
    assert model_name(None, os.environ) == str(BUNDLED_MODEL)
    assert default_model_reason(os.environ) == "riff-small (bundled): chosen by RIFF_MODEL"
    assert model_name("some/model") == "some/model"


def test_the_library_reads_no_environment_variable(space, tiny_model_dir):
    """RIFF_MODEL and RIFF_COMPILE are read by the entry points (the CLI, the studio's main),
    which pass them on: the library's own defaults stay what they say."""
    space.setenv("RIFF_MODEL", "someone/elsewhere")
    space.setenv("RIFF_COMPILE", "1")
    assert model_name() == DEFAULT_MODEL and model_name(None, os.environ) == "someone/elsewhere"
    assert compile_mode(None, torch.device("cpu")) is None
    assert load_model(str(tiny_model_dir), device="cpu").compiled is None


# 2. The compiled UNet.


def test_compile_mode_reads_the_setting():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert compile_mode(None, cpu) is None and compile_mode(False, cpu) is None
    assert compile_mode(True, cpu) == "default"
    assert compile_mode(True, cuda) == "max-autotune-no-cudagraphs"
    assert compile_mode("1", cpu) == "default"
    assert compile_mode(" Reduce-Overhead", cuda) == "reduce-overhead"
    assert compile_mode("0", cpu) is None and compile_mode("", cpu) is None
    with pytest.raises(ValueError, match="RIFF_COMPILE='fast'"):
        compile_mode("fast", cpu)


def test_load_model_compiles_on_request(space, tiny_model_dir):
    eager = load_model(str(tiny_model_dir), device="cpu")
    assert eager.compiled is None and eager.denoiser is eager.unet
    compiled = load_model(
        str(tiny_model_dir), device="cpu", compile="1"
    )  # torch.compile is lazy: no work yet
    assert compiled.compiled is not None and compiled.denoiser is compiled.compiled
    assert compiled.compiled.mode == "default" and compiled.describe().endswith("compiled UNet)")
    assert isinstance(compiled.unet, torch.nn.Module)  # the plain module, for training and saving
    assert load_model(str(tiny_model_dir), device="cpu", compile=False).compiled is None


def test_cli_compile_reaches_model_loading(monkeypatch, tmp_path, tiny_model_dir, narrow_seed):
    import riff.models
    from riff.cli import main

    monkeypatch.delenv("RIFF_COMPILE", raising=False)
    seen = []

    def spy(name, device=None, dtype=None, compile=None):
        seen.append(compile_mode(compile, torch.device("cpu")))
        raise ValueError("stop here")

    monkeypatch.setattr(riff.models, "load_model", spy)
    args = ["generate", "x", "-o", str(tmp_path / "x.wav"), "--model", str(tiny_model_dir)]
    assert main([*args, "--seed-image", narrow_seed, "--compile"]) == 2
    assert main([*args, "--seed-image", narrow_seed]) == 2
    monkeypatch.setenv("RIFF_COMPILE", "reduce-overhead")  # read by the CLI, passed on
    assert main([*args, "--seed-image", narrow_seed]) == 2
    monkeypatch.delenv("RIFF_COMPILE")
    assert seen == ["default", None, "reduce-overhead"]
    assert "RIFF_COMPILE" not in os.environ  # --compile is passed, not set in the environment


def _compiler() -> str | None:
    return os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")


def _denoise_args(model, width: int = 64):
    from riff.interp import start_step

    h, w = 512 // model.vae_scale, width // model.vae_scale
    channels = model.unet.config.in_channels
    cond = pipeline.encode_prompts(model, ["solo piano", "drums"])
    uncond = pipeline.encode_prompts(model, ["", ""])
    init = pipeline.latent_noise(9, (1, channels, h, w))
    noise = torch.cat([pipeline.latent_noise(s, (1, channels, h, w)) for s in (1, 2)])
    return init, cond, uncond, noise, torch.tensor([7.0, 7.0]), start_step(4, 0.75), 4


@pytest.mark.slow
@pytest.mark.skipif(
    _compiler() is None, reason="torch.compile on the CPU needs a C++ compiler (g++ or clang++)"
)
def test_compiled_denoise_matches_eager(tiny_model_dir, caplog):
    eager = load_model(str(tiny_model_dir), device="cpu")
    compiled = load_model(str(tiny_model_dir), device="cpu", compile=True)
    args = _denoise_args(eager)
    expected = pipeline.denoise(eager, *args)
    with caplog.at_level("INFO", logger="riff"):
        got = pipeline.denoise(compiled, *args)
    torch.testing.assert_close(got, expected, rtol=1e-3, atol=1e-4)
    warmup = [r.getMessage() for r in caplog.records if "warm-up" in r.getMessage()]
    assert len(warmup) == 1 and warmup[0].startswith("compiled UNet warm-up: ")
    assert compiled.compiled.warmup_s is not None and compiled.compiled.warmup_s >= 0


# 3. Memory: savers only when a batch would not fit, and out of memory in one line.


def test_memory_plan_is_off_on_the_cpu_and_when_it_fits(tiny_model):
    assert memory_plan(tiny_model, 32, 64, 1024) == MemoryPlan()  # the CPU: never
    assert memory_plan(tiny_model, 4, 64, 64, free_bytes=80 * 2**30) == MemoryPlan()


def test_memory_plan_switches_savers_on_as_needs_grow(tiny_model):
    free = 2**30
    plans = [memory_plan(tiny_model, 4, 64, w, free_bytes=free) for w in (64, 128, 256, 512, 1024, 2048)]
    assert plans[0] == MemoryPlan()
    # Once on, a saver stays on for anything wider; wide enough, all are on.
    for saver in ("slice_attention", "slice_vae", "tile_vae"):
        flags = [getattr(p, saver) for p in plans]
        assert flags == sorted(flags), saver
    assert plans[-1] == MemoryPlan(True, True, True)
    # A bigger batch needs at least the savers a smaller one does; one clip never slices the VAE.
    for width in (128, 256, 512):
        small, big = (memory_plan(tiny_model, b, 64, width, free_bytes=free) for b in (1, 16))
        assert not small.slice_vae
        assert all(getattr(big, s) >= getattr(small, s) for s in ("slice_attention", "tile_vae"))
    # Less free memory, more savers.
    assert memory_plan(tiny_model, 4, 64, 256, free_bytes=2**20) == MemoryPlan(True, True, True)


def test_savers_apply_and_restore(tiny_model, monkeypatch):
    plan = MemoryPlan(True, True, True)
    monkeypatch.setattr(pipeline, "memory_plan", lambda *a, **k: plan)
    processors = {k: type(v) for k, v in tiny_model.unet.attn_processors.items()}
    seen = {}
    decode = tiny_model.vae.decode

    def watch(*args, **kwargs):
        seen["vae"] = (tiny_model.vae.use_slicing, tiny_model.vae.use_tiling)
        seen["unet"] = {type(v).__name__ for v in tiny_model.unet.attn_processors.values()}
        return decode(*args, **kwargs)

    monkeypatch.setattr(tiny_model.vae, "decode", watch)
    args = _denoise_args(tiny_model)
    sliced = pipeline.denoise(tiny_model, *args)
    pixels = pipeline.decode_latents(tiny_model, sliced)
    assert seen["vae"] == (True, True) and pixels.shape == (2, 3, 512, 64)
    assert seen["unet"] == {"SlicedAttnProcessor"}
    assert {k: type(v) for k, v in tiny_model.unet.attn_processors.items()} == processors
    assert (tiny_model.vae.use_slicing, tiny_model.vae.use_tiling) == (False, False)
    monkeypatch.setattr(pipeline, "memory_plan", lambda *a, **k: MemoryPlan())
    # Slicing the attention changes how it is computed, not what it computes.
    torch.testing.assert_close(sliced, pipeline.denoise(tiny_model, *args), rtol=1e-4, atol=1e-5)


def test_out_of_memory_is_one_line_and_the_next_call_works(tiny_model, monkeypatch):
    emptied = []
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: emptied.append(1))
    args = _denoise_args(tiny_model)

    def unet_oom(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    with monkeypatch.context() as m:
        m.setattr(tiny_model, "unet", unet_oom)
        with pytest.raises(ValueError) as caught:
            pipeline.denoise(tiny_model, *args)
    message = str(caught.value)
    assert message == "out of GPU memory for 2 clips of 64 columns: lower the batch size or the width"
    assert isinstance(caught.value, OutOfGPUMemory) and isinstance(caught.value, torch.OutOfMemoryError)
    assert caught.value.__context__ is None and emptied == [1]
    latents = pipeline.denoise(tiny_model, *args)  # the next request is unaffected
    assert latents.shape == args[3].shape and torch.isfinite(latents).all()

    def vae_oom(*args, **kwargs):
        raise RuntimeError("HIP out of memory on device 0")

    with monkeypatch.context() as m:
        m.setattr(tiny_model.vae, "decode", vae_oom)
        with pytest.raises(OutOfGPUMemory, match="out of GPU memory for 2 clips of 64 columns"):
            pipeline.decode_latents(tiny_model, latents)
    assert pipeline.decode_latents(tiny_model, latents).shape == (2, 3, 512, 64)


def test_other_errors_pass_through(tiny_model, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    args = _denoise_args(tiny_model)
    monkeypatch.setattr(tiny_model, "unet", broken)
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        pipeline.denoise(tiny_model, *args)


def test_an_unreachable_hub_is_not_retried(monkeypatch):
    import diffusers

    from riff import models

    seen: dict = {}

    def from_pretrained(source, **options):
        seen.update(options)
        raise OSError("not in the cache")

    monkeypatch.setattr(models, "hub_reachable", lambda *a, **k: False)
    monkeypatch.setattr(diffusers.UNet2DConditionModel, "from_pretrained", from_pretrained)
    with pytest.raises(ValueError, match="the hub is unreachable from here"):
        load_model("someone/some-model", device="cpu")
    assert seen["local_files_only"] is True  # the cache only: no minutes of retries
    monkeypatch.setattr(models, "hub_reachable", lambda *a, **k: True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)  # as the hub's library read it
    with pytest.raises(ValueError, match="from the hub or the cache"):
        load_model("someone/some-model", device="cpu")
    assert seen["local_files_only"] is False
