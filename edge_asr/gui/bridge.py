"""The one crossing point from the core's event stream into Qt: each live event becomes a queued signal.

The pipeline calls :meth:`EventBridge.deliver` on its dispatch thread. Emitting a signal from there is
non-blocking: Qt queues it to the bridge's own (GUI) thread, so slots run on the GUI thread. The bridge is
parented to the main window and detached on shutdown, after which late events are dropped, not delivered to
half-destroyed widgets.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import warnings
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal, SignalInstance

from ..live.events import DeviceBack, DeviceLost, Error, Event, Final, Level, Partial, Stats
from .constants import LEVEL_FLOOR_DBFS, LEVEL_REDRAW_INTERVAL_MS

log = logging.getLogger(__name__)

_MS_PER_S = 1000.0
Unsubscribe = Callable[[], None]
Subscribe = Callable[[Callable[[Event], None]], Unsubscribe]


class EventBridge(QObject):
    partial = Signal(object)  # Partial
    final = Signal(object)  # Final
    level = Signal(object)  # Level
    stats = Signal(object)  # Stats
    device_lost = Signal(object)  # DeviceLost
    device_back = Signal(object)  # DeviceBack
    error = Signal(object)  # Error

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._unsubscribe: Unsubscribe | None = None
        self._closed = False
        self._level_sent = 0.0  # time.monotonic() of the last Level passed on
        self._level_peak = LEVEL_FLOOR_DBFS  # loudest peak since then, dBFS
        self._routes: dict[type, SignalInstance] = {
            Partial: self.partial, Final: self.final, Level: self.level, Stats: self.stats,
            DeviceLost: self.device_lost, DeviceBack: self.device_back, Error: self.error,
        }

    def attach(self, subscribe: Subscribe) -> None:
        """Subscribe to one event source (a pipeline); a previous one is detached first."""
        self.detach()
        with self._lock:
            if self._closed:
                return
            self._unsubscribe = subscribe(self.deliver)

    def detach(self) -> None:
        with self._lock:
            unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            try:
                unsubscribe()
            except Exception:  # a failing unsubscribe must not stop the shutdown that called it
                log.exception("unsubscribing from the live pipeline failed")

    def deliver(self, event: Event) -> None:
        """Called on the pipeline's dispatch thread: only emits, never blocks."""
        if self._closed:
            return
        if isinstance(event, Level):
            level = self._throttle_level(event)
            if level is None:
                return
            event = level
        signal = self._routes.get(type(event))
        if signal is None:
            log.debug("ignoring unknown live event %s", type(event).__name__)
            return
        signal.emit(event)

    def _throttle_level(self, event: Level) -> Level | None:
        # Levels come once per capture block (~30 a second); the meter redraws at most every
        # LEVEL_REDRAW_INTERVAL_MS, so crossing into Qt more often would only cost CPU. The loudest peak of the
        # skipped events is kept, so a short clip still shows on the meter.
        now = time.monotonic()
        self._level_peak = max(self._level_peak, event.peak)
        if now - self._level_sent < LEVEL_REDRAW_INTERVAL_MS / _MS_PER_S:
            return None
        self._level_sent = now
        peak, self._level_peak = self._level_peak, LEVEL_FLOOR_DBFS
        return event if peak == event.peak else Level(rms=event.rms, peak=peak, wall_time=event.wall_time)

    def shutdown(self) -> None:
        """Detach and disconnect every slot; called once when the window closes."""
        self._closed = True
        self.detach()
        for signal in self._routes.values():
            with warnings.catch_warnings(), contextlib.suppress(RuntimeError, TypeError):
                warnings.simplefilter("ignore", RuntimeWarning)  # PySide warns when nothing was connected
                signal.disconnect()
