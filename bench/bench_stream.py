"""The endless riff as a browser receives it: is the stream the page plays the track riff made?

    python bench/bench_stream.py [--model FOLDER] [--seconds 30] [--width 512] [--json FILE]

Serves the studio on 127.0.0.1, presses Play as the page does (Gradio's queue: join, then read
the event stream), and, like the page's HLS player, polls the playlist the audio output points
at and fetches every AAC segment as it appears, until the playlist ends (at `--seconds` of music,
the studio's endless limit for this run). The segments, joined in playlist order, are decoded
with ffmpeg and compared with the chunks riff's engine handed to the page (recorded in process):

- alignment: the encoder's priming delay, then the drift of every 0.5 s block of music against
  the track (a gap or a repeat at a chunk join shifts every block after it);
- gaps: 20 ms windows that are 12 dB or more quieter than the track's, where it is loud;
- level steps: the largest change of level between neighbouring 20 ms windows of the stream
  across a chunk join, against the largest inside the chunks of riff's own track;
- the same checks on the chunks encoded one encoder per chunk, as Gradio did before 6.27
  ("one encoder per stream", gradio PR 13820): the control that shows the checks can fail.

Needs ffmpeg. The model defaults to a tiny random one built here (the stream does not care
what the music is); `--model` loads a diffusers folder, such as assets/riff-small.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urljoin

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # conftest.serve: the app on a free local port
sys.path.insert(0, str(Path(__file__).resolve().parent))
from reporting import emit  # noqa: E402

RATE = 44100  # riff's sample rate, an ADTS rate: the encoder does not resample
WINDOW = 882  # 20 ms, for levels
BLOCK = RATE // 2  # 0.5 s, for drift
SEARCH = 4096  # samples of drift looked for either way (a 68 ms gap is 3000)
GAP_DB = 12.0
LOUD_DB = 40.0  # windows within this of the track's loudest are "loud"


def recording_engine(model, root: Path, seconds: float, width: int | None):
    """A studio engine that keeps every chunk it streams (`.chunks`), its endless riffs
    `width` columns wide if given, stopping after `seconds` of music."""
    from riff.serve.engine import Engine
    from riff.serve.limits import Limits

    class Recording(Engine):
        chunks: list[np.ndarray] = []

        def endless(self, endless, *args, **kwargs):
            if width is not None:
                endless = dataclasses.replace(endless, width=width)
            for chunk in super().endless(endless, *args, **kwargs):
                self.chunks.append(chunk.audio.numpy().astype(np.float32))
                yield chunk

    return Recording(model, root=root, limits=dataclasses.replace(Limits(), endless_s=seconds))


def press_play(url: str, inputs: list, session: str, found: dict, timeout_s: float) -> None:
    """Join the endless riff's queue as the page does and read its event stream to the end;
    `found["playlist"]` is set to the audio output's playlist URL as soon as it is sent."""
    config = httpx.get(urljoin(url, "config"), timeout=30).json()
    event = next(d for d in config["dependencies"] if d.get("api_name") == "endless")
    body = {"data": inputs, "fn_index": event["id"], "session_hash": session, "event_data": None}
    httpx.post(urljoin(url, "gradio_api/queue/join"), json=body, timeout=30).raise_for_status()
    params = {"session_hash": session}
    with httpx.stream("GET", urljoin(url, "gradio_api/queue/data"), params=params, timeout=timeout_s) as sse:
        for line in sse.iter_lines():
            if not line.startswith("data:"):
                continue
            message = json.loads(line[5:])
            data = (message.get("output") or {}).get("data") or []
            if data and isinstance(data[0], dict) and str(data[0].get("url", "")).endswith(".m3u8"):
                found.setdefault("playlist", data[0]["url"])
            if message.get("msg") == "process_completed":
                found["success"] = message.get("success")
                found["error"] = (message.get("output") or {}).get("error")
                return


