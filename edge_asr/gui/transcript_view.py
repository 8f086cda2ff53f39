"""One transcript: final lines with timestamps, and the live partial hypothesis dimmed at the end."""

from __future__ import annotations

import html
import logging

from PySide6.QtGui import QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QTextBrowser, QWidget

from ..options import TranscribeOptions
from ..results import Segment, TranscriptionInfo
from .theme import dim_text

log = logging.getLogger(__name__)

_SECONDS_PER_MINUTE = 60
_SECONDS_PER_HOUR = 3600


def format_timestamp(seconds: float) -> str:
    """``m:ss.s`` below an hour, ``h:mm:ss`` above: short enough for a narrow window."""
    seconds = max(0.0, seconds)
    if seconds >= _SECONDS_PER_HOUR:
        h, rest = divmod(int(seconds), _SECONDS_PER_HOUR)
        m, s = divmod(rest, _SECONDS_PER_MINUTE)
        return f"{h}:{m:02d}:{s:02d}"
    minutes, rest_s = divmod(seconds, _SECONDS_PER_MINUTE)
    return f"{int(minutes)}:{rest_s:04.1f}"


class TranscriptView(QTextBrowser):
    """Shows segments as they arrive; keeps them (not the rendered text) for copy and export."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.setReadOnly(True)
        self.setOpenLinks(False)
        self.setAccessibleName(f"Transcript: {title}")
        self.setPlaceholderText("Press Record (Space) and speak, or drop audio files here.")
        font = self.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.setFont(font)
        self._segments: list[Segment] = []
        self._info: TranscriptionInfo | None = None
        self._partial = ""
        self._partial_pos: int | None = None  # document position where the partial block starts
        self._last_pos: int | None = None  # where the last final's block starts (an amended final replaces it)

    # -- content ------------------------------------------------------------------------------------------------
    def segments(self) -> list[Segment]:
        return list(self._segments)

    def partial_text(self) -> str:
        return self._partial

    def set_info(self, info: TranscriptionInfo) -> None:
        self._info = info

    def info_for_export(self, fallback_options: TranscribeOptions, model: str = "") -> TranscriptionInfo:
        """The file's own info, or one made up for a live session (its duration is the last segment's end)."""
        duration = max((s.end for s in self._segments), default=0.0)
        if self._info is not None:
            return self._info
        return TranscriptionInfo(
            language=fallback_options.language or "en", language_probability=1.0, duration=duration,
            options=fallback_options, model=model,
        )

    def plain_text(self) -> str:
        return "\n".join(s.text.strip() for s in self._segments if s.text.strip())

    def add_segment(self, segment: Segment) -> None:
        """Append a final segment; it replaces the partial hypothesis it came from."""
        following = self._following()
        self._clear_partial()
        self._segments.append(segment)
        text = segment.text.strip()
        if not text:
            return
        stamp = f"{format_timestamp(segment.start)} → {format_timestamp(segment.end)}"
        cursor = self._end_cursor()
        self._last_pos = cursor.position()
        if not self.document().isEmpty():
            cursor.insertBlock()
        cursor.insertHtml(
            f'<span style="color:{dim_text().name()}; font-family:monospace;">[{html.escape(stamp)}]</span>'
            f"&nbsp; <span>{html.escape(text)}</span>"
        )
        if following:
            self._scroll_to_end()

    def replace_last_segment(self, segment: Segment) -> None:
        """An amended live final (``Final.replaces``): it takes the place of the last final, the early one whose
        utterance went on."""
        if not self._segments or self._last_pos is None:
            self.add_segment(segment)
            return
        self._clear_partial()
        cursor = self._end_cursor()
        cursor.setPosition(self._last_pos, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        cursor.setCharFormat(QTextCharFormat())
        self._segments.pop()
        self.add_segment(segment)

    def set_partial(self, text: str, stable_text: str = "") -> None:
        """Show the utterance in progress dimmed: the agreed prefix a little firmer than the rest."""
        text = text.strip()
        stable = stable_text.strip() if text.startswith(stable_text.strip()) else ""
        if text == self._partial:
            return
        self._clear_partial()
        self._partial = text
        if not text:
            return
        following = self._following()
        cursor = self._end_cursor()
        self._partial_pos = cursor.position()
        if not self.document().isEmpty():
            cursor.insertBlock()
        dim = dim_text()
        rest = text[len(stable) :]
        cursor.insertHtml(
            f'<span style="color:{dim.name()};">{html.escape(stable)}</span>'
            f'<i style="color:{dim.name()};">{html.escape(rest)}</i>&nbsp;…'
        )
        if following:
            self._scroll_to_end()

    def clear_transcript(self) -> None:
        self._segments.clear()
        self._partial = ""
        self._partial_pos = None
        self._last_pos = None
        self._info = None
        self.clear()

    # -- helpers -----------------------------------------------------------------------------------------------
    def _clear_partial(self) -> None:
        if self._partial_pos is None:
            self._partial = ""
            return
        cursor = self._end_cursor()
        cursor.setPosition(self._partial_pos, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        # insertHtml after a removed block may inherit the partial's italic; reset the char format.
        cursor.setCharFormat(QTextCharFormat())
        self._partial_pos = None
        self._partial = ""

    def _end_cursor(self) -> QTextCursor:
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        return cursor

    def _following(self) -> bool:
        bar = self.verticalScrollBar()
        return bar.value() >= bar.maximum() - 4

    def _scroll_to_end(self) -> None:
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())
