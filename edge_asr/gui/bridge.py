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
import warnings
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal, SignalInstance

from ..live.events import DeviceBack, DeviceLost, Error, Event, Final, Level, Partial, Stats

log = logging.getLogger(__name__)

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
        signal = self._routes.get(type(event))
        if signal is None:
            log.debug("ignoring unknown live event %s", type(event).__name__)
            return
        signal.emit(event)

    def shutdown(self) -> None:
        """Detach and disconnect every slot; called once when the window closes."""
        self._closed = True
        self.detach()
        for signal in self._routes.values():
            with warnings.catch_warnings(), contextlib.suppress(RuntimeError, TypeError):
                warnings.simplefilter("ignore", RuntimeWarning)  # PySide warns when nothing was connected
                signal.disconnect()
