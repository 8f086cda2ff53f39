"""`edge-asr models build`: import weights, write the ONNX graphs, quantize to INT8, cache with a manifest.

The cache is keyed on content: the SHA-256 of every source file (and of a separate tokenizer), the exporter version
and the quantization settings. The same weights in another venv or another folder find the same build; a changed
source or exporter builds anew and prunes the build it supersedes. Hashing 75 MB of weights takes 0.2 s, so a
small index in the cache root remembers each source path's digests by size and mtime. Every output's checksum is
verified when it is loaded.
"""

from __future__ import annotations

import contextlib
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

import onnx
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
SOURCE_INDEX = ".source-index.json"  # in the cache root: source path -> each file's size, mtime and sha256
KEY_LENGTH = 12  # hex digits of the cache key in a build's directory name
WORK_PREFIX = ".build-"  # a build in progress works in <cache>/.build-XXXX, renamed into place when done
STALE_WORK = 3600.0  # s after which a work directory is taken for one of a killed build (a build takes ~15 s)
LEGACY_COPY = "the same build, from when the cache was keyed on the source's path"
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


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def source_digests(path: Path, root: Path) -> dict[str, dict[str, Any]]:
    """Size and SHA-256 of every source file; digests come from the cache root's index while a file's size and
    mtime are unchanged, and are computed (and remembered, when the cache is writable) otherwise."""
    raw = _read_json(root / SOURCE_INDEX)
    index: dict[str, Any] = raw if isinstance(raw, dict) else {}
    where = str(path.resolve())
    entry = index.get(where)
    known: dict[str, Any] = entry if isinstance(entry, dict) else {}
    out: dict[str, dict[str, Any]] = {}
    fresh: dict[str, dict[str, Any]] = {}
    for p in _source_files(path):
        st = p.stat()
        rec = known.get(p.name)
        if isinstance(rec, dict) and rec.get("size") == st.st_size and rec.get("mtime_ns") == st.st_mtime_ns:
            digest = str(rec["sha256"])
        else:
            digest = sha256_file(p)
        out[p.name] = {"size": st.st_size, "sha256": digest}
        fresh[p.name] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}
    if fresh != known:
        index = {k: v for k, v in index.items() if Path(k).exists()}  # forget deleted venvs
        index[where] = fresh
        try:
            root.mkdir(parents=True, exist_ok=True)
            tmp = root / f"{SOURCE_INDEX}.{os.getpid()}.tmp"
            tmp.write_text(json.dumps(index, indent=1), encoding="utf-8")
            tmp.replace(root / SOURCE_INDEX)
        except OSError as exc:  # a read-only cache still works; it just hashes every time
            log.debug("cannot update %s: %s", root / SOURCE_INDEX, exc)
    return out


def cache_key(src: ModelSource, files: dict[str, dict[str, Any]]) -> str:
    """What a build is made of: the sources' contents, a separate tokenizer's, the exporter and its settings."""
    tokenizer = sha256_file(src.tokenizer) if src.tokenizer is not None and src.tokenizer.is_file() else None
    material = {"sources": {name: meta["sha256"] for name, meta in sorted(files.items())}, "tokenizer": tokenizer,
                "export_version": EXPORT_VERSION, "quantization": QUANT_SETTINGS}
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def cache_size(cache_dir: str | Path | None = None) -> int:
    """Bytes the model cache takes on disk (built models, work left by interrupted builds, joined sources)."""
    root = cache_root(cache_dir)
    total = 0
    for dirpath, _, names in os.walk(root):
        for n in names:
            with contextlib.suppress(OSError):
                total += (Path(dirpath) / n).lstat().st_size
    return total


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


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


def _model_dir(root: Path, src: ModelSource, key: str | None = None) -> Path:
    """Where the build of ``src`` lives: ``<name>-<first digits of its content key>``."""
    assert src.path is not None
    key = key or cache_key(src, source_digests(src.path, root))
    return root / f"{_safe_name(src.name)}-{key[:KEY_LENGTH]}"


def _read_manifest(directory: Path) -> dict[str, Any] | None:
    """The build's manifest, or None when it is missing or damaged (the build is then made again)."""
    data = _read_json(directory / MANIFEST)
    if not isinstance(data, dict) or not isinstance(data.get("outputs"), dict):
        if (directory / MANIFEST).exists():
            log.warning("%s is damaged; the model will be built again", directory / MANIFEST)
        return None
    return data


def _source_path(manifest: dict[str, Any]) -> str | None:
    source = manifest.get("source")
    return str(source.get("path")) if isinstance(source, dict) and source.get("path") else None


def _superseded(manifest: dict[str, Any], src: ModelSource, files: dict[str, dict[str, Any]]) -> str | None:
    """Why another build of the same model is no longer needed, or None to keep it."""
    raw = manifest.get("source")
    source: dict[str, Any] = raw if isinstance(raw, dict) else {}
    recorded = {n: m.get("sha256") for n, m in source.get("files", {}).items() if isinstance(m, dict)}
    version = manifest.get("export_version")
    if isinstance(version, int) and version < EXPORT_VERSION:
        return f"built by an older exporter (version {version})"
    if "cache_key" not in manifest and recorded == {n: m["sha256"] for n, m in files.items()} \
            and version == EXPORT_VERSION and manifest.get("quantization") == QUANT_SETTINGS:
        return LEGACY_COPY
    path = _source_path(manifest)
    if path is not None and not Path(path).exists():
        return f"its source {path} is gone"
    if path is not None and src.path is not None and Path(path).resolve() == src.path.resolve():
        return f"built from an earlier state of {path}"
    return None


