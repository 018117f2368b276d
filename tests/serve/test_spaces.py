"""ZeroGPU on Spaces (`riff.serve.spaces`): how long each call borrows a GPU, read from its request."""

from __future__ import annotations

import sys
import types

from riff.models import (
    BUNDLED_MODEL,
    recommended_steps,
)
from riff.serve import spaces as zero_gpu
from riff.serve.spaces import GPU_SECONDS, gpu_duration, gpu_seconds


def test_gpu_seconds_grows_with_the_request_and_is_clamped(monkeypatch):
    low, high = GPU_SECONDS
    base = gpu_seconds(8, 50, 512)
    assert gpu_seconds(16, 50, 512) > base
    assert gpu_seconds(8, 100, 512) > base
    assert gpu_seconds(8, 50, 1024) > base
    for clips in range(1, 40):
        assert gpu_seconds(clips, 50) <= gpu_seconds(clips + 1, 50)
    assert gpu_seconds(1000, 1000, 4096) == high
    assert gpu_seconds(0, 0, 0) >= low  # nonsense sizes still give a usable duration
    assert isinstance(base, int)
    monkeypatch.setattr(zero_gpu, "GPU_SETUP_S", 0.0)
    assert gpu_seconds(1, 1, 8) == low


def test_gpu_seconds_fits_the_public_work_limit():
    # The studio's largest request (RIFF_MAX_WORK: clips x steps x width / 512 <= 3200) fits.
    from riff.serve.limits import Limits

    work = Limits().work
    assert gpu_seconds(32, work // 32, 512) < GPU_SECONDS[1]
    assert gpu_seconds(8, work // 32, 2048) < GPU_SECONDS[1]


def test_gpu_duration_reads_the_handlers_arguments():
    class Handlers:
        def walk(self, prompt: str, num_clips: int = 5, num_inference_steps=None, width: int = 512):
            pass

        def chain(self, prompts: list, clips_per_hop: int = 4, num_inference_steps=None):
            pass

    studio = Handlers()
    walk = gpu_duration(Handlers.walk, "num_clips", default_steps=50)
    assert walk(studio, "a") == gpu_seconds(5, 50, 512)
    assert walk(studio, "a", 12, 30, 1024) == gpu_seconds(12, 30, 1024)
    assert walk(studio, "a", num_clips=12.0, width=1024) == gpu_seconds(12, 50, 1024)
    hops = gpu_duration(Handlers.chain, lambda a: a["clips_per_hop"] * (len(a["prompts"]) - 1), width=None)
    assert hops(studio, [["a", 1], ["b", 2], ["c", 3]], 4, 20) == gpu_seconds(8, 20, 512)
    # A request that cannot be read gets spaces.GPU's default; the handler refuses it itself.
    assert walk(studio, "a", "many") == zero_gpu.GPU_FALLBACK_S
    assert walk(studio) == zero_gpu.GPU_FALLBACK_S


def test_gpu_duration_default_steps_follow_the_model(space):
    """Steps left to the model are the studio's engine's model's (a handler's `self`), the
    bundled model's without one: never a variable the library reads itself."""
    space.setenv("RIFF_MODEL", "someone/elsewhere")

    def generate(prompt: str, num_seeds: int = 4, num_inference_steps=None):
        pass

    class Page:
        engine = types.SimpleNamespace(default_steps=7)

        def generate(self, prompt: str, num_seeds: int = 4, num_inference_steps=None):
            pass

    steps = recommended_steps(str(BUNDLED_MODEL))
    assert gpu_duration(generate, "num_seeds", width=None)("x") == gpu_seconds(4, steps)
    assert gpu_duration(Page.generate, "num_seeds", width=None)(Page(), "x") == gpu_seconds(4, 7)
    assert gpu_seconds(4, 7) != gpu_seconds(4, steps)


def test_the_studio_asks_zerogpu_for_each_requests_duration(monkeypatch):
    """With a stand-in `spaces` package, every GPU handler of the page is wrapped in
    spaces.GPU with a duration read from its own request; the handler still runs as it is."""
    import importlib

    asked: dict[str, object] = {}
    module = types.ModuleType("spaces")

    def GPU(duration):  # noqa: N802 (the package's name)
        def wrap(fn):
            asked[fn.__name__] = duration
            return fn

        return wrap

    module.GPU = GPU
    monkeypatch.setitem(sys.modules, "spaces", module)
    from riff.studio import clips, edge, handlers, restyle, walks

    def reload() -> None:  # the handlers' classes, decorated again with what `spaces` is now
        for module in (edge, walks, clips, restyle, handlers):
            importlib.reload(module)

    try:
        reload()
        assert {"interpolate", "generate", "chain", "loop", "audio_to_audio", "teach"} <= set(asked)
        studio = handlers.Studio(None)
        assert asked["interpolate"](studio, "a", 1, "b", 2, 8, 20) == gpu_seconds(8, 20, 512)
        assert asked["loop"](studio, "a", 0, 3, 10, width=1024) == gpu_seconds(3, 10, 1024)
        assert asked["chain"](
            studio, [["a", 0], ["b", 1], ["c", 2]], 4, num_inference_steps=10
        ) == gpu_seconds(9, 10, 512)
        assert asked["interpolate"](studio, "a", 1, "b", 2, 64, 100) > asked["interpolate"](
            studio, "a", 1, "b", 2
        )
    finally:
        monkeypatch.delitem(sys.modules, "spaces")
        reload()
