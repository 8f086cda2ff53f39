"""Live resource figures as numbers and rolling plots: the core sampler's and the pipeline's own Stats.

Nothing is measured here. Between recordings the figures come from :class:`edge_asr.monitor.ResourceSampler`
(read on a worker thread, see :mod:`edge_asr.gui.workers`); while recording, from the pipeline's ``Stats``
events, which carry the same sampler's figures plus real-time factor, latency and drops: the daemon exports
the same numbers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtWidgets import QGridLayout, QLabel, QSizePolicy, QWidget

from ..live.events import Stats
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


_METRICS: tuple[_Metric, ...] = (
    _Metric("cpu", "CPU", "This process's CPU use, % of one core", lambda v: f"{v:.0f} %", 10.0),
    _Metric("rss", "Memory", "Resident set size of this process", lambda v: f"{v:.0f} MB", 50.0),
    _Metric("load", "Load", "System load average over 1 minute", lambda v: f"{v:.2f}", 1.0),
    _Metric("temp", "CPU temp", "CPU temperature, where the board exposes it", lambda v: f"{v:.0f} °C", 50.0),
    _Metric("rtf", "RTF", "Real-time factor: decoding seconds per second of audio (below 1 keeps up)",
            lambda v: f"{v:.2f}", 0.2),
    _Metric("latency", "Latency", "End of speech to final text, last utterance",
            lambda v: f"{v * _MS_PER_S:.0f} ms", 0.25),
    _Metric("drops", "Drops", "Audio blocks dropped since recording started", lambda v: f"{v:.0f}", 1.0),
)


class ResourcePanel(QWidget):
    """A grid of label, value and sparkline per metric."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Resources")
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(2)
        grid.setColumnStretch(2, 1)
        self._values: dict[str, QLabel] = {}
        self._plots: dict[str, Sparkline] = {}
        for row, m in enumerate(_METRICS):
            name = QLabel(m.label, self)
            name.setToolTip(m.tooltip)
            value = QLabel(_NA, self)
            value.setAccessibleName(m.label)
            value.setToolTip(m.tooltip)
            value.setMinimumWidth(value.fontMetrics().horizontalAdvance("0000 MB"))
            value.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)
            plot = Sparkline(self, floor_max=m.floor_max)
            plot.setToolTip(m.tooltip)
            plot.setAccessibleName(f"{m.label} history")
            grid.addWidget(name, row, 0)
            grid.addWidget(value, row, 1)
            grid.addWidget(plot, row, 2)
            self._values[m.key] = value
            self._plots[m.key] = plot
        self._unavailable = QLabel("", self)
        self._unavailable.setWordWrap(True)
        self._unavailable.hide()
        grid.addWidget(self._unavailable, len(_METRICS), 0, 1, 3)

    def _set(self, key: str, value: float | None) -> None:
        metric = next(m for m in _METRICS if m.key == key)
        if value is None:
            self._values[key].setText(_NA)
            return
        self._values[key].setText(metric.fmt(value))
        self._plots[key].append(value)

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
        self._unavailable.setText(message)
        self._unavailable.show()

    def value_text(self, key: str) -> str:
        return self._values[key].text()

    def history(self, key: str) -> list[float]:
        return self._plots[key].values()
