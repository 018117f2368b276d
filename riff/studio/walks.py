"""The page's walks: the explorer's (and its examples'), a prompt chain's; each unpacked from
widgets into a request (`riff.request`) and handed to the engine."""

from __future__ import annotations

import inspect
from pathlib import Path

import gradio as gr

from riff.audio.params import CLIP_WIDTH
from riff.request import Chain, PromptEnd, Settings, Walk, to_dict
from riff.seed_images import DEFAULT_SEED, seed_image_names
from riff.serve.engine import EXAMPLES as EXAMPLES_SESSION
from riff.serve.trust import bundled_seed
from riff.studio.edge import (
    AS_THE_SEED,
    FIT_BARS,
    NO_LORA,
    NO_MASK,
    Handlers,
    clip_width,
    gpu,
    grid_values,
    lora_values,
    mask_path,
    panel_values,
    progress_bar,
    prompt_rows,
    prompt_text,
    settings_for,
    ui_errors,
    uploaded_path,
)


def walk_request(
    start_prompt: str,
    start_seed: int,
    end_prompt: str,
    end_seed: int,
    num_clips: int = Walk.num_clips,
    num_inference_steps: int | None = None,
    denoising: float = PromptEnd.denoising,
    guidance: float = PromptEnd.guidance,
    seed_image: str = DEFAULT_SEED,
    start_negative_prompt: str = "",
    end_negative_prompt: str = "",
    end_denoising: float | None = None,
    end_guidance: float | None = None,
    alpha_curve: str = Walk.alpha_curve,
    crossfade_ms: float = Walk.crossfade_ms,
    mask: str = NO_MASK,
    scheduler: str = Settings.scheduler,
    seed_upload: str | None = None,
    continuation: bool = Walk.continuation,
    width: int = CLIP_WIDTH,
    bpm: float | None = None,
    key: str = AS_THE_SEED,
    meter: str = Settings.meter,
    bars: int | str = FIT_BARS,
    lora: str = NO_LORA,
    lora_scale: float = 1.0,
) -> tuple[Walk, Settings]:
    """The walk and settings the explorer's fields ask for (`Studio.interpolate`'s parameters)."""
    both = "both prompts are needed: write what the start and the end should sound like"
    walk = Walk(
        start=PromptEnd(
            prompt_text(start_prompt, both), int(start_seed), start_negative_prompt or "", denoising, guidance
        ),
        end=PromptEnd(
            prompt_text(end_prompt, both),
            int(end_seed),
            end_negative_prompt or "",
            denoising if end_denoising is None else end_denoising,
            guidance if end_guidance is None else end_guidance,
        ),
        num_clips=int(num_clips),
        alpha_curve=alpha_curve,
        crossfade_ms=float(crossfade_ms),
        # An upload wins over the picked bundled seed.
        seed_image=uploaded_path(seed_upload) if seed_upload else bundled_seed(seed_image or DEFAULT_SEED),
        mask=mask_path(mask),
        width=clip_width(width),
        continuation=bool(continuation),
    )
    settings = settings_for(num_inference_steps, bpm, key, meter, bars, lora, lora_scale, scheduler=scheduler)
    return walk, settings


WALK_FIELDS = tuple(inspect.signature(walk_request).parameters)


def walk_fields(walk: Walk, settings: Settings) -> dict:
    """A walk's values for the explorer's fields, by `Studio.interpolate`'s parameter names:
    the inverse of what it builds ("Reuse these settings")."""
    return {
        "start_prompt": walk.start.prompt,
        "start_seed": walk.start.seed,
        "start_negative_prompt": walk.start.negative_prompt,
        "denoising": walk.start.denoising,
        "guidance": walk.start.guidance,
        "end_prompt": walk.end.prompt,
        "end_seed": walk.end.seed,
        "end_negative_prompt": walk.end.negative_prompt,
        "end_denoising": walk.end.denoising,
        "end_guidance": walk.end.guidance,
        "num_clips": walk.num_clips,
        "num_inference_steps": settings.num_inference_steps,
        "alpha_curve": walk.alpha_curve,
        "crossfade_ms": walk.crossfade_ms,
        "seed_image": walk.seed_image if walk.seed_image in seed_image_names() else DEFAULT_SEED,
        "mask": walk.mask or NO_MASK,
        "scheduler": settings.scheduler,
        "continuation": walk.continuation,
        "width": walk.width or CLIP_WIDTH,
        **grid_values(settings),
        **lora_values(settings),
    }


