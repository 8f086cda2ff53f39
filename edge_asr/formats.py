"""Transcript writers (txt, srt, vtt, json), an atomic file writer, and an SRT/WebVTT parser for tests.

Every format sees the same cues: text stripped, empty segments skipped, and times made monotonic (a cue starts
no earlier than the previous one ended, and ends no earlier than it starts).
"""

from __future__ import annotations

import html
import json
import logging
import math
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .results import Segment, TranscriptionInfo

log = logging.getLogger(__name__)

FORMATS = ("txt", "srt", "vtt", "json")

MS_PER_SECOND = 1000
SECONDS_PER_MINUTE = 60
SECONDS_PER_HOUR = 3600
TIME_DECIMALS = 3  # json times are rounded to the millisecond
JSON_INDENT = 2
CUE_ARROW = " --> "
VTT_HEADER = "WEBVTT"
ENCODING = "utf-8"

_TIMESTAMP = r"(?:(\d+):)?(\d{2}):(\d{2})[,.](\d{3})"  # [HH:]MM:SS,mmm (SRT) or [HH:]MM:SS.mmm (WebVTT)
_TIMING_LINE = re.compile(rf"^\s*{_TIMESTAMP}\s*-->\s*{_TIMESTAMP}")
_BLANK_LINES = re.compile(r"\n\s*\n")


@dataclass(frozen=True)
class _Cue:
    start: float  # s
    end: float  # s
    text: str
    segment: Segment


def _cues(segments: Iterable[Segment]) -> list[_Cue]:
    """Stripped, non-empty segments with monotonic times."""
    cues: list[_Cue] = []
    prev_end = 0.0
    for seg in segments:
        text = seg.text.strip()
        if not text:
            continue
        start = max(seg.start, prev_end)
        end = max(seg.end, start)
        cues.append(_Cue(start, end, text, seg))
        prev_end = end
    return cues


def _timestamp(seconds: float, decimal_marker: str) -> str:
    """``HH:MM:SS<marker>mmm``; rounds to the millisecond first so 59.9996 s becomes 00:01:00,000."""
    total_ms = max(0, round(seconds * MS_PER_SECOND))
    total_s, ms = divmod(total_ms, MS_PER_SECOND)
    hours, rest = divmod(total_s, SECONDS_PER_HOUR)
    minutes, secs = divmod(rest, SECONDS_PER_MINUTE)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal_marker}{ms:03d}"


def _cue_text(text: str) -> str:
    """One subtitle line: no blank lines (they end a cue) and no arrow (it marks a timing line)."""
    return " ".join(text.split()).replace("-->", "->")


def to_txt(segments: Iterable[Segment]) -> str:
    """One line per segment."""
    return "".join(f"{cue.text}\n" for cue in _cues(segments))


def to_srt(segments: Iterable[Segment]) -> str:
    """SubRip: 1-based index, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``, text, blank line."""
    blocks = [
        f"{i}\n{_timestamp(c.start, ',')}{CUE_ARROW}{_timestamp(c.end, ',')}\n{_cue_text(c.text)}\n"
        for i, c in enumerate(_cues(segments), start=1)
    ]
    return "\n".join(blocks)


def to_vtt(segments: Iterable[Segment]) -> str:
    """WebVTT: header, then ``HH:MM:SS.mmm --> HH:MM:SS.mmm`` and HTML-escaped text per cue."""
    blocks = [f"{VTT_HEADER}\n"]
    for c in _cues(segments):
        text = html.escape(_cue_text(c.text), quote=False)
        blocks.append(f"{_timestamp(c.start, '.')}{CUE_ARROW}{_timestamp(c.end, '.')}\n{text}\n")
    return "\n".join(blocks)


def _finite(value: Any) -> Any:
    """JSON has no NaN/Infinity: non-finite floats become null, finite ones are rounded to the millisecond."""
    if isinstance(value, float):
        return round(value, TIME_DECIMALS) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def to_json(segments: Iterable[Segment], info: TranscriptionInfo | None = None) -> str:
    """The transcript with language, duration and every segment (with its words when present)."""
    cues = _cues(segments)
    out_segments = []
    for c in cues:
        d = c.segment.to_dict()
        d.update(start=c.start, end=c.end, text=c.text)
        if d["words"] is None:
            del d["words"]
        out_segments.append(d)
    doc: dict[str, Any] = {
        "language": info.language if info else None,
        "language_probability": info.language_probability if info else None,
        "duration": info.duration if info else None,
        "model": info.model if info else None,
        "backend": info.backend if info else None,
        "text": " ".join(c.text for c in cues),
        "segments": out_segments,
    }
    return json.dumps(_finite(doc), ensure_ascii=False, indent=JSON_INDENT, allow_nan=False) + "\n"


def format_transcript(segments: Iterable[Segment], info: TranscriptionInfo | None, fmt: str) -> str:
    """The transcript as text in ``fmt``, one of :data:`FORMATS`."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown transcript format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "json":
        return to_json(segments, info)
    writers = {"txt": to_txt, "srt": to_srt, "vtt": to_vtt}
    return writers[fmt](segments)


NEW_FILE_MODE = 0o666  # what open() gives a new file before the umask


def current_umask() -> int:
    """The process umask. Linux shows it in /proc/self/status; elsewhere it is read by setting it (and back)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_transcript(
    segments: Iterable[Segment], info: TranscriptionInfo | None, fmt: str, path: str | os.PathLike[str]
) -> Path:
    """Write the transcript to ``path`` atomically: a temp file in the same folder, then ``os.replace``."""
    text = format_transcript(segments, info, fmt)
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, NEW_FILE_MODE & ~current_umask())  # mkstemp's 0600 is for secrets, not transcripts
        with os.fdopen(fd, "w", encoding=ENCODING, newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    log.debug("wrote %s transcript to %s", fmt, target)
    return target


def _seconds(hours: str | None, minutes: str, secs: str, ms: str) -> float:
    return int(hours or 0) * SECONDS_PER_HOUR + int(minutes) * SECONDS_PER_MINUTE + int(secs) + int(ms) / MS_PER_SECOND


def parse_srt(text: str) -> list[tuple[float, float, str]]:
    """Parse SRT (or WebVTT) text into ``(start_s, end_s, text)`` cues; blocks without a timing line are skipped."""
    is_vtt = text.lstrip("\ufeff").startswith(VTT_HEADER)
    cues: list[tuple[float, float, str]] = []
    for block in _BLANK_LINES.split(text.replace("\r\n", "\n").strip()):
        lines = block.split("\n")
        for i, line in enumerate(lines):
            m = _TIMING_LINE.match(line)
            if m:
                body = "\n".join(lines[i + 1 :]).strip()
                groups = m.groups()
                cues.append((_seconds(*groups[:4]), _seconds(*groups[4:]), html.unescape(body) if is_vtt else body))
                break
    return cues
