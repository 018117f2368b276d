"""The reference server's `POST /run_inference/`, so riffusion's web app and scripts work
against riff unchanged. Request and response as in riffusion 0.0.5; JSON integers are accepted
where floats are expected; the reference's seed image ids map to ours."""

from __future__ import annotations

import base64
import io
import tempfile
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from riff.audio import save_audio
from riff.loudness import normalize_loudness
from riff.request import PromptEnd, Settings, Walk
from riff.seeds import DEFAULT_SEED
from riff.studio import Busy
from riff.trust import bundled_mask, bundled_seed, public_message


class PromptInput(BaseModel):
    """One end, as the reference names its fields."""

    model_config = ConfigDict(extra="ignore")
    prompt: str
    seed: int = 0
    negative_prompt: str | None = None
    denoising: float = 0.75
    guidance: float = 7.0


class InferenceInput(BaseModel):
    model_config = ConfigDict(extra="ignore")
    alpha: float = Field(ge=0.0, le=1.0)
    num_inference_steps: int = 50
    seed_image_id: str = DEFAULT_SEED
    mask_image_id: str | None = None
    start: PromptInput
    end: PromptInput


def walk_request(data: InferenceInput) -> tuple[Walk, Settings]:
    """The one-clip walk a reference request describes, and how to render it."""

    def end(p: PromptInput) -> PromptEnd:
        return PromptEnd(p.prompt, p.seed, p.negative_prompt or "", p.denoising, p.guidance)

    walk = Walk(
        start=end(data.start),
        end=end(data.end),
        alphas=(data.alpha,),
        # Only bundled names: a request never reads a server file.
        seed_image=bundled_seed(data.seed_image_id),
        mask=bundled_mask(data.mask_image_id) if data.mask_image_id else None,
    )
    return walk, Settings(num_inference_steps=data.num_inference_steps, batch_size=1)


def run_inference(engine, payload: dict) -> dict:
    """Render the clip a reference request asks for, in the engine's queue like the studio's
    own renders.

    Returns:
        {"image": JPEG data URL, "audio": MP3 data URL, "duration_s": float}.
    Raises:
        ValueError: a bad request, in one line.
        Busy: too many renders waiting.
    """
    try:
        data = InferenceInput.model_validate(payload)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"{where}: {first['msg']}") from None
    clip = engine.clip(*walk_request(data))
    rate = clip.params.sample_rate
    image = io.BytesIO()
    clip.image().save(image, format="JPEG", quality=92)
    with tempfile.TemporaryDirectory() as folder:
        mp3 = save_audio(Path(folder) / "clip.mp3", normalize_loudness(clip.waveform, rate), rate)
        audio = mp3.read_bytes()
    return {
        "image": "data:image/jpeg;base64," + base64.b64encode(image.getvalue()).decode(),
        "audio": "data:audio/mpeg;base64," + base64.b64encode(audio).decode(),
        "duration_s": clip.waveform.shape[-1] / rate,
    }


def router(engine, wrap=lambda fn: fn) -> APIRouter:
    """A FastAPI router with `POST /run_inference/` over `engine`.

    Args:
        wrap: decorates the GPU work (e.g. `spaces.GPU`).
    """
    routes = APIRouter()
    work = wrap(lambda payload: run_inference(engine, payload))

    @routes.post("/run_inference/")
    def inference(payload: dict) -> JSONResponse:
        try:
            return JSONResponse(work(payload))
        except ValueError as error:
            return JSONResponse({"error": public_message(str(error))}, status_code=400)
        except Busy as error:
            return JSONResponse({"error": str(error)}, status_code=503, headers={"Retry-After": "30"})

    return routes
