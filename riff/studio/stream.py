"""The endless riff's handlers: the stream itself, its status line between chunks, and the prompt
queued up next."""

from __future__ import annotations

import gradio as gr

from riff.audio.files import wav_bytes
from riff.endless import Endless, Listener
from riff.pictures import ScrollingPicture
from riff.request import PromptEnd, Settings
from riff.seed_images import DEFAULT_SEED
from riff.serve.trust import bundled_seed
from riff.studio.edge import (
    AS_THE_SEED,
    FIT_BARS,
    NO_LORA,
    NOTHING_MADE,
    Handlers,
    prompt_text,
    session_of,
    settings_for,
    ui_errors,
)


class Streams(Handlers):
    """An endless riff per page, streamed until Stop, the page closes, or the studio's limit."""

    @ui_errors
    def endless(
        self,
        prompt: str,
        seed: int = 0,
        clips_per_seed: int = Endless.clips_per_seed,
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
    ):
        """An endless riff, streamed: yields audio chunks, the scrolling spectrogram and what
        plays, until Stop, the page closes, or the studio's limit of music per press; with a
        tempo (`bpm`, `key`, `meter`, `bars`), its seed is the pattern on that grid; with a LoRA
        this server offers (`lora`, at `lora_scale`), every hop is rendered with it."""
        settings = settings_for(num_inference_steps, bpm, key, meter, bars, lora, lora_scale)
        session = self._session(request)
        music = Endless(
            PromptEnd(prompt_text(prompt), int(seed), "", denoising, guidance),
            int(clips_per_seed),
            seed_image=bundled_seed(seed_image or DEFAULT_SEED),
        )
        self.engine.up_next.forget(session)
        scroll = ScrollingPicture()
        chunks = self.engine.endless(music, settings, lambda: self.engine.up_next.take(session), session)
        listener = Listener()
        self._listening[session] = (listener, None)
        try:
            for chunk in chunks:
                rate = chunk.clip.params.sample_rate
                listener.release(chunk.audio.shape[-1] / rate)
                self._listening[session] = (listener, chunk)
                yield wav_bytes(chunk.audio, rate), scroll.add(chunk.clip), chunk.status(listener)
        finally:
            listener.finish()

    def endless_started(self, request: gr.Request = None):
        """Play was pressed: forget the page's last riff and tick the status line (`endless_status`)."""
        self._listening.pop(session_of(request), None)
        return gr.Timer(active=True)

    def endless_status(self, request: gr.Request = None):
        """The endless riff's status line now, between chunks too: what the listener has heard and
        has buffered, or that the player waits. The timer stops once all of it has played."""
        listener, chunk = self._listening.get(session_of(request), (None, None))
        if listener is None or chunk is None:
            return gr.skip(), gr.skip()  # not started yet
        status = chunk.status(listener)
        if listener.finished and listener.buffered <= 0:
            self._listening.pop(session_of(request), None)
            return status, gr.Timer(active=False)
        return status, gr.skip()

    def endless_stopped(self, request: gr.Request = None):
        """Stop was pressed: the riff stops at its next step, and the status line says, from its
        last chunk, how much music was made and heard (the riff's clips are not a render's, so
        `Handlers.cancel` cannot count them); the line keeps Stop's word (the timer stops)."""
        session = self._session(request)
        self.engine.cancel(session)
        listener, chunk = self._listening.pop(session, (None, None))
        if listener is None or chunk is None:
            return NOTHING_MADE, gr.Timer(active=False)
        listener.finish()  # no more is coming: what is buffered plays out
        said = f"Stopped: {chunk.music_s:.0f} s of music made; {listener.status()}"
        return said, gr.Timer(active=False)

    @ui_errors
    def queue_next(self, up_next: str, request: gr.Request = None) -> str:
        """Queue the prompt an endless riff moves to at its next seed."""
        prompt = self.engine.up_next.put(
            self._session(request), prompt_text(up_next, "write the prompt to move to")
        )
        return f"Up next: {prompt.strip()!r}, from the next seed on"
