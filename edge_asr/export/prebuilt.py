"""Prebuilt model directories: INT8 builds shipped read-only beside the program (a PyInstaller bundle, a .deb),
used when a model's source weights are not installed, so such an install starts without building anything.

A prebuilt directory holds one sub-folder per model, named like the model, each the exact output of the builder
(encoder, decoder, tokenizer, manifest.json). ``write_prebuilt`` makes one; ``find_prebuilt`` looks one up.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from .cache import MANIFEST, BuiltModel, read_manifest, safe_name

PREBUILT_ENV = "EDGE_ASR_PREBUILT_DIR"  # os.pathsep-separated folders of prebuilt models
BUNDLE_PREBUILT = "edge_asr_prebuilt"  # the folder's name inside a frozen bundle's data directory


def prebuilt_roots() -> list[Path]:
    """$EDGE_ASR_PREBUILT_DIR's folders, then the frozen bundle's own."""
    roots = [Path(p) for p in os.environ.get(PREBUILT_ENV, "").split(os.pathsep) if p]
    bundle_dir = getattr(sys, "_MEIPASS", None)
    if getattr(sys, "frozen", False) and bundle_dir:
        roots.append(Path(bundle_dir) / BUNDLE_PREBUILT)
    return roots


def find_prebuilt(name: str, export_version: int) -> BuiltModel | None:
    """The prebuilt model called ``name`` from that exporter version, or None. Checksums are not checked here."""
    for root in prebuilt_roots():
        directory = root / safe_name(name)
        manifest = read_manifest(directory)
        if manifest and manifest.get("name") == name and manifest.get("export_version") == export_version:
            return BuiltModel(name, directory, manifest, prebuilt=True)
    return None


def verify_prebuilt(built: BuiltModel) -> None:
    """Raise ModelError naming a missing or damaged file; a prebuilt model is fixed by reinstalling, not rebuilding."""
    built.verify()


def write_prebuilt(built: BuiltModel, root: Path) -> Path:
    """Copy a built model's outputs and manifest into ``root/<name>/`` (replacing what was there)."""
    target = root / safe_name(built.name)
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for fname in [*built.manifest["outputs"], MANIFEST]:
        shutil.copyfile(built.directory / fname, target / fname)
    # The compact token table ships with the model, so an installed copy writes nothing at run time (its folder
    # belongs to the package: root-owned, and removed with it).
    from ..tokenizer import load_tokenizer

    dims = built.dims
    load_tokenizer(target / built.tokenizer.name, dims.n_vocab, dims.num_languages, table_dir=target)
    return target
