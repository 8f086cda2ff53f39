"""The transcript area: a fixed "Live" tab and one closable tab per file job."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from PySide6.QtCore import Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QTabBar, QTabWidget, QWidget

from ..results import Segment, TranscriptionInfo
from .transcript_view import TranscriptView

log = logging.getLogger(__name__)


# What the empty Live tab says, per model state: (title, text).
_LIVE_EMPTY = {
    "ready": ("Ready when you are",
              "Press <b>Record</b> (Space) and start speaking: words appear as you talk and firm up into lines "
              "with timestamps when you pause.<br>Or drop audio files here, or <b>Open</b> them (Ctrl+O)."),
    "loading": ("Getting the speech model ready…",
                "The first start builds it on this device (about a minute); later starts take a second.<br>"
                "You can already drop audio files here: they wait for the model."),
    "failed": ("No speech model",
               "The message above says why. Open <b>Models</b> (Ctrl+M) to choose, import or rebuild one."),
}


class TranscriptTabs(QTabWidget):
    job_tab_closed = Signal(int)  # job id: the window cancels a job whose tab is closed

    def __init__(self, parent: QWidget | None = None, actions: Sequence[QAction] = ()) -> None:
        super().__init__(parent)
        self.setDocumentMode(True)
        self.setTabsClosable(True)
        self.setAccessibleName("Transcripts")
        self.live = TranscriptView("Live", self, empty_title=_LIVE_EMPTY["ready"][0],
                                   empty_text=_LIVE_EMPTY["ready"][1], actions=actions)
        self.addTab(self.live, "Live")
        self.tabBar().setTabButton(0, QTabBar.ButtonPosition.RightSide, None)  # the live tab cannot be closed
        self._jobs: dict[int, TranscriptView] = {}
        self.tabCloseRequested.connect(self._close_tab)

    def set_live_state(self, state: str) -> None:
        """``ready`` | ``loading`` | ``failed``: what the empty Live tab tells a new user."""
        self.live.set_empty_message(*_LIVE_EMPTY[state])

    def current_view(self) -> TranscriptView:
        view = self.currentWidget()
        return view if isinstance(view, TranscriptView) else self.live

    def job_view(self, job_id: int) -> TranscriptView | None:
        return self._jobs.get(job_id)

    def views(self) -> list[TranscriptView]:
        return [self.live, *self._jobs.values()]

    def add_job(self, job_id: int, name: str) -> TranscriptView:
        view = TranscriptView(name, self, empty_title=f"Transcribing {name}…",
                              empty_text="Lines appear here as each part of the file is done; progress is in "
                                         "the Files panel.")
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
        titles = {"done": f"No speech found in {name}", "cancelled": f"Cancelled: {name}",
                  "failed": f"Could not transcribe {name}"}
        texts = {"done": "The file was read to the end; nothing in it sounded like speech.",
                 "cancelled": "Close this tab, or open the file again to start over.",
                 "failed": "The message above says why."}
        view.set_empty_message(titles.get(state, name), texts.get(state, ""))

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
