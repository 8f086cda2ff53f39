"""Ctrl+F over a transcript: a query field, "n of m", previous/next, close (Esc)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QToolButton, QWidget

from .icons import icon


class FindBar(QWidget):
    query_changed = Signal(str)
    step = Signal(int)  # +1 next match, -1 previous
    closed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("find-bar")
        self.field = QLineEdit(self)
        self.field.setPlaceholderText("Find in transcript")
        self.field.setAccessibleName("Find in transcript")
        self.field.setClearButtonEnabled(True)
        self.field.setToolTip("Enter: next match, Shift+Enter: previous, Esc: close")
        self.count = QLabel("", self)
        self.count.setAccessibleName("Matches")
        self.count.setMinimumWidth(self.count.fontMetrics().horizontalAdvance("999 of 999"))
        self.prev = self._button("Previous", "Previous match (Shift+Enter)", Qt.ArrowType.UpArrow)
        self.next = self._button("Next", "Next match (Enter)", Qt.ArrowType.DownArrow)
        self.close_button = QToolButton(self)
        self.close_button.setIcon(icon("close"))
        self.close_button.setAccessibleName("Close find")
        self.close_button.setToolTip("Close (Esc)")
        self.close_button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 4, 8, 4)
        lay.setSpacing(6)
        lay.addWidget(self.field, 1)
        lay.addWidget(self.count)
        lay.addWidget(self.prev)
        lay.addWidget(self.next)
        lay.addWidget(self.close_button)
        self.field.textChanged.connect(self.query_changed)
        self.field.returnPressed.connect(lambda: self.step.emit(1))
        self.prev.clicked.connect(lambda: self.step.emit(-1))
        self.next.clicked.connect(lambda: self.step.emit(1))
        self.close_button.clicked.connect(self.close_bar)
        self.hide()

    def _button(self, name: str, tip: str, arrow: Qt.ArrowType) -> QToolButton:
        b = QToolButton(self)
        b.setArrowType(arrow)
        b.setAccessibleName(name)
        b.setToolTip(tip)
        b.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        return b

    def open_bar(self) -> None:
        self.show()
        self.field.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.field.selectAll()
        if self.field.text():
            self.query_changed.emit(self.field.text())

    def close_bar(self) -> None:
        self.hide()
        self.closed.emit()

    def set_count(self, current: int, total: int) -> None:
        """``current`` is 1-based; 0 when no match is selected."""
        if not self.field.text().strip():
            self.count.setText("")
        elif total == 0:
            self.count.setText("no match")
        else:
            self.count.setText(f"{current} of {total}")

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.close_bar()
            return
        shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and shift:
            self.step.emit(-1)
            return
        if event.key() == Qt.Key.Key_F3:
            self.step.emit(-1 if shift else 1)
            return
        super().keyPressEvent(event)
