"""Process-wide settings: torch's threads, chosen at the entry points and overridable."""

from __future__ import annotations

import types

import pytest
import torch

from riff.cli import main as cli_main
from riff.models import model_name
from riff.runtime import choose_threads, set_threads, usable_cores


@pytest.fixture(autouse=True)
def two_threads(monkeypatch):
    """Each test starts with torch on 2 threads and no thread settings in the environment, and
    leaves torch as it found it."""
    before = torch.get_num_threads()
    for name in ("RIFF_THREADS", "OMP_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_one_thread_on_a_small_cpu_and_one_core_spare_on_larger_ones():
    assert choose_threads(environ={}, cores=1) == 1
    assert choose_threads(environ={}, cores=2) == 1
    assert choose_threads(environ={}, cores=8, torch_default=8) == 7
    assert choose_threads(environ={}, cores=16, torch_default=8) == 8  # torch's physical cores


def test_the_flag_wins_then_riff_threads_then_a_users_omp_setting():
    assert choose_threads(3, environ={"RIFF_THREADS": "2", "OMP_NUM_THREADS": "4"}, cores=2) == 3
    assert choose_threads(environ={"RIFF_THREADS": "2", "OMP_NUM_THREADS": "4"}, cores=2) == 2
    assert choose_threads(environ={"OMP_NUM_THREADS": "4"}, cores=2) is None  # torch read it
    with pytest.raises(ValueError, match="RIFF_THREADS='many'"):
        choose_threads(environ={"RIFF_THREADS": "many"}, cores=2)
    with pytest.raises(ValueError, match="got 0"):
        choose_threads(0, environ={}, cores=2)


def test_a_containers_cpu_quota_caps_the_cores(tmp_path):
    quota = tmp_path / "cpu.max"
    quota.write_text("150000 100000\n")  # 1.5 CPUs
    assert usable_cores(quota) == min(2, usable_cores(tmp_path / "absent"))
    quota.write_text("max 100000\n")
    assert usable_cores(quota) == usable_cores(tmp_path / "absent") >= 1


def test_set_threads_applies_the_choice_and_leaves_omp_to_torch():
    assert set_threads(1, environ={}) == torch.get_num_threads() == 1
    torch.set_num_threads(2)
    assert set_threads(None, environ={"OMP_NUM_THREADS": "2"}) == torch.get_num_threads() == 2


def test_the_cli_sets_threads_before_its_command(capsys, tmp_path, monkeypatch):
    missing = tmp_path / "missing.png"
    assert cli_main(["--threads", "1", "image-to-audio", str(missing), "-o", str(tmp_path / "x.wav")]) == 2
    assert torch.get_num_threads() == 1  # set, though the command itself then failed
    torch.set_num_threads(2)
    monkeypatch.setenv("RIFF_THREADS", "1")
    cli_main(["image-to-audio", str(missing), "-o", str(tmp_path / "x.wav")])
    assert torch.get_num_threads() == 1
    monkeypatch.setenv("RIFF_THREADS", "lots")
    capsys.readouterr()
    assert cli_main(["image-to-audio", str(missing), "-o", str(tmp_path / "x.wav")]) == 2
    err = capsys.readouterr().err
    assert err == "riff: error: RIFF_THREADS='lots': use a whole number of threads, 1 or more\n"


def test_the_studio_sets_threads_before_it_serves(monkeypatch):
    import uvicorn

    from riff import studio
    from riff.serve.limits import Limits
    from riff.studio import server

    served, engines, apps = [], [], []

    class Engine:
        def __init__(self, model, device, root=None, lora_dir=None, compile=None):
            engines.append((model, compile))
            self.root = root
            self.model = types.SimpleNamespace(describe=lambda: "a fake model")
            self.limits = Limits()

        def close(self):
            pass

    monkeypatch.setattr(server, "Engine", Engine)
    monkeypatch.setattr(server, "build_app", lambda engine, **options: apps.append(options) or "the app")
    monkeypatch.setattr(server, "keep_trimmed", lambda folder, max_bytes, skip: None)
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.append(torch.get_num_threads()))
    studio.main(["--threads", "1"])
    torch.set_num_threads(2)
    monkeypatch.setenv("RIFF_THREADS", "1")
    studio.main([])
    assert served == [1, 1]  # chosen before the server ran
    # The studio's entry point reads the environment and hands it on; the library reads none.
    assert engines[0] == (model_name(), None) and apps[0]["cors_origins"] == ("*",)
    monkeypatch.setenv("RIFF_MODEL", "someone/elsewhere")
    monkeypatch.setenv("RIFF_COMPILE", "reduce-overhead")
    monkeypatch.setenv("RIFF_CORS_ORIGINS", "https://a.example, https://b.example")
    studio.main([])
    assert engines[-1] == ("someone/elsewhere", "reduce-overhead")
    assert apps[-1]["cors_origins"] == ("https://a.example", "https://b.example")
    monkeypatch.setenv("RIFF_COMPILE", "fast")
    with pytest.raises(SystemExit):  # a bad setting: one line before any work
        studio.main([])
    monkeypatch.delenv("RIFF_COMPILE")
    monkeypatch.setenv("RIFF_THREADS", "0")
    with pytest.raises(SystemExit):  # argparse's one-line error, exit status 2
        studio.main([])
