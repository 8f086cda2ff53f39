"""The right-hand column: microphone and level, resource figures, file jobs. Scrolls rather than clips."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QGroupBox, QLabel, QScrollArea, QVBoxLayout, QWidget

from .constants import SIDEBAR_MIN_WIDTH, SIDEBAR_WIDTH
from .file_jobs import FileJobsPanel
from .resource_panel import ResourcePanel
from .settings_panel import InputDevicePicker
from .widgets import LevelMeter


class Sidebar(QScrollArea):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMinimumWidth(SIDEBAR_MIN_WIDTH)
        self.resize(SIDEBAR_WIDTH, self.height())
        body = QWidget(self)
        lay = QVBoxLayout(body)
        lay.setContentsMargins(6, 6, 6, 6)

        mic = QGroupBox("Microphone", body)
        mic_lay = QVBoxLayout(mic)
        self.devices = InputDevicePicker(mic)
        self.level = LevelMeter(mic)
        mic_lay.addWidget(self.devices)
        mic_lay.addWidget(self.level)
        self.mic_note = QLabel(mic)
        self.mic_note.setWordWrap(True)
        self.mic_note.setAccessibleName("Microphone status")
        self.mic_note.hide()
        mic_lay.addWidget(self.mic_note)
        lay.addWidget(mic)

        res = QGroupBox("Resources", body)
        res_lay = QVBoxLayout(res)
        self.resources = ResourcePanel(res)
        res_lay.addWidget(self.resources)
        lay.addWidget(res)

        files = QGroupBox("Files", body)
        files_lay = QVBoxLayout(files)
        self.jobs = FileJobsPanel(files)
        files_lay.addWidget(self.jobs)
        lay.addWidget(files)
        lay.addStretch(1)
        self.setWidget(body)

    def show_mic_note(self, text: str) -> None:
        self.mic_note.setText(text)
        self.mic_note.setVisible(bool(text))
