"""The studio under load, as a public Space meets it: many users, raw REST callers, hostile
requests and clients that leave mid-request, against `python app.py` on 127.0.0.1.

    python bench/bench_service.py [--users 20] [--requests 10] [--json FILE]

A tiny random model (built here, offline) keeps the renders short, so the figures are about
the service: requests completed, refused (queue full, 503), rejected as they should be (4xx or
a one-line error) and failed (anything else: a 500 or a traceback, a hang); latency p50/p95 of
the completed ones; the server's memory and open files, and the size of its temporary folder,
before and after. Only 127.0.0.1 is contacted; every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from reporting import emit  # noqa: E402

DEADLINE_S = 600  # the whole run, whatever happens


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--users", type=int, default=20, help="concurrent clients, half of them raw REST callers"
    )
    parser.add_argument("--requests", type=int, default=10, help="requests per client")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="riff-bench-service-"))
    server = Server(work)
    try:
        server.start()
        before = server.measure()
        results = run_clients(server.url, work, args.users, args.requests)
        after = server.settle()
    finally:
        server.stop()
    report = summarise(results, before, after)
    report["temp_mb_after_stop"] = round(folder_mb(server.tmp), 3)
    return emit(report, args.json)


class Server:
    """`python app.py` with a tiny model, its temporary files in a folder of their own."""

    def __init__(self, work: Path, env: dict[str, str] | None = None) -> None:
        from riff.train.networks import save_tiny_model

        # Every simulated user calls from 127.0.0.1: the per-address caps would see one client.
        self.env = {"RIFF_MAX_CLIENT_QUEUE": "64", "RIFF_MAX_CLIENT_ENDLESS": "64", **(env or {})}

        self.model = save_tiny_model(work / "model")
        self.tmp = work / "tmp"
        self.tmp.mkdir()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/"

    def start(self) -> None:
        import httpx

        env = {**os.environ, "TMPDIR": str(self.tmp), "GRADIO_TEMP_DIR": str(self.tmp / "gradio")}
        env.update({"HF_HUB_OFFLINE": "1", "RIFF_MAX_QUEUE": "8", "GRADIO_ANALYTICS_ENABLED": "False"})
        env.update(self.env)
        command = [sys.executable, str(ROOT / "app.py"), "--model", str(self.model), "--port", str(self.port)]
        self.log = open(self.tmp.parent / "server.log", "w")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "config", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.5)
        raise RuntimeError(f"the studio did not start; see {self.log.name}")

    def measure(self) -> dict:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        rss_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")))
        files = len(os.listdir(f"/proc/{self.process.pid}/fd"))
        return {
            "rss_mb": round(rss_kb / 1024, 1),
            "open_files": files,
            "temp_mb": round(folder_mb(self.tmp), 3),
            "temp_parts_mb": {p.name: round(folder_mb(p), 3) for p in self.tmp.iterdir() if p.is_dir()},
        }

    def settle(self, wait_s: float = 60.0) -> dict:
        """Measure once the closed pages' sessions are gone (Gradio notices a page has left
        on its next heartbeat check), or after `wait_s`."""
        start = time.monotonic()
        while True:
            figures = self.measure()
            studio = sum(
                mb for name, mb in figures["temp_parts_mb"].items() if name.startswith("riff-studio")
            )
            if studio == 0 or time.monotonic() - start > wait_s:
                return {**figures, "settled_after_s": round(time.monotonic() - start, 1)}
            time.sleep(1)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def run_clients(url: str, work: Path, users: int, requests: int) -> list[tuple[str, str, float, str]]:
    """(kind, outcome, seconds, detail) per request; outcome is completed, refused (queue full),
    rejected (a hostile request refused as it should be), left (the client gave up) or failed."""
    results: list[tuple[str, str, float, str]] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + DEADLINE_S

    def record(kind: str, outcome: str, seconds: float, detail: str = "") -> None:
        with lock:
            results.append((kind, outcome, seconds, detail[:200]))

    threads = [
        threading.Thread(
            target=(page_user if i % 2 == 0 else rest_caller), args=(url, work, i, requests, record, stop_at)
        )
        for i in range(users)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(1.0, stop_at - time.monotonic()))
    return results


def page_user(url, work, index, requests, record, stop_at) -> None:
    """A gradio_client user: text to audio, image to audio, and the odd hostile file input."""
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    from riff.seed_images import SEED_DIR

    rng = random.Random(index)
    client = Client(url, verbose=False, download_files=str(work / f"downloads-{index}"))
    try:
        for n in range(requests):
            if time.monotonic() > stop_at:
                break
            hostile = rng.random() < 0.2
            start = time.monotonic()
            try:
                if hostile:
                    client.predict(image={"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}},
                                   api_name="/image_to_audio")  # fmt: skip
                elif n % 2:
                    client.predict(
                        image=handle_file(str(SEED_DIR / "vibes.png")), seed=n, api_name="/image_to_audio"
                    )
                else:
                    client.predict(
                        prompt="drums", seed=n, num_seeds=1, num_inference_steps=5, api_name="/generate"
                    )
                record("page", "failed" if hostile else "completed", time.monotonic() - start)
            except AppError as error:
                one_line = "\n" not in str(error) and "Traceback" not in str(error)
                busy = "busy" in str(error) or "queue is full" in str(error).lower()
                outcome = "refused" if busy else ("rejected" if hostile and one_line else "failed")
                record("page", outcome, time.monotonic() - start, str(error))
            except Exception as error:  # noqa: BLE001 (anything else is a failure to count)
                refused = "queue is full" in str(error).lower()
                record("page", "refused" if refused else "failed", time.monotonic() - start, repr(error))
    finally:
        client.close()  # the page goes away: its session's files are deleted


def rest_caller(url, work, index, requests, record, stop_at) -> None:
    """A raw REST caller: /run_inference/, some requests hostile, some abandoned mid-way."""
    import httpx

    rng = random.Random(1000 + index)
    good = {"alpha": 0.5, "num_inference_steps": 5, "start": {"prompt": "drums", "seed": 1},
            "end": {"prompt": "piano", "seed": 2}}  # fmt: skip
    hostile = [
        {**good, "seed_image_id": "/etc/passwd"},
        {**good, "num_inference_steps": 10**6},
        {**good, "start": {"prompt": "", "seed": 1}},
        "not json",
        {**good, "padding": "x" * 200_000},
    ]
    for _ in range(requests):
        if time.monotonic() > stop_at:
            break
        roll = rng.random()
        payload = rng.choice(hostile) if roll < 0.3 else good
        body = payload if isinstance(payload, str) else json.dumps(payload)
        start = time.monotonic()
        try:
            timeout = 0.2 if 0.3 <= roll < 0.4 else 120  # a client that leaves mid-request
            response = httpx.post(url + "run_inference/", content=body, timeout=timeout,
                                  headers={"content-type": "application/json"})  # fmt: skip
        except httpx.TimeoutException:
            record("rest", "left", time.monotonic() - start)
            continue
        except httpx.HTTPError as error:
            record("rest", "failed", time.monotonic() - start, repr(error))
            continue
        seconds = time.monotonic() - start
        try:
            error = response.json().get("error", "")
        except ValueError:
            error = None
        if response.status_code == 200 and payload is good:
            outcome = "completed"
        elif response.status_code == 503:
            outcome = "refused"
        elif payload is not good and response.status_code in (400, 413) and error and "\n" not in error:
            outcome = "rejected"
        else:
            outcome = "failed"
        record("rest", outcome, seconds, f"{response.status_code} {error}")


def summarise(results: list[tuple[str, str, float, str]], before: dict, after: dict) -> dict:
    counts: dict[str, int] = {}
    for _, outcome, _, _ in results:
        counts[outcome] = counts.get(outcome, 0) + 1
    done = sorted(seconds for _, outcome, seconds, _ in results if outcome == "completed")
    quantile = (
        (lambda q: round(statistics.quantiles(done, n=100)[q - 1], 2)) if len(done) >= 2 else (lambda q: None)
    )
    return {
        "requests": len(results),
        **{k: counts.get(k, 0) for k in ("completed", "refused", "rejected", "left", "failed")},
        "latency_p50_s": quantile(50),
        "latency_p95_s": quantile(95),
        "before": before,
        "after": after,
        "failures": sorted(
            {f"{kind}: {detail}" for kind, outcome, _, detail in results if outcome == "failed"}
        )[:10],
    }


if __name__ == "__main__":
    report = main()
    sys.exit(1 if report["failed"] else 0)
