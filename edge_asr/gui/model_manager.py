"""The model manager (Tools ▸ Models, Ctrl+M): every registered and imported model with its languages,
checkpoint and build sizes and state, the cache's size; use, rebuild, delete a build, import a checkpoint.

Everything that touches the disk runs as a :class:`~edge_asr.gui.jobs.Job`; builds show percent, elapsed and
time left, and can be cancelled (the core removes the half-built files).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
)

from . import model_store
from .constants import PROGRESS_STEPS
from .jobs import Job
from .model_import import ImportForm
from .model_store import ModelEntry, human_bytes
from .progress import ProgressClock
from .workers import human_message

if TYPE_CHECKING:
    from .main_window import MainWindow

log = logging.getLogger(__name__)

_COLUMNS = ("Model", "Languages", "Checkpoint", "Build", "State")
_TICK_MS = 1000  # ms between elapsed-time refreshes during a build
_MIN_SIZE = (640, 440)  # px: fits an 800x480 screen


class ModelManagerDialog(QDialog):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.setWindowTitle("Models")
        self.setMinimumSize(*_MIN_SIZE)
        self.window_ = window
        self.entries: dict[str, ModelEntry] = {}
        self.job: Job | None = None
        self._clock: ProgressClock | None = None
        self._stage = ""
        self._what = ""
        self._list_job: Job | None = None

        self.table = QTreeWidget(self)
        self.table.setAccessibleName("Models")
        self.table.setColumnCount(len(_COLUMNS))
        self.table.setHeaderLabels(list(_COLUMNS))
        self.table.setRootIsDecorated(False)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in range(1, len(_COLUMNS)):
            self.table.header().setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.details = QLabel(self)
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setAccessibleName("Model details")
        self.use = QPushButton("&Use", self)
        self.rebuild = QPushButton("&Rebuild", self)
        self.rebuild.setToolTip("Build the INT8 model again from its checkpoint")
        self.delete = QPushButton("&Delete build", self)
        self.delete.setToolTip("Remove the cached INT8 build; the checkpoint stays and it is rebuilt on next use")
        self.cache = QLabel(self)
        self.cache.setAccessibleName("Cache size")
        self.cache.setWordWrap(True)
        self.cache.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        actions = QHBoxLayout()
        for b in (self.use, self.rebuild, self.delete):
            actions.addWidget(b)
        actions.addStretch(1)
        self.import_form = ImportForm(self)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, PROGRESS_STEPS)
        self.progress.setAccessibleName("Model job progress")
        self.progress_text = QLabel(self)
        self.progress_text.setAccessibleName("Model job status")
        self.progress_text.setWordWrap(True)
        self.cancel = QPushButton("Cancel", self)
        self.cancel.setAccessibleName("Cancel the build")
        prog = QHBoxLayout()
        prog.addWidget(self.progress, 1)
        prog.addWidget(self.cancel)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.details)
        lay.addLayout(actions)
        lay.addWidget(self.cache)
        lay.addWidget(self.import_form)
        lay.addLayout(prog)
        lay.addWidget(self.progress_text)
        lay.addWidget(buttons)
        self._show_progress(False)
        self._tick = QTimer(self)
        self._tick.setInterval(_TICK_MS)
        self._tick.timeout.connect(self._refresh_progress)

        self.table.currentItemChanged.connect(lambda *_: self._update_buttons())
        self.use.clicked.connect(self._use)
        self.rebuild.clicked.connect(self._rebuild)
        self.delete.clicked.connect(self._delete)
        self.cancel.clicked.connect(self._cancel)
        self.import_form.import_requested.connect(self._import)
        self.refresh()

    # -- listing --------------------------------------------------------------------------------------------
    def refresh(self, select: str | None = None) -> None:
        """Re-read the registry and cache on a worker thread, then show them."""
        keep = select or self.selected_name() or self.window_.settings.model
        job = Job("listing models", lambda _p: (model_store.list_entries(), model_store.cache_bytes()))
        job.finished.connect(lambda result: self._fill(result[0], result[1], keep))
        job.failed.connect(lambda exc: self.details.setText(f"Cannot list models: {human_message(exc)}"))
        self._list_job = job.start()

    def _fill(self, entries: list[ModelEntry], cache: int, select: str) -> None:
        self.entries = {e.name: e for e in entries}
        self.table.clear()
        current = self.window_.settings.model
        for e in entries:
            state = "in use" if e.name == current and self.window_.transcriber is not None else e.state
            item = QTreeWidgetItem([e.name + (" (imported)" if e.imported else ""), e.languages,
                                    human_bytes(e.source_bytes), human_bytes(e.build_bytes), state])
            item.setData(0, Qt.ItemDataRole.UserRole, e.name)
            item.setToolTip(0, e.description)
            self.table.addTopLevelItem(item)
            if e.name == select:
                self.table.setCurrentItem(item)
        first = self.table.topLevelItem(0)
        if self.table.currentItem() is None and first is not None:
            self.table.setCurrentItem(first)
        self.cache.setText(f"Build cache: {human_bytes(cache)} in {model_store.cache_location()}")
        self._update_buttons()

    def selected_name(self) -> str | None:
        item = self.table.currentItem()
        return str(item.data(0, Qt.ItemDataRole.UserRole)) if item is not None else None

    def selected(self) -> ModelEntry | None:
        name = self.selected_name()
        return self.entries.get(name) if name else None

    def row_texts(self, name: str) -> list[str]:
        for i in range(self.table.topLevelItemCount()):
            item = self.table.topLevelItem(i)
            if item is not None and item.data(0, Qt.ItemDataRole.UserRole) == name:
                return [item.text(c) for c in range(len(_COLUMNS))]
        return []

    def _update_buttons(self) -> None:
        e = self.selected()
        busy = self.job is not None
        self.use.setEnabled(not busy and e is not None and e.installed and e.name != self.window_.settings.model)
        self.rebuild.setEnabled(not busy and e is not None and e.installed)
        self.delete.setEnabled(not busy and e is not None and e.built)
        self.import_form.setEnabled(not busy)
        if e is None:
            self.details.setText("")
            return
        lines = [e.description]
        if not e.installed and e.install_hint:
            lines.append(f"To install: {e.install_hint}")
        if e.source:
            lines.append(f"Checkpoint: {e.source}")
        if e.build_dir:
            lines.append(f"Build: {e.build_dir}")
        self.details.setText("\n".join(lines))

    # -- actions ----------------------------------------------------------------------------------------------
    def _use(self) -> None:
        e = self.selected()
        if e is not None:
            self.window_.apply_settings(self.window_.settings.with_(model=e.name))
            self.refresh(e.name)

    def _rebuild(self) -> None:
        e = self.selected()
        if e is not None:
            name = e.name
            self._run(f"Rebuilding {name}", lambda progress: model_store.rebuild(name, progress), name)

    def _delete(self) -> None:
        e = self.selected()
        if e is None:
            return
        in_use = e.name == self.window_.settings.model
        note = " It is in use: it stays loaded until you quit, and is rebuilt the next time it loads." if in_use else ""
        answer = QMessageBox.question(self, "Delete build",
                                      f"Delete the INT8 build of {e.name} ({human_bytes(e.build_bytes)})?{note}")
        if answer == QMessageBox.StandardButton.Yes:
            self.delete_build(e.name)

    def delete_build(self, name: str) -> None:
        """Without the confirmation (the button asks first)."""
        self._run(f"Deleting the build of {name}", lambda _p: model_store.delete_build(name), name, reload=False)

    def _import(self, path: Path, name: str, tokenizer: Path | None) -> None:
        self._run(f"Importing {name}",
                  lambda progress: model_store.import_checkpoint(path, name, tokenizer, progress), name)

    def _run(self, what: str, fn: Any, name: str, *, reload: bool = True) -> None:
        if self.job is not None:
            return
        self._what, self._stage = what, ""
        self._clock = ProgressClock()
        job = Job(what, fn)
        job.progress.connect(self._on_progress)
        job.finished.connect(lambda _r: self._done(name, f"{what}: done.", reload))
        job.failed.connect(lambda exc: self._done(name, f"{what} failed: {human_message(exc)}", False))
        job.cancelled.connect(lambda: self._done(name, f"{what}: cancelled.", False))
        self.job = job
        self._show_progress(True)
        self.progress.setValue(0)
        self.progress_text.setText(f"{what}…")
        self._tick.start()
        self._update_buttons()
        job.start()

    def _on_progress(self, stage: str, fraction: float) -> None:
        self._stage = stage
        if self._clock is not None:
            self._clock.update(fraction)
        self._refresh_progress()

    def _refresh_progress(self) -> None:
        if self._clock is None:
            return
        snap = self._clock.snapshot()
        self.progress.setValue(round(snap.fraction * PROGRESS_STEPS))
        stage = f": {self._stage}" if self._stage else ""
        self.progress_text.setText(f"{self._what}{stage} · {snap.text()}")

    def _done(self, name: str, message: str, reload: bool) -> None:
        self.job = None
        self._tick.stop()
        self._show_progress(False, keep_text=True)
        self.progress_text.setText(message)
        log.info("%s", message)
        if reload and name == self.window_.settings.model:
            self.window_.load_model()  # the window now uses the new build
        self.refresh(name)

    def _cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.progress_text.setText(f"{self._what}: stopping at the next step…")

    def _show_progress(self, on: bool, keep_text: bool = False) -> None:
        self.progress.setVisible(on)
        self.cancel.setVisible(on)
        self.progress_text.setVisible(on or keep_text)

    def done(self, result: int) -> None:
        # The dialog goes away: nothing may call back into it. A build stops at its next stage, and the core
        # removes what it had half written.
        for job in (self._list_job, self.job):
            if job is not None:
                job.detach()
        self.job = None
        self.import_form.shutdown()
        super().done(result)
