"""The reference server's `POST /run_inference/`, so riffusion's web app and scripts work
against riff unchanged. Request and response as in riffusion 0.0.5; JSON integers are accepted
where floats are expected; the reference's seed image ids map to ours."""

from __future__ import annotations

import base64
import io
import json
import logging
import tempfile
from pathlib import Path

import torch
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from riff.audio.files import save_audio
from riff.beats import check_seed
from riff.pipeline import OutOfGPUMemory
from riff.request import PromptEnd, Settings, Walk
from riff.runtime import give_back_memory
from riff.seed_images import DEFAULT_SEED
from riff.serve.engine import Busy
from riff.serve.trust import bundled_mask, bundled_seed, client_address, public_message
from riff.track import clip_audio

log = logging.getLogger(__name__)


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
    # riff's beat grid (riff.grid); the reference's clients do not send these.
    bpm: float | None = None
    key: str | None = None
    bars: int | None = None
    meter: str = "4/4"


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
    settings = Settings(
        num_inference_steps=data.num_inference_steps,
        batch_size=1,
        bpm=data.bpm,
        key=data.key,
        bars=data.bars,
        meter=data.meter,
    )
    check_seed(walk.seed_image, settings.grid())  # a seed with no pattern fails before any work
    return walk, settings


def run_inference(engine, payload: dict, client: str | None = None) -> dict:
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
    clip = engine.clip(*walk_request(data), client=client)
    rate = clip.params.sample_rate
    image = io.BytesIO()
    clip.image().save(image, format="JPEG", quality=92)
    with tempfile.TemporaryDirectory() as folder:
        mp3 = save_audio(Path(folder) / "clip.mp3", clip_audio(clip), rate)
        audio = mp3.read_bytes()
    return {
        "image": "data:image/jpeg;base64," + base64.b64encode(image.getvalue()).decode(),
        "audio": "data:audio/mpeg;base64," + base64.b64encode(audio).decode(),
        "duration_s": clip.waveform.shape[-1] / rate,
    }


def router(engine, wrap=lambda fn: fn, trusted_proxies: int = 0) -> APIRouter:
    """A FastAPI router with `POST /run_inference/` over `engine`.

    Every answer is JSON: 200 with the clip; 400 for a bad request, 413 for a body over the
    engine's limit, 503 (with Retry-After) when the queue is full or memory ran out, 500 for
    anything else, each with {"error": one line} and no server detail.

    Args:
        wrap: decorates the GPU work (e.g. `spaces.GPU`).
        trusted_proxies: proxies in front whose X-Forwarded-For names the caller, for the
            per-client caps the page's requests have too.
    """
    routes = APIRouter()
    work = wrap(lambda payload, client: run_inference(engine, payload, client))
    limit = int(engine.limits.body_kb * 1024)

    @routes.post("/run_inference/")
    async def inference(request: Request) -> JSONResponse:
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                return _error(f"the request body is over {engine.limits.body_kb:g} kB", 413)
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):
            return _error("the request body is not JSON", 400)
        if not isinstance(payload, dict):
            return _error("the request body must be a JSON object", 400)
        try:
            host = request.client.host if request.client else None
            client = client_address(host, request.headers.get("x-forwarded-for"), trusted_proxies)
            return JSONResponse(await run_in_threadpool(work, payload, client))
        except OutOfGPUMemory as error:  # a ValueError too, but the server's, not the caller's
            give_back_memory()
            return _error(str(error), 503, {"Retry-After": "30"})
        except ValueError as error:
            return _error(public_message(str(error)), 400)
        except Busy as error:
            return _error(str(error), 503, {"Retry-After": "30"})
        except torch.OutOfMemoryError:
            log.exception("out of memory in /run_inference/")
            give_back_memory()
            return _error(
                "out of memory for this request: try again, or with fewer steps", 503, {"Retry-After": "30"}
            )
        except Exception:
            log.exception("/run_inference/ failed")
            return _error("the render failed on the server; try again", 500)

    return routes


def _error(message: str, status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)
