"""POST /v1/audio/transcriptions, compatible with OpenAI's API so its clients work against the board.

The multipart body is parsed by Starlette into at most one spooled temporary file per request (deleted when the
request ends); decoding runs in a worker thread and the transcription in the scheduler, never on the event loop.
"""

from __future__ import annotations

import logging
import math
from functools import partial
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from ..audio import decode_audio
from ..constants import HOP_LENGTH, SAMPLE_RATE
from ..errors import AudioError, AudioTooLong, ConfigError
from ..formats import to_srt, to_vtt
from ..options import DEFAULT_TEMPERATURES, TranscribeOptions
from ..results import Segment, TranscriptionInfo
from ..routing import RoutedTranscriber, routed_options
from .errors import LOADING_RETRY_AFTER, ApiError, unavailable
from .scheduler import Cancelled, Priority
from .waits import GraceOver, JobTimeout, await_job

log = logging.getLogger(__name__)

RESPONSE_FORMATS = ("json", "text", "srt", "verbose_json", "vtt")
GRANULARITIES = ("segment", "word")
MAX_FORM_FIELDS = 16  # text fields in one request (the API has 7)
MAX_FIELD_BYTES = 64 * 1024  # bytes of one text field (a long prompt fits)
IN_MEMORY_NAME = "<in-memory audio>"  # how decode_audio names a file object without a path
LANGUAGE_NAMES = {
    "en": "english", "de": "german", "es": "spanish", "fr": "french", "it": "italian", "ja": "japanese",
    "ko": "korean", "pt": "portuguese", "zh": "chinese", "ru": "russian", "nl": "dutch", "pl": "polish",
}

_FORM_SCHEMA: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": "the audio file"},
                        "model": {"type": "string", "description": "a loaded model (GET /v1/models); whisper-1 or "
                                                                  "absent: the configured model or language routing"},
                        "language": {"type": "string", "description": "ISO-639-1 code"},
                        "prompt": {"type": "string"},
                        "response_format": {"type": "string", "enum": list(RESPONSE_FORMATS)},
                        "temperature": {"type": "number", "minimum": 0, "maximum": 1},
                        "timestamp_granularities[]": {"type": "array",
                                                      "items": {"type": "string", "enum": list(GRANULARITIES)}},
                    },
                }
            }
        },
    },
    "responses": {
        "400": {"description": "bad request (not audio, bad field)"},
        "413": {"description": "upload or audio too large"},
        "415": {"description": "not multipart/form-data"},
        "429": {"description": "queue full; see Retry-After"},
        "503": {"description": "loading or shutting down; see Retry-After"},
    },
}


def _field(form: Any, name: str) -> str | None:
    value = form.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ApiError(400, f"'{name}' must be a text field, not a file", param=name)
    return value.strip() or None


DEFAULT_MODEL_ALIASES = ("whisper-1",)  # what OpenAI clients send by default: the daemon's own choice


def loaded_models(daemon: Any) -> list[str]:
    """The models requests can name: a router's models, or the one configured model."""
    transcriber = daemon.scheduler.transcriber if daemon.scheduler is not None else None
    if isinstance(transcriber, RoutedTranscriber):
        return list(transcriber.models)
    return [daemon.config.model.name] if transcriber is not None else []


def choose_model(form: Any, daemon: Any) -> str | None:
    """The model a request names, validated against the loaded ones; None: the daemon decides (routing)."""
    wanted = _field(form, "model")
    if wanted is None or wanted in DEFAULT_MODEL_ALIASES or wanted == daemon.model_name:
        return None
    loaded = loaded_models(daemon)
    if wanted not in loaded:
        raise ApiError(400, f"model {wanted!r} is not loaded here; loaded: {', '.join(loaded) or 'none'} "
                            "(GET /v1/models lists them; model.routes in the config loads several)", param="model")
    return wanted if isinstance(daemon.scheduler.transcriber, RoutedTranscriber) else None


