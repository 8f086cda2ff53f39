"""The factory: which models there are (``list_models``) and one entry point to load one (``load_transcriber``),
whatever the backend, quantization or route table.

The top of the core: it chooses (``engine.selection``), builds on first use (``export``) and opens
(``loading``); ``routing`` gets this module's loader passed in, so nothing below imports the factory back.
The backends are imported only when chosen, so a missing runtime is an actionable error, not an ImportError at
start-up.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .engine.base import Transcriber
from .errors import BackendUnavailableError
from .options import EngineOptions

log = logging.getLogger(__name__)

__all__ = ["ModelInfo", "list_models", "load_transcriber"]

Progress = Callable[[str, float], None]

WHISPER_LANGUAGES = 99  # language ids of every multilingual Whisper but large-v3 (100)


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


def _source_size(path: Path | None) -> int | None:
    if path is None or not path.exists():
        return None
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.iterdir() if p.is_file() and not p.name.startswith("."))


def list_models(cache_dir: str | None = None) -> list[ModelInfo]:
    from .export.build import model_dir, read_manifest
    from .export.registry import list_sources
    from .weights import ModelDims

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


def load_transcriber(options: EngineOptions | None = None, progress: Progress | None = None) -> Transcriber:
    """Build (first use, with progress) or load the INT8 model and return a ready transcriber."""
    from .engine.selection import choose_backend

    opts = options or EngineOptions()
    if opts.routes.strip():
        from .routing import load_router

        return load_router(opts, lambda o: load_transcriber(o, progress))
    started = time.monotonic()
    choice = choose_backend(opts)
    log.info("backend %s: %s", choice.backend, choice.reason)
    try:
        transcriber = _load(choice.backend, opts, progress)
    except BackendUnavailableError as exc:
        if opts.backend != "auto" or choice.backend != "litert" or opts.device.lower() not in ("auto", "cpu"):
            raise
        log.warning("LiteRT could not start (%s); using onnxruntime", exc)
        transcriber = _load("onnxruntime", opts, progress)
    log.info("loaded %s in %.2f s", transcriber.name, time.monotonic() - started)
    return transcriber


def _load(backend: str, opts: EngineOptions, progress: Progress | None) -> Transcriber:
    from . import loading

    if backend == "litert":
        return loading.load_litert(opts, progress)
    if opts.quantization == "static":
        return _load_ort_static(opts, progress)
    return loading.load_ort(opts, progress)


def _load_ort_static(opts: EngineOptions, progress: Progress | None) -> Transcriber:
    """The static, calibrated QDQ INT8 build in ONNX Runtime (for NPUs that need full-integer graphs)."""
    from .export.quantize_static import ensure_static_model
    from .loading import open_transcriber, ort_runtime

    built = ensure_static_model(opts.model, opts.cache_dir, progress=progress)
    # The manifest names the QDQ files; they are used as built.
    return open_transcriber(built, ort_runtime(built, opts, built.encoder, built.decoder, False))
