"""The main window's widget tree, built in one place so the window class only wires it.

    toolbar
    banner (errors, device faults; hidden)
    session bar: microphone + level | language | task
    transcript tabs | files panel (shown when files are queued)
    resource strip (hideable)
    status bar: model state, build progress
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QMainWindow, QSplitter, QVBoxLayout, QWidget

from .actions import Actions
from .constants import SIDEBAR_WIDTH
from .model_loader import ModelController
from .model_status import ModelStatus
from .resource_strip import ResourceStrip
from .session_bar import SessionBar
from .sidebar import FilesSidebar
from .transcript_tabs import TranscriptTabs
from .widgets import Banner


@dataclass
class Body:
    banner: Banner
    session: SessionBar
    tabs: TranscriptTabs
    files: FilesSidebar
    splitter: QSplitter
    resources: ResourceStrip
    model_status: ModelStatus


def _rule(parent: QWidget) -> QFrame:
    line = QFrame(parent)
    line.setFrameShape(QFrame.Shape.HLine)
    line.setFrameShadow(QFrame.Shadow.Plain)
    line.setObjectName("rule")
    return line


def build_body(window: QMainWindow, actions: Actions, model: ModelController) -> Body:
    central = QWidget(window)
    banner = Banner(central)
    session = SessionBar(central)
    tabs = TranscriptTabs(central, actions=[actions.record, actions.open_files])
    files = FilesSidebar(central)
    split = QSplitter(Qt.Orientation.Horizontal, central)
    split.addWidget(tabs)
    split.addWidget(files)
    split.setStretchFactor(0, 1)
    split.setCollapsible(0, False)
    split.setSizes([max(1, window.width() - SIDEBAR_WIDTH), SIDEBAR_WIDTH])
    files.hide()
    resources = ResourceStrip(central)
    lay = QVBoxLayout(central)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.setSpacing(0)
    lay.addWidget(banner)
    lay.addWidget(session)
    lay.addWidget(_rule(central))
    lay.addWidget(split, 1)
    lay.addWidget(_rule(central))
    lay.addWidget(resources)
    window.setCentralWidget(central)
    status = ModelStatus(model, window)
    window.statusBar().addWidget(status, 1)
    window.statusBar().setSizeGripEnabled(False)
    return Body(banner, session, tabs, files, split, resources, status)
