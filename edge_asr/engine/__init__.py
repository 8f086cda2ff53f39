"""Model loading: one entry point, ``load_transcriber``, whatever the backend."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import BackendUnavailableError
from ..options import EngineOptions
from .base import AudioInput, Transcriber

if TYPE_CHECKING:
    from ..export.build import BuiltModel
    from .runtime import ModelRuntime

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
    from ..tokenizer import load_tokenizer
    from ..transcribe import WhisperTranscriber
    from .selection import choose_backend

    opts = options or EngineOptions()
    started = time.monotonic()
    choice = choose_backend(opts)
    log.info("backend %s: %s", choice.backend, choice.reason)
    try:
        built, runtime = _load_runtime(choice.backend, opts, progress)
    except BackendUnavailableError as exc:
        if opts.backend != "auto" or choice.backend != "litert" or opts.device.lower() not in ("auto", "cpu"):
            raise
        log.warning("LiteRT could not start (%s); using onnxruntime", exc)
        built, runtime = _load_runtime("onnxruntime", opts, progress)
    dims = built.dims
    tok = load_tokenizer(built.tokenizer, dims.n_vocab, dims.num_languages)
    transcriber = WhisperTranscriber(runtime, tok, dims, built.name)
    log.info("loaded %s in %.2f s", transcriber.name, time.monotonic() - started)
    return transcriber


def _load_runtime(
    backend: str, opts: EngineOptions, progress: Callable[[str, float], None] | None
) -> tuple[BuiltModel, ModelRuntime]:
    if backend == "litert":
        from ..export.tflite_build import ensure_litert_model, model_files
        from .litert_backend import check_device

        check_device(opts.device)  # before a possibly long build
        built = ensure_litert_model(opts.model, opts.cache_dir, progress)
        from .litert_backend import LitertRuntime

        encoder, decoder = model_files(built)
        d = built.dims
        return built, LitertRuntime(
            encoder, decoder, opts, d.n_text_layer, d.n_text_head, d.n_text_state // d.n_text_head, d.n_text_ctx
        )
    from ..export.build import ensure_model
    from .ort_backend import OrtRuntime

    if opts.quantization == "static":
        from ..export.quantize_static import ensure_static_model
        from ..export.quantize_static import model_files as static_files

        built = ensure_static_model(opts.model, opts.cache_dir, progress=progress)
        encoder, decoder = static_files(built)
    else:
        built = ensure_model(opts.model, opts.cache_dir, progress)
        encoder, decoder = built.encoder, built.decoder
    d = built.dims
    return built, OrtRuntime(encoder, decoder, opts, d.n_text_layer, d.n_text_head, d.n_text_state // d.n_text_head)
