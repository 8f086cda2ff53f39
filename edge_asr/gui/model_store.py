"""What the model manager shows and does, over the core's registry and build cache. No Qt here: every
function may touch the disk and runs on a worker thread (see :mod:`edge_asr.gui.jobs`).

The same core calls as ``edge-asr models list|build|import`` (edge_asr/cli/models.py), plus sizes and the
deletion of one cached build.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelError

log = logging.getLogger(__name__)

Progress = Callable[[str, float], None]
FORMAT_LABELS = {"ctranslate2": "CTranslate2 folder", "hf": "Hugging Face folder", "openai": "OpenAI checkpoint"}


@dataclass(frozen=True)
class ModelEntry:
    name: str
    description: str
    multilingual: bool
    languages: str  # "English" | "99 languages" | "multilingual"
    installed: bool  # its checkpoint is here
    built: bool  # its INT8 build is in the cache
    imported: bool  # the user imported it (as opposed to the shipped registry)
    install_hint: str
    source: str  # checkpoint path, "" when not installed
    source_bytes: int | None
    build_dir: str  # "" when not built
    build_bytes: int | None

    @property
    def state(self) -> str:
        return "built" if self.built else "built on first use" if self.installed else "not installed"


def _tree_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def list_entries(cache_dir: str | None = None) -> list[ModelEntry]:
    """Every registered and imported model with its sizes and build state (reads manifests, never hashes)."""
    from ..export.build import _model_dir, _read_manifest, cache_root
    from ..export.registry import _user_models, list_sources
    from ..weights import ModelDims

    root = cache_root(cache_dir)
    imported = set(_user_models())
    out = []
    for src in list_sources():
        manifest = directory = None
        if src.path is not None:
            directory = _model_dir(root, src)
            manifest = _read_manifest(directory)
        languages = "multilingual" if src.multilingual else "English"
        build_bytes = None
        if manifest is not None:
            dims = ModelDims.from_dict(manifest["dims"])
            languages = f"{dims.num_languages} languages" if dims.is_multilingual else "English"
            build_bytes = sum(int(v["size"]) for v in manifest["outputs"].values())
        source_bytes = None
        if src.path is not None:
            try:
                source_bytes = _tree_bytes(src.path)
            except OSError as exc:
                log.warning("cannot size %s: %s", src.path, exc)
        out.append(ModelEntry(
            name=src.name, description=src.description, multilingual=src.multilingual or "languages" in languages,
            languages=languages, installed=src.path is not None, built=manifest is not None,
            imported=src.name in imported, install_hint=src.install_hint,
            source=str(src.path or ""), source_bytes=source_bytes,
            build_dir=str(directory) if manifest is not None else "", build_bytes=build_bytes,
        ))
    return out


def cache_bytes(cache_dir: str | None = None) -> int:
    from ..export.build import cache_root

    root = cache_root(cache_dir)
    return _tree_bytes(root) if root.exists() else 0


def cache_location(cache_dir: str | None = None) -> Path:
    from ..export.build import cache_root

    return cache_root(cache_dir)


def delete_build(name: str, cache_dir: str | None = None) -> Path:
    """Remove one model's cached INT8 build (its checkpoint is untouched); it is rebuilt on next use."""
    from ..export.build import MANIFEST, _model_dir, cache_root
    from ..export.registry import resolve

    src = resolve(name)
    if src.path is None:
        raise ModelError(f"{name} is not installed, so it has no build to delete")
    directory = _model_dir(cache_root(cache_dir), src)
    if not (directory / MANIFEST).is_file():
        raise ModelError(f"{name} has no build in {directory.parent}")
    shutil.rmtree(directory)
    log.info("deleted the build of %s: %s", name, directory)
    return directory


def rebuild(name: str, progress: Progress, cache_dir: str | None = None) -> int:
    """Build the model again from its checkpoint; returns the build's size in bytes."""
    from ..export.build import ensure_model

    return ensure_model(name, cache_dir, progress, force=True).size_bytes


# -- import -------------------------------------------------------------------------------------------------
def detect(path: Path) -> str:
    """The checkpoint format of ``path`` ("ctranslate2", "hf", "openai"); ModelError naming the layouts."""
    from ..weights.loader import detect_format

    return detect_format(path)


def tokenizer_needed(path: Path, fmt: str) -> bool:
    """Whether the user must pick a tokenizer: only when none lies beside the checkpoint."""
    folder = path if path.is_dir() else path.parent
    if (folder / "tokenizer.json").is_file():
        return False
    return not (fmt == "openai" and any(p.is_file() for p in folder.glob("*.tiktoken")))


def suggest_name(path: Path) -> str:
    """A short name from the file or folder: ``tiny.pt`` -> ``tiny``, ``faster-whisper-base`` -> ``base``."""
    stem = path.stem if path.is_file() else path.name
    for prefix in ("faster-whisper-", "whisper-", "openai-whisper-", "ggml-"):
        if stem.lower().startswith(prefix):
            stem = stem[len(prefix):]
    return stem or "imported"


def import_checkpoint(path: Path, name: str, tokenizer: Path | None, progress: Progress,
                      cache_dir: str | None = None) -> int:
    """Validate, record and build an imported checkpoint, as ``edge-asr models import`` does; returns bytes."""
    from ..export.build import ensure_model
    from ..export.registry import remember_import
    from ..weights.loader import load_weights

    name = name.strip()
    if not name or any(c in name for c in "/\\"):
        raise ModelError("give the model a short name without slashes, e.g. base or my-tiny")
    if not path.exists():
        raise ModelError(f"{path} does not exist")
    progress("reading the checkpoint", 0.0)
    weights = load_weights(path)  # validates before anything is recorded
    tok = tokenizer or weights.tokenizer_file
    if tok is None:
        raise ModelError(f"{path} carries no tokenizer: choose its tokenizer.json or *.tiktoken file "
                         "(gpt2.tiktoken for English-only models, multilingual.tiktoken otherwise)")
    multilingual = weights.dims.is_multilingual
    del weights
    remember_import(name, path, multilingual, Path(tok))
    return ensure_model(name, cache_dir, progress, force=True).size_bytes


def human_bytes(n: int | None) -> str:
    if n is None:
        return "–"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit in ("B", "KB") else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"