class Walks(Handlers):
    """Walks between prompts: the explorer's, its examples', a prompt chain's."""

    @gpu("num_clips")
    @ui_errors
    def interpolate(
        self,
        start_prompt: str,
        start_seed: int,
        end_prompt: str,
        end_seed: int,
        num_clips: int = Walk.num_clips,
        num_inference_steps: int | None = None,
        denoising: float = PromptEnd.denoising,
        guidance: float = PromptEnd.guidance,
        seed_image: str = DEFAULT_SEED,
        start_negative_prompt: str = "",
        end_negative_prompt: str = "",
        end_denoising: float | None = None,
        end_guidance: float | None = None,
        alpha_curve: str = Walk.alpha_curve,
        crossfade_ms: float = Walk.crossfade_ms,
        mask: str = NO_MASK,
        scheduler: str = Settings.scheduler,
        seed_upload: str | None = None,
        continuation: bool = Walk.continuation,
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
        """Render a walk: music that morphs from a start prompt and seed to an end prompt and
        seed over several clips (about 5 s each), joined with crossfades into one track.
        The track is given as an audio file (a URL).

        Args:
            start_prompt: what the music sounds like at the start.
            start_seed: random seed of the start, 0 or more.
            end_prompt: what the music sounds like at the end.
            end_seed: random seed of the end, 0 or more.
            num_clips: clips along the walk, 2 to 32; the track is about 5 s per clip.
            num_inference_steps: denoising steps per clip; empty means the model's own
                recommendation (about 20); more is slower and rarely better. 5 to 100.
            denoising: how far each clip departs from the seed image, 0 to 1 (0.75 default).
            guidance: how strongly the prompt steers, about 1 to 15 (7 default).
            seed_image: name of the bundled seed image that sets the rhythm (e.g. "og_beat").
            start_negative_prompt: what the start should avoid; empty for nothing.
            end_negative_prompt: what the end should avoid; empty for nothing.
            end_denoising: denoising at the end (empty: the same as the start).
            end_guidance: guidance at the end (empty: the same as the start).
            alpha_curve: how the walk moves between the ends: "linear", "power" or "smooth".
            crossfade_ms: crossfade between clips in milliseconds.
            mask: name of an inpainting mask (empty or "none" for none).
            scheduler: denoising scheduler name (the default is fine).
            seed_upload: an uploaded seed image instead of a bundled one (usually empty).
            continuation: start each clip from the one before (smoother joins).
            width: clip width in spectrogram columns (512 is about 5 s); leave it at 512 with a
                tempo, whose bars set the width.
            bpm: tempo, 40 to 240; empty or 0 plays the seed image as it is. The seed image
                must then be a bundled pattern; the track is whole bars, named and tagged with
                the tempo and key.
            key: one of the 24 keys ("A minor", "Am", "F#", "E flat minor"), or "as the seed".
            meter: "4/4", "3/4" or "6/8".
            bars: bars per clip, or "as many as fit" one clip.
            lora: name of a LoRA adapter this server offers (its LoRA folder's), or "none".
            lora_scale: how strongly the LoRA applies, -2 to 2 (1 as trained, 0 not at all).
        """
        given = dict(locals())
        walk, settings = walk_request(**{name: given[name] for name in WALK_FIELDS})
        session = self._session(request)
        note = f"Seeds used: start {walk.start.seed}, end {walk.end.seed}"
        for result in self._results(walk, settings, session, progress):
            yield *panel_values(result, note), to_dict(walk, settings), self.engine.status()

    @gpu(lambda _: Walk.num_clips, width=None)
    @ui_errors
    def example(
        self,
        start_prompt: str,
        start_seed: int,
        end_prompt: str,
        end_seed: int,
        request: gr.Request = None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio's way)
    ):
        """An example walk: rendered on its first click, with progress, then kept for every
        visitor; its files are the examples' own, which each page may play and keep."""
        walk, settings = walk_request(start_prompt, start_seed, end_prompt, end_seed)
        session = self._session(request)
        kept = self._examples.get((walk, settings))
        if kept is not None and Path(kept[0]).is_file():
            self._made[session] = len(kept[5]["clips"])
            yield *kept, self.engine.status()
            return
        # Not yet, or swept since: render it (rarely twice, if two pages click it at once).
        note = f"Seeds used: start {walk.start.seed}, end {walk.end.seed}"
        results = self.engine.render(walk, settings, EXAMPLES_SESSION, progress_bar(progress))
        for result in self._counted(results, session):
            kept = (*panel_values(result, note), to_dict(walk, settings))
            yield *kept, self.engine.status()
        self._examples[(walk, settings)] = kept

    @gpu(lambda a: a["clips_per_hop"] * max(len(a["prompts"] or []) - 1, 1) + 1)
    @ui_errors
    def chain(
        self,
        prompts: list[list],
        clips_per_hop: int = Chain.clips_per_hop,
        continuation: bool = Chain.continuation,
        num_inference_steps: int | None = None,
        denoising: float = PromptEnd.denoising,
        guidance: float = PromptEnd.guidance,
        crossfade_ms: float = Chain.crossfade_ms,
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
        """A prompt chain: rows of (prompt, seed), each hop starting where the one before ended;
        with a LoRA this server offers (`lora`, at `lora_scale`) on every hop."""
        settings = settings_for(num_inference_steps, bpm, key, meter, bars, lora, lora_scale)
        ends = tuple(PromptEnd(p, s, "", denoising, guidance) for p, s in prompt_rows(prompts))
        chain = Chain(
            ends,
            int(clips_per_hop),
            seed_image=bundled_seed(seed_image or DEFAULT_SEED),
            crossfade_ms=float(crossfade_ms),
            width=clip_width(width),
            continuation=bool(continuation),
        )
        note = "Seeds used: " + ", ".join(str(e.seed) for e in ends)
        for result in self._results(chain, settings, self._session(request), progress):
            yield panel_values(result, note)
