"""The model cache every build shares (ONNX INT8, LiteRT, static QDQ): content keys, manifests, atomic installs,
verification and pruning.

A build lives in ``<cache>/<name>[-<kind>]-<key>``, where the key is the SHA-256 of what it is made of: every
source file's digest (and a separate tokenizer's), the exporter's version and its settings. The same weights in
another venv or folder find the same build; a changed source or exporter builds anew and prunes the build of the
same kind that it supersedes. Hashing 75 MB of weights takes 0.2 s, so a small index in the cache root remembers
each source path's digests by size and mtime. Every output's checksum is verified when it is loaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ModelError
from ..weights import ModelDims
from .paths import cache_root
from .registry import ModelSource, resolve

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
SOURCE_INDEX = ".source-index.json"  # in the cache root: source path -> each file's size, mtime and sha256
KEY_LENGTH = 12  # hex digits of the cache key in a build's directory name
WORK_PREFIX = ".build-"  # a build in progress works in <cache>/.build-XXXX, renamed into place when done
STALE_WORK = 3600.0  # s after which a work directory is taken for one of a killed build (a build takes ~15 s)
LEGACY_COPY = "the same build, from when the cache was keyed on the source's path"
HASH_CHUNK = 1 << 20  # bytes read at a time when hashing
DERIVED = ".derived"  # in the cache root: run-time files made from prebuilt models (never pruned as builds)
ONNX_KIND = "onnx"  # the default build; its directories carry no kind infix

Progress = Callable[[str, float], None]
Files = dict[str, dict[str, Any]]


def noop_progress(stage: str, fraction: float) -> None:
    pass


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class Variant:
    """One kind of build: its exporter version and settings are part of its cache key."""

    kind: str
    version: int
    settings: dict[str, Any] = field(hash=False)
    extra: str = ""  # anything else the build depends on (e.g. the calibration clips' digests)


def source_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))


def source_fingerprint(path: Path) -> Files:
    return {p.name: {"size": p.stat().st_size, "sha256": sha256_file(p)} for p in source_files(path)}


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def source_digests(path: Path, root: Path) -> Files:
    """Size and SHA-256 of every source file; digests come from the cache root's index while a file's size and
    mtime are unchanged, and are computed (and remembered, when the cache is writable) otherwise."""
    raw = _read_json(root / SOURCE_INDEX)
    index: dict[str, Any] = raw if isinstance(raw, dict) else {}
    where = str(path.resolve())
    entry = index.get(where)
    known: dict[str, Any] = entry if isinstance(entry, dict) else {}
    out: Files = {}
    fresh: Files = {}
    for p in source_files(path):
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


def cache_key(src: ModelSource, files: Files, variant: Variant) -> str:
    """What a build is made of: the sources' contents, a separate tokenizer's, the exporter and its settings."""
    tokenizer = sha256_file(src.tokenizer) if src.tokenizer is not None and src.tokenizer.is_file() else None
    material: dict[str, Any] = {
        "sources": {name: meta["sha256"] for name, meta in sorted(files.items())}, "tokenizer": tokenizer,
        "export_version": variant.version, "quantization": variant.settings,
    }
    if variant.kind != ONNX_KIND:  # the ONNX key predates kinds; keeping its material keeps existing caches
        material.update(kind=variant.kind, extra=variant.extra)
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
    prebuilt: bool = False  # shipped read-only with the program (export/prebuilt.py): fixed by reinstalling

    @property
    def dims(self) -> ModelDims:
        return ModelDims.from_dict(self.manifest["dims"])

    @property
    def encoder(self) -> Path:
        return self.directory / self.manifest.get("files", {}).get("encoder", "encoder.int8.onnx")

    @property
    def decoder(self) -> Path:
        return self.directory / self.manifest.get("files", {}).get("decoder", "decoder.int8.onnx")

    @property
    def tokenizer(self) -> Path:
        return self.directory / self.manifest["tokenizer"]

    @property
    def derived_dir(self) -> Path:
        """Where files made from this build at run time go (prepared runtime copies, the token table): the build's
        own directory; for a prebuilt model, which its package owns (read-only, removed by the package manager),
        a folder of the user's cache named by the build's checksums."""
        if not self.prebuilt:
            return self.directory
        digest = hashlib.sha256(json.dumps(self.manifest["outputs"], sort_keys=True).encode()).hexdigest()
        return cache_root() / DERIVED / f"{safe_name(self.name)}-{digest[:KEY_LENGTH]}"

    @property
    def size_bytes(self) -> int:
        return sum(v["size"] for v in self.manifest["outputs"].values())

    def verify(self) -> None:
        """Raise ModelError naming any output file that is missing or whose checksum differs."""
        for fname, meta in self.manifest["outputs"].items():
            p = self.directory / fname
            if self.prebuilt:
                if not p.is_file() or p.stat().st_size != meta["size"] or sha256_file(p) != meta["sha256"]:
                    state = "is missing" if not p.is_file() else "is damaged (checksum mismatch)"
                    raise ModelError(f"prebuilt model file {p} {state}; reinstall edge-asr (the bundle or the "
                                     "package) that shipped it")
                continue
            if not p.is_file():
                raise ModelError(
                    f"cached model file {p} is missing; rebuild with: edge-asr models build --force {self.name}"
                )
            if p.stat().st_size != meta["size"] or sha256_file(p) != meta["sha256"]:
                raise ModelError(
                    f"cached model file {p} is corrupt (checksum mismatch); rebuild with: "
                    f"edge-asr models build --force {self.name}  (or delete {self.directory})"
                )


def safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


def build_dir(root: Path, src: ModelSource, variant: Variant, key: str | None = None) -> Path:
    """Where the build of ``src`` lives: ``<name>[-<kind>]-<first digits of its content key>``."""
    assert src.path is not None
    key = key or cache_key(src, source_digests(src.path, root), variant)
    infix = "" if variant.kind == ONNX_KIND else f"-{variant.kind}"
    return root / f"{safe_name(src.name)}{infix}-{key[:KEY_LENGTH]}"


def read_manifest(directory: Path) -> dict[str, Any] | None:
    """The build's manifest, or None when it is missing or damaged (the build is then made again)."""
    data = _read_json(directory / MANIFEST)
    if not isinstance(data, dict) or not isinstance(data.get("outputs"), dict):
        if (directory / MANIFEST).exists():
            log.warning("%s is damaged; the model will be built again", directory / MANIFEST)
        return None
    return data


