"""The studio's budget and fairness as a hostile caller meets them, in one process on a tiny
random model (built here, offline); only 127.0.0.1 is contacted.

    python bench/bench_budget.py [--request-s 20] [--model assets/riff-small] [--json FILE]

Cases: the heaviest legal request of each kind under the calibrated time budget (estimated
against measured seconds, peak and after-request memory, disk), an oversized `/up_next`, an
upload flood, one client with many sessions, a render behind an endless riff (its wait, in
seconds and in the riff's clips). The figures are about the service, not the model: a real
model's clips take longer, and the calibration scales the budget to them.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NARROW = 64  # columns of the fairness cases' clips: quick on any machine
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from reporting import emit  # noqa: E402


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--request-s", type=float, default=20.0, help="the time budget per request")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--quick", action="store_true", help="a short form (the tests' )")
    parser.add_argument(
        "--model", default=None, help="a model folder for the heaviest cases (default: a tiny random one)"
    )
    args = parser.parse_args(argv)

    from riff.serve.budget import reset_peak
    from riff.serve.engine import Engine
    from riff.serve.limits import Limits
    from riff.train.networks import save_tiny_model

    work = Path(tempfile.mkdtemp(prefix="riff-bench-budget-"))
    limits = Limits(request_s=args.request_s)
    model = args.model or str(save_tiny_model(work / "model"))
    engine = Engine(model, root=work / "root", limits=limits)
    report: dict = {"calibration": dataclasses.asdict(engine.measured()), "request_s": args.request_s}
    baseline = settled_mb()  # the model loaded and warm: what a server holds between requests
    reset_peak()
    report["heaviest"] = []
    for _ in range(1 if args.quick else 2):  # a burst: every kind at its heaviest, twice
        report["heaviest"] += heaviest(engine, work, args.quick)
    report["burst"] = burst_memory(baseline, len(report["heaviest"]))
    # The fairness cases measure waits, not the budget: narrow clips, no time budget.
    engine.limits = dataclasses.replace(limits, request_s=float("inf"))
    report["up_next"] = oversized_up_next(engine)
    report["many_sessions"] = many_sessions(engine)
    report["behind_endless"] = behind_endless(engine)
    report["uploads"] = upload_flood(engine, 2 if args.quick else 10)
    engine.close()
    return emit(report, args.json)


def heaviest(engine, work: Path, quick: bool) -> list[dict]:
    """Each kind at the most clips the budget allows (and one more, refused)."""
    from conftest import sine

    from riff.audio.files import save_audio
    from riff.audio.params import CLIP_SECONDS, CLIP_WIDTH
    from riff.request import MAX_SEEDS, PromptEnd, Restyle, Settings, Variations, Walk
    from riff.serve.budget import fitting_clips, peak_mb, reset_peak, resident_mb

    steps, width = 10, CLIP_WIDTH // 4  # narrow clips: the tiny model's Griffin-Lim is most of it
    budget_s = engine.limits.request_s
    full = {
        width: fitting_clips(engine.measured(), steps, width, budget_s),
        # A restyle's segments are clip-wide, and each one's image is encoded too.
        CLIP_WIDTH: fitting_clips(engine.measured(), steps, CLIP_WIDTH, budget_s, encodes=True),
    }
    fit = min(full[width], 3 if quick else 32)
    a, b = PromptEnd("drums", 1), PromptEnd("piano", 2)
    wide = min(full[CLIP_WIDTH], 2 if quick else 32)  # a restyle's segments are clip-wide
    segment = CLIP_SECONDS - Restyle.crossfade_ms / 1000
    # Long enough for one segment more than fits, so that its refusal is the budget's.
    song_s = min((full[CLIP_WIDTH] + 1) * segment + CLIP_SECONDS, engine.limits.audio_s)
    song = save_audio(work / "song.wav", sine(220.0, song_s), 44100)
    kinds = {
        "walk": lambda n: engine.render(
            Walk(a, b, num_clips=n, width=width), Settings(num_inference_steps=steps)
        ),
        "text": lambda n: engine.render(
            Variations(a, tuple(range(n)), width=width), Settings(num_inference_steps=steps)
        ),
        "restyle": lambda n: engine.restyle(
            song,
            Restyle(a, a, 0.0, (n - 1) * segment + CLIP_SECONDS + 0.01),
            Settings(num_inference_steps=steps),
        ),  # n segments (`Restyle.clip_count`), each clip-wide: its own count (`wide`)
    }
    rows = []
    for kind, make in kinds.items():
        columns = CLIP_WIDTH if kind == "restyle" else width
        fit, over = (wide, full[CLIP_WIDTH] + 1) if kind == "restyle" else (fit, full[width] + 1)
        if kind == "text":
            fit = min(fit, MAX_SEEDS)  # its own count limit: more seeds are refused by count
        if fit == 0:  # not even one clip fits this budget on this machine
            rows.append({"kind": kind, "clips": 0, "refused": refused(make, 1)})
            continue
        before = resident_mb()
        reset_peak()
        began = time.perf_counter()
        try:
            results = list(make(fit))
        except ValueError as error:  # a restyle's one clip-long region counts two segments
            rows.append({"kind": kind, "clips": 0, "refused": str(error)})
            continue
        seconds = time.perf_counter() - began
        folder = results[-1].folder
        disk = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6
        refusal = refused(make, over)
        rows.append(
            {
                "kind": kind,
                "clips": fit,
                "estimated_s": round(engine_estimate(engine, fit, steps, columns), 2),
                "seconds": round(seconds, 2),
                "peak_above_mb": round(peak_mb() - before, 1),
                "after_above_mb": round(resident_mb() - before, 1),
                "disk_mb": round(disk, 2),
                "one_more_than_fits": refusal,
            }
        )
    return rows


def settled_mb() -> float:
    """Resident memory once garbage is collected and the heap trimmed, as the engine does when
    its queue empties (`WorkQueue.admit`)."""
    import gc

    from riff.runtime import give_back_memory
    from riff.serve.budget import resident_mb

    gc.collect()
    give_back_memory()
    return resident_mb()


def burst_memory(baseline: float, requests: int) -> dict:
    """Resident memory after a burst of heavy requests against the level before it: the margin
    the README states (`MEMORY_MARGIN_MB`)."""
    from riff.serve.budget import MEMORY_MARGIN_MB, peak_mb

    after = settled_mb()
    return {
        "requests": requests,
        "before_mb": round(baseline, 1),
        "peak_mb": round(peak_mb(), 1),
        "after_mb": round(after, 1),
        "after_above_mb": round(after - baseline, 1),
        "margin_mb": MEMORY_MARGIN_MB,
    }


def refused(make, clips: int) -> str | None:
    """The one line a request of `clips` clips is refused with; None if it ran."""
    try:
        list(make(clips))
    except ValueError as error:
        return str(error)
    return None


def engine_estimate(engine, clips: int, steps: int, width: int) -> float:
    from riff.serve.budget import estimate

    return estimate(engine.measured(), clips, steps, width).seconds


def oversized_up_next(engine) -> dict:
    began = time.perf_counter()
    try:
        engine.up_next.put("big", "x" * 10_000_000)
        answer = "accepted"
    except ValueError as error:
        answer = str(error)
    for i in range(5000):  # more sessions than the server keeps
        engine.up_next.put(f"s{i}", "piano " * 150)
    return {
        "answer": answer,
        "ms": round((time.perf_counter() - began) * 1000, 1),
        "kept": len(engine.up_next),
    }


def many_sessions(engine) -> dict:
    """34 sessions of one address, each asking for a walk while one holds the model."""
    from riff.request import PromptEnd, Settings, Walk
    from riff.serve.engine import Busy

    walk = Walk(PromptEnd("drums"), PromptEnd("piano"), num_clips=2, width=NARROW)
    outcomes: dict[str, str] = {}

    def ask(session: str) -> None:
        try:
            list(engine.render(walk, Settings(num_inference_steps=5), session))
            outcomes[session] = "completed"
        except Busy:
            outcomes[session] = "refused"

    threads = []
    for i in range(34):
        engine.identify(f"tab{i}", "203.0.113.5")
        threads.append(threading.Thread(target=ask, args=(f"tab{i}",)))
    engine.identify("visitor", "198.51.100.1")
    threads.append(threading.Thread(target=ask, args=("visitor",)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    mine = [outcome for session, outcome in outcomes.items() if session != "visitor"]
    return {
        "one_client_completed": mine.count("completed"),
        "one_client_refused": mine.count("refused"),
        "other_client": outcomes.get("visitor"),
    }


def behind_endless(engine) -> dict:
    """A one-clip render asked for while an endless riff plays: its wait, in seconds and clips."""
    from riff.endless import Endless
    from riff.request import PromptEnd, Settings, Walk

    riff = Endless(PromptEnd("lofi beat", 1), clips_per_seed=4, width=NARROW)
    chunks = engine.endless(riff, Settings(num_inference_steps=10, batch_size=1), session="riff")
    made: list[float] = []
    stop = threading.Event()

    def play() -> None:
        for _ in chunks:
            made.append(time.perf_counter())
            if stop.is_set() or len(made) > 200:
                break
        chunks.close()

    player = threading.Thread(target=play)
    player.start()
    while len(made) < 3 and player.is_alive():
        time.sleep(0.01)
    clip_s = (made[-1] - made[0]) / (len(made) - 1)
    asked, before = time.perf_counter(), len(made)
    walk = Walk(PromptEnd("drums"), PromptEnd("piano"), num_clips=1, width=NARROW)
    list(engine.render(walk, Settings(num_inference_steps=10, batch_size=1), "short"))
    waited = time.perf_counter() - asked
    riff_clips = len(made) - before
    stop.set()
    player.join(120)
    return {"wait_s": round(waited, 2), "riff_clip_s": round(clip_s, 2), "riff_clips_meanwhile": riff_clips}


def upload_flood(engine, requests: int) -> dict:
    """`requests` upload requests of 8 files x 10 MB against the served studio."""
    import httpx
    from conftest import serve
    from gradio.utils import get_upload_folder

    from riff.studio import build_app

    folder = Path(get_upload_folder())
    size = lambda: sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6  # noqa: E731
    before = size()
    statuses: list[int] = []
    payload = [("files", (f"{i}.wav", b"\0" * 10_000_000)) for i in range(8)]
    with serve(build_app(engine)) as site:
        began = time.perf_counter()
        for _ in range(requests):
            statuses.append(httpx.post(site + "gradio_api/upload", files=payload, timeout=120).status_code)
        seconds = time.perf_counter() - began
    return {
        "requests": requests,
        "statuses": sorted(set(statuses)),
        "seconds": round(seconds, 2),
        "disk_added_mb": round(size() - before, 1),
    }


if __name__ == "__main__":
    main()
