"""The transcript as a document: one row per final segment (time, text), the user's edits, the live partial as
a last dimmed row, and search matches. Copy and export read the edited text from here."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QFont

from ..results import Segment
from .theme import accent, dim_text

log = logging.getLogger(__name__)

TIME_COLUMN = 0
TEXT_COLUMN = 1
_SECONDS_PER_MINUTE = 60
_SECONDS_PER_HOUR = 3600
EDITED_MARK = " ✎"  # shown after an edited line's text

AnyIndex = QModelIndex | QPersistentModelIndex


def format_timestamp(seconds: float) -> str:
    """``m:ss.s`` below an hour, ``h:mm:ss`` above: short enough for a narrow window."""
    seconds = max(0.0, seconds)
    if seconds >= _SECONDS_PER_HOUR:
        h, rest = divmod(int(seconds), _SECONDS_PER_HOUR)
        m, s = divmod(rest, _SECONDS_PER_MINUTE)
        return f"{h}:{m:02d}:{s:02d}"
    minutes, rest_s = divmod(seconds, _SECONDS_PER_MINUTE)
    return f"{int(minutes)}:{rest_s:04.1f}"


@dataclass
class Line:
    segment: Segment
    text: str  # what is shown and exported: the recognised text, or the user's correction
    edited: bool = False

    @property
    def stamp(self) -> str:
        return f"{format_timestamp(self.segment.start)} → {format_timestamp(self.segment.end)}"

    def exported(self) -> Segment:
        if not self.edited:
            return self.segment
        # Word timings and tokens describe the recognised words, not the corrected ones: drop them.
        return dataclasses.replace(self.segment, text=" " + self.text, words=None, tokens=())


class TranscriptModel(QAbstractTableModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._lines: list[Line] = []
        self._partial = ""
        self._partial_stable = ""
        self._query = ""
        self._matches: set[int] = set()
        self._last_added: int | None = None  # row of the last final, which an amended live final replaces
        self.base_font = QFont()  # the view's font, set by the view: partial and time derive from it

    # -- content --------------------------------------------------------------------------------------------
    def lines(self) -> list[Line]:
        return list(self._lines)

    def line_count(self) -> int:
        return len(self._lines)

    def segments(self) -> list[Segment]:
        return [line.exported() for line in self._lines]

    def partial(self) -> str:
        return self._partial

    def has_partial(self) -> bool:
        return bool(self._partial)

    def add(self, segment: Segment) -> int | None:
        """Append a final line (replacing the partial); returns its row, or None for an empty segment."""
        self.set_partial("")
        text = segment.text.strip()
        self._last_added = None
        if not text:
            return None
        row = len(self._lines)
        self.beginInsertRows(QModelIndex(), row, row)
        self._lines.append(Line(segment, text))
        self.endInsertRows()
        self._update_match(row)
        self._last_added = row
        return row

    def replace_last(self, segment: Segment) -> int | None:
        """An amended live final (``Final.replaces``) takes the place of the early final whose utterance went on;
        a line the user has edited meanwhile is kept and the amended one added after it."""
        row = self._last_added
        if row is None or row != len(self._lines) - 1 or self._lines[row].edited:
            return self.add(segment)
        self.set_partial("")
        self.beginRemoveRows(QModelIndex(), row, row)
        self._lines.pop()
        self._matches.discard(row)
        self.endRemoveRows()
        return self.add(segment)

    def set_partial(self, text: str, stable: str = "") -> bool:
        """Show the utterance in progress as a last row; returns whether anything changed."""
        text = text.strip()
        stable = stable.strip() if text.startswith(stable.strip()) else ""
        if text == self._partial:
            return False
        row = len(self._lines)
        had = bool(self._partial)
        if had and not text:
            self.beginRemoveRows(QModelIndex(), row, row)
            self._partial = self._partial_stable = ""
            self.endRemoveRows()
        elif not had and text:
            self.beginInsertRows(QModelIndex(), row, row)
            self._partial, self._partial_stable = text, stable
            self.endInsertRows()
        else:
            self._partial, self._partial_stable = text, stable
            self.dataChanged.emit(self.index(row, 0), self.index(row, TEXT_COLUMN))
        return True

    def edit_line(self, row: int, text: str) -> bool:
        text = " ".join(text.split())
        if not 0 <= row < len(self._lines) or not text:
            return False
        line = self._lines[row]
        if text == line.text:
            return False
        line.text = text
        line.edited = text != line.segment.text.strip()
        self._update_match(row)
        self.dataChanged.emit(self.index(row, 0), self.index(row, TEXT_COLUMN))
        log.info("line %d edited", row)
        return True

    def clear(self) -> None:
        self.beginResetModel()
        self._last_added = None
        self._lines.clear()
        self._partial = self._partial_stable = ""
        self._matches.clear()
        self.endResetModel()

    def is_partial_row(self, row: int) -> bool:
        return bool(self._partial) and row == len(self._lines)

    def line(self, row: int) -> Line | None:
        return self._lines[row] if 0 <= row < len(self._lines) else None

    # -- search ---------------------------------------------------------------------------------------------
    def set_query(self, query: str) -> list[int]:
        """Highlight the lines containing ``query`` (case-insensitive); returns their rows in order."""
        self._query = query.strip().casefold()
        old = self._matches
        self._matches = {i for i, line in enumerate(self._lines) if self._query and self._query in line.text.casefold()}
        for row in old ^ self._matches:
            self.dataChanged.emit(self.index(row, 0), self.index(row, TEXT_COLUMN))
        return sorted(self._matches)

    def matches(self) -> list[int]:
        return sorted(self._matches)

    def _update_match(self, row: int) -> None:
        if not self._query:
            return
        if self._query in self._lines[row].text.casefold():
            self._matches.add(row)
        else:
            self._matches.discard(row)

    # -- Qt model -------------------------------------------------------------------------------------------
    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008  (Qt's own default)
        return 0 if parent.isValid() else len(self._lines) + (1 if self._partial else 0)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else 2

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() == TEXT_COLUMN and not self.is_partial_row(index.row()):
            base |= Qt.ItemFlag.ItemIsEditable
        return base

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, col = index.row(), index.column()
        if self.is_partial_row(row):
            return self._partial_data(col, role)
        line = self._lines[row]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            if col == TIME_COLUMN:
                return line.stamp
            return line.text + (EDITED_MARK if line.edited and role == Qt.ItemDataRole.DisplayRole else "")
        if role == Qt.ItemDataRole.EditRole:
            return line.text if col == TEXT_COLUMN else line.stamp
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == TIME_COLUMN:
                return f"Click to copy the time {format_timestamp(line.segment.start)} (Ctrl+T)"
            if line.edited:
                return f"Edited. Recognised as: {line.segment.text.strip()}"
            return "Double-click or F2 to correct this line"
        if role == Qt.ItemDataRole.ForegroundRole and col == TIME_COLUMN:
            return dim_text()
        if role == Qt.ItemDataRole.BackgroundRole and row in self._matches:
            colour = QColor(accent("warn"))
            colour.setAlpha(70)
            return colour
        if role == Qt.ItemDataRole.FontRole and col == TIME_COLUMN:
            return self._time_font()
        return None

    def _time_font(self) -> QFont:
        font = QFont(self.base_font)
        font.setFamilies(["monospace"])
        font.setStyleHint(QFont.StyleHint.Monospace)
        font.setPointSizeF(self.base_font.pointSizeF() * 0.85)
        return font

    def _partial_data(self, col: int, role: int) -> Any:
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            return "listening…" if col == TIME_COLUMN else f"{self._partial} …"
        if role == Qt.ItemDataRole.ForegroundRole:
            return dim_text()
        if role == Qt.ItemDataRole.FontRole:
            font = QFont(self.base_font) if col == TEXT_COLUMN else self._time_font()
            font.setItalic(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole:
            return "The utterance in progress: it firms up into a line when you pause"
        return None

    def setData(self, index: AnyIndex, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.EditRole or index.column() != TEXT_COLUMN:
            return False
        return self.edit_line(index.row(), str(value))
