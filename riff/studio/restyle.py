"""The page's audio to audio: a song's region restyled segment by segment, its segments cut
on the song's own bars if asked, at a tempo and first downbeat estimated when the song is
uploaded and corrected by the listener."""

from __future__ import annotations

import math

import gradio as gr

from riff.audio.files import audio_seconds, load_audio
from riff.audio.params import CLIP_SECONDS, SpectrogramParams
from riff.beats import estimate_beat
from riff.request import PromptEnd, Restyle
from riff.studio.edge import (
    NO_LORA,
    Handlers,
    gpu,
    panel_values,
    progress_bar,
    prompt_text,
    settings_for,
    ui_errors,
    uploaded_path,
)


class Restyles(Handlers):
    """A song restyled, and the song's beat found for cutting it on its bars."""

    @ui_errors
    def song_beat(self, audio: str | None, on_bars: bool = True):
        """A song's tempo and first downbeat, estimated from its onsets (the "Song tempo" and
        "First downbeat" boxes are filled with them when a song is uploaded or trimmed with
        "Cut on the song's bars" checked, or when it is checked; correct them there).

        Args:
            audio: the song (an uploaded file).
            on_bars: whether the song is to be cut on its bars; if not, nothing is estimated
                (the boxes stay as they are).
        Returns:
            The tempo in bpm and the first downbeat in seconds, both rounded for the boxes.
        """
        if not audio:
            return None, None
        if not on_bars:
            return gr.skip(), gr.skip()
        song = uploaded_path(audio)
        self.engine.limits.check_audio(audio_seconds(song))
        rate = SpectrogramParams().sample_rate
        beat = estimate_beat(load_audio(song, rate, channels=1), rate)
        return round(beat.bpm, 1), round(beat.downbeat_s, 3)

    @gpu(
        lambda a: (
            math.ceil(float(a["duration_s"]) / (CLIP_SECONDS - Restyle.crossfade_ms / 1000))
            * (2 if a["keep_stereo"] else 1)
        ),
        width=None,
    )
    @ui_errors
    def audio_to_audio(
        self,
        audio: str,
        prompt: str,
        start_s: float = Restyle.start_s,
        duration_s: float = Restyle.duration_s,
        end_prompt: str = "",
        seed: int = 0,
        denoising: float = 0.5,
        guidance: float = PromptEnd.guidance,
        num_inference_steps: int | None = None,
        keep_stereo: bool = False,
        on_bars: bool = Restyle.on_bars,
        song_bpm: float | None = None,
        downbeat_s: float | None = None,
        lora: str = NO_LORA,
        lora_scale: float = 1.0,
        request: gr.Request = None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio's way)
    ):
        """Restyle a region of a song clip by clip, optionally walking to a second prompt.

        Args:
            on_bars: cut the segments on the song's bars (each whole bars, joins on bar lines).
            song_bpm: the song's tempo, 40 to 240; empty or 0 estimates it from the song.
            downbeat_s: a bar line of the song (its first downbeat), in seconds; empty
                estimates it, and so does 0 without a tempo (the page's boxes show 0 when empty).
            lora: name of a LoRA adapter this server offers (its LoRA folder's), or "none".
            lora_scale: how strongly the LoRA applies, -2 to 2 (1 as trained, 0 not at all).
        """
        if not audio:
            raise ValueError("upload a song first")
        song_bpm = None if song_bpm in (None, "", 0) else float(song_bpm)
        if downbeat_s in ("", 0) and song_bpm is None:
            downbeat_s = None
        start = PromptEnd(prompt_text(prompt), int(seed), "", denoising, guidance)
        end = (
            PromptEnd(end_prompt, start.seed, "", denoising, guidance)
            if (end_prompt or "").strip()
            else start
        )
        restyle = Restyle(
            start,
            end,
            start_s=float(start_s),
            duration_s=float(duration_s),
            stereo=bool(keep_stereo),
            on_bars=bool(on_bars),
            song_bpm=song_bpm,
            downbeat_s=None if downbeat_s in (None, "") else float(downbeat_s),
        )
        settings = settings_for(num_inference_steps, lora=lora, lora_scale=lora_scale)
        song = uploaded_path(audio)
        session = self._session(request)
        results = self.engine.restyle(song, restyle, settings, session, progress_bar(progress))
        for result in self._counted(results, session):
            yield panel_values(result, f"Seed used: {start.seed}")
