"""The transcript commands: copy, clear, find, copy a line's time, edit a line, export (what the user edited)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog

from .session import export_transcript
from .transcript_view import TranscriptView
from .workers import human_message

if TYPE_CHECKING:
    from .main_window import MainWindow

log = logging.getLogger(__name__)

_MS_PER_S = 1000
_FILTERS = {"srt": "SubRip (*.srt)", "vtt": "WebVTT (*.vtt)", "txt": "Text (*.txt)", "json": "JSON (*.json)"}


class DocumentCommands:
    """Acts on the current transcript tab of ``window``; connected to the window's actions."""

    def __init__(self, window: MainWindow) -> None:
        self.w = window
        a = window.actions_
        a.copy.triggered.connect(self.copy_transcript)
        a.clear.triggered.connect(self.clear_transcript)
        a.export.triggered.connect(self.choose_export)
        a.find.triggered.connect(lambda: self.view().open_find())
        a.copy_time.triggered.connect(lambda: self.view().copy_timestamp())
        a.edit_line.triggered.connect(lambda: self.view().edit_current())

    def view(self) -> TranscriptView:
        return self.w.tabs.current_view()

    def connect_view(self, view: TranscriptView) -> None:
        view.timestamp_copied.connect(lambda stamp: self._say(f"Copied the time {stamp}"))

    def copy_transcript(self) -> None:
        QGuiApplication.clipboard().setText(self.view().plain_text())
        self._say("Transcript copied")

    def clear_transcript(self) -> None:
        self.view().clear_transcript()

    def choose_export(self) -> None:
        view = self.view()
        settings = self.w.settings
        fmt0 = settings.export_format
        start = str(Path(settings.last_dir or Path.home()) / f"{Path(view.title).stem}.{fmt0}")
        order = [fmt0, *[f for f in _FILTERS if f != fmt0]]
        path, chosen = QFileDialog.getSaveFileName(self.w, "Export transcript", start,
                                                   ";;".join(_FILTERS[f] for f in order))
        if path:
            fmt = next((f for f, label in _FILTERS.items() if label == chosen), Path(path).suffix.lstrip(".") or "txt")
            self.export_to(Path(path), fmt)

    def export_to(self, path: Path, fmt: str) -> bool:
        """Write the current tab, with the user's corrections, with the core's writer."""
        try:
            export_transcript(self.view(), self.w.settings, self.w.transcriber, fmt, path)
        except Exception as exc:
            self.w.show_error(f"Could not export to {path}: {human_message(exc)}")
            return False
        self.w.apply_settings(self.w.settings.with_(export_format=fmt, last_dir=str(path.parent)))
        self._say(f"Saved {path}", 5)
        return True

    def _say(self, text: str, seconds: int = 3) -> None:
        self.w.statusBar().showMessage(text, seconds * _MS_PER_S)
