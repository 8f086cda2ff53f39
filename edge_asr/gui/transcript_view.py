"""One transcript tab: the lines (time, text) as an editable table, a find bar, and an empty state.

Click a line's time to copy it; double-click or F2 on its text to correct it. Copy and export use the
corrected text. The partial hypothesis is the last, dimmed row while someone speaks.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from PySide6.QtCore import QModelIndex, QTimer, Signal
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QStackedWidget, QTableView, QVBoxLayout, QWidget

from ..options import TranscribeOptions
from ..results import Segment, TranscriptionInfo
from .empty_state import EmptyState
from .find_bar import FindBar
from .transcript_model import TEXT_COLUMN, TIME_COLUMN, TranscriptModel, format_timestamp

log = logging.getLogger(__name__)

__all__ = ["TranscriptView", "format_timestamp"]

_ROW_REFLOW_DELAY_MS = 120  # ms after a width change before wrapped rows are re-measured (once, not per pixel)
_FOLLOW_SLACK_PX = 4  # px from the bottom that still counts as "following the end"
_TEXT_SCALE = 1.1  # transcript text a little larger than the UI font


class TranscriptView(QWidget):
    timestamp_copied = Signal(str)
    line_edited = Signal(int)

    def __init__(self, title: str, parent: QWidget | None = None, *, empty_title: str = "Nothing here yet",
                 empty_text: str = "", actions: Sequence[QAction] = ()) -> None:
        super().__init__(parent)
        self.title = title
        self.setAccessibleName(f"Transcript: {title}")
        self.model = TranscriptModel(self)
        self._info: TranscriptionInfo | None = None
        self._match_pos = -1

        self.table = QTableView(self)
        self.table.setObjectName("transcript-table")
        self.table.setAccessibleName(f"Transcript lines: {title}")
        font = self.table.font()
        font.setPointSizeF(font.pointSizeF() * _TEXT_SCALE)
        self.table.setFont(font)
        self.model.base_font = font
        self.table.setModel(self.model)
        self.table.setWordWrap(True)
        self.table.setShowGrid(False)
        self.table.setAlternatingRowColors(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                   | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.table.setTabKeyNavigation(False)  # Tab leaves the table: every other control stays reachable
        self.table.horizontalHeader().hide()
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(TIME_COLUMN, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(TEXT_COLUMN, QHeaderView.ResizeMode.Stretch)
        self.table.clicked.connect(self._on_clicked)
        self._reflow = QTimer(self)
        self._reflow.setSingleShot(True)
        self._reflow.setInterval(_ROW_REFLOW_DELAY_MS)
        self._reflow.timeout.connect(self.table.resizeRowsToContents)
        header.sectionResized.connect(lambda *_: self._reflow.start())

        self.empty = EmptyState(empty_title, empty_text, actions, self)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.table)
        self.find_bar = FindBar(self)
        self.find_bar.query_changed.connect(self._on_query)
        self.find_bar.step.connect(self.step_match)
        self.find_bar.closed.connect(self._on_find_closed)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.find_bar)
        lay.addWidget(self.stack, 1)
        self.model.rowsInserted.connect(self._on_rows_inserted)
        self.model.dataChanged.connect(lambda a, _b: self.table.resizeRowToContents(a.row()))
        self.model.modelReset.connect(self._update_page)
        self.model.rowsRemoved.connect(self._update_page)
        self._update_page()

    # -- content ------------------------------------------------------------------------------------------------
    def segments(self) -> list[Segment]:
        """The lines as segments, with the user's corrections: what copy and export write."""
        return self.model.segments()

    def partial_text(self) -> str:
        return self.model.partial()

    def set_info(self, info: TranscriptionInfo) -> None:
        self._info = info

    def info(self) -> TranscriptionInfo | None:
        return self._info

    def info_for_export(self, fallback_options: TranscribeOptions, model: str = "") -> TranscriptionInfo:
        """The file's own info, or one made up for a live session (its duration is the last segment's end)."""
        if self._info is not None:
            return self._info
        duration = max((s.end for s in self.model.segments()), default=0.0)
        return TranscriptionInfo(
            language=fallback_options.language or "en", language_probability=1.0, duration=duration,
            options=fallback_options, model=model,
        )

    def plain_text(self) -> str:
        return "\n".join(line.text for line in self.model.lines())

    def document_text(self) -> str:
        """What the view shows, as text: ``[time] text`` per line, then the partial."""
        out = [f"[{line.stamp}] {line.text}" for line in self.model.lines()]
        if self.model.has_partial():
            out.append(f"{self.model.partial()} …")
        return "\n".join(out)

    def add_segment(self, segment: Segment) -> None:
        """Append a final segment; it replaces the partial hypothesis it came from."""
        following = self._following()
        self.model.add(segment)
        if following:
            self.table.scrollToBottom()

    def replace_last_segment(self, segment: Segment) -> None:
        """An amended live final (see live/events.py) replaces the early one its utterance outgrew."""
        following = self._following()
        self.model.replace_last(segment)
        if following:
            self.table.scrollToBottom()

    def set_partial(self, text: str, stable_text: str = "") -> None:
        following = self._following()
        if self.model.set_partial(text, stable_text) and following:
            self.table.scrollToBottom()

    def clear_transcript(self) -> None:
        self._info = None
        self.model.clear()

    def set_empty_message(self, title: str, text: str) -> None:
        self.empty.set_message(title, text)

    # -- lines ----------------------------------------------------------------------------------------------
    def current_row(self) -> int:
        return self.table.currentIndex().row() if self.table.currentIndex().isValid() else -1

    def copy_timestamp(self, row: int | None = None) -> str | None:
        """Put the start time of a line (default: the current one) on the clipboard."""
        line = self.model.line(self.current_row() if row is None else row)
        if line is None:
            return None
        stamp = format_timestamp(line.segment.start)
        QGuiApplication.clipboard().setText(stamp)
        self.timestamp_copied.emit(stamp)
        return stamp

    def edit_current(self) -> bool:
        row = max(self.current_row(), 0)
        if self.model.line(row) is None:
            return False
        index = self.model.index(row, TEXT_COLUMN)
        self.table.setCurrentIndex(index)
        self.table.edit(index)
        return True

    def _on_clicked(self, index: QModelIndex) -> None:
        if index.column() == TIME_COLUMN:
            self.copy_timestamp(index.row())

    # -- search ---------------------------------------------------------------------------------------------
    def open_find(self) -> None:
        self.find_bar.open_bar()

    def _on_query(self, query: str) -> None:
        matches = self.model.set_query(query)
        self._match_pos = -1
        if matches:
            self.step_match(1)
        else:
            self.find_bar.set_count(0, 0)

    def step_match(self, direction: int) -> int | None:
        """Select the next (+1) or previous (-1) matching line; returns its row."""
        matches = self.model.matches()
        if not matches:
            self.find_bar.set_count(0, 0)
            return None
        self._match_pos = (self._match_pos + direction) % len(matches)
        row = matches[self._match_pos]
        index = self.model.index(row, TEXT_COLUMN)
        self.table.setCurrentIndex(index)
        self.table.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
        self.find_bar.set_count(self._match_pos + 1, len(matches))
        return row

    def _on_find_closed(self) -> None:
        self.model.set_query("")
        self.table.setFocus()

    # -- helpers ----------------------------------------------------------------------------------------------
    def _on_rows_inserted(self, _parent: QModelIndex, first: int, last: int) -> None:
        for row in range(first, last + 1):
            self.table.resizeRowToContents(row)
        self._update_page()

    def _update_page(self, *_args: object) -> None:
        has_rows = self.model.rowCount() > 0
        page = self.table if has_rows else self.empty
        if self.stack.currentWidget() is not page:
            current = self.stack.currentWidget()
            had_focus = (current is not None and current.hasFocus()) or self.table.hasFocus()
            self.stack.setCurrentWidget(page)
            if had_focus and has_rows:
                self.table.setFocus()

    def _following(self) -> bool:
        bar = self.table.verticalScrollBar()
        return bar.value() >= bar.maximum() - _FOLLOW_SLACK_PX