def manifest_kind(manifest: dict[str, Any]) -> str:
    kind = manifest.get("kind")
    if isinstance(kind, str):
        return kind
    return "litert" if manifest.get("backend") == "litert" else ONNX_KIND  # manifests written before kinds


def _source_path(manifest: dict[str, Any]) -> str | None:
    source = manifest.get("source")
    return str(source.get("path")) if isinstance(source, dict) and source.get("path") else None


def _superseded(manifest: dict[str, Any], src: ModelSource, files: Files, variant: Variant) -> str | None:
    """Why another build of the same model and kind is no longer needed, or None to keep it."""
    raw = manifest.get("source")
    source: dict[str, Any] = raw if isinstance(raw, dict) else {}
    recorded = {n: m.get("sha256") for n, m in source.get("files", {}).items() if isinstance(m, dict)}
    version = manifest.get("export_version")
    if isinstance(version, int) and version < variant.version:
        return f"built by an older exporter (version {version})"
    if "cache_key" not in manifest and recorded == {n: m["sha256"] for n, m in files.items()} \
            and version == variant.version and manifest.get("quantization") == variant.settings:
        return LEGACY_COPY
    path = _source_path(manifest)
    if path is not None and not Path(path).exists():
        return f"its source {path} is gone"
    if path is not None and src.path is not None and Path(path).resolve() == src.path.resolve():
        return f"built from an earlier state of {path}"
    return None


def _same_model(manifest: dict[str, Any], src: ModelSource, variant: Variant) -> bool:
    return manifest.get("name") == src.name and manifest_kind(manifest) == variant.kind


def _adopt_legacy(root: Path, src: ModelSource, directory: Path, key: str, files: Files,
                  variant: Variant) -> dict[str, Any] | None:
    """A build of these very sources made when the cache was keyed on paths: renamed to its content key (and
    verified) instead of being built again. None when there is none."""
    try:
        candidates = sorted(root.glob(f"{safe_name(src.name)}-*"))
    except OSError:
        return None
    for d in candidates:
        manifest = read_manifest(d)
        if manifest is None or not _same_model(manifest, src, variant) or d == directory:
            continue
        if _superseded(manifest, src, files, variant) != LEGACY_COPY or src.tokenizer is not None:
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


def prune_superseded(root: Path, src: ModelSource, keep: Path, files: Files, variant: Variant) -> list[Path]:
    """Delete the other builds of ``src.name`` and the same kind that ``keep`` supersedes; returns them."""
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
    for d in (d for d in entries if not d.name.startswith(".") and d != keep):
        manifest = read_manifest(d)
        if manifest is None or not _same_model(manifest, src, variant):
            continue
        why = _superseded(manifest, src, files, variant)
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


def check_expected(src: ModelSource, files: Files) -> None:
    for fname, expected in src.expected_sha256.items():
        if fname in files and files[fname]["sha256"] != expected:
            where = (src.path / fname).resolve() if src.path and src.path.is_dir() else src.path
            raise ModelError(
                f"{where}: checksum {files[fname]['sha256'][:16]}… differs from the registry's {expected[:16]}… "
                f"for {src.name}; the package may be damaged: reinstall it"
                + (f" ({src.reinstall_hint})" if src.reinstall_hint else "")
            )


# builder(src, directory, key, files, progress) -> BuiltModel
Builder = Callable[[ModelSource, Path, str, Files, Progress], BuiltModel]


def ensure_built(
    name_or_path: str, variant: Variant, builder: Builder, cache_dir: str | Path | None = None,
    progress: Progress | None = None, force: bool = False, verify: bool = True,
) -> BuiltModel:
    """The build of a kind for a name or path: from the cache when its key matches, else built now."""
    src = resolve(name_or_path)
    if src.path is None:
        raise ModelError(f"model {src.name!r} is not installed here. {src.install_hint}")
    root = cache_root(cache_dir)
    files = source_digests(src.path, root)
    key = cache_key(src, files, variant)
    directory = build_dir(root, src, variant, key)
    manifest = None if force else read_manifest(directory)
    if manifest is None and not force:
        manifest = _adopt_legacy(root, src, directory, key, files, variant)
        if manifest is not None:
            prune_superseded(root, src, directory, files, variant)
    if manifest is not None and manifest.get("cache_key") == key:
        built = BuiltModel(src.name, directory, manifest)
        if verify:
            built.verify()
        return built
    check_expected(src, files)
    built = builder(src, directory, key, files, progress or noop_progress)
    prune_superseded(root, src, built.directory, files, variant)
    return built
