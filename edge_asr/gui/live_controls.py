"""Recording from the window: Record/Stop, the message when Record is pressed before the model is ready, and
the live events (partials, finals, level, stats, device faults) from the bridge into the views."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut

from ..live.events import DeviceBack, DeviceLost, Error, Final, Level, Partial, Stats
from .actions import set_tip
from .constants import STATS_FRESH_S
from .icons import icon
from .progress import format_duration
from .recording import RecState
from .theme import accent

if TYPE_CHECKING:
    from .main_window import MainWindow

_REC_LABELS = {RecState.IDLE: "Record", RecState.STARTING: "Stop (starting…)", RecState.RECORDING: "Stop",
               RecState.STOPPING: "Finishing…"}


class LiveControls:
    def __init__(self, window: MainWindow) -> None:
        self.w = window
        self._last_stats = 0.0
        # Space while Record is unavailable (no model yet) must say why instead of doing nothing.
        self._not_ready_key = QShortcut(QKeySequence(Qt.Key.Key_Space), window)
        self._not_ready_key.activated.connect(self.explain_unavailable)
        b = window.bridge
        b.partial.connect(self._on_partial)
        b.final.connect(self._on_final)
        b.level.connect(self._on_level)
        b.stats.connect(self._on_stats)
        b.device_lost.connect(self._on_device_lost)
        b.device_back.connect(self._on_device_back)
        b.error.connect(self._on_error)
        window.recorder.state_changed.connect(self._on_rec_state)
        window.recorder.failed.connect(window.show_error)

    def toggle(self) -> None:
        state = self.w.recorder.state
        if state is RecState.IDLE:
            if self.w.transcriber is None:
                self.explain_unavailable()
                return
            self.w.live_view.set_partial("")
            self.w.session.devices.setEnabled(False)
            self.w.tabs.setCurrentWidget(self.w.live_view)
            self.w.recorder.start(self.w.transcriber, self.w.session.devices.wanted(),
                                self.w.settings.transcribe_options(self.w.transcriber.is_multilingual))
        elif state in (RecState.RECORDING, RecState.STARTING):
            self.w.recorder.stop()

    def explain_unavailable(self) -> None:
        """Record pressed before the model is ready: say what is happening and when it will be."""
        snap = self.w.model.snapshot()
        if self.w.is_loading():
            eta = f", about {format_duration(snap.remaining_s)} left" if snap and snap.remaining_s else ""
            done = f" ({snap.percent} %{eta})" if snap and self.w.model.stage else ""
            self.w.show_info(f"{self.w.model.name or self.w.settings.model} is still loading{done}. "
                           "Record works as soon as it is ready.")
        else:
            why = self.w.model.error or "No model is loaded."
            self.w.show_error(f"Cannot record: {why} Choose or import one in Models (Ctrl+M).")

    def _on_rec_state(self, state: RecState) -> None:
        self.update_record_action()
        idle = state is RecState.IDLE
        self.w.session.devices.setEnabled(idle)
        self.w.device_watcher.set_paused(not idle)
        self.w.poller.set_paused(not idle)  # while recording, the pipeline's Stats carry the same figures
        self.w.actions_.settings.setEnabled(idle)
        self.w.actions_.models.setEnabled(idle)
        if idle:
            self.w.live_view.set_partial("")
            self.w.session.level.reset()

    def update_record_action(self) -> None:
        state = self.w.recorder.state
        act = self.w.actions_.record
        active = state in (RecState.STARTING, RecState.RECORDING)
        act.setText(_REC_LABELS[state])
        act.setIcon(icon("stop" if active else "record"))
        enabled = state is not RecState.STOPPING and (self.w.transcriber is not None or state is not RecState.IDLE)
        act.setEnabled(enabled)
        self._not_ready_key.setEnabled(not enabled and state is RecState.IDLE)
        set_tip(act, "Stop recording; the utterance in flight is kept" if active else
                "Start recording from the microphone" if enabled else "Record (available once the model is loaded)")
        button = self.w.toolbar.widgetForAction(act)
        if button is not None:
            button.setAccessibleName("Stop recording" if active else "Record")
            button.setStyleSheet(f"color: {accent('rec').name()};" if active else "")

    def _on_partial(self, ev: Partial) -> None:
        self.w.live_view.set_partial(ev.text, ev.stable_text)

    def _on_final(self, ev: Final) -> None:
        if ev.replaces is not None:  # an early final whose utterance went on (see live/events.py)
            self.w.live_view.replace_last_segment(ev.segment)
        else:
            self.w.live_view.add_segment(ev.segment)
        if ev.latency > 0:
            self.w.resources.show_latency(ev.latency)

    def _on_level(self, ev: Level) -> None:
        self.w.session.level.set_level(ev.rms, ev.peak)

    def _on_stats(self, ev: Stats) -> None:
        self._last_stats = time.monotonic()
        self.w.resources.show_stats(ev)

    def on_sample(self, sample: Any) -> None:
        if time.monotonic() - self._last_stats < STATS_FRESH_S:
            return  # the pipeline's Stats carry the same figures while recording
        self.w.resources.show_sample(sample.cpu_percent, sample.rss_mb, sample.load_avg, sample.cpu_temp_c)

    def _on_device_lost(self, ev: DeviceLost) -> None:
        self.w.show_error(f"Microphone “{ev.device}” stopped delivering audio ({ev.reason}). "
                        "What was said before is kept; recording resumes when it comes back.")

    def _on_device_back(self, ev: DeviceBack) -> None:
        self.w.show_info(f"Microphone “{ev.device}” is back after {ev.outage:.1f} s; recording resumed.")

    def _on_error(self, ev: Error) -> None:
        self.w.show_error(ev.message if not ev.fatal else f"Recording stopped: {ev.message}")
        if ev.fatal:
            self.w.recorder.on_fatal_error()