def _adopt_legacy(root: Path, src: ModelSource, directory: Path, key: str,
                  files: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """A build of these very sources made when the cache was keyed on paths: renamed to its content key (and
    verified) instead of being built again. None when there is none."""
    try:
        candidates = sorted(root.glob(f"{_safe_name(src.name)}-*"))
    except OSError:
        return None
    for d in candidates:
        manifest = _read_manifest(d)
        if manifest is None or manifest.get("name") != src.name or d == directory:
            continue
        if _superseded(manifest, src, files) != LEGACY_COPY or src.tokenizer is not None:
            continue
        try:
            BuiltModel(src.name, d, manifest).verify()
            d.replace(directory)
            manifest["cache_key"] = key
            (directory / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        except (ModelError, OSError) as exc:
            log.debug("not adopting %s: %s", d, exc)
            continue
        log.info("reusing %s as %s (the cache is now keyed on content)", d.name, directory.name)
        return manifest
    return None


def prune_superseded(root: Path, src: ModelSource, keep: Path, files: dict[str, dict[str, Any]]) -> list[Path]:
    """Delete the other builds of ``src.name`` that ``keep`` supersedes; returns what was deleted."""
    removed: list[Path] = []
    try:
        entries = [d for d in root.iterdir() if d.is_dir()]
    except OSError:
        return removed
    now = time.time()
    for d in entries:  # work left by builds that were killed (a running build touches its files)
        if d.name.startswith(WORK_PREFIX) and now - d.stat().st_mtime > STALE_WORK:
            shutil.rmtree(d, ignore_errors=True)
            log.info("removed %s, left by an interrupted build", d)
            removed.append(d)
    candidates = [d for d in entries if not d.name.startswith(".") and d != keep]
    for d in candidates:
        manifest = _read_manifest(d)
        if manifest is None or manifest.get("name") != src.name:
            continue
        why = _superseded(manifest, src, files)
        if why is None:
            continue
        try:
            shutil.rmtree(d)
        except OSError as exc:
            log.warning("cannot remove the superseded build %s: %s", d, exc)
            continue
        log.info("removed the superseded build %s (%s)", d, why)
        removed.append(d)
    return removed


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
    root = cache_root(cache_dir)
    files = source_digests(src.path, root)
    key = cache_key(src, files)
    directory = _model_dir(root, src, key)
    manifest = None if force else _read_manifest(directory)
    if manifest is None and not force:
        manifest = _adopt_legacy(root, src, directory, key, files)
        if manifest is not None:
            prune_superseded(root, src, directory, files)
    if manifest is not None and manifest.get("cache_key") == key:
        built = BuiltModel(src.name, directory, manifest)
        if verify:
            built.verify()
        return built
    built = build_model(src, directory, progress or _noop, key=key)
    prune_superseded(root, src, built.directory, files)
    return built


def _load_weights(path: Path) -> WhisperWeights:
    from ..weights.loader import load_weights

    return load_weights(path)


def build_model(
    src: ModelSource, directory: Path, progress: Progress, tokenizer_file: Path | None = None,
    key: str | None = None,
) -> BuiltModel:
    from .whisper_onnx import build_decoder, build_encoder

    assert src.path is not None
    started = time.monotonic()
    progress("checking sources", 0.0)
    files = source_fingerprint(src.path)
    _check_expected(src, files)
    progress("importing weights", 0.05)
    weights = _load_weights(src.path)
    tok = tokenizer_file or src.tokenizer or weights.tokenizer_file
    if tok is None:
        raise ModelError(
            f"{src.path}: no tokenizer.json or *.tiktoken beside the weights; pass one with --tokenizer "
            "(OpenAI checkpoints use gpt2.tiktoken for English-only and multilingual.tiktoken otherwise)"
        )
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=WORK_PREFIX, dir=directory.parent))
    except OSError as exc:
        raise ModelError(
            f"cannot write the model cache {directory.parent} ({exc.strerror or exc}); give a writable directory "
            f"with --cache-dir or ${CACHE_ENV}"
        ) from None
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
            "cache_key": key or cache_key(src, files),
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
    except BaseException as exc:
        vanished = not work.exists()
        shutil.rmtree(work, ignore_errors=True)
        if vanished and isinstance(exc, Exception):
            raise ModelError(
                f"the model cache {directory.parent} was deleted while {src.name} was being built; "
                "run the command again"
            ) from None
        if isinstance(exc, OSError):
            raise ModelError(f"cannot write the model cache {directory.parent} ({exc.strerror or exc})") from None
        raise
    progress("done", 1.0)
    log.info("built %s in %.1f s -> %s", src.name, time.monotonic() - started, directory)
    return BuiltModel(src.name, directory, manifest)
