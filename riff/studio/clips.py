"""The page's renders of one prompt: text to audio (a clip per seed), a loop, the teaching
view; each unpacked from widgets into a request and handed to the engine (a song restyled is
`riff.studio.restyle`'s)."""

from __future__ import annotations

import gradio as gr

from riff.audio.params import CLIP_WIDTH
from riff.request import MAX_SEED, Loop, PromptEnd, Settings, Variations
from riff.seed_images import DEFAULT_SEED
from riff.serve.trust import bundled_seed
from riff.studio.edge import (
    AS_THE_SEED,
    FIT_BARS,
    NO_LORA,
    Handlers,
    clip_width,
    gpu,
    panel_values,
    progress_bar,
    prompt_text,
    settings_for,
    ui_errors,
)
from riff.teach import slerp_vs_lerp


class Clips(Handlers):
    """Renders of one prompt: a clip per seed, a loop, the teaching view."""

    @gpu("num_seeds", width=None)
    @ui_errors
    def generate(
        self,
        prompt: str,
        seed: int = 0,
        num_seeds: int = 4,
        negative_prompt: str = "",
        num_inference_steps: int | None = None,
        denoising: float = PromptEnd.denoising,
        guidance: float = PromptEnd.guidance,
        seed_image: str = DEFAULT_SEED,
        bpm: float | None = None,
        key: str = AS_THE_SEED,
        meter: str = Settings.meter,
        bars: int | str = FIT_BARS,
        lora: str = NO_LORA,
        lora_scale: float = 1.0,
        request: gr.Request = None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio's way)
    ):
        """Text to audio: render short music clips (about 5 s each) from a text prompt, one
        clip per seed (seed, seed + 1, ...), joined into one track, given as an audio file (a
        URL).

        Args:
            prompt: what the music should sound like, e.g. "funky synth solo" (at most 1000
                characters).
            seed: first random seed, 0 or more; the same prompt and seed give the same clip.
            num_seeds: how many clips (one per seed), 1 to 32; the track is about 5 s per clip.
            negative_prompt: what the music should avoid; empty for nothing.
            num_inference_steps: denoising steps per clip; empty means the model's own
                recommendation (about 20); more is slower and rarely better. 5 to 100.
            denoising: how far each clip departs from the seed image, 0 to 1 (0.75 default).
            guidance: how strongly the prompt steers, about 1 to 15 (7 default).
            seed_image: name of the bundled seed image that sets the rhythm (e.g. "og_beat").
            bpm: tempo, 40 to 240; empty or 0 plays the seed image as it is (a bundled
                pattern is then rendered at this tempo and key as the seed).
            key: one of the 24 keys ("A minor", "Am", "F#"), or "as the seed".
            meter: "4/4", "3/4" or "6/8".
            bars: bars per clip, or "as many as fit" one clip.
            lora: name of a LoRA adapter this server offers (its LoRA folder's), or "none".
            lora_scale: how strongly the LoRA applies, -2 to 2 (1 as trained, 0 not at all).
        """
        settings = settings_for(num_inference_steps, bpm, key, meter, bars, lora, lora_scale)
        end = PromptEnd(prompt_text(prompt), int(seed), negative_prompt or "", denoising, guidance)
        seeds = Variations.counting(end, int(num_seeds), seed_image=bundled_seed(seed_image or DEFAULT_SEED))
        note = f"Seeds used: {seeds.seeds[0]}..{seeds.seeds[-1]}"
        for result in self._results(seeds, settings, self._session(request), progress):
            yield panel_values(result, note)

    @gpu("clips")
    @ui_errors
    def loop(
        self,
        prompt: str,
        seed: int = 0,
        clips: int = Loop.clips,
        num_inference_steps: int | None = None,
        denoising: float = PromptEnd.denoising,
        guidance: float = PromptEnd.guidance,
        crossfade_ms: float = Loop.crossfade_ms,
        seed_image: str = DEFAULT_SEED,
        width: int = CLIP_WIDTH,
        bpm: float | None = None,
        key: str = AS_THE_SEED,
        meter: str = Settings.meter,
        bars: int | str = FIT_BARS,
        lora: str = NO_LORA,
        lora_scale: float = 1.0,
        request: gr.Request = None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio's way)
    ):
        """A seamless loop: music from a prompt whose end runs into its start with no seam, for
        playing on repeat, given as an audio file (a URL).

        Args:
            prompt: what the loop should sound like.
            seed: random seed, 0 or more.
            clips: clips in the loop, 1 to 32 (about 5 s each).
            num_inference_steps: denoising steps per clip; empty means the model's own
                recommendation (about 20); more is slower and rarely better. 5 to 100.
            denoising: how far each clip departs from the seed image, 0 to 1 (0.75 default).
            guidance: how strongly the prompt steers, about 1 to 15 (7 default).
            seed_image: name of the bundled seed image that sets the rhythm (e.g. "og_beat").
            crossfade_ms: crossfade between clips (and round the loop) in milliseconds.
            width: clip width in spectrogram columns (512 is about 5 s); leave it at 512 with a
                tempo, whose bars set the width.
            bpm: tempo, 40 to 240; empty or 0 plays the seed image as it is (a bundled
                pattern is then rendered at this tempo and key as the seed).
            key: one of the 24 keys ("A minor", "Am", "F#"), or "as the seed".
            meter: "4/4", "3/4" or "6/8".
            bars: bars per clip, or "as many as fit" one clip.
            lora: name of a LoRA adapter this server offers (its LoRA folder's), or "none".
            lora_scale: how strongly the LoRA applies, -2 to 2 (1 as trained, 0 not at all).
        """
        settings = settings_for(num_inference_steps, bpm, key, meter, bars, lora, lora_scale)
        end = PromptEnd(prompt_text(prompt), int(seed), "", denoising, guidance)
        music = Loop(
            end,
            int(clips),
            seed_image=bundled_seed(seed_image or DEFAULT_SEED),
            crossfade_ms=float(crossfade_ms),
            width=clip_width(width),
        )
        note = (
            f"Seed used: {end.seed} (and {end.seed + 1} round the loop)"
            if music.clips > 1
            else f"Seed used: {end.seed}"
        )
        for result in self._results(music, settings, self._session(request), progress):
            yield panel_values(result, note)

    @gpu(lambda _: 1, width=None)
    @ui_errors
    def teach(
        self,
        prompt: str,
        seed: int = 0,
        denoising: float = PromptEnd.denoising,
        guidance: float = PromptEnd.guidance,
        num_inference_steps: int | None = None,
        seed_image: str = DEFAULT_SEED,
        bpm: float | None = None,
        key: str = AS_THE_SEED,
        meter: str = Settings.meter,
        bars: int | str = FIT_BARS,
        lora: str = NO_LORA,
        lora_scale: float = 1.0,
        request: gr.Request = None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio's way)
    ):
        """The teaching view: one clip's journey from seed image to sound, the numbers behind it,
        and why a walk slerps its noise; with a tempo, the seed's beat grid under its image; with
        a LoRA this server offers (`lora`, at `lora_scale`), the model's guesses are the adapted one's."""
        settings = settings_for(num_inference_steps, bpm, key, meter, bars, lora, lora_scale)
        end = PromptEnd(prompt_text(prompt), int(seed), "", denoising, guidance)
        image = bundled_seed(seed_image or DEFAULT_SEED)
        shown, wav = self.engine.teach(end, settings, image, self._session(request), progress_bar(progress))
        noise = slerp_vs_lerp(end.seed, (end.seed + 1) % (MAX_SEED + 1))
        pictures = [
            (p.image, p.caption if p.caption.startswith(p.title) else f"{p.title}: {p.caption}")
            for p in shown.pictures
        ]
        numbers = {**shown.to_dict(images=False), "noise_walk": noise.to_dict(images=False)}
        return pictures, str(wav), shown.audio_caption, noise.image, noise.caption, numbers
