"""ONNX Runtime copies of a built model, prepared once per machine and runtime version, that load fast and small.

The built INT8 graphs are portable; what ONNX Runtime does with them at every load is not free. A prepared copy
(under ``<model dir>/ort/<key>/``) keeps the result:

- **Graph optimizations applied** (ORT_ENABLE_ALL): a load skips them. Level ALL may use CPU-specific layouts, so
  the key covers the ONNX Runtime version and the CPU (architecture and feature flags).
- **Weights in an external data file** that ONNX Runtime maps (mmap) rather than copies. Each MatMul weight is
  still prepacked at load, after which the mapped original is released.
- **A row-major copy of the int8 token embedding for the lookup.** The built decoder stores the embedding once,
  as [D, V], for both the lookup and the tied logits MatMul. A lookup there reads one byte in each of the D rows,
  so the whole 20-MB table stays resident beside the logits MatMul's prepacked copy of it. With the lookup reading
  [V, D] rows from the mapped file instead, only the rows of tokens actually seen are ever read, and the [D, V]
  table is released after prepacking. It costs 20 MB of disk, not of memory (measured: the decoder session
  +49 MB -> +35 MB after load).

Anything that goes wrong here (read-only cache, an unknown graph, an old runtime) only means the built files are
loaded as before.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .ort_rewrite import EMBEDDING, EMBEDDING_ROWS, fused_attention, rows_lookup

log = logging.getLogger(__name__)

__all__ = ["EMBEDDING", "EMBEDDING_ROWS", "machine_key", "prepared_models"]

PREPARED_VERSION = 1  # bump when what is prepared changes
STAMP = "prepared.json"
PARTS = ("encoder", "decoder")
MIN_EXTERNAL_BYTES = 1024  # initializers at least this large go to the data file (smaller ones stay inline)


def machine_key(ort_version: str, fused: bool = False) -> str:
    """ONNX Runtime version + CPU: what a level-ALL optimized graph may depend on (+ the optional rewrites)."""
    flags = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            flags = next((line.split(":", 1)[1] for line in f if line.startswith(("flags", "Features"))), "")
    except OSError:
        flags = platform.processor()
    digest = hashlib.sha256(" ".join(sorted(flags.split())).encode()).hexdigest()[:10]
    return f"{ort_version}-{platform.machine() or 'cpu'}-{digest}-v{PREPARED_VERSION}" + ("-mha" if fused else "")


def _stamp_of(path: Path) -> dict[str, int]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _files(directory: Path) -> list[Path]:
    return [directory / f"{part}{ext}" for part in PARTS for ext in (".onnx", ".data")]


def _valid(directory: Path, sources: dict[str, str]) -> bool:
    """The prepared copy was made from these sources and its files are as written (size and mtime)."""
    try:
        stamp = json.loads((directory / STAMP).read_text(encoding="utf-8"))
        if stamp.get("sources") != sources:
            return False
        return all(_stamp_of(p) == stamp["files"].get(p.name) for p in _files(directory))
    except (OSError, ValueError, KeyError, AttributeError):
        return False


def _optimize(ort: Any, source: Path, target: Path, providers: list[str]) -> None:
    """Let ONNX Runtime apply its level-ALL optimizations and save the graph with its weights in ``.data``."""
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.enable_cpu_mem_arena = False
    so.log_severity_level = 3  # the "may be hardware specific" warning is why the key covers the CPU
    so.optimized_model_filepath = str(target)
    so.add_session_config_entry("session.optimized_model_external_initializers_file_name", target.stem + ".data")
    so.add_session_config_entry("session.optimized_model_external_initializers_min_size_in_bytes",
                                str(MIN_EXTERNAL_BYTES))
    ort.InferenceSession(str(source), so, providers=providers)


def _prepare(ort: Any, built: Any, work: Path, sources: dict[str, str], fused: bool) -> None:
    import onnx  # only preparing needs it (about 17 MB and a noticeable import)

    built.verify()  # what is prepared from must be what was built
    rewrites = {"encoder": fused_attention if fused else None, "decoder": rows_lookup}
    for part, source in (("encoder", built.encoder), ("decoder", built.decoder)):
        model = onnx.load(str(source))
        rewrite = rewrites[part]
        if rewrite is not None:
            log.debug("%s: %s rewrote %s", source.name, rewrite.__name__, rewrite(model))
        rewritten = work / f"{part}.src.onnx"
        onnx.save(model, str(rewritten))
        del model
        _optimize(ort, rewritten, work / f"{part}.onnx", ["CPUExecutionProvider"])
        rewritten.unlink()
    stamp = {"sources": sources, "ort": ort.__version__, "files": {p.name: _stamp_of(p) for p in _files(work)}}
    (work / STAMP).write_text(json.dumps(stamp, indent=2), encoding="utf-8")


def prepared_models(built: Any, ort: Any, fused_attention: bool = False) -> tuple[Path, Path] | None:
    """(encoder, decoder) of the prepared copy of ``built`` (a BuiltModel), made now if missing; None when no
    prepared copy can be used, and the built files should be loaded instead. ``fused_attention`` adds that rewrite
    of the encoder (ort_rewrite.py; off by default: see EngineOptions.fused_attention)."""
    outputs = built.manifest.get("outputs", {})
    sources = {p.name: outputs.get(p.name, {}).get("sha256", "") for p in (built.encoder, built.decoder)}
    if not all(sources.values()) or not hasattr(ort, "__version__"):
        return None
    directory = built.derived_dir / "ort" / machine_key(ort.__version__, fused_attention)
    if not _valid(directory, sources):
        try:
            import onnx  # noqa: F401  (preparing needs it; a bundle ships no builder and loads the built files)
        except ImportError:
            return None
        try:
            directory.parent.mkdir(parents=True, exist_ok=True)
            work = Path(tempfile.mkdtemp(prefix=".prepare-", dir=directory.parent))
        except OSError as exc:
            log.debug("cannot prepare %s here (%s); loading the built files", built.name, exc)
            return None
        try:
            _prepare(ort, built, work, sources, fused_attention)
            if directory.exists():
                shutil.rmtree(directory, ignore_errors=True)
            os.replace(work, directory)
            log.info("prepared %s for onnxruntime %s in %s", built.name, ort.__version__, directory)
        except Exception as exc:  # another process won the race, a full disk, an ORT that cannot save...
            log.debug("preparing %s failed (%s); loading the built files", built.name, exc)
            shutil.rmtree(work, ignore_errors=True)
            if not _valid(directory, sources):
                return None
    return directory / "encoder.onnx", directory / "decoder.onnx"
