"""`edge-asr models build`: import weights, write the ONNX graphs, quantize to INT8, cache with a manifest.

The cache rules (content keys, verification, pruning, atomic installs) are in ``cache.py``, shared with the LiteRT
and static QDQ builds.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from ..errors import ModelError
from ..weights import WhisperWeights
from .cache import (
    MANIFEST,
    BuiltModel,
    Files,
    Progress,
    Variant,
    build_dir,
    cache_size,
    ensure_built,
    read_manifest,
    sha256_file,
)
from .paths import CACHE_ENV, cache_root
from .quantize import QUANT_SETTINGS, quantize_int8
from .registry import ModelSource, resolve
from .staging import staging, weights_manifest, write_manifest

log = logging.getLogger(__name__)

__all__ = [
    "CACHE_ENV", "MANIFEST", "ONNX_INT8", "BuiltModel", "build_dir", "cache_root", "cache_size", "ensure_model",
    "model_dir", "read_manifest", "sha256_file",
]

EXPORT_VERSION = 2  # bump when the graphs change: cached builds are then rebuilt
ENCODER_FILE = "encoder.int8.onnx"
DECODER_FILE = "decoder.int8.onnx"
ONNX_INT8 = Variant("onnx", EXPORT_VERSION, QUANT_SETTINGS)


def model_dir(cache_dir: str | Path | None, src: ModelSource) -> Path:
    """Where the INT8 ONNX build of an installed model lives (whether or not it is built yet)."""
    return build_dir(cache_root(cache_dir), src, ONNX_INT8)


def ensure_model(
    name_or_path: str,
    cache_dir: str | Path | None = None,
    progress: Progress | None = None,
    force: bool = False,
    verify: bool = True,
) -> BuiltModel:
    """The built model for a name or path: from the cache when its sources are unchanged, else built now."""
    src = resolve(name_or_path)
    if src.path is None:
        return _prebuilt_or_raise(src, verify)
    return ensure_built(name_or_path, ONNX_INT8, _build, cache_dir, progress, force, verify)


def _prebuilt_or_raise(src: ModelSource, verify: bool) -> BuiltModel:
    # Installs without the source weights (bundles, the .deb) ship the build itself.
    from .prebuilt import find_prebuilt, verify_prebuilt

    built = find_prebuilt(src.name, EXPORT_VERSION)
    if built is None:
        raise ModelError(f"model {src.name!r} is not installed here. {src.install_hint}")
    if verify:
        verify_prebuilt(built)
    return built


def _build(src: ModelSource, directory: Path, key: str, files: Files, progress: Progress) -> BuiltModel:
    return build_model(src, directory, progress, key=key, files=files)


def _load_weights(path: Path) -> WhisperWeights:
    from ..weights.loader import load_weights

    return load_weights(path)


def build_model(
    src: ModelSource, directory: Path, progress: Progress, tokenizer_file: Path | None = None,
    key: str | None = None, files: Files | None = None,
) -> BuiltModel:
    from .cache import cache_key, check_expected, source_fingerprint

    try:
        import onnx

        from .whisper_onnx import build_decoder, build_encoder
    except ImportError as exc:
        from ..distribution import missing_part

        raise ModelError(f"cannot build {src.name} ({exc}): {missing_part('builder')}") from None

    assert src.path is not None
    started = time.monotonic()
    progress("checking sources", 0.0)
    if files is None:
        files = source_fingerprint(src.path)
        check_expected(src, files)
    progress("importing weights", 0.05)
    weights = _load_weights(src.path)
    tok = tokenizer_file or src.tokenizer or weights.tokenizer_file
    if tok is None:
        raise ModelError(
            f"{src.path}: no tokenizer.json or *.tiktoken beside the weights; pass one with --tokenizer "
            "(OpenAI checkpoints use gpt2.tiktoken for English-only and multilingual.tiktoken otherwise)"
        )
    with staging(directory, src.name) as work:
        progress("writing encoder graph", 0.15)
        onnx.save(build_encoder(weights), str(work / "encoder.fp32.onnx"))
        progress("quantizing encoder to INT8", 0.3)
        quantize_int8(work / "encoder.fp32.onnx", work / ENCODER_FILE)
        progress("writing decoder graph", 0.5)
        onnx.save(build_decoder(weights, shared_int8_embedding=True), str(work / "decoder.fp32.onnx"))
        progress("quantizing decoder to INT8", 0.65)
        quantize_int8(work / "decoder.fp32.onnx", work / DECODER_FILE)
        for f in ("encoder.fp32.onnx", "decoder.fp32.onnx"):
            (work / f).unlink()
        shutil.copyfile(tok, work / Path(tok).name)
        progress("writing manifest", 0.95)
        manifest = weights_manifest(src, weights, ONNX_INT8, key or cache_key(src, files, ONNX_INT8), files, work,
                                    {"encoder": ENCODER_FILE, "decoder": DECODER_FILE}, Path(tok).name, started)
        write_manifest(work, manifest)
    progress("done", 1.0)
    log.info("built %s in %.1f s -> %s", src.name, time.monotonic() - started, directory)
    return BuiltModel(src.name, directory, manifest)
