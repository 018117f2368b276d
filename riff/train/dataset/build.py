"""Build a captioned dataset of 5.11 s spectrogram images, offline and reproducibly.

Each clip `i` draws everything from `numpy.random.default_rng([seed, i])`, so the same seed
gives the same clips, and a longer build extends a shorter one. `metadata.jsonl` is the
journal: a clip whose image and line both exist is skipped on the next run.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from tqdm import tqdm

from riff.audio.files import READABLE, load_audio
from riff.audio.image import image_from_mel, save_image
from riff.audio.params import CLIP_WIDTH, SpectrogramParams
from riff.train.dataset.labels import LICENSES, Piece
from riff.train.dataset.midi import midi_from_notes

log = logging.getLogger("riff")
PARAMS = SpectrogramParams()
CLIP_SAMPLES = PARAMS.num_samples(CLIP_WIDTH)  # 511 hops of 441 samples: 5.11 s
SOURCES = ("generated", "music21", "folder")
WEIGHTS = {"generated": 3.0, "music21": 2.0, "folder": 2.0}  # how often each source is drawn
SOUNDFONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2")


@dataclass(frozen=True)
class ClipSpec:
    """What clip `index` is made from: a source, and for a folder clip which file and where."""

    index: int
    source: str
    path: str | None = None
    offset_s: float = 0.0

    @property
    def file(self) -> str:
        return f"{self.index:05d}_{self.source}.png"


def find_soundfont(requested: str | Path | None = None) -> Path:
    """The General MIDI soundfont: `requested` (--soundfont, RIFF_SOUNDFONT), else Debian's
    fluid-soundfont-gm."""
    if requested is not None:
        if not Path(requested).is_file():
            raise ValueError(f"no soundfont at {str(requested)!r}: give a .sf2 file")
        return Path(requested)
    for candidate in SOUNDFONTS:
        if Path(candidate).is_file():
            return Path(candidate)
    raise ValueError("no General MIDI soundfont: apt install fluid-soundfont-gm or pass --soundfont")


def check_renderer(soundfont: str | Path | None = None) -> Path:
    if shutil.which("fluidsynth") is None:
        raise ValueError("fluidsynth not found: apt install fluidsynth")
    return find_soundfont(soundfont)


def plan(num_clips: int, seed: int, sources: list[str], audio_dir: Path | None) -> list[ClipSpec]:
    """Which source each clip comes from; folder clips walk the files' 5.11 s windows in order."""
    windows = _windows(audio_dir) if "folder" in sources else []
    if "folder" in sources and not windows:
        raise ValueError(f"no audio of at least 5.11 s in {str(audio_dir)!r}")
    weights = np.array([WEIGHTS[s] for s in sources]) / sum(WEIGHTS[s] for s in sources)
    specs, taken = [], 0
    for index in range(num_clips):
        source = sources[int(np.random.default_rng([seed, index, 0]).choice(len(sources), p=weights))]
        if source == "folder":
            path, offset = windows[taken % len(windows)]
            # A second pass over a short folder takes windows half a clip later.
            offset += (taken // len(windows)) % 2 * CLIP_SAMPLES / 2 / PARAMS.sample_rate
            specs.append(ClipSpec(index, source, path, offset))
            taken += 1
        else:
            specs.append(ClipSpec(index, source))
    return specs


def _windows(audio_dir: Path | None) -> list[tuple[str, float]]:
    if audio_dir is None:
        raise ValueError("the folder source needs --audio-dir DIR")
    if not audio_dir.is_dir():
        raise ValueError(f"no such folder: {str(audio_dir)!r}")
    windows = []
    for path in sorted(p for p in audio_dir.rglob("*") if p.suffix.lower() in READABLE):
        try:
            seconds = sf.info(str(path)).duration
        except (sf.LibsndfileError, RuntimeError):
            log.warning("skipping %s: not readable as audio", path)
            continue
        clip_s = CLIP_SAMPLES / PARAMS.sample_rate
        windows += [(str(path), k * clip_s) for k in range(int(seconds // clip_s))]
    return windows


def render_piece(piece: Piece, soundfont: Path) -> torch.Tensor:
    """FluidSynth renders the piece's MIDI; returns the (1, CLIP_SAMPLES) cut at `start_s`."""
    with tempfile.TemporaryDirectory(prefix="riff-midi-") as tmp:
        midi, wav = Path(tmp, "in.mid"), Path(tmp, "out.wav")
        midi.write_bytes(midi_from_notes(piece.notes, piece.tempo_bpm, piece.programs, piece.end_beats))
        cmd = ["fluidsynth", "-ni", "-q", "-g", "0.8", "-r", str(PARAMS.sample_rate), "-F", str(wav), str(soundfont), str(midi)]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0 or not wav.is_file():
            raise RuntimeError(f"fluidsynth failed ({done.returncode}): {done.stderr.strip()[-300:]}")
        waveform = load_audio(wav, PARAMS.sample_rate, channels=1)
    start = round(piece.start_s * PARAMS.sample_rate)
    return _fit(waveform[:, start : start + CLIP_SAMPLES])


def _fit(waveform: torch.Tensor) -> torch.Tensor:
    """Exactly CLIP_SAMPLES long: padded with silence at the end if short."""
    return torch.nn.functional.pad(waveform, (0, max(0, CLIP_SAMPLES - waveform.shape[-1])))[:, :CLIP_SAMPLES]


def make_clip(spec: ClipSpec, seed: int, out_dir: Path, soundfont: Path | None) -> dict:
    """Render clip `spec`, write its image, and return its metadata line."""
    rng = np.random.default_rng([seed, spec.index, 1])
    if spec.source == "folder":
        record = _folder_record(spec)
        waveform = load_audio(spec.path, PARAMS.sample_rate, channels=1)
        start = round(spec.offset_s * PARAMS.sample_rate)
        waveform = _fit(waveform[:, start : start + CLIP_SAMPLES])
    else:
        if spec.source == "generated":
            from riff.train.dataset.generated import generated_piece

            piece = generated_piece(rng)
        else:
            from riff.train.dataset.corpus import corpus_piece

            piece = corpus_piece(rng)
        waveform = render_piece(piece, soundfont)
        record = {
            "caption": piece.caption,
            "labels": piece.labels,
            "license": LICENSES[spec.source],
            "provenance": {"seed": seed, "index": spec.index, **piece.provenance,
                           "soundfont": soundfont.name, "soundfont_license": LICENSES["soundfont"]},
        }  # fmt: skip
    from riff.audio.spectrogram import mel_from_waveform

    image = image_from_mel(mel_from_waveform(waveform, PARAMS), PARAMS)
    record = {"file": spec.file, "caption": record.pop("caption"), "source": spec.source, **record}
    text = {"caption": record["caption"], "riff-dataset": json.dumps(record, sort_keys=True)}
    partial = out_dir / (spec.file + ".part")
    save_image(image, partial, text, format="PNG")
    partial.replace(out_dir / spec.file)  # a killed build leaves no half-written image
    return record


def _folder_record(spec: ClipSpec) -> dict:
    """Caption from a side-car `<name>.txt`, else from the file name ("lofi_piano-loop" ->
    "lofi piano loop")."""
    path = Path(spec.path)
    sidecar = path.with_suffix(".txt")
    caption = (
        sidecar.read_text().strip() if sidecar.is_file() else " ".join(path.stem.replace("-", "_").split("_"))
    )
    return {
        "caption": caption,
        "labels": {},
        "license": "user-provided audio (license as its owner's)",
        "provenance": {"path": str(path), "offset_s": round(spec.offset_s, 3)},
    }


def build_dataset(
    out_dir: Path,
    num_clips: int,
    seed: int,
    sources: list[str],
    audio_dir: Path | None = None,
    workers: int = 2,
    soundfont: str | Path | None = None,
) -> list[dict]:
    """Write `num_clips` images and `metadata.jsonl` into `out_dir`; returns the metadata lines.
    `soundfont`: the General MIDI soundfont (`find_soundfont`).

    Raises:
        ValueError: unknown source, bad counts, missing folder, fluidsynth or soundfont.
    """
    # 1. Check inputs.
    unknown = [s for s in sources if s not in SOURCES]
    if unknown or not sources:
        raise ValueError(f"unknown source(s) {unknown or sources}: choose from {', '.join(SOURCES)}")
    if num_clips < 1 or workers < 1:
        raise ValueError(f"--clips and --workers must be at least 1, got {num_clips} and {workers}")
    if "music21" in sources:
        from riff.train.dataset.corpus import available

        if not available():
            raise ValueError("source music21 needs `pip install music21` (or leave it out of --sources)")
    soundfont = check_renderer(soundfont) if {"generated", "music21"} & set(sources) else None
    specs = plan(num_clips, seed, sources, audio_dir)

    # 2. Resume: clips with an image and a journal line are done.
    out_dir.mkdir(parents=True, exist_ok=True)
    journal = out_dir / "metadata.jsonl"
    done = {}
    if journal.is_file():
        for line in journal.read_text().splitlines():
            record = json.loads(line)
            if (out_dir / record["file"]).is_file():
                done[record["file"]] = record
    todo = [s for s in specs if s.file not in done]

    # 3. Render the rest, journalling each clip as it lands.
    with journal.open("a") as out, ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(make_clip, s, seed, out_dir, soundfont) for s in todo]
        for future in tqdm(
            as_completed(futures), total=len(futures), desc="building", unit="clip", initial=0
        ):
            record = future.result()
            done[record["file"]] = record
            out.write(json.dumps(record, sort_keys=True) + "\n")
            out.flush()

    # 4. Rewrite the journal in clip order.
    records = [done[f] for f in sorted(done)]
    journal.with_suffix(".tmp").write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in records))
    journal.with_suffix(".tmp").replace(journal)
    return records
