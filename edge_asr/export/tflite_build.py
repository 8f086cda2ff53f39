"""`edge-asr models build --backend litert`: the LiteRT graphs, built from the same weights into the same cache
with the same manifest rules as the ONNX build (source fingerprints, exporter version, output checksums).

It has its own directory beside the ONNX one, so building or rebuilding either never touches the other, and it
needs no ONNX tooling: only numpy and the flatbuffer schema that LiteRT ships.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import ModelError
from .build import (
    BuiltModel,
    Progress,
    _check_expected,
    _load_weights,
    _noop,
    _read_manifest,
    _source_files,
    _sources_unchanged,
    cache_root,
    sha256_file,
    source_fingerprint,
)
from .registry import ModelSource, resolve

log = logging.getLogger(__name__)

LITERT_EXPORT_VERSION = 1  # bump when the graphs change: cached LiteRT builds are then rebuilt
ENCODER_FILE = "encoder.int8.tflite"
DECODER_FILE = "decoder.int8.tflite"
MANIFEST = "manifest.json"
LITERT_QUANT: dict[str, Any] = {
    "method": "dynamic-range",
    "weights": "int8 per-channel symmetric (FULLY_CONNECTED)",
    "activations": "float32, quantized per row at run time",
    "embedding": "int8 per-token, shared lookup/logits",
    "float16": "conv filters and positional embeddings (the checkpoint's precision)",
}


def litert_dir(root: Path, src: ModelSource) -> Path:
    key = hashlib.sha256(
        f"{src.path}|litert|{LITERT_EXPORT_VERSION}|{json.dumps(LITERT_QUANT, sort_keys=True)}".encode()
    ).hexdigest()
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in src.name)
    return root / f"{safe}-litert-{key[:12]}"


def model_files(built: BuiltModel) -> tuple[Path, Path]:
    """(encoder, decoder) of a LiteRT build."""
    files = built.manifest.get("files", {})
    return built.directory / files.get("encoder", ENCODER_FILE), built.directory / files.get("decoder", DECODER_FILE)


def ensure_litert_model(
    name_or_path: str,
    cache_dir: str | Path | None = None,
    progress: Progress | None = None,
    force: bool = False,
    verify: bool = True,
) -> BuiltModel:
    """The LiteRT build for a name or path: from the cache when its sources are unchanged, else built now."""
    src = resolve(name_or_path)
    if src.path is None:
        raise ModelError(f"model {src.name!r} is not installed here. {src.install_hint}")
    directory = litert_dir(cache_root(cache_dir), src)
    manifest = None if force else _read_manifest(directory)
    if manifest is not None and _sources_unchanged(manifest, src.path):
        built = BuiltModel(src.name, directory, manifest)
        if verify:
            built.verify()
        return built
    return build_litert_model(src, directory, progress or _noop)


def build_litert_model(src: ModelSource, directory: Path, progress: Progress) -> BuiltModel:
    from .tflite_writer import schema
    from .whisper_tflite import build_decoder, build_encoder

    assert src.path is not None
    schema()  # fail before the slow part when the schema classes are missing
    started = time.monotonic()
    progress("checking sources", 0.0)
    files = source_fingerprint(src.path)
    _check_expected(src, files)
    for p in _source_files(src.path):
        files[p.name]["mtime_ns"] = p.stat().st_mtime_ns
    progress("importing weights", 0.05)
    weights = _load_weights(src.path)
    tok = src.tokenizer or weights.tokenizer_file
    if tok is None:
        raise ModelError(f"{src.path}: no tokenizer.json or *.tiktoken beside the weights; import it with --tokenizer")
    directory.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=directory.parent))
    try:
        progress("writing the LiteRT encoder (int8)", 0.2)
        (work / ENCODER_FILE).write_bytes(build_encoder(weights))
        progress("writing the LiteRT decoder (int8)", 0.5)
        (work / DECODER_FILE).write_bytes(build_decoder(weights))
        shutil.copyfile(tok, work / Path(tok).name)
        progress("writing manifest", 0.95)
        outputs = {
            f: {"size": (work / f).stat().st_size, "sha256": sha256_file(work / f)}
            for f in (ENCODER_FILE, DECODER_FILE, Path(tok).name)
        }
        manifest = {
            "name": src.name,
            "backend": "litert",
            "edge_asr_version": __version__,
            "export_version": LITERT_EXPORT_VERSION,
            "source": {"path": str(src.path), "files": files, "weights_fingerprint": weights.fingerprint()},
            "dims": weights.dims.to_dict(),
            "multilingual": weights.dims.is_multilingual,
            "alignment_heads": [list(h) for h in weights.alignment_heads],
            "tokenizer": Path(tok).name,
            "quantization": LITERT_QUANT,
            "files": {"encoder": ENCODER_FILE, "decoder": DECODER_FILE},
            "outputs": outputs,
            "build_seconds": round(time.monotonic() - started, 2),
        }
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        if directory.exists():
            shutil.rmtree(directory)
        work.replace(directory)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    progress("done", 1.0)
    log.info("built LiteRT %s in %.1f s -> %s", src.name, time.monotonic() - started, directory)
    return BuiltModel(src.name, directory, manifest)
