"""`edge-asr models build --backend litert`: the LiteRT graphs, built from the same weights into the same cache
with the same manifest rules as the ONNX build (source fingerprints, exporter version, output checksums).

It has its own directory beside the ONNX one, so building or rebuilding either never touches the other, and it
needs no ONNX tooling: only numpy and the flatbuffer schema that LiteRT ships.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any

from ..errors import ModelError
from .cache import (
    BuiltModel,
    Files,
    Progress,
    Variant,
    ensure_built,
)
from .registry import ModelSource
from .staging import staging, weights_manifest, write_manifest

log = logging.getLogger(__name__)

LITERT_EXPORT_VERSION = 1  # bump when the graphs change: cached LiteRT builds are then rebuilt
ENCODER_FILE = "encoder.int8.tflite"
DECODER_FILE = "decoder.int8.tflite"
LITERT_QUANT: dict[str, Any] = {
    "method": "dynamic-range",
    "weights": "int8 per-channel symmetric (FULLY_CONNECTED)",
    "activations": "float32, quantized per row at run time",
    "embedding": "int8 per-token, shared lookup/logits",
    "float16": "conv filters and positional embeddings (the checkpoint's precision)",
}
LITERT_INT8 = Variant("litert", LITERT_EXPORT_VERSION, LITERT_QUANT)


def ensure_litert_model(
    name_or_path: str,
    cache_dir: str | Path | None = None,
    progress: Progress | None = None,
    force: bool = False,
    verify: bool = True,
) -> BuiltModel:
    """The LiteRT build for a name or path: from the cache when its sources are unchanged, else built now."""
    return ensure_built(name_or_path, LITERT_INT8, build_litert_model, cache_dir, progress, force, verify)


def build_litert_model(src: ModelSource, directory: Path, key: str, files: Files, progress: Progress) -> BuiltModel:
    from ..weights.loader import load_weights
    from .tflite_writer import schema
    from .whisper_tflite import build_decoder, build_encoder

    assert src.path is not None
    schema()  # fail before the slow part when the schema classes are missing
    started = time.monotonic()
    progress("importing weights", 0.05)
    weights = load_weights(src.path)
    tok = src.tokenizer or weights.tokenizer_file
    if tok is None:
        raise ModelError(f"{src.path}: no tokenizer.json or *.tiktoken beside the weights; import it with --tokenizer")
    with staging(directory, src.name) as work:
        progress("writing the LiteRT encoder (int8)", 0.2)
        (work / ENCODER_FILE).write_bytes(build_encoder(weights))
        progress("writing the LiteRT decoder (int8)", 0.5)
        (work / DECODER_FILE).write_bytes(build_decoder(weights))
        shutil.copyfile(tok, work / Path(tok).name)
        progress("writing manifest", 0.95)
        manifest = weights_manifest(src, weights, LITERT_INT8, key, files, work,
                                    {"encoder": ENCODER_FILE, "decoder": DECODER_FILE}, Path(tok).name, started)
        manifest["backend"] = "litert"
        write_manifest(work, manifest)
    progress("done", 1.0)
    log.info("built LiteRT %s in %.1f s -> %s", src.name, time.monotonic() - started, directory)
    return BuiltModel(src.name, directory, manifest)
