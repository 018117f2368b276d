"""torch's CPU threads on a shared machine: one `riff generate` with 1 and with N threads, idle
and beside a CPU-bound process, in the same run.

    nice -n 10 python bench/bench_threads.py                  # riff-small, 1 and 2 threads
    python bench/bench_threads.py --threads 1 2 4 --repeat 3

Each figure is the wall time of the whole command (start, model load, one clip, phase
retrieval, the file), the best of --repeat runs, the runs of every setting interleaved so that
a machine whose load drifts hurts them alike. "Beside a busy core" starts
`python -c 'while 1: pass'` for the run. Prints a table; what riff picks by itself is marked.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from riff.runtime import choose_threads, usable_cores  # noqa: E402

SPIN = "while 1: pass"


def run_once(threads: int, busy: bool, prompt: str, out: Path) -> float:
    """Seconds for one `riff --threads N generate`, beside a spinning process if `busy`."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "RIFF_THREADS")}
    command = [sys.executable, "-m", "riff", "--threads", str(threads), "generate", prompt, "-o", str(out)]
    spinner = subprocess.Popen([sys.executable, "-c", SPIN]) if busy else None
    try:
        began = time.perf_counter()
        subprocess.run(command, env=env, cwd=ROOT, check=True, capture_output=True)
        return time.perf_counter() - began
    finally:
        if spinner is not None:
            spinner.kill()
            spinner.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--prompt", default="drum beat")
    args = parser.parse_args()

    cores = usable_cores()
    chosen = choose_threads(environ={}, cores=cores, torch_default=cores)
    best: dict[tuple[int, bool], float] = {}
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "clip.wav"
        for _ in range(args.repeat):
            for threads in args.threads:
                for busy in (False, True):
                    seconds = run_once(threads, busy, args.prompt, out)
                    best[threads, busy] = min(best.get((threads, busy), seconds), seconds)
                    print(f"  {threads} thread(s), {'busy' if busy else 'idle'}: {seconds:.1f} s", flush=True)

    print(f"\n{cores} usable cores; riff picks {chosen} thread(s) here")
    print("| torch threads | idle | beside a busy core | slowdown |")
    print("|---|---|---|---|")
    for threads in args.threads:
        idle, busy = best[threads, False], best[threads, True]
        mark = " (riff's choice)" if threads == chosen else ""
        print(f"| {threads}{mark} | {idle:.1f} s | {busy:.1f} s | {busy / idle:.1f}x |")


if __name__ == "__main__":
    main()
