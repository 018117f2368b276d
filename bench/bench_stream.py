"""The endless riff as a browser receives it: serve the studio on 127.0.0.1 with the tiny model,
start an endless riff through gradio_client, fetch the HLS playlist and segments the page plays,
decode them with ffmpeg and print where the joined audio has runs of digital silence at segment
joins and how the level steps there compare with steps inside the music.

    RIFF_MAX_ENDLESS_S=20 python bench/bench_stream.py
"""

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def decode(data: bytes, rate: int = 44100) -> np.ndarray:
    """Decoded mono float samples of an AAC/ADTS byte string."""
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", "pipe:0", "-ac", "1", "-ar", str(rate), "-f", "f32le", "pipe:1"],
        input=data,
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(out, dtype=np.float32)


def silent_runs(
    audio: np.ndarray, rate: int, floor: float = 1e-4, least_ms: float = 5.0
) -> list[tuple[float, float]]:
    """(start s, length ms) of every run of |x| < floor at least `least_ms` long."""
    quiet = np.abs(audio) < floor
    runs, start = [], None
    for i, q in enumerate(np.append(quiet, False)):
        if q and start is None:
            start = i
        elif not q and start is not None:
            if (i - start) * 1000 / rate >= least_ms:
                runs.append((start / rate, (i - start) * 1000 / rate))
            start = None
    return runs


def main() -> None:
    from gradio_client import Client

    import app as studio
    from riff.models import load_model
    from riff.serve.engine import Engine
    from riff.train.networks import save_tiny_model
    from tests.conftest import serve

    folder = Path(tempfile.mkdtemp())
    model = load_model(str(save_tiny_model(folder / "model")), device="cpu")
    engine = Engine(model, root=folder / "studio")
    app = studio.build_app(engine)
    with serve(app) as url:
        client = Client(url, verbose=False)
        job = client.submit("warm jazz piano", 1, 1, 5, api_name="/endless")
        time.sleep(1)
        blocks = next(
            r.app.get_blocks() for r in app.routes if hasattr(getattr(r, "app", None), "get_blocks")
        )
        while not job.done():
            time.sleep(1)
        streams = [
            (s, run, c) for s, runs in blocks.pending_streams.items() for run, cs in runs.items() for c in cs
        ]
        print("streams:", streams)
        for session, run, component in streams:
            base = f"{url.rstrip('/')}/gradio_api/stream/{session}/{run}/{component}"
            playlist = httpx.get(f"{base}/playlist.m3u8").text
            names = [line for line in playlist.splitlines() if line and not line.startswith("#")]
            parts = [decode(httpx.get(f"{base}/{name}").content) for name in names]
            audio = np.concatenate(parts)
            joins = np.cumsum([len(p) for p in parts])[:-1] / 44100
            runs = silent_runs(audio, 44100)
            at_joins = [
                r
                for r in runs
                if any(abs(r[0] - j) < 0.1 or abs(r[0] + r[1] / 1000 - j) < 0.1 for j in joins)
            ]
            print(
                f"{len(parts)} segments, {len(audio) / 44100:.1f} s; silent runs >=5 ms: {len(runs)}, at joins: {at_joins}"
            )
            steps = np.abs(np.diff(rms(audio)))
            join_steps = [steps[min(int(j / 0.02), len(steps) - 1)] for j in joins]
            print(
                f"level step at joins (max) {max(join_steps):.4f}; inside the music (99th pct) {np.quantile(steps, 0.99):.4f}"
            )
            reference = own_track(engine, app)
            n = min(len(reference), len(audio))
            spectrum = np.fft.rfft(audio[:n], 2 * n) * np.conj(np.fft.rfft(reference[:n], 2 * n))
            xcorr = np.fft.irfft(spectrum)
            lag = int(np.argmax(xcorr))
            lag = lag - 2 * n if lag > n else lag
            shifted = audio[lag : lag + n] if lag >= 0 else np.pad(audio, (-lag, 0))[:n]
            m = min(len(shifted), n)
            corr = np.corrcoef(shifted[:m], reference[:m])[0, 1]
            print(f"best alignment: HLS later by {lag} samples")
            print(
                f"riff's own track {len(reference) / 44100:.2f} s, HLS {len(audio) / 44100:.2f} s; correlation sample for sample {corr:.4f}"
            )
    engine.close()


def rms(audio: np.ndarray, rate: int = 44100, window_s: float = 0.02) -> np.ndarray:
    size = int(rate * window_s)
    frames = audio[: len(audio) // size * size].reshape(-1, size)
    return np.sqrt((frames**2).mean(axis=1))


def own_track(engine, app) -> np.ndarray:
    """The same endless riff as riff streams it, made again in-process (seeded, so identical)."""
    import io

    import soundfile as sf

    import app as studio

    chunks = studio.Studio(engine).endless("warm jazz piano", 1, 1, 5)
    parts = []
    for wav, *_ in chunks:
        data, rate = sf.read(io.BytesIO(wav), dtype="float32", always_2d=True)
        parts.append(data.mean(axis=1))
    return np.concatenate(parts)


if __name__ == "__main__":
    main()
