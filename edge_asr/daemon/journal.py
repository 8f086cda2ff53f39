"""The live transcript journal: JSON Lines, one final segment per line, durable and crash-safe.

Each line goes to disk with one ``write`` on an O_APPEND descriptor followed by ``fsync``, so a crash (even
kill -9 or power loss) can lose at most the line being written. A torn last line left by a crash is cut off
when the file is next opened for appending, so every line of every journal file stays parseable.

Files are ``transcript-YYYY-MM-DD-NNN.jsonl`` (UTC date, sequence number); a new one starts when the date
changes (if ``rotate_daily``) or the current one would pass ``max_bytes``; only the newest ``keep_files`` stay.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PREFIX = "transcript"
SUFFIX = ".jsonl"
NAME_RE = re.compile(rf"^{PREFIX}-(\d{{4}}-\d{{2}}-\d{{2}})-(\d{{3,}}){re.escape(SUFFIX)}$")
FILE_MODE = 0o640
READ_CHUNK = 64 * 1024  # bytes read backwards when repairing a torn tail


def _utc_today() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")


def repair_tail(path: Path) -> int:
    """Cut a partial last line (no trailing newline) off ``path``; returns the bytes removed."""
    with path.open("rb+") as f:
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return 0
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return 0
        end = size
        while end > 0:
            start = max(0, end - READ_CHUNK)
            f.seek(start)
            chunk = f.read(end - start)
            nl = chunk.rfind(b"\n")
            if nl >= 0:
                keep = start + nl + 1
                break
            end = start
        else:
            keep = 0
        f.truncate(keep)
        f.flush()
        os.fsync(f.fileno())
        return size - keep


def read_journal(path: Path) -> list[dict[str, Any]]:
    """Every complete line of one journal file (a torn last line is skipped)."""
    out = []
    with path.open("rb") as f:
        for raw in f:
            if raw.endswith(b"\n"):
                out.append(json.loads(raw))
    return out


class Journal:
    """Appends records to the current journal file; thread-safe; each append is durable when it returns."""

    def __init__(self, directory: Path, max_bytes: int, rotate_daily: bool = True, keep_files: int = 30,
                 today: Callable[[], str] = _utc_today) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.rotate_daily = rotate_daily
        self.keep_files = keep_files
        self._today = today
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._path: Path | None = None
        self._size = 0
        self._date = ""
        self.directory.mkdir(parents=True, exist_ok=True)

    @property
    def path(self) -> Path | None:
        return self._path

    def files(self) -> list[Path]:
        """Journal files, oldest first."""
        found = []
        for p in self.directory.iterdir():
            m = NAME_RE.match(p.name)
            if m:
                found.append((m.group(1), int(m.group(2)), p))
        return [p for _, _, p in sorted(found)]

    def reconfigure(self, max_bytes: int, rotate_daily: bool, keep_files: int) -> None:
        with self._lock:
            self.max_bytes, self.rotate_daily, self.keep_files = max_bytes, rotate_daily, keep_files

    def append(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        with self._lock:
            self._ensure_file(len(line))
            assert self._fd is not None
            written = os.write(self._fd, line)
            if written != len(line):  # a full disk: cut what was written so the file stays line-aligned
                os.ftruncate(self._fd, self._size)
                raise OSError(f"short write to {self._path} ({written} of {len(line)} bytes)")
            os.fsync(self._fd)
            self._size += written

    def close(self) -> None:
        with self._lock:
            self._close_fd()

    # ---- files --------------------------------------------------------------------------------------------
    def _close_fd(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None

    def _ensure_file(self, incoming: int) -> None:
        today = self._today()
        if self._fd is not None:
            new_day = self.rotate_daily and today != self._date
            too_big = self._size > 0 and self._size + incoming > self.max_bytes
            if not (new_day or too_big):
                return
            self._close_fd()
            self._open(self._next_path(today))
            return
        existing = [p for p in self.files() if not self.rotate_daily or NAME_RE.match(p.name).group(1) == today]  # type: ignore[union-attr]
        if existing:
            last = existing[-1]
            cut = repair_tail(last)
            if cut:
                log.warning("journal %s ended in a torn line (a crash); cut %d bytes", last, cut)
            if last.stat().st_size + incoming <= self.max_bytes:
                self._open(last)
                return
        self._open(self._next_path(today))

    def _next_path(self, today: str) -> Path:
        seqs = [int(m.group(2)) for p in self.files() if (m := NAME_RE.match(p.name)) and m.group(1) == today]
        return self.directory / f"{PREFIX}-{today}-{max(seqs, default=-1) + 1:03d}{SUFFIX}"

    def _open(self, path: Path) -> None:
        created = not path.exists()
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
        self._path = path
        self._size = os.fstat(self._fd).st_size
        self._date = self._today()
        if created:
            self._fsync_dir()  # the new name itself must survive a crash
            self._prune()
            log.info("journal: writing %s", path)

    def _fsync_dir(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _prune(self) -> None:
        files = self.files()
        for old in files[: max(0, len(files) - self.keep_files)]:
            try:
                old.unlink()
                log.info("journal: removed old file %s", old)
            except OSError as exc:
                log.warning("journal: cannot remove %s (%s)", old, exc)
