"""Transcript writers (txt, srt, vtt, json), an atomic file writer, and an SRT/WebVTT parser for tests.

Every format sees the same cues: text stripped, empty segments skipped, and times made monotonic (a cue starts
no earlier than the previous one ended, and ends no earlier than it starts). SRT and WebVTT split long segments
into subtitle-sized cues (see cues.py); txt and json keep Whisper's segments.
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
from pathlib import Path
from typing import Any

from .cues import DEFAULT_CUES, NO_LIMITS, Cue, CueOptions, build_cues, wrap
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


def _cues(segments: Iterable[Segment], opts: CueOptions = NO_LIMITS) -> list[Cue]:
    return build_cues(list(segments), opts)


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


def _lines(text: str, opts: CueOptions) -> str:
    return "\n".join(_cue_text(line) for line in wrap(text, opts))


def to_srt(segments: Iterable[Segment], cue_options: CueOptions = DEFAULT_CUES) -> str:
    """SubRip: 1-based index, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``, text lines, blank line."""
    blocks = [
        f"{i}\n{_timestamp(c.start, ',')}{CUE_ARROW}{_timestamp(c.end, ',')}\n{_lines(c.text, cue_options)}\n"
        for i, c in enumerate(_cues(segments, cue_options), start=1)
    ]
    return "\n".join(blocks)


def to_vtt(segments: Iterable[Segment], cue_options: CueOptions = DEFAULT_CUES) -> str:
    """WebVTT: header, then ``HH:MM:SS.mmm --> HH:MM:SS.mmm`` and HTML-escaped text lines per cue."""
    blocks = [f"{VTT_HEADER}\n"]
    for c in _cues(segments, cue_options):
        text = html.escape(_lines(c.text, cue_options), quote=False)
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


def format_transcript(
    segments: Iterable[Segment], info: TranscriptionInfo | None, fmt: str, cue_options: CueOptions = DEFAULT_CUES
) -> str:
    """The transcript as text in ``fmt``, one of :data:`FORMATS`; ``cue_options`` shape srt and vtt cues."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown transcript format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "json":
        return to_json(segments, info)
    if fmt == "txt":
        return to_txt(segments)
    return to_srt(segments, cue_options) if fmt == "srt" else to_vtt(segments, cue_options)


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
    segments: Iterable[Segment],
    info: TranscriptionInfo | None,
    fmt: str,
    path: str | os.PathLike[str],
    cue_options: CueOptions = DEFAULT_CUES,
) -> Path:
    """Write the transcript to ``path`` atomically: a temp file in the same folder, then ``os.replace``."""
    text = format_transcript(segments, info, fmt, cue_options)
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
