"""Where `edge-asr transcribe` writes: the output directory (made, or refused with a message that says why) and one
name per input that collides neither with another output of the same run nor with a file already there."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ..errors import OutputError

log = logging.getLogger(__name__)


def prepare_output_dir(path: Path) -> Path:
    """Create ``path`` (and its parents) and check that transcripts can be written into it."""
    if path.exists() and not path.is_dir():
        raise OutputError(f"--output-dir {path} is a file, not a directory: give a directory for the transcripts")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path, prefix=".edge-asr-write-test-"):
            pass
    except (FileExistsError, NotADirectoryError):  # a parent of path is a file
        blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), path)
        raise OutputError(f"cannot create the output directory {path}: {blocker} is a file") from None
    except PermissionError as exc:
        where = exc.filename or path
        raise OutputError(f"cannot write transcripts to {path}: permission denied on {where}") from None
    except OSError as exc:
        raise OutputError(f"cannot write transcripts to {path}: {exc.strerror or exc}") from None
    return path


def output_stems(files: Sequence[Path], out_dir: Path, formats: Sequence[str], overwrite: bool = False) -> list[str]:
    """``<stem>`` per input, so that ``out_dir/<stem>.<format>`` is unique across the run and, unless
    ``overwrite``, names no existing file: a clash gets the first free ``_2``, ``_3``, ... suffix, for all the
    formats of that input at once. Names are compared without case, for case-insensitive file systems."""
    taken: set[str] = set()  # casefolded file names this run writes
    stems = []
    for f in files:
        base = f.stem
        stem, n = base, 1

        def clashes(candidate: str) -> bool:
            names = [f"{candidate}.{fmt}" for fmt in formats]
            if any(name.casefold() in taken for name in names):
                return True
            return not overwrite and any((out_dir / name).exists() for name in names)

        while clashes(stem):
            n += 1
            stem = f"{base}_{n}"
        if stem != base:
            log.warning("%s: %s.%s is taken (by another input or an existing file); writing %s.%s instead",
                        f, base, formats[0], stem, formats[0])
        taken.update(f"{stem}.{fmt}".casefold() for fmt in formats)
        stems.append(stem)
    return stems
