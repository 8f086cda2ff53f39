"""Writing a build: a staging directory renamed into place only when the build succeeds, and the manifest that
records what the build was made of and each output's size and checksum. Every builder (ONNX, LiteRT, QDQ) uses
these; ``cache`` reads what they write."""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import ModelError
from ..weights import WhisperWeights
from .cache import MANIFEST, WORK_PREFIX, Files, Variant, sha256_file
from .paths import CACHE_ENV
from .registry import ModelSource


def output_table(work: Path, names: list[str]) -> Files:
    return {f: {"size": (work / f).stat().st_size, "sha256": sha256_file(work / f)} for f in names}


@contextlib.contextmanager
def staging(directory: Path, name: str) -> Iterator[Path]:
    """A work directory beside ``directory``, renamed into place when the block ends without error and deleted
    when it fails, so a killed or failed build never leaves a half-written model where a good one is looked for."""
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=WORK_PREFIX, dir=directory.parent))
    except OSError as exc:
        raise ModelError(
            f"cannot write the model cache {directory.parent} ({exc.strerror or exc}); give a writable directory "
            f"with --cache-dir or ${CACHE_ENV}"
        ) from None
    try:
        yield work
        if directory.exists():
            shutil.rmtree(directory)
        work.replace(directory)
    except BaseException as exc:
        vanished = not work.exists()
        shutil.rmtree(work, ignore_errors=True)
        if vanished and isinstance(exc, Exception):
            raise ModelError(
                f"the model cache {directory.parent} was deleted while {name} was being built; run the command again"
            ) from None
        if isinstance(exc, OSError):
            raise ModelError(f"cannot write the model cache {directory.parent} ({exc.strerror or exc})") from None
        raise


def weights_manifest(
    src: ModelSource, weights: WhisperWeights, variant: Variant, key: str, files: Files, work: Path,
    outputs: dict[str, str], tokenizer: str, started: float,
) -> dict[str, Any]:
    """The manifest of a build made from ``weights``: what it was made of, and each output's size and checksum.
    ``outputs`` maps roles (encoder, decoder) to file names in ``work``."""
    return {
        "name": src.name,
        "kind": variant.kind,
        "edge_asr_version": __version__,
        "export_version": variant.version,
        "cache_key": key,
        "source": {"path": str(src.path), "files": files, "weights_fingerprint": weights.fingerprint()},
        "dims": weights.dims.to_dict(),
        "multilingual": weights.dims.is_multilingual,
        "alignment_heads": [list(h) for h in weights.alignment_heads],
        "tokenizer": tokenizer,
        "quantization": variant.settings,
        "files": dict(outputs),
        "outputs": output_table(work, [*outputs.values(), tokenizer]),
        "build_seconds": round(time.monotonic() - started, 2),
    }


def write_manifest(work: Path, manifest: dict[str, Any]) -> None:
    (work / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