def request_options(form: Any, base: TranscribeOptions, multilingual: bool, model_name: str
                    ) -> tuple[TranscribeOptions, str]:
    """The decoding options and the response format a request's form fields ask for."""
    fmt = _field(form, "response_format") or "json"
    if fmt not in RESPONSE_FORMATS:
        raise ApiError(400, f"response_format must be one of {', '.join(RESPONSE_FORMATS)}, not {fmt!r}",
                       param="response_format")
    language = _field(form, "language")
    if language is not None:
        language = language.lower()
        if not multilingual and language != "en":
            raise ApiError(400, f"the loaded model {model_name} is English-only; it cannot transcribe {language!r}",
                           param="language")
    temps = base.temperatures
    raw_temp = _field(form, "temperature")
    if raw_temp is not None:
        try:
            t = float(raw_temp)
        except ValueError:
            raise ApiError(400, f"temperature must be a number, not {raw_temp!r}", param="temperature") from None
        if not (math.isfinite(t) and 0.0 <= t <= 1.0):
            raise ApiError(400, "temperature must be between 0 and 1", param="temperature")
        # OpenAI: 0 means "let the model raise the temperature as needed", i.e. Whisper's fallback schedule.
        temps = DEFAULT_TEMPERATURES if t == 0 else (t,)
    grains = [g for key in ("timestamp_granularities[]", "timestamp_granularities") for g in form.getlist(key)]
    for g in grains:
        if g not in GRANULARITIES:
            raise ApiError(400, f"timestamp_granularities must be segment and/or word, not {g!r}",
                           param="timestamp_granularities")
    try:
        opts = base.with_(language=language or base.language,
                          initial_prompt=_field(form, "prompt") or base.initial_prompt,
                          temperatures=temps, word_timestamps="word" in grains)
    except ConfigError as exc:
        raise ApiError(400, str(exc)) from None
    return opts, fmt


def _text(segments: list[Segment]) -> str:
    return "".join(s.text for s in segments).strip()


