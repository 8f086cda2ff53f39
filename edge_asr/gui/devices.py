"""Keeps the input-device list fresh: the core lists devices on the thread pool every few seconds."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from .jobs import Job
from .recording import list_input_devices
from .workers import human_message

log = logging.getLogger(__name__)


class DeviceWatcher(QObject):
    """Re-lists devices so plugging a microphone in or out shows up; paused while recording (the pipeline
    then owns the device and reports its faults itself)."""

    devices = Signal(object)  # list of InputDevice
    failed = Signal(str)  # human message

    def __init__(self, interval_ms: int, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._job: Job | None = None
        self._paused = False
        self._last: list[str] | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.refresh)

    def start(self) -> None:
        self._timer.start()
        QTimer.singleShot(0, self.refresh)

    def stop(self) -> None:
        self._timer.stop()

    def set_paused(self, paused: bool) -> None:
        self._paused = paused

    def refresh(self) -> None:
        if self._job is not None or self._paused:
            return
        self._job = Job("listing input devices", lambda _p: list_input_devices())
        self._job.finished.connect(self._on_devices)
        self._job.failed.connect(self._on_failed)
        self._job.start()

    def _on_devices(self, devices: Sequence[Any]) -> None:
        self._job = None
        names = [str(d.name) for d in devices]
        if names != self._last:
            self._last = names
            log.info("input devices: %s", ", ".join(names) or "none")
            self.devices.emit(list(devices))

    def _on_failed(self, exc: BaseException) -> None:
        self._job = None
        self._timer.stop()  # the same failure would only repeat every few seconds
        self.failed.emit(f"Cannot list microphones: {human_message(exc)}")
