"""`edge-asr models build`: import weights, write the ONNX graphs, quantize to INT8, cache with a manifest.

The cache key covers the source files (size, mtime and checksum), the exporter version and the quantization
settings, so a changed source or exporter rebuilds; every output's checksum is verified when it is loaded.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from .. import __version__
from ..constants import APP_NAME
from ..errors import ModelError
from ..weights import ModelDims, WhisperWeights
from .quantize import QUANT_SETTINGS, quantize_int8
from .registry import ModelSource, resolve

log = logging.getLogger(__name__)

EXPORT_VERSION = 2  # bump when the graphs change: cached builds are then rebuilt
MANIFEST = "manifest.json"
ENCODER_FILE = "encoder.int8.onnx"
DECODER_FILE = "decoder.int8.onnx"
HASH_CHUNK = 1 << 20  # bytes read at a time when hashing

Progress = Callable[[str, float], None]


def _noop(stage: str, fraction: float) -> None:
    pass


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


CACHE_ENV = "EDGE_ASR_CACHE_DIR"


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """Explicit directory, else $EDGE_ASR_CACHE_DIR, else the per-user cache (~/.cache/edge-asr/models)."""
    if cache_dir:
        return Path(cache_dir)
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return Path(platformdirs.user_cache_dir(APP_NAME)) / "models"


def _source_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))


def source_fingerprint(path: Path) -> dict[str, dict[str, Any]]:
    return {p.name: {"size": p.stat().st_size, "sha256": sha256_file(p)} for p in _source_files(path)}


@dataclass(frozen=True)
class BuiltModel:
    name: str
    directory: Path
    manifest: dict[str, Any]

    @property
    def dims(self) -> ModelDims:
        return ModelDims.from_dict(self.manifest["dims"])

    @property
    def encoder(self) -> Path:
        return self.directory / ENCODER_FILE

    @property
    def decoder(self) -> Path:
        return self.directory / DECODER_FILE

    @property
    def tokenizer(self) -> Path:
        return self.directory / self.manifest["tokenizer"]

    @property
    def size_bytes(self) -> int:
        return sum(v["size"] for v in self.manifest["outputs"].values())

    def verify(self) -> None:
        """Raise ModelError naming any output file that is missing or whose checksum differs."""
        for fname, meta in self.manifest["outputs"].items():
            p = self.directory / fname
            if not p.is_file():
                raise ModelError(
                    f"cached model file {p} is missing; rebuild with: edge-asr models build --force {self.name}"
                )
            if p.stat().st_size != meta["size"] or sha256_file(p) != meta["sha256"]:
                raise ModelError(
                    f"cached model file {p} is corrupt (checksum mismatch); rebuild with: "
                    f"edge-asr models build --force {self.name}  (or delete {self.directory})"
                )


def _model_dir(root: Path, src: ModelSource) -> Path:
    key = hashlib.sha256(
        f"{src.path}|{EXPORT_VERSION}|{json.dumps(QUANT_SETTINGS, sort_keys=True)}".encode()
    ).hexdigest()
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in src.name)
    return root / f"{safe}-{key[:12]}"


def _read_manifest(directory: Path) -> dict[str, Any] | None:
    p = directory / MANIFEST
    if not p.is_file():
        return None
    try:
        data: dict[str, Any] = json.loads(p.read_text(encoding="utf-8"))
        return data
    except (OSError, json.JSONDecodeError):
        return None


def _sources_unchanged(manifest: dict[str, Any], path: Path) -> bool:
    recorded = manifest.get("source", {}).get("files", {})
    current = _source_files(path)
    if sorted(recorded) != sorted(p.name for p in current):
        return False
    for p in current:
        meta = recorded[p.name]
        st = p.stat()
        if st.st_size != meta["size"]:
            return False
        if st.st_mtime_ns != meta.get("mtime_ns") and sha256_file(p) != meta["sha256"]:
            return False
    return True


def _check_expected(src: ModelSource, files: dict[str, dict[str, Any]]) -> None:
    for fname, expected in src.expected_sha256.items():
        if fname in files and files[fname]["sha256"] != expected:
            raise ModelError(
                f"{src.path / fname if src.path and src.path.is_dir() else src.path}: "
                f"checksum {files[fname]['sha256'][:16]}… "
                f"differs from the registry's {expected[:16]}… for {src.name}; the package may be damaged: reinstall it"
            )


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
        raise ModelError(f"model {src.name!r} is not installed here. {src.install_hint}")
    directory = _model_dir(cache_root(cache_dir), src)
    manifest = None if force else _read_manifest(directory)
    if manifest is not None and _sources_unchanged(manifest, src.path):
        built = BuiltModel(src.name, directory, manifest)
        if verify:
            built.verify()
        return built
    return build_model(src, directory, progress or _noop)


def _load_weights(path: Path) -> WhisperWeights:
    from ..weights.loader import load_weights

    return load_weights(path)


def build_model(
    src: ModelSource, directory: Path, progress: Progress, tokenizer_file: Path | None = None
) -> BuiltModel:
    import onnx  # only a build needs it: importing it costs ~17 MB and 0.2-2 s, so loading a built model does not

    from .whisper_onnx import build_decoder, build_encoder

    assert src.path is not None
    started = time.monotonic()
    progress("checking sources", 0.0)
    files = source_fingerprint(src.path)
    _check_expected(src, files)
    for p in _source_files(src.path):
        files[p.name]["mtime_ns"] = p.stat().st_mtime_ns
    progress("importing weights", 0.05)
    weights = _load_weights(src.path)
    tok = tokenizer_file or src.tokenizer or weights.tokenizer_file
    if tok is None:
        raise ModelError(
            f"{src.path}: no tokenizer.json or *.tiktoken beside the weights; pass one with --tokenizer "
            "(OpenAI checkpoints use gpt2.tiktoken for English-only and multilingual.tiktoken otherwise)"
        )
    directory.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=directory.parent))
    try:
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
        outputs = {
            f: {"size": (work / f).stat().st_size, "sha256": sha256_file(work / f)}
            for f in (ENCODER_FILE, DECODER_FILE, Path(tok).name)
        }
        manifest = {
            "name": src.name,
            "edge_asr_version": __version__,
            "export_version": EXPORT_VERSION,
            "source": {"path": str(src.path), "files": files, "weights_fingerprint": weights.fingerprint()},
            "dims": weights.dims.to_dict(),
            "multilingual": weights.dims.is_multilingual,
            "alignment_heads": [list(h) for h in weights.alignment_heads],
            "tokenizer": Path(tok).name,
            "quantization": QUANT_SETTINGS,
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
    log.info("built %s in %.1f s -> %s", src.name, time.monotonic() - started, directory)
    return BuiltModel(src.name, directory, manifest)