def verbose_json(segments: list[Segment], info: TranscriptionInfo, words: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "task": info.options.task,
        "language": LANGUAGE_NAMES.get(info.language, info.language),
        "duration": round(info.duration, 3),
        "text": _text(segments),
        "segments": [
            {"id": s.id, "seek": int(s.start * SAMPLE_RATE // HOP_LENGTH), "start": round(s.start, 3),
             "end": round(s.end, 3), "text": s.text, "tokens": list(s.tokens), "temperature": s.temperature,
             "avg_logprob": s.avg_logprob, "compression_ratio": s.compression_ratio,
             "no_speech_prob": s.no_speech_prob}
            for s in segments
        ],
    }
    if words:
        out["words"] = [{"word": w.word.strip(), "start": round(w.start, 3), "end": round(w.end, 3)}
                        for s in segments for w in (s.words or ())]
    return out


def render(segments: list[Segment], info: TranscriptionInfo, fmt: str) -> Response:
    if fmt == "json":
        return JSONResponse({"text": _text(segments)})
    if fmt == "verbose_json":
        return JSONResponse(verbose_json(segments, info, info.options.word_timestamps))
    if fmt == "srt":
        return PlainTextResponse(to_srt(segments))
    if fmt == "vtt":
        return PlainTextResponse(to_vtt(segments), media_type="text/vtt")
    return PlainTextResponse(_text(segments) + "\n")


async def transcriptions(request: Request) -> Response:
    return await _audio_request(request, "transcribe")


async def translations(request: Request) -> Response:
    """POST /v1/audio/translations: speech in any language -> English text (Whisper's translate task)."""
    return await _audio_request(request, "translate")


def _task_options(form: Any, daemon: Any, task: str) -> tuple[TranscribeOptions, str]:
    """request_options plus the task and the model choice of a routing daemon."""
    base = daemon.config.decoding.transcribe_options()
    if task == "translate":
        if not daemon.is_multilingual:
            raise ApiError(400, f"the loaded model {daemon.model_name} is English-only and cannot translate; load a "
                                "multilingual one: model.name = \"base\" or model.routes = \"en=tiny.en,*=base\" "
                                "(pip install 'edge-asr[base]')")
        base = base.with_(task="translate")
    model = choose_model(form, daemon)
    opts, fmt = request_options(form, base, daemon.is_multilingual, daemon.model_name)
    if isinstance(daemon.scheduler.transcriber, RoutedTranscriber):
        opts = routed_options(opts, model=model)
    return opts, fmt


async def _audio_request(request: Request, task: str) -> Response:
    daemon = request.app.state.daemon
    scheduler = daemon.scheduler
    if scheduler is None or daemon.shutting_down:
        raise unavailable(daemon)
    ctype = request.headers.get("content-type", "")
    if not ctype.lower().startswith("multipart/form-data"):
        raise ApiError(415, "send the audio as multipart/form-data with a 'file' field, "
                            f"not {ctype or 'a body without a type'!r}")
    try:
        form = await request.form(max_files=1, max_fields=MAX_FORM_FIELDS, max_part_size=MAX_FIELD_BYTES)
    except MultiPartException as exc:
        raise ApiError(400, f"malformed multipart body: {exc.message}") from None
    except HTTPException as exc:  # Starlette's form() turns its MultiPartException into a 400 HTTPException
        raise ApiError(exc.status_code, f"malformed multipart body: {exc.detail}") from None
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ApiError(400, "the 'file' field with the audio is missing (or is not a file)", param="file")
        opts, fmt = _task_options(form, daemon, task)
        if fmt in ("srt", "vtt"):  # long segments are split into subtitle cues at word times
            opts = opts.with_(word_timestamps=True)
        name = upload.filename or "upload"
        limit = daemon.config.server.max_audio_seconds
        async with daemon.decode_slots:  # decoded audio is large: bound how many uploads decode at once
            try:  # an over-long upload is refused from its header, or as soon as its audio passes the limit
                samples = await run_in_threadpool(partial(decode_audio, upload.file, max_duration=limit))
            except AudioTooLong as exc:
                raise ApiError(413, str(exc).replace(IN_MEMORY_NAME, name), param="file") from None
            except AudioError as exc:
                raise ApiError(400, str(exc).replace(IN_MEMORY_NAME, name), param="file") from None
    finally:
        await form.close()
    seconds = len(samples) / SAMPLE_RATE
    job = scheduler.submit(samples, opts, Priority.UPLOAD)
    del samples
    log.info("upload %s: %.1f s of audio queued", name, seconds)
    server = daemon.config.server
    try:  # ClientGone (the client left: the job is cancelled) goes to the handler that logs one INFO line
        result = await await_job(job, server.request_timeout, daemon.grace_over, request.receive)
    except JobTimeout:
        raise ApiError(504, f"transcription did not finish within {server.request_timeout:g} s",
                       kind="timeout") from None
    except GraceOver:
        log.warning("upload %s: unfinished when the %.0f-s shutdown grace period ended; answered 503", name,
                    server.graceful_timeout)
        raise ApiError(503, f"the server is shutting down and {name} did not finish within the "
                            f"{server.graceful_timeout:.0f}-s grace period; send it again",
                       retry_after=LOADING_RETRY_AFTER) from None
    except Cancelled as exc:
        raise ApiError(503, str(exc), kind="cancelled") from None
    except (AudioError, ConfigError) as exc:
        raise ApiError(400, str(exc)) from None
    log.info("upload %s: %.1f s of audio in %.2f s (waited %.2f s)", name, seconds, result.busy, result.waited)
    return render(result.segments, result.info, fmt)


async def models(request: Request) -> dict[str, Any]:
    """GET /v1/models: every installed model (OpenAI's list shape), the loaded ones first and marked."""
    from ..factory import list_models

    daemon = request.app.state.daemon
    loaded = loaded_models(daemon)
    installed = await run_in_threadpool(list_models, daemon.config.model.cache_dir)
    by_name = {m.name: m for m in installed if m.installed}
    order = loaded + [n for n in by_name if n not in loaded]
    data = []
    for name in order:
        info = by_name.get(name)
        data.append({"id": name, "object": "model", "created": 0, "owned_by": "edge-asr", "loaded": name in loaded,
                     "multilingual": info.multilingual if info else None,
                     "languages": info.languages if info else None, "built": info.built if info else None})
    return {"object": "list", "data": data}


def register(app: FastAPI) -> None:
    app.post("/v1/audio/transcriptions", openapi_extra=_FORM_SCHEMA, summary="Transcribe an audio file")(transcriptions)
    app.post("/v1/audio/translations", openapi_extra=_FORM_SCHEMA,
             summary="Translate speech in any language into English text")(translations)
    app.get("/v1/models", summary="Installed models, OpenAI list shape; loaded ones first")(models)
