"""The transcript area: a fixed "Live" tab and one closable tab per file job."""

from __future__ import annotations

import logging

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QTabBar, QTabWidget, QWidget

from ..results import Segment, TranscriptionInfo
from .transcript_view import TranscriptView

log = logging.getLogger(__name__)


class TranscriptTabs(QTabWidget):
    job_tab_closed = Signal(int)  # job id: the window cancels a job whose tab is closed

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDocumentMode(True)
        self.setTabsClosable(True)
        self.setAccessibleName("Transcripts")
        self.live = TranscriptView("Live", self)
        self.addTab(self.live, "Live")
        self.tabBar().setTabButton(0, QTabBar.ButtonPosition.RightSide, None)  # the live tab cannot be closed
        self._jobs: dict[int, TranscriptView] = {}
        self.tabCloseRequested.connect(self._close_tab)

    def current_view(self) -> TranscriptView:
        view = self.currentWidget()
        return view if isinstance(view, TranscriptView) else self.live

    def job_view(self, job_id: int) -> TranscriptView | None:
        return self._jobs.get(job_id)

    def add_job(self, job_id: int, name: str) -> TranscriptView:
        view = TranscriptView(name, self)
        view.setPlaceholderText(f"Transcribing {name}…")
        self._jobs[job_id] = view
        self.setCurrentIndex(self.addTab(view, name))
        self.setTabToolTip(self.currentIndex(), name)
        return view

    def set_job_info(self, job_id: int, info: TranscriptionInfo) -> None:
        view = self._jobs.get(job_id)
        if view is not None:
            view.set_info(info)

    def add_job_segment(self, job_id: int, segment: Segment) -> None:
        view = self._jobs.get(job_id)
        if view is not None:  # its tab may have been closed while the last segment was in flight
            view.add_segment(segment)

    def set_job_ended(self, job_id: int, state: str) -> None:
        view = self._jobs.get(job_id)
        if view is None or view.segments():
            return
        name = view.title
        view.setPlaceholderText({"done": f"No speech found in {name}.", "cancelled": f"Cancelled: {name}.",
                                 "failed": f"Could not transcribe {name}; see the message above."}.get(state, ""))

    def _close_tab(self, index: int) -> None:
        view = self.widget(index)
        if view is self.live:
            return
        for job_id, v in list(self._jobs.items()):
            if v is view:
                del self._jobs[job_id]
                self.job_tab_closed.emit(job_id)
        self.removeTab(index)
        if view is not None:
            view.deleteLater()
