"""Model loading: one entry point, ``load_transcriber``, whatever the backend."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
    from ..export.build import model_dir, read_manifest
    from ..export.registry import list_sources
    from ..weights import ModelDims

    out = []
    for src in list_sources():
        manifest = read_manifest(model_dir(cache_dir, src)) if src.path is not None else None
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
    from ..tokenizer import load_tokenizer
    from ..transcribe import WhisperTranscriber
    from .selection import choose_backend

    opts = options or EngineOptions()
    if opts.routes.strip():
        from ..routing import load_router

        return load_router(opts, progress)
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
    tok = load_tokenizer(built.tokenizer, dims.n_vocab, dims.num_languages, table_dir=_derived_dir(built))
    transcriber = WhisperTranscriber(runtime, tok, dims, built.name)
    log.info("loaded %s in %.2f s", transcriber.name, time.monotonic() - started)
    return transcriber


def _load_runtime(
    backend: str, opts: EngineOptions, progress: Callable[[str, float], None] | None
) -> tuple[BuiltModel, ModelRuntime]:
    if backend == "litert":
        from ..export.tflite_build import ensure_litert_model
        from .litert_backend import check_device

        check_device(opts.device)  # before a possibly long build
        built = ensure_litert_model(opts.model, opts.cache_dir, progress)
        from .litert_backend import LitertRuntime

        d = built.dims
        return built, LitertRuntime(
            built.encoder, built.decoder, opts, d.n_text_layer, d.n_text_head, d.n_text_state // d.n_text_head,
            d.n_text_ctx,
        )
    from ..export.build import ensure_model
    from .ort_backend import OrtRuntime

    if opts.quantization == "static":
        from ..export.quantize_static import ensure_static_model

        built = ensure_static_model(opts.model, opts.cache_dir, progress=progress)
        encoder, decoder = built.encoder, built.decoder  # the manifest names the QDQ files
        optimized = False
    else:
        # The prepared copies are verified by _ort_files itself; the built files only when they are used.
        built = ensure_model(opts.model, opts.cache_dir, progress, verify=False)
        encoder, decoder, optimized = _ort_files(built, opts.fused_attention)
    d = built.dims
    return built, OrtRuntime(encoder, decoder, opts, d.n_text_layer, d.n_text_head, d.n_text_state // d.n_text_head,
                             optimized=optimized)


def _ort_files(built: Any, fused_attention: bool = False) -> tuple[Path, Path, bool]:
    """(encoder, decoder, already optimized): the prepared copies (ort_prepare.py), else the verified built files."""
    from .ort_backend import _import_ort
    from .ort_prepare import prepared_models

    prepared = prepared_models(built, _import_ort(), fused_attention)
    if prepared is not None:
        return prepared[0], prepared[1], True
    built.verify()
    return built.encoder, built.decoder, False


def _derived_dir(built: BuiltModel) -> Path | None:
    """The folder for the token table, made if needed; None (the tokenizer file is used) when it cannot be. A
    prebuilt model ships its table (export/prebuilt.py) and is read where it is installed."""
    from ..token_table import SUFFIX

    if built.prebuilt and (built.directory / (built.tokenizer.name + SUFFIX)).is_file():
        return built.directory
    try:
        built.derived_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        log.debug("no folder for %s's token table (%s)", built.name, exc)
        return None
    return built.derived_dir
