"""Model loading: one entry point, ``load_transcriber``, whatever the backend."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def list_models(cache_dir: str | None = None) -> list[ModelInfo]:
    from ..export.build import _model_dir, _read_manifest, cache_root
    from ..export.registry import list_sources

    out = []
    for src in list_sources():
        built = src.path is not None and _read_manifest(_model_dir(cache_root(cache_dir), src)) is not None
        out.append(
            ModelInfo(src.name, src.description, src.multilingual, src.path is not None, built, src.install_hint)
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
    started = time.monotonic()
    # The ONNX Runtime path verifies what it loads itself (_ort_files).
    built = ensure_model(opts.model, opts.cache_dir, progress, verify=opts.backend == "tflite")
    dims = built.dims
    backend = opts.backend
    if backend in ("auto", "onnxruntime"):
        from .ort_backend import OrtRuntime

        try:
            encoder, decoder, optimized = _ort_files(built, opts.fused_attention)
            runtime = OrtRuntime(
                encoder,
                decoder,
                opts,
                dims.n_text_layer,
                dims.n_text_head,
                dims.n_text_state // dims.n_text_head,
                optimized=optimized,
            )
        except BackendUnavailableError:
            if backend == "onnxruntime":
                raise
            from .tflite_backend import TfliteRuntime

            built.verify()
            runtime = TfliteRuntime.from_built(built, opts)  # type: ignore[assignment]
    else:
        from .tflite_backend import TfliteRuntime

        runtime = TfliteRuntime.from_built(built, opts)  # type: ignore[assignment]
    tok = load_tokenizer(built.tokenizer, dims.n_vocab, dims.num_languages, table_dir=built.directory)
    transcriber = WhisperTranscriber(runtime, tok, dims, built.name)
    log.info("loaded %s in %.2f s", transcriber.name, time.monotonic() - started)
    return transcriber


def _ort_files(built: Any, fused_attention: bool = False) -> tuple[Path, Path, bool]:
    """(encoder, decoder, already optimized): the prepared copies (ort_prepare.py), else the verified built files."""
    from .ort_backend import _import_ort
    from .ort_prepare import prepared_models

    prepared = prepared_models(built, _import_ort(), fused_attention)
    if prepared is not None:
        return prepared[0], prepared[1], True
    built.verify()
    return built.encoder, built.decoder, False
