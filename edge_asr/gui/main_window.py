"""The main window: wires the views (see :mod:`.window_parts`) to the core through workers, the recorder and
the event bridge. Transcript commands are in :mod:`.document`, the model manager in :mod:`.model_manager`."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, QThread, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QGuiApplication
from PySide6.QtWidgets import QApplication, QFileDialog, QMainWindow

from ..engine.base import Transcriber
from .actions import build_actions, build_menus, build_toolbar, refresh_icons
from .bridge import EventBridge
from .constants import (
    AUDIO_FILE_PATTERNS,
    DEVICE_REFRESH_INTERVAL_MS,
    MIN_WINDOW_SIZE,
    RESOURCE_SAMPLE_INTERVAL_MS,
    SHUTDOWN_WAIT_MS,
)
from .devices import DeviceWatcher
from .document import DocumentCommands
from .file_jobs import FileJobController
from .focus_ring import FocusRing
from .jobs import shutdown_jobs
from .live_controls import LiveControls
from .model_loader import ModelController, ModelState
from .recording import PipelineRecorder
from .session import model_status_text
from .settings import AppSettings, save_settings
from .settings_panel import SettingsDialog
from .theme import apply_theme
from .transcript_view import TranscriptView
from .window_parts import build_body
from .workers import ResourcePoller, human_message

log = logging.getLogger(__name__)

_MS_PER_S = 1000

class MainWindow(QMainWindow):
    model_ready = Signal(object)  # Transcriber, or None after a failure
    _sample_requested = Signal()

    def __init__(self, store: QSettings, settings: AppSettings, *, autoload: bool = True,
                 source_factory: Callable[[str], Any] | None = None) -> None:
        super().__init__()
        self.setWindowTitle("edge-asr")
        self.setObjectName("edge-asr-main")
        self.setMinimumSize(*MIN_WINDOW_SIZE)
        self.setAcceptDrops(True)
        self.store = store
        self.settings = settings
        self.transcriber: Transcriber | None = None
        self.autoload_pending = autoload  # until the first load starts: screenshot mode waits for it
        self._closed = False
        self.persist = True  # False in screenshot mode: settings and geometry are left as they were

        self.actions_ = build_actions(self)
        build_menus(self, self.actions_)
        self.toolbar = build_toolbar(self, self.actions_)
        self.model = ModelController(self)
        body = build_body(self, self.actions_, self.model)
        self.body = body
        self.banner, self.session, self.tabs, self.files = body.banner, body.session, body.tabs, body.files
        self.resources, self.model_status = body.resources, body.model_status
        self.live_view = self.tabs.live
        self.session.devices.set_wanted(settings.input_device)
        self.focus_ring = FocusRing(self)
        # Space while Record is unavailable (no model yet) must say why instead of doing nothing.
        self.bridge = EventBridge(self)
        self.recorder = PipelineRecorder(self.bridge, self, source_factory)
        self.live = LiveControls(self)
        self.jobs = FileJobController(self.files.jobs, self)
        self.document = DocumentCommands(self)
        self._connect()
        self._start_resource_poller()
        self.device_watcher = DeviceWatcher(DEVICE_REFRESH_INTERVAL_MS, self)
        self.device_watcher.devices.connect(self.session.devices.set_devices)
        self.device_watcher.failed.connect(self.session.show_mic_note)
        self.device_watcher.start()
        self._show_resources(settings.show_resources)
        self.live.update_record_action()
        self._update_language_bar()
        if autoload:
            QTimer.singleShot(0, self.load_model)

    # -- wiring ---------------------------------------------------------------------------------------------
    def _connect(self) -> None:
        a = self.actions_
        a.record.triggered.connect(self.toggle_recording)
        a.open_files.triggered.connect(self.choose_files)
        a.settings.triggered.connect(self.edit_settings)
        a.models.triggered.connect(self.open_models)
        a.quit.triggered.connect(self.close)
        a.show_resources.toggled.connect(self._on_resources_toggled)
        a.show_files.toggled.connect(self.files.setVisible)
        self.resources.hide_requested.connect(lambda: a.show_resources.setChecked(False))
        self.files.hide_requested.connect(lambda: a.show_files.setChecked(False))
        for name, act in a.themes.items():
            act.setChecked(name == self.settings.theme)
            act.triggered.connect(lambda _=False, n=name: self.set_theme(n))
        self.model.loading.connect(lambda _name: self.tabs.set_live_state("loading"))
        self.model.ready.connect(self._on_model_loaded)
        self.model.failed.connect(self._on_model_failed)
        self.session.devices.activated.connect(self._on_device_chosen)
        self.session.language_chosen.connect(lambda code: self.apply_settings(self.settings.with_(language=code)))
        self.session.task_chosen.connect(lambda task: self.apply_settings(self.settings.with_(task=task)))
        # "system" follows the desktop when it switches between light and dark while the app runs.
        QGuiApplication.styleHints().colorSchemeChanged.connect(self._on_color_scheme)
        self.jobs.job_added.connect(self._on_job_added)
        self.jobs.job_info.connect(self._on_job_info)
        self.jobs.job_segment.connect(self.tabs.add_job_segment)
        self.jobs.job_ended.connect(self.tabs.set_job_ended)
        self.tabs.job_tab_closed.connect(self.jobs.cancel)
        self.tabs.currentChanged.connect(lambda _i: self._show_detected())
        self.jobs.job_error.connect(lambda job_id, msg: self.show_error(f"Transcribing file failed: {msg}"))
        self.document.connect_view(self.live_view)

    def _start_resource_poller(self) -> None:
        self._poll_thread = QThread(self)
        self._poll_thread.setObjectName("edge-asr-resources")
        self.poller = ResourcePoller(RESOURCE_SAMPLE_INTERVAL_MS)
        self.poller.moveToThread(self._poll_thread)
        self._poll_thread.started.connect(self.poller.start)
        self._poll_thread.finished.connect(self.poller.stop)
        self.poller.sampled.connect(self.live.on_sample)
        self.poller.unavailable.connect(self.resources.show_unavailable)
        self._sample_requested.connect(self.poller.sample_now)
        self._poll_thread.start()

    # -- messages -------------------------------------------------------------------------------------------
    def show_error(self, message: str) -> None:
        log.error("%s", message)
        self.banner.show_message(message, "error")

    def show_info(self, message: str) -> None:
        log.info("%s", message)
        self.banner.show_message(message, "info")

    # -- model ----------------------------------------------------------------------------------------------
    def load_model(self) -> None:
        """Build (first run) or load the model off the GUI thread, with the build's progress in the status bar."""
        self.autoload_pending = False
        try:
            options = self.settings.engine_options()
        except Exception as exc:
            self.show_error(f"Invalid model settings: {human_message(exc)}")
            self.model_ready.emit(None)
            return
        self.transcriber = None
        self.jobs.set_transcriber(None)
        self.live.update_record_action()
        self.model.load(options)

    def model_state(self) -> ModelState:
        return ModelState.LOADING if self.autoload_pending else self.model.state

    def is_loading(self) -> bool:
        return self.autoload_pending or self.model.is_loading()

    def _on_model_loaded(self, transcriber: Transcriber) -> None:
        self.transcriber = transcriber
        self.jobs.set_transcriber(transcriber)
        self.model_status.show_ready(model_status_text(transcriber, self.settings))
        self.tabs.set_live_state("ready")
        self.live.update_record_action()
        self._update_language_bar()
        if self.banner.kind() == "info" and "loading" in self.banner.text():
            self.banner.hide()  # the "still loading" note is answered
        self.model_ready.emit(transcriber)

    def _on_model_failed(self, message: str) -> None:
        self.show_error(f"{message} Choose or import another in Models (Ctrl+M).")
        self.tabs.set_live_state("failed")
        self.live.update_record_action()
        self.model_ready.emit(None)

    def _update_language_bar(self) -> None:
        t = self.transcriber
        codes = t.tok.language_codes if t is not None and t.is_multilingual and hasattr(t, "tok") else ()
        self.session.set_model(t.name if t else self.settings.model, bool(t and t.is_multilingual), codes,
                               self.settings.language, self.settings.task)
        self._show_detected()

    def _show_detected(self) -> None:
        info = self.tabs.current_view().info()
        auto = self.settings.language == "auto"
        self.session.show_detected(info.language if info and auto else None, info.language_probability if info else 0)

    def open_models(self) -> None:
        from .model_manager import ModelManagerDialog

        dialog = ModelManagerDialog(self)
        dialog.exec()
        dialog.deleteLater()

    # -- recording (see .live_controls) ----------------------------------------------------------------
    def toggle_recording(self) -> None:
        self.live.toggle()

    def explain_record_unavailable(self) -> None:
        self.live.explain_unavailable()

    def _on_device_chosen(self, _index: int) -> None:
        self.apply_settings(self.settings.with_(input_device=self.session.devices.wanted()))

    # -- files ----------------------------------------------------------------------------------------------
    def open_files(self, paths: Sequence[Path]) -> list[int]:
        multilingual = self.transcriber.is_multilingual if self.transcriber is not None else False
        options = self.settings.transcribe_options(multilingual)
        ids = [self.jobs.submit(Path(p), options) for p in paths]
        if paths:
            self.actions_.show_files.setChecked(True)
            self.apply_settings(self.settings.with_(last_dir=str(Path(paths[-1]).parent)))
        return ids

    def choose_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Transcribe audio files", self.settings.last_dir,
                                                f"Audio ({AUDIO_FILE_PATTERNS});;All files (*)")
        self.open_files([Path(p) for p in paths])

    def _on_job_added(self, job_id: int, name: str) -> None:
        self.document.connect_view(self.tabs.add_job(job_id, name))

    def _on_job_info(self, job_id: int, info: Any) -> None:
        self.tabs.set_job_info(job_id, info)
        self._show_detected()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        self.open_files([p for p in paths if p.is_file()])
        event.acceptProposedAction()

    def current_view(self) -> TranscriptView:
        return self.tabs.current_view()

    def export_to(self, path: Path, fmt: str) -> bool:
        return self.document.export_to(path, fmt)

    # -- settings -------------------------------------------------------------------------------------------
    def apply_settings(self, settings: AppSettings) -> None:
        reload = settings.engine_options() != self.settings.engine_options()
        language_changed = (settings.language, settings.task) != (self.settings.language, self.settings.task)
        self.settings = settings
        if self.persist:
            save_settings(self.store, settings)
        if language_changed:
            self._update_language_bar()
        if reload:
            self.load_model()

    def edit_settings(self) -> None:
        from ..factory import list_models

        try:
            models = list_models()
        except Exception as exc:
            self.show_error(f"Cannot list models: {human_message(exc)}")
            models = []
        dialog = SettingsDialog(self.settings, models, self)
        if dialog.exec() and dialog.result_settings() is not None:
            self.apply_settings(dialog.result_settings())  # type: ignore[arg-type]

    def _show_resources(self, on: bool) -> None:
        self.actions_.show_resources.setChecked(on)
        self.resources.setVisible(on)

    def _on_resources_toggled(self, on: bool) -> None:
        self.resources.setVisible(on)
        if on != self.settings.show_resources:
            self.apply_settings(self.settings.with_(show_resources=on))

    def set_theme(self, name: str) -> None:
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, name)
        refresh_icons(self.actions_)
        self.apply_settings(self.settings.with_(theme=name))
        self.update()

    def _on_color_scheme(self, _scheme: object) -> None:
        if self.settings.theme == "system":
            self.set_theme("system")

    # -- shutdown -------------------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._closed:
            self._closed = True
            self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop recording (flushing it), cancel file jobs and background jobs, stop the sampler thread."""
        wait_s = SHUTDOWN_WAIT_MS / _MS_PER_S
        self.device_watcher.stop()
        self.focus_ring.detach()
        QGuiApplication.styleHints().colorSchemeChanged.disconnect(self._on_color_scheme)
        self.recorder.shutdown(wait_s)
        self.bridge.shutdown()
        self.jobs.shutdown(SHUTDOWN_WAIT_MS)
        shutdown_jobs(wait_s)  # a model build stops at its next stage; nothing emits into this window after
        self._poll_thread.quit()
        if not self._poll_thread.wait(SHUTDOWN_WAIT_MS):
            log.error("resource thread did not stop")
        if self.persist:
            self.store.setValue("window/geometry", self.saveGeometry())
            save_settings(self.store, self.settings)
