"""Model loading: one entry point, ``load_transcriber``, whatever the backend."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import BackendUnavailableError
from ..options import EngineOptions
from .base import AudioInput, Transcriber

log = logging.getLogger(__name__)

__all__ = ["AudioInput", "ModelInfo", "Transcriber", "list_models", "load_transcriber"]


@dataclass(frozen=True)
class ModelInfo:
    name: str
    description: str
    multilingual: bool
    installed: bool  # its source checkpoint is present
    built: bool  # its INT8 build is in the cache
    install_hint: str
    languages: int = 1  # language ids the model knows (99 for Whisper's multilingual models)
    source_bytes: int | None = None  # size of the installed checkpoint
    built_bytes: int | None = None  # size of the INT8 build in the cache


WHISPER_LANGUAGES = 99  # language ids of every multilingual Whisper but large-v3 (100)


def _source_size(path: Path | None) -> int | None:
    if path is None or not path.exists():
        return None
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.iterdir() if p.is_file() and not p.name.startswith("."))


def list_models(cache_dir: str | None = None) -> list[ModelInfo]:
    from ..export.build import _model_dir, _read_manifest, cache_root
    from ..export.registry import list_sources
    from ..weights import ModelDims

    out = []
    for src in list_sources():
        manifest = _read_manifest(_model_dir(cache_root(cache_dir), src)) if src.path is not None else None
        languages = WHISPER_LANGUAGES if src.multilingual else 1
        built_bytes = None
        if manifest is not None:
            dims = ModelDims.from_dict(manifest["dims"])
            languages = dims.num_languages if dims.is_multilingual else 1
            built_bytes = sum(int(v["size"]) for v in manifest["outputs"].values())
        out.append(
            ModelInfo(src.name, src.description, src.multilingual, src.path is not None, manifest is not None,
                      src.install_hint, languages, _source_size(src.path), built_bytes)
        )
    return out


def load_transcriber(
    options: EngineOptions | None = None, progress: Callable[[str, float], None] | None = None
) -> Transcriber:
    """Build (first use, with progress) or load the INT8 model and return a ready transcriber."""
    from ..export.build import ensure_model
    from ..tokenizer import load_tokenizer
    from ..transcribe import WhisperTranscriber

    opts = options or EngineOptions()
    if opts.routes.strip():
        from ..routing import load_router

        return load_router(opts, progress)
    started = time.monotonic()
    built = ensure_model(opts.model, opts.cache_dir, progress)
    dims = built.dims
    backend = opts.backend
    if backend in ("auto", "onnxruntime"):
        from .ort_backend import OrtRuntime

        try:
            runtime = OrtRuntime(
                built.encoder,
                built.decoder,
                opts,
                dims.n_text_layer,
                dims.n_text_head,
                dims.n_text_state // dims.n_text_head,
            )
        except BackendUnavailableError:
            if backend == "onnxruntime":
                raise
            from .tflite_backend import TfliteRuntime

            runtime = TfliteRuntime.from_built(built, opts)  # type: ignore[assignment]
    else:
        from .tflite_backend import TfliteRuntime

        runtime = TfliteRuntime.from_built(built, opts)  # type: ignore[assignment]
    tok = load_tokenizer(built.tokenizer, dims.n_vocab, dims.num_languages)
    transcriber = WhisperTranscriber(runtime, tok, dims, built.name)
    log.info("loaded %s in %.2f s", transcriber.name, time.monotonic() - started)
    return transcriber
