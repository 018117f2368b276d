"""A render's files in its session folder: each clip's PNG and WAV, the growing track, the whole
track's spectrogram, the request as JSON and every PNG in one zip."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import soundfile as sf
from PIL import Image

from riff.audio.files import save_audio
from riff.audio.image import save_image
from riff.audio.tags import file_name, tag_file
from riff.grid import Grid
from riff.pictures import spectrogram_picture
from riff.request import Loop, Music, Restyle, Settings, to_dict
from riff.track import clip_audio, stitch
from riff.walk import Clip


@dataclass
class Result:
    """What a render has produced so far; `done` once the last clip is in."""

    folder: Path
    track: Path | None = None
    clips: list[Path] = field(default_factory=list)  # one WAV per clip
    images: list[tuple[Path, str]] = field(default_factory=list)  # PNG and caption per clip
    picture: Path | None = None  # the whole track's spectrogram with axes
    settings: Path | None = None  # the request as JSON
    archive: Path | None = None  # every PNG (with metadata) in one zip
    done: bool = False
    name: str = "track"  # for files a listener keeps: from the prompts (`track_name`)
    grid: Grid | None = None  # the beat grid asked for: in the kept file's name and tags
    loop: bool = False  # a loop: its WAV says so (a `smpl` chunk over the whole file)

    def named_track(self) -> Path | None:
        """The finished track under its name ("solo-piano-to-rock-drums.wav"; with a tempo
        "solo-piano-to-rock-drums_96bpm_Am.wav", tagged), so that the player's own download is
        named after the prompts too; None until it is done."""
        if not self.done or self.track is None:
            return None
        suffix = self.track.suffix
        name = f"{self.name}{suffix}" if self.grid is None else file_name(self.name, self.grid, suffix)
        named = self.folder / "named" / name
        if not named.exists():
            named.parent.mkdir(exist_ok=True)
            if self.grid is not None:  # a copy: its tags are not the working track's
                shutil.copyfile(self.track, named)
                tag_track(named, self.grid, self.loop)
                return named
            try:
                os.link(self.track, named)
            except OSError:
                shutil.copyfile(self.track, named)
        return named


def tag_track(path: Path, grid: Grid, loop: bool = False) -> Path:
    """Tag a track riff wrote with `grid`'s tempo and key (`riff.audio.tags.tag_file`), its acid
    beats counted from its length, so a continued walk's shorter clips count true."""
    info = sf.info(str(path))
    return tag_file(path, grid, info.frames / grid.clip_samples(info.samplerate), loop=loop)


def track_name(music: Music) -> str:
    """A file name for a render, from its prompts: "solo-piano-to-rock-drums"."""
    ends = music.prompt_ends()
    words = [ends[0].prompt] if len({e.prompt for e in ends}) == 1 else [ends[0].prompt, ends[-1].prompt]
    slug = "-to-".join("-".join(re.findall(r"[a-z0-9]+", w.lower())[:5]) for w in words)
    suffix = {Loop: "-loop", Restyle: "-restyle"}.get(type(music), "")
    return (slug[:80].strip("-") or "riff") + suffix


def write(
    folder: Path, clips: Iterator[Clip], music: Music, settings: Settings, model: str
) -> Iterator[Result]:
    """Write a render's files into `folder` as its clips come, yielding the growing result after
    every clip (the track so far plays while the rest renders), then the finished one.

    Args:
        model: the model's name as it may be shown (`models.shared_name`), for the JSON.
    """
    result = Result(folder, name=track_name(music), grid=settings.grid(), loop=isinstance(music, Loop))
    done: list[Clip] = []
    images: list[Image.Image] = []
    for clip in clips:
        done.append(clip)
        image = clip.image()
        images.append(image)
        png = folder / f"clip_{clip.index:03d}.png"
        save_image(image, png)
        wav = save_audio(
            folder / f"clip_{clip.index:03d}.wav",
            clip_audio(clip),
            clip.params.sample_rate,
        )
        result.images.append((png, music.caption(clip.index, clip.alpha)))
        result.clips.append(wav)
        if len(done) & (len(done) - 1) == 0:
            _track(result, done, music)
        yield result
    if result.track is None or not result.track.stem.endswith(f"_{len(done):03d}"):
        _track(result, done, music)
    result.picture = folder / "spectrogram.png"
    spectrogram_picture(images, done[0].params).save(result.picture)
    result.settings = _write_settings(folder / "settings.json", music, settings, model)
    result.archive = folder / "spectrograms.zip"
    with zipfile.ZipFile(result.archive, "w") as archive:
        for png, _ in result.images:
            archive.write(png, png.name)
        archive.write(result.settings, result.settings.name)
    result.done = True
    yield result


def _track(result: Result, done: list[Clip], music: Music) -> None:
    """Write the track so far as `track_<clips>.wav`, in place of the one before.

    The growing track is written after clips 1, 2, 4, 8, ... and the last, not after every
    clip: each write stitches and measures the whole track, so writing it every time took
    time and disk growing with the square of its length (a 60 s restyle wrote 156 MB);
    doubling keeps both within twice the final track's.
    """
    before = result.track
    track = stitch(done, music)
    result.track = save_audio(result.folder / f"track_{len(done):03d}.wav", track, done[0].params.sample_rate)
    if before is not None and before != result.track:
        before.unlink(missing_ok=True)


def _write_settings(path: Path, music: Music, settings: Settings, model: str) -> Path:
    """The request as JSON, with the model's name and no server path."""
    if getattr(music, "seed_image", None) and Path(music.seed_image).name != music.seed_image:
        music = dataclasses.replace(music, seed_image=Path(music.seed_image).name)
    path.write_text(json.dumps({"model": model, **to_dict(music, settings)}, indent=2))
    return path