def receive(url: str, inputs: list, timeout_s: float = 600.0) -> tuple[list[bytes], str]:
    """Play the endless riff and fetch its segments as an HLS player does; returns them in
    playlist order and the last playlist."""
    found: dict = {}
    play = threading.Thread(
        target=press_play, args=(url, inputs, "benchstream", found, timeout_s), daemon=True
    )
    play.start()
    segments: dict[str, bytes] = {}
    order: list[str] = []
    playlist = ""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=30) as http:
        while time.monotonic() < deadline:
            if "playlist" in found:
                playlist = http.get(found["playlist"]).text
                for name in [line for line in playlist.splitlines() if line and not line.startswith("#")]:
                    if name not in segments:
                        segments[name] = http.get(urljoin(found["playlist"], name)).content
                        order.append(name)
                if "#EXT-X-ENDLIST" in playlist:
                    break
            elif not play.is_alive():
                break
            time.sleep(0.5)
    play.join(timeout=30)
    if found.get("success") is False:
        raise RuntimeError(f"the endless riff failed: {found.get('error')}")
    if "#EXT-X-ENDLIST" not in playlist:
        raise RuntimeError("the stream's playlist never ended")
    return [segments[name] for name in order], playlist


def decode_adts(data: bytes, channels: int) -> np.ndarray:
    """ADTS AAC bytes to (channels, samples) float32 at 44.1 kHz, with ffmpeg."""
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-f", "aac", "-i", "pipe:0"]
        + ["-f", "f32le", "-ac", str(channels), "-ar", str(RATE), "pipe:1"],
        input=data,
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(out, dtype=np.float32).reshape(-1, channels).T.copy()


def encode_each_chunk(chunks: list[np.ndarray]) -> bytes:
    """The chunks as Gradio streamed them before 6.27: one AAC encoder per chunk, joined."""
    joined = b""
    for chunk in chunks:
        pcm = (np.clip(chunk.T, -1, 1) * 32767).astype("<i2").tobytes()
        joined += subprocess.run(
            ["ffmpeg", "-v", "error", "-nostdin", "-f", "s16le", "-ar", str(RATE), "-ac", str(chunk.shape[0])]
            + ["-i", "pipe:0", "-c:a", "aac", "-f", "adts", "pipe:1"],
            input=pcm,
            capture_output=True,
            check=True,
        ).stdout
    return joined


def best_lag(a: np.ndarray, b: np.ndarray, low: int, high: int) -> tuple[int, float]:
    """The lag in [low, high] that best lines `b[t + lag]` up with `a[t]`, and the normalised
    correlation there. `b` must start `-low` samples before `a` does."""
    n = 1 << int(np.ceil(np.log2(len(a) + len(b))))
    corr = np.fft.irfft(np.conj(np.fft.rfft(a, n)) * np.fft.rfft(b, n), n)
    lags = np.arange(0, high - low + 1)
    k = int(lags[np.argmax(corr[lags])])
    segment = b[k : k + len(a)]
    norm = float(np.linalg.norm(a) * np.linalg.norm(segment)) or 1.0
    return k + low, float(corr[k]) / norm


