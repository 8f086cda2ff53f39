"""The right-hand file jobs panel: shown when files are queued, hideable, scrolls rather than clips."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QScrollArea, QToolButton, QVBoxLayout, QWidget

from .constants import SIDEBAR_MIN_WIDTH
from .file_jobs import FileJobsPanel
from .icons import icon


class FilesSidebar(QWidget):
    hide_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("files-sidebar")
        self.setMinimumWidth(SIDEBAR_MIN_WIDTH)
        title = QLabel("Files", self)
        font = title.font()
        font.setBold(True)
        title.setFont(font)
        close = QToolButton(self)
        close.setIcon(icon("close"))
        close.setAutoRaise(True)
        close.setAccessibleName("Hide the files panel")
        close.setToolTip("Hide the files panel (View ▸ Files panel, Ctrl+Shift+F)")
        close.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        close.clicked.connect(self.hide_requested)
        head = QHBoxLayout()
        head.setContentsMargins(10, 6, 4, 2)
        head.addWidget(title, 1)
        head.addWidget(close)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        body = QWidget(scroll)
        body_lay = QVBoxLayout(body)
        body_lay.setContentsMargins(10, 4, 10, 10)
        self.jobs = FileJobsPanel(body)
        body_lay.addWidget(self.jobs)
        body_lay.addStretch(1)
        scroll.setWidget(body)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addLayout(head)
        lay.addWidget(scroll, 1)
