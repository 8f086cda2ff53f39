"""Live resource figures as a compact strip along the bottom of the window: numbers, and small rolling plots
for the ones that move. It can be hidden (View ▸ Resources, or its own close button).

Nothing is measured here. Between recordings the figures come from :class:`edge_asr.monitor.ResourceSampler`
(read on a worker thread, see :mod:`edge_asr.gui.workers`); while recording, from the pipeline's ``Stats``
events, which carry the same sampler's figures plus real-time factor, latency and drops: the daemon exports
the same numbers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy, QToolButton, QWidget

from ..live.events import Stats
from .constants import PLOT_HISTORY
from .icons import icon
from .widgets import Sparkline

log = logging.getLogger(__name__)

_MS_PER_S = 1000.0
_NA = "–"


@dataclass(frozen=True)
class _Metric:
    key: str
    label: str
    tooltip: str
    fmt: Callable[[float], str]
    floor_max: float  # smallest y range of the plot, in the metric's unit
    plot: bool = False  # a small rolling plot beside the number


_METRICS: tuple[_Metric, ...] = (
    _Metric("cpu", "CPU", "This process's CPU use, % of one core", lambda v: f"{v:.0f} %", 10.0, plot=True),
    _Metric("rss", "Memory", "Resident set size of this process", lambda v: f"{v:.0f} MB", 50.0, plot=True),
    _Metric("load", "Load", "System load average over 1 minute", lambda v: f"{v:.2f}", 1.0),
    _Metric("temp", "CPU temp", "CPU temperature, where the board exposes it", lambda v: f"{v:.0f} °C", 50.0),
    _Metric("rtf", "RTF", "Real-time factor: decoding seconds per second of audio (below 1 keeps up)",
            lambda v: f"{v:.2f}", 0.2, plot=True),
    _Metric("latency", "Latency", "End of speech to final text, last utterance",
            lambda v: f"{v * _MS_PER_S:.0f} ms", 0.25),
    _Metric("drops", "Drops", "Audio blocks dropped since recording started", lambda v: f"{v:.0f}", 1.0),
)


_PLOT_WIDTH = 44  # px
_GAP = 14  # px between metrics


class ResourceStrip(QFrame):
    """One row: label, value and (for some) a sparkline per metric, then a close button."""

    hide_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("resource-strip")
        self.setAccessibleName("Resources")
        self.setFrameShape(QFrame.Shape.NoFrame)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 2, 4, 2)
        row.setSpacing(4)
        small = self.font()
        small.setPointSizeF(small.pointSizeF() * 0.9)
        self.setFont(small)
        self._values: dict[str, QLabel] = {}
        self._plots: dict[str, Sparkline] = {}
        self._cells: dict[str, list[QWidget]] = {}
        for m in _METRICS:
            name = QLabel(m.label, self)
            name.setForegroundRole(QPalette.ColorRole.PlaceholderText)
            name.setToolTip(m.tooltip)
            value = QLabel(_NA, self)
            value.setAccessibleName(m.label)
            value.setToolTip(m.tooltip)
            value.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)
            value.setMinimumWidth(value.fontMetrics().horizontalAdvance("000 MB" if m.key == "rss" else "00 %"))
            cells: list[QWidget] = [name, value]
            row.addWidget(name)
            row.addWidget(value)
            if m.plot:
                plot = Sparkline(self, floor_max=m.floor_max)
                plot.setFixedWidth(_PLOT_WIDTH)
                plot.setToolTip(m.tooltip)
                plot.setAccessibleName(f"{m.label} history")
                row.addWidget(plot)
                cells.append(plot)
                self._plots[m.key] = plot
            row.addSpacing(_GAP)
            self._values[m.key] = value
            self._cells[m.key] = cells
        self._history: dict[str, list[float]] = {m.key: [] for m in _METRICS if not m.plot}
        self._set_visible("temp", False)  # shown once the board reports a temperature
        self._unavailable = QLabel("", self)
        self._unavailable.hide()
        row.addWidget(self._unavailable)
        row.addStretch(1)
        self.close_button = QToolButton(self)
        self.close_button.setIcon(icon("close"))
        self.close_button.setAutoRaise(True)
        self.close_button.setAccessibleName("Hide resources")
        self.close_button.setToolTip("Hide the resource figures (View ▸ Resources, Ctrl+Shift+R)")
        self.close_button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.close_button.clicked.connect(self.hide_requested)
        row.addWidget(self.close_button)

    def _set_visible(self, key: str, visible: bool) -> None:
        for w in self._cells[key]:
            w.setVisible(visible)

    def _set(self, key: str, value: float | None) -> None:
        metric = next(m for m in _METRICS if m.key == key)
        if value is None:
            self._values[key].setText(_NA)
            return
        if key == "temp" and not self._values[key].isVisibleTo(self):
            self._set_visible(key, True)
        self._values[key].setText(metric.fmt(value))
        if key in self._plots:
            self._plots[key].append(value)
        else:
            self._history[key] = [*self._history[key], value][-PLOT_HISTORY:]

    def show_sample(self, cpu_percent: float, rss_mb: float, load_avg: float, cpu_temp_c: float | None) -> None:
        """Figures from the core's ResourceSampler (between recordings)."""
        self._set("cpu", cpu_percent)
        self._set("rss", rss_mb)
        self._set("load", load_avg)
        self._set("temp", cpu_temp_c)

    def show_stats(self, stats: Stats) -> None:
        """Figures from the pipeline's Stats event (while recording)."""
        self.show_sample(stats.cpu_percent, stats.rss_mb, stats.load_avg, stats.cpu_temp_c)
        self._set("rtf", stats.rtf)
        # Latency is plotted per utterance from Final events (show_latency); Stats repeats the last one.
        self._set("drops", float(stats.drops))

    def show_latency(self, latency_s: float) -> None:
        """A final's own latency, so the figure updates per utterance, not per Stats interval."""
        self._set("latency", latency_s)

    def show_unavailable(self, message: str) -> None:
        self._unavailable.setText("Resource figures unavailable")
        self._unavailable.setToolTip(message)
        self._unavailable.show()

    def value_text(self, key: str) -> str:
        return self._values[key].text()

    def history(self, key: str) -> list[float]:
        return self._plots[key].values() if key in self._plots else list(self._history[key])
