"""The package as a user installs it: a wheel built from the tree, installed in a fresh virtual
environment, renders from another folder with the bundled model and seed images it carries."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GENERATE = [
    "generate", "solo piano", "-o", "out.wav", "--num-inference-steps", "3", "--width", "64",
    "--seed-image", "og_beat", "--mask", "keep_low", "--seed", "3",
]  # fmt: skip


def _run(argv: list, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "RIFF_MODEL", "SPACE_ID")}
    clean.update(HF_HUB_OFFLINE="1", **env)
    done = subprocess.run(argv, cwd=cwd, env=clean, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with riff installed from a wheel of this tree; its other packages are this
    environment's (a .pth file), so nothing is downloaded."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("riff", "assets"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    _run(
        [*pip, "wheel", "-q", "--no-index", "--no-deps", "--no-build-isolation", "-w", tmp / "dist", src], tmp
    )
    (wheel,) = (tmp / "dist").glob("riff-*.whl")

    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], tmp)
    python = venv / "bin" / "python"
    purelib = _run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], tmp)
    parent = [*site.getsitepackages(), sysconfig.get_path("purelib")]
    (Path(purelib.stdout.strip()) / "_parent_env.pth").write_text("\n".join(dict.fromkeys(parent)) + "\n")
    _run([*pip, "--python", python, "install", "-q", "--no-index", "--no-deps", wheel], tmp)
    return venv


@pytest.mark.slow
def test_the_wheel_carries_the_model_and_seed_images(installed, tmp_path):
    python = installed / "bin" / "python"
    code = "import riff, riff.models, riff.seed_images; print(riff.models.BUNDLED_MODEL); print(riff.seed_images.SEED_DIR)"
    model, seeds = map(Path, _run([python, "-c", code], tmp_path).stdout.split())
    assert model.is_relative_to(installed.resolve()) and seeds.is_relative_to(installed.resolve())
    assert (model / "riff.json").is_file() and (model / "unet" / "config.json").is_file()
    assert {p.name for p in seeds.glob("*.png")} == {
        p.name for p in (ROOT / "assets/seed_images").glob("*.png")
    }
    assert {p.name for p in (seeds / "masks").glob("*.png")} == {
        p.name for p in (ROOT / "assets/seed_images/masks").glob("*.png")
    }


@pytest.mark.slow
def test_riff_generate_from_another_folder_matches_the_checkout(installed, tmp_path):
    """The installed `riff` command, run where no checkout is, renders the same bytes as the
    checkout's `python -m riff` with the same arguments."""
    elsewhere, here = tmp_path / "elsewhere", tmp_path / "here"
    elsewhere.mkdir()
    here.mkdir()
    _run([installed / "bin" / "riff", *GENERATE], elsewhere)
    _run([sys.executable, "-m", "riff", *GENERATE[:3], str(here / "out.wav"), *GENERATE[4:]], ROOT)
    assert (elsewhere / "out.wav").stat().st_size > 1000
    assert (elsewhere / "out.wav").read_bytes() == (here / "out.wav").read_bytes()


def test_requirements_txt_is_pyprojects_studio_list():
    """Spaces installs requirements.txt before the repository is there, so it cannot say
    `-e .[studio]`; it must list exactly pyproject.toml's dependencies and studio extra."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["studio"]]
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    listed = [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]
    assert sorted(listed) == sorted(wanted)