def levels_db(x: np.ndarray) -> np.ndarray:
    """RMS level of each 20 ms window of mono `x`, in dB."""
    frames = x[: len(x) // WINDOW * WINDOW].reshape(-1, WINDOW)
    return 20 * np.log10(np.sqrt((frames**2).mean(axis=1)) + 1e-9)


def compare(track: np.ndarray, decoded: np.ndarray, joins: list[int]) -> dict:
    """How `decoded` (what the player got) differs from `track` (what riff made); `joins` are
    the sample offsets where one chunk ends and the next begins."""
    ref, got = track.mean(axis=0), decoded.mean(axis=0)
    head = min(len(ref), 2 * RATE)
    delay, _ = best_lag(ref[:head], got[: head + SEARCH], 0, SEARCH)
    got = got[delay:]
    drifts, worst_corr = [], 1.0
    for start in range(SEARCH, len(ref) - BLOCK - SEARCH, BLOCK):
        block = ref[start : start + BLOCK]
        if np.sqrt((block**2).mean()) < 1e-3:
            continue  # nothing to line up in near silence
        window = got[start - SEARCH : start + BLOCK + SEARCH]
        if len(window) < BLOCK + 2 * SEARCH:
            drifts.append(SEARCH)  # the stream ended early: music is missing
            continue
        lag, corr = best_lag(block, window, -SEARCH, SEARCH)
        drifts.append(lag)
        worst_corr = min(worst_corr, corr)
    ref_db, got_db = levels_db(ref), levels_db(got[: len(ref)])
    n = min(len(ref_db), len(got_db))
    loud = ref_db[:n] > ref_db.max() - LOUD_DB
    gaps = int(((got_db[:n] < ref_db[:n] - GAP_DB) & loud).sum()) + max(0, len(ref_db) - len(got_db))
    steps = np.abs(np.diff(got_db[:n]))
    at_join = np.zeros(len(steps), dtype=bool)
    for join in joins:
        w = join // WINDOW
        at_join[max(0, w - 2) : w + 2] = True
    inside = np.abs(np.diff(ref_db[:n]))[~at_join & loud[1:] & loud[:-1]]  # the music's own steps
    return {
        "track_s": round(len(ref) / RATE, 3),
        "received_s": round(len(got) / RATE, 3),
        "encoder_delay_samples": delay,
        "extra_samples": len(got) - len(ref),
        "largest_drift_samples": int(max((abs(d) for d in drifts), default=0)),
        "worst_block_correlation": round(worst_corr, 4),
        "gap_windows": gaps,
        "largest_step_at_joins_db": round(float(steps[at_join].max()) if at_join.any() else 0.0, 2),
        "largest_step_inside_db": round(float(inside.max()) if len(inside) else 0.0, 2),
        "joins": len(joins),
    }


def verdict(report: dict) -> dict:
    """Gapless: no quiet holes, no drift (a gap or a repeat shifts what follows), the received
    length within one AAC frame of the track's, joins no steppier than the music."""
    return {
        "no_gaps": report["gap_windows"] == 0 and abs(report["extra_samples"]) <= 2048,
        "no_repeats": report["largest_drift_samples"] <= 2,
        "level_steps_within_the_music": report["largest_step_at_joins_db"]
        <= report["largest_step_inside_db"] + 0.5,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=None, help="a diffusers folder (default: a tiny random model)")
    parser.add_argument("--seconds", type=float, default=30.0, help="music to stream")
    parser.add_argument("--width", type=int, default=None, help="clip columns (default: the seed image's)")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    from riff.models import load_model
    from riff.studio import build_app
    from riff.train.networks import save_tiny_model

    work = Path(tempfile.mkdtemp(prefix="riff-bench-stream-"))
    model = load_model(args.model or str(save_tiny_model(work / "tiny")), device="cpu")
    engine = recording_engine(model, work / "studio", args.seconds, args.width)
    from riff.studio.stream import Streams

    # The endless tab's fields in the handler's order, each at the page's default but these
    # (so that a field the tab gains later needs no change here); no beat grid: as the seed plays.
    chosen = {"prompt": "lofi hip hop beat, mellow", "seed": 0, "clips_per_seed": 2}
    chosen.update(num_inference_steps=args.steps, denoising=0.75, guidance=7.0, seed_image="og_beat")
    fields = [
        p
        for name, p in inspect.signature(Streams.endless).parameters.items()
        if name not in ("self", "request")
    ]
    inputs = [chosen.get(p.name, p.default) for p in fields]
    started = time.monotonic()
    from conftest import serve

    with serve(build_app(engine)) as url:
        segments, playlist = receive(url, inputs)
    wall_s = time.monotonic() - started
    chunks = [c for c in engine.chunks if c.shape[-1]]
    track = np.concatenate(chunks, axis=-1)
    joins = list(np.cumsum([c.shape[-1] for c in chunks])[:-1])
    stream = compare(track, decode_adts(b"".join(segments), track.shape[0]), joins)
    control = compare(track, decode_adts(encode_each_chunk(chunks), track.shape[0]), joins)
    report = {
        "gradio": __import__("gradio").__version__,
        "chunks": len(chunks),
        "segments": len(segments),
        "wall_s": round(wall_s, 1),
        "stream": {**stream, **verdict(stream)},
        "one_encoder_per_chunk": {**control, **verdict(control)},
    }
    return emit(report, args.json)


if __name__ == "__main__":
    main()
