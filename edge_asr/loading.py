"""A built model opened in a runtime and wrapped as a ready ``WhisperTranscriber``, one function per backend.

Below the factory (``factory.load_transcriber`` chooses the backend, routes and quantization) and above the
engine, transcription and export layers it joins. The static-QDQ builder records its calibration inputs through
``load_ort``, so it never calls back into the factory (which opens the QDQ build it makes).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .export.cache import BuiltModel
from .options import EngineOptions
from .transcribe import WhisperTranscriber

if TYPE_CHECKING:
    from .engine.ort_backend import OrtRuntime
    from .engine.runtime import ModelRuntime

log = logging.getLogger(__name__)

Progress = Callable[[str, float], None]


def open_transcriber(built: BuiltModel, runtime: ModelRuntime) -> WhisperTranscriber:
    """``runtime`` (over ``built``'s files) with ``built``'s tokenizer."""
    from .tokenizer import load_tokenizer

    dims = built.dims
    tok = load_tokenizer(built.tokenizer, dims.n_vocab, dims.num_languages, table_dir=token_table_dir(built))
    return WhisperTranscriber(runtime, tok, dims, built.name)


def load_ort(opts: EngineOptions, progress: Progress | None = None) -> WhisperTranscriber:
    """The dynamic INT8 ONNX build (built on first use) in ONNX Runtime."""
    from .export.build import ensure_model

    # The prepared copies are verified by ort_files itself; the built files only when they are used.
    built = ensure_model(opts.model, opts.cache_dir, progress, verify=False)
    encoder, decoder, optimized = ort_files(built, opts.fused_attention)
    return open_transcriber(built, ort_runtime(built, opts, encoder, decoder, optimized))


def load_litert(opts: EngineOptions, progress: Progress | None = None) -> WhisperTranscriber:
    """The INT8 LiteRT (TFLite) build in LiteRT with XNNPACK."""
    from .engine.litert_backend import LitertRuntime, check_device, import_interpreter
    from .export.tflite_build import ensure_litert_model

    check_device(opts.device)  # before a possibly long build,
    import_interpreter()  # as is a LiteRT that is installed but does not load (the factory then uses ORT)
    built = ensure_litert_model(opts.model, opts.cache_dir, progress)
    d = built.dims
    runtime = LitertRuntime(built.encoder, built.decoder, opts, d.n_text_layer, d.n_text_head,
                            d.n_text_state // d.n_text_head, d.n_text_ctx)
    return open_transcriber(built, runtime)


def ort_runtime(built: BuiltModel, opts: EngineOptions, encoder: Path, decoder: Path, optimized: bool) -> OrtRuntime:
    from .engine.ort_backend import OrtRuntime

    d = built.dims
    return OrtRuntime(encoder, decoder, opts, d.n_text_layer, d.n_text_head, d.n_text_state // d.n_text_head,
                      optimized=optimized)


def ort_files(built: BuiltModel, fused_attention: bool = False) -> tuple[Path, Path, bool]:
    """(encoder, decoder, already optimized): the prepared copies (ort_prepare.py), else the verified built files."""
    from .engine.ort_backend import _import_ort
    from .engine.ort_prepare import prepared_models

    prepared = prepared_models(built, _import_ort(), fused_attention)
    if prepared is not None:
        return prepared[0], prepared[1], True
    built.verify()
    return built.encoder, built.decoder, False


def token_table_dir(built: BuiltModel) -> Path | None:
    """The folder for the token table, made if needed; None (the tokenizer file is used) when it cannot be. A
    prebuilt model ships its table (export/prebuilt.py) and is read where it is installed."""
    from .token_table import SUFFIX

    if built.prebuilt and (built.directory / (built.tokenizer.name + SUFFIX)).is_file():
        return built.directory
    try:
        built.derived_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        log.debug("no folder for %s's token table (%s)", built.name, exc)
        return None
    return built.derived_dir
