"""The folders are the layers and every import points down: riff/audio (no model) below the core
below riff/serve (the public service), with riff/train beside the service, and riff/studio (the
Gradio page) on top. Read from the source
with `ast`, function-level imports included, so a lazy import cannot hide an upward reach."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

RIFF = Path(__file__).resolve().parent.parent / "riff"

# Entry points may reach any layer; each one is listed with the reason.
ENTRY_POINTS = {
    "riff.__main__": "python -m riff runs the CLI",
    "riff.cli": "the riff command runs riff.train's commands and starts the studio (riff studio)",
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(RIFF.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(RIFF.rglob("*.py"))}


def _imports(name: str) -> set[str]:
    """The riff modules `name` imports (`from riff import x` counts as riff.x when x is a module)."""
    found = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "riff")
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and (node.module or "").split(".")[0] == "riff"
        ):
            subs = {f"{node.module}.{a.name}" for a in node.names} & MODULES.keys()
            found.update(subs or {node.module})
    return found - {name}


GRAPH = {name: _imports(name) for name in MODULES}


def _layer(name: str) -> str:
    for layer in ("audio", "serve", "train", "studio"):
        if name == f"riff.{layer}" or name.startswith(f"riff.{layer}."):
            return layer
    return "core"


def _reaches(name: str, layers: set[str], allowed: set[str] = frozenset()) -> list[str]:
    return sorted(t for t in GRAPH[name] if t in MODULES and _layer(t) in layers and t not in allowed)


def test_the_graph_is_read():
    assert "riff.audio.spectrogram" in GRAPH["riff.render"]
    assert "riff.serve.engine" in GRAPH["riff.studio.server"]
    assert "riff.render" in GRAPH["riff.cli"]  # imported inside a function
    assert "riff.interp" in GRAPH["riff.request"]  # `from riff import interp`


@pytest.mark.parametrize("name", [n for n in MODULES if _layer(n) == "audio"])
def test_audio_imports_nothing_of_riff_outside_it(name):
    outside = sorted(t for t in GRAPH[name] if _layer(t) != "audio" and t != "riff")
    assert not outside, f"{name} reaches up to {outside}"


@pytest.mark.parametrize("name", [n for n in MODULES if _layer(n) == "core" and n not in ENTRY_POINTS])
def test_core_imports_neither_serve_nor_train(name):
    assert not _reaches(name, {"serve", "train"}), f"{name} reaches up"


def test_the_cli_renders_without_the_server():
    """request -> render -> track, with no queue, limits or session folders in between; the
    server's modules come only with the studio, which `riff studio` imports when it starts it."""
    assert not _reaches("riff.cli", {"serve"})
    assert any(_in_studio(t) for t in GRAPH["riff.cli"])
    assert not any(_in_studio(t) for t in _top_level_imports("riff.cli"))


def _in_studio(name: str) -> bool:
    return name == "riff.studio" or name.startswith("riff.studio.")


def _top_level_imports(name: str) -> set[str]:
    """The riff modules `name` imports when it is imported (not inside a function)."""
    tree = ast.parse(MODULES[name].read_text())
    return {
        node.module
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("riff")
    } | {a.name for node in tree.body if isinstance(node, ast.Import) for a in node.names}


@pytest.mark.parametrize("name", [n for n in MODULES if _layer(n) == "serve"])
def test_serve_does_not_import_train(name):
    assert not _reaches(name, {"train"})


@pytest.mark.parametrize("name", [n for n in MODULES if _layer(n) != "studio" and n not in ENTRY_POINTS])
def test_nothing_below_imports_the_studio(name):
    assert not _reaches(name, {"studio"}), f"{name} reaches up to the page"


@pytest.mark.parametrize("name", [n for n in MODULES if _layer(n) == "studio"])
def test_the_studio_does_not_import_train(name):
    assert not _reaches(name, {"train"})


def test_no_import_cycles():
    cycles, state = [], {}

    def visit(name: str, path: list[str]) -> None:
        state[name] = "open"
        for t in sorted(GRAPH[name] & MODULES.keys()):
            if state.get(t) == "open":
                cycles.append(path[path.index(t) :] + [t])
            elif t not in state:
                visit(t, [*path, t])
        state[name] = "done"

    for name in MODULES:
        if name not in state:
            visit(name, [name])
    assert not cycles, " ; ".join(" -> ".join(c) for c in cycles)


# Environment variables are read where the program starts, and passed on from there.
READS_THE_ENVIRONMENT = {
    "riff.cli": "the CLI's defaults (RIFF_MODEL, RIFF_COMPILE, RIFF_SOUNDFONT, RIFF_THREADS)",
    "riff.studio.server": "the studio's options (host, port, proxies, model, compile, CORS, LoRAs)",
    "riff.serve.limits": "Limits.from_env: the RIFF_MAX_* variables",
}


def _environment_reads(name: str) -> list[int]:
    """Lines of `name` that read `os.environ` or call `os.getenv`/`os.environ.get`."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(MODULES[name].read_text()))
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "putenv")
    ]


def test_the_environment_is_read_by_the_entry_points_only():
    assert all(_environment_reads(name) for name in READS_THE_ENVIRONMENT)  # the check sees them
    readers = {name: lines for name in MODULES if (lines := _environment_reads(name))}
    assert set(readers) <= set(READS_THE_ENVIRONMENT), readers
