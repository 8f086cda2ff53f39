"""What an empty transcript shows: what to do next, with buttons for it."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QIcon, QPalette
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from .icons import app_icon_path

_ICON_PX = 64  # px
_SPACING = 12  # px
_TEXT_MAX_WIDTH = 560  # px: short lines read better than one across a wide window


class EmptyState(QWidget):
    def __init__(self, title: str, text: str, actions: Sequence[QAction] = (), parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("empty-state")
        self.setAutoFillBackground(True)
        self.setBackgroundRole(QPalette.ColorRole.Base)
        self.picture = QLabel(self)
        self.picture.setPixmap(QIcon(str(app_icon_path())).pixmap(QSize(_ICON_PX, _ICON_PX)))
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title = QLabel(title, self)
        self.title.setObjectName("empty-title")
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.35)
        font.setBold(True)
        self.title.setFont(font)
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text = QLabel(text, self)
        self.text.setWordWrap(True)
        self.text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.text.setMaximumWidth(_TEXT_MAX_WIDTH)
        self.text.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.buttons: list[QToolButton] = []
        row = QHBoxLayout()
        row.addStretch(1)
        for act in actions:
            b = QToolButton(self)
            b.setDefaultAction(act)
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            b.setFocusPolicy(Qt.FocusPolicy.TabFocus)
            b.setMinimumHeight(b.sizeHint().height() + 8)
            row.addWidget(b)
            self.buttons.append(b)
        row.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setSpacing(_SPACING)
        lay.addStretch(1)
        lay.addWidget(self.picture)
        lay.addWidget(self.title)
        text_row = QHBoxLayout()  # centred, at most _TEXT_MAX_WIDTH wide, as tall as its wrapped lines need
        text_row.addStretch(1)
        text_row.addWidget(self.text, 100)
        text_row.addStretch(1)
        lay.addLayout(text_row)
        lay.addLayout(row)
        lay.addStretch(2)

    def set_message(self, title: str, text: str) -> None:
        self.title.setText(title)
        self.text.setText(text)
