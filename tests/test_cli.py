"""python -m riff: every command on real files, every error path exits 2 with one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
import torch
from conftest import sine
from PIL import Image

from riff.audio.files import save_audio
from riff.cli import main
from riff.seed_images import SEED_DIR

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def tone_wav(tmp_path) -> Path:
    return save_audio(
        tmp_path / "tone.wav", torch.cat([sine(440.0, 2.0, 48000), sine(660.0, 2.0, 48000)]), 48000
    )


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_audio_to_image_and_back(capsys, tmp_path, tone_wav):
    code, out, _ = run(capsys, "audio-to-image", tone_wav, "-o", tmp_path / "tone.png")
    assert code == 0 and out.strip().endswith("tone.png")
    image = Image.open(tmp_path / "tone.png")
    assert image.size == (201, 512)  # 2 s at 10 ms per column
    code, out, _ = run(
        capsys,
        "image-to-audio",
        tmp_path / "tone.png",
        "-o",
        tmp_path / "back.wav",
        "--griffin-lim-iters",
        "4",
    )
    assert code == 0
    data, rate = sf.read(tmp_path / "back.wav")
    assert rate == 44100 and len(data) == 200 * 441


def test_several_inputs_in_one_call(capsys, tmp_path, tone_wav):
    other = save_audio(tmp_path / "other.flac", sine(220.0, 1.0), 44100)
    code, out, _ = run(capsys, "audio-to-image", tone_wav, other, "--out-dir", tmp_path / "imgs", "--stereo")
    assert code == 0 and len(out.split()) == 2
    assert (tmp_path / "imgs" / "other.png").exists()
    images = [tmp_path / "imgs" / "tone.png", tmp_path / "imgs" / "other.png"]
    code, out, _ = run(
        capsys, "image-to-audio", *images, "--out-dir", tmp_path / "wavs", "--griffin-lim-iters", "2"
    )
    assert code == 0
    assert sf.info(tmp_path / "wavs" / "tone.wav").channels == 2


def test_image_to_audio_is_seeded(capsys, tmp_path):
    seed = SEED_DIR / "og_beat.png"
    for name, s in (("a", 1), ("b", 1), ("c", 2)):
        assert (
            run(
                capsys,
                "image-to-audio",
                seed,
                "-o",
                tmp_path / f"{name}.wav",
                "--seed",
                s,
                "--griffin-lim-iters",
                "4",
            )[0]
            == 0
        )
    a, b, c = ((tmp_path / f"{n}.wav").read_bytes() for n in "abc")
    assert a == b and a != c


def test_print_metadata(capsys):
    code, out, _ = run(capsys, "print-metadata", SEED_DIR / "og_beat.png")
    info = json.loads(out)
    assert code == 0 and info["tagged"] and info["sample_rate"] == 44100 and info["duration_s"] == 5.11


def test_generate_and_interpolate_with_a_tiny_model(capsys, tmp_path, tiny_model_dir, narrow_seed):
    seed = narrow_seed
    common = ["--model", tiny_model_dir, "--num-inference-steps", "4", "--seed-image", seed]
    code, out, _ = run(capsys, "generate", "lofi piano", "--seed", "5", "-o", tmp_path / "one.wav", *common)
    assert code == 0 and sf.info(tmp_path / "one.wav").frames == 63 * 441
    code, out, err = run(
        capsys,
        "interpolate",
        "--start",
        "lofi piano",
        "--end",
        "techno",
        "--steps",
        "3",
        "-o",
        tmp_path / "walk.flac",
        "--images-dir",
        tmp_path / "imgs",
        "--mask",
        "keep_low",
        *common,
    )
    assert code == 0, err
    assert sf.info(tmp_path / "walk.flac").frames == 3 * 63 * 441
    assert len(list((tmp_path / "imgs").glob("*.png"))) == 3
    assert "rendering" in err  # the progress bar


def test_chain_loop_and_wider_clips(capsys, tmp_path, tiny_model_dir, narrow_seed):
    common = ["--model", tiny_model_dir, "--num-inference-steps", "3", "--seed-image", narrow_seed]
    clip = 63 * 441  # a 64-column clip
    code, _, err = run(
        capsys, "chain", "a", "b", "c", "--clips-per-hop", "2", "--seeds", "4", "5", "6",
        "-o", tmp_path / "chain.wav", "--continuation", *common,
    )  # fmt: skip
    assert code == 0, err
    # 5 clips, each after the first sharing 16 columns (a quarter) with the one before.
    assert sf.info(tmp_path / "chain.wav").frames == 5 * clip - 4 * 15 * 441
    code, _, err = run(capsys, "loop", "a", "--clips", "3", "-o", tmp_path / "loop.wav", *common)
    assert code == 0, err
    assert sf.info(tmp_path / "loop.wav").frames == 3 * clip
    code, _, err = run(capsys, "generate", "a", "--width", "128", "-o", tmp_path / "wide.wav", *common)
    assert code == 0, err
    assert sf.info(tmp_path / "wide.wav").frames == 127 * 441


ERRORS = [
    (["audio-to-image", "missing.wav"], "no such file"),
    (["audio-to-image", "{badwav}", "-o", "{tmp}/x.png"], "cannot read audio"),
    (["audio-to-image", "{wav}", "{wav2}", "-o", "{tmp}/x.png"], "-o takes one input"),
    (["audio-to-image", "{wav}", "-o", "{wav}"], "overwrite its input"),
    (["image-to-audio", "{badimg}"], "cannot read image"),
    (["image-to-audio", "{seed}", "-o", "{tmp}/x.xyz"], "cannot write"),
    (["image-to-audio", "{seed}", "-o", "{tmp}/x.wav", "--device", "cuda:7"], "device"),
    (["image-to-audio", "{short}", "-o", "{tmp}/x.wav"], "512 frequency bins"),
    (["print-metadata", "{wav}"], "cannot read image"),
    (["generate", "x", "-o", "{tmp}/x.wav", "--seed-image", "nope"], "unknown seed image"),
    (["generate", "x", "-o", "{tmp}/x.wav", "--mask", "nope"], "unknown mask"),
    (["generate", "x", "-o", "{tmp}/x.txt"], "cannot write"),
    (["generate", "x", "-o", "{tmp}/x.wav", "--model", "{tmp}"], "not a diffusers model folder"),
    (["generate", "x", "-o", "{tmp}/x.wav", "--seed", "-3", "--model", "{model}"], "seed"),
    (["generate", "x", "-o", "{tmp}/x.wav", "--denoising", "1.5", "--model", "{model}"], "denoising"),
    (["generate", "(x:99)", "-o", "{tmp}/x.wav", "--model", "{model}"], "prompt weight 99"),
    (
        [
            "interpolate",
            "--start",
            "a",
            "--end",
            "b",
            "-o",
            "{tmp}/x.wav",
            "--steps",
            "0",
            "--model",
            "{model}",
        ],
        "num_clips",
    ),
    (
        ["interpolate", "--start", "a", "--end", "b", "-o", "{tmp}/x.wav", "--model", "nobody/nothing"],
        "cannot load model",
    ),
    (["chain", "a", "b", "--seeds", "1", "-o", "{tmp}/x.wav", "--model", "{model}"], "one seed per prompt"),
    (["chain", "a", "-o", "{tmp}/x.wav", "--model", "{model}"], "2..16 prompts"),
    (["loop", "a", "--clips", "0", "-o", "{tmp}/x.wav", "--model", "{model}"], "1..256"),
    (["generate", "a", "--width", "100", "-o", "{tmp}/x.wav", "--model", "{model}"], "multiple of 8"),
]


@pytest.mark.parametrize("argv,message", ERRORS, ids=[" ".join(a[:1] + [m]) for a, m in ERRORS])
def test_errors_exit_2_with_one_line(capsys, tmp_path, tone_wav, tiny_model_dir, argv, message):
    (tmp_path / "bad.png").write_bytes(b"garbage")
    (tmp_path / "bad.wav").write_bytes(b"garbage")
    short = tmp_path / "short.png"
    Image.new("RGB", (8, 100)).save(short)
    names = {
        "tmp": tmp_path,
        "wav": tone_wav,
        "wav2": save_audio(tmp_path / "b.wav", sine(1.0, 1.0), 44100),
        "seed": SEED_DIR / "og_beat.png",
        "short": short,
        "model": tiny_model_dir,
        "badimg": tmp_path / "bad.png",
        "badwav": tmp_path / "bad.wav",
    }
    argv = [a.format(**names) for a in argv]
    code, out, err = run(capsys, *argv)
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("riff: error:") and message in lines[0]


def test_a_too_narrow_image_stops_the_batch_before_anything_is_written(capsys, tmp_path):
    narrow = tmp_path / "narrow.png"
    Image.new("RGB", (4, 512), (255, 255, 255)).save(narrow)
    code, _, err = run(
        capsys, "image-to-audio", SEED_DIR / "og_beat.png", narrow, "--out-dir", tmp_path / "wavs"
    )
    assert code == 2
    assert err.strip().count("\n") == 0
    assert "narrow.png: a spectrogram 4 columns wide is too narrow to decode: need at least 7" in err
    assert not list((tmp_path / "wavs").glob("*.wav"))


def test_a_real_process_prints_no_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "riff", "image-to-audio", str(tmp_path / "nothing.png")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr


def test_argparse_usage_errors_also_exit_2(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "riff", "interpolate"], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_interpolate_counts_clips_with_clips_and_still_reads_steps(
    capsys, tmp_path, tiny_model_dir, narrow_seed
):
    common = ["--start", "a", "--end", "b", "--model", tiny_model_dir, "--num-inference-steps", "2"]
    common += ["--seed-image", narrow_seed]
    for flag, name in (("--clips", "new.wav"), ("--steps", "old.wav")):
        code, _, err = run(capsys, "interpolate", flag, "2", "-o", tmp_path / name, *common)
        assert code == 0, err
    assert (tmp_path / "new.wav").read_bytes() == (tmp_path / "old.wav").read_bytes()
    assert sf.info(tmp_path / "new.wav").frames == 2 * 63 * 441
    help_text = subprocess.run(
        [sys.executable, "-m", "riff", "interpolate", "--help"], capture_output=True, text=True, cwd=ROOT
    ).stdout
    assert "--clips" in help_text and "--steps" not in help_text  # the old name is read, not shown


def test_studio_hands_the_rest_of_the_command_line_to_the_studio(capsys, monkeypatch):
    import types

    seen = []
    studio = types.ModuleType("riff.studio")
    studio.main = lambda argv, prog: seen.append(argv) or 0
    monkeypatch.setitem(sys.modules, "riff.studio", studio)
    assert main(["studio", "--help"]) == 0
    assert main(["-v", "studio", "--port", "7861", "--share", "x"]) == 0
    assert seen == [["--help"], ["--port", "7861", "--share", "x"]]
    studio.main = lambda argv, prog: 3
    assert main(["studio"]) == 3  # the studio's exit status is the command's


def test_riff_studio_is_the_page_under_its_own_name():
    shown = subprocess.run(
        [sys.executable, "-m", "riff", "studio", "--help"], capture_output=True, text=True, cwd=ROOT
    )
    assert shown.returncode == 0 and shown.stdout.startswith("usage: riff studio")
    assert "--trusted-proxies" in shown.stdout and "--mcp" in shown.stdout


def test_studio_without_its_dependencies_says_what_to_install(capsys, monkeypatch):
    import types

    class NoGradio(types.ModuleType):
        def __getattr__(self, name):
            raise ModuleNotFoundError("No module named 'gradio'", name="gradio")

    monkeypatch.setitem(sys.modules, "riff.studio", NoGradio("riff.studio"))
    code, _, err = run(capsys, "studio")
    assert code == 2 and err.strip() == (
        "riff: error: the studio needs gradio: install riff with its studio extra, riff[studio]"
    )


def test_evaluate_spells_denoising_steps_as_the_render_commands_do():
    from riff.cli import build_parser

    parser = build_parser()
    for flag in ("--num-inference-steps", "--steps"):
        assert parser.parse_args(["evaluate", "data", flag, "7"]).steps == 7
    assert parser.parse_args(["evaluate", "data"]).steps == 25
