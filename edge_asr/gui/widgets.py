"""Small painted widgets: a rolling plot, an input level meter and the error/info banner."""

from __future__ import annotations

import math
import time
from collections import deque

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QWidget

from .constants import LEVEL_FLOOR_DBFS, LEVEL_PEAK_HOLD_S, LEVEL_REDRAW_INTERVAL_MS, PLOT_HISTORY, SPARKLINE_HEIGHT
from .theme import accent, dim_text

_PLOT_MIN_WIDTH = 60  # px
_METER_HEIGHT = 12  # px
_PEAK_MARK_WIDTH = 2.0  # px
_HEADROOM = 1.15  # the plot's top sits 15 % above the largest value shown, so a flat line is not glued to the top


class Sparkline(QWidget):
    """A rolling line plot of the last :data:`PLOT_HISTORY` values, scaled to their own maximum."""

    def __init__(self, parent: QWidget | None = None, floor_max: float = 1.0) -> None:
        super().__init__(parent)
        self._values: deque[float] = deque(maxlen=PLOT_HISTORY)
        self._floor_max = floor_max  # the y range never shrinks below this, so noise near 0 stays flat
        self.setMinimumSize(_PLOT_MIN_WIDTH, SPARKLINE_HEIGHT)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        return QSize(120, SPARKLINE_HEIGHT)

    def append(self, value: float) -> None:
        self._values.append(value if math.isfinite(value) else 0.0)
        self.update()

    def values(self) -> list[float]:
        return list(self._values)

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = QRectF(self.rect()).adjusted(1, 1, -1, -1)
        grid = QColor(dim_text())
        grid.setAlpha(60)
        p.setPen(QPen(grid, 1))
        p.drawLine(r.bottomLeft(), r.bottomRight())
        if len(self._values) >= 2:
            top = max(max(self._values) * _HEADROOM, self._floor_max)
            step = r.width() / (PLOT_HISTORY - 1)
            x0 = r.right() - step * (len(self._values) - 1)
            path = QPainterPath()
            for i, v in enumerate(self._values):
                pt = QPointF(x0 + i * step, r.bottom() - (max(v, 0.0) / top) * r.height())
                if i == 0:
                    path.moveTo(pt)
                else:
                    path.lineTo(pt)
            p.setPen(QPen(accent("plot"), 1.5))
            p.drawPath(path)
        p.end()


class LevelMeter(QWidget):
    """Input level in dBFS: RMS as a bar, peak as a marker. Repaints on a timer, not per event."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rms = LEVEL_FLOOR_DBFS
        self._peak = LEVEL_FLOOR_DBFS
        self._peak_at = 0.0
        self._dirty = False
        self.setMinimumHeight(_METER_HEIGHT)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAccessibleName("Input level")
        # Level events can arrive at the capture block rate; coalescing them here bounds the GUI's cost.
        self._timer = QTimer(self)
        self._timer.setInterval(LEVEL_REDRAW_INTERVAL_MS)
        self._timer.timeout.connect(self._flush)
        self._timer.start()

    def sizeHint(self) -> QSize:
        return QSize(200, _METER_HEIGHT)

    def set_level(self, rms_dbfs: float, peak_dbfs: float) -> None:
        self._rms = max(LEVEL_FLOOR_DBFS, min(0.0, rms_dbfs))
        now = time.monotonic()
        peak = max(LEVEL_FLOOR_DBFS, min(0.0, peak_dbfs))
        if peak >= self._peak or now - self._peak_at > LEVEL_PEAK_HOLD_S:
            self._peak, self._peak_at = peak, now
        self._dirty = True

    def reset(self) -> None:
        self._rms = self._peak = LEVEL_FLOOR_DBFS
        self._dirty = True

    def level(self) -> tuple[float, float]:
        return self._rms, self._peak

    def _flush(self) -> None:
        if self._dirty:
            self._dirty = False
            self.setAccessibleDescription(f"{self._rms:.0f} dBFS")
            self.update()

    @staticmethod
    def _fraction(dbfs: float) -> float:
        return (dbfs - LEVEL_FLOOR_DBFS) / -LEVEL_FLOOR_DBFS

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        r = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        p.setPen(QPen(dim_text(), 1))
        p.setBrush(self.palette().base())
        p.drawRect(r)
        fill = r.adjusted(1, 1, -1, -1)
        fill.setWidth(fill.width() * self._fraction(self._rms))
        colour = accent("ok") if self._rms < -12 else accent("warn") if self._rms < -3 else accent("bad")
        p.fillRect(fill, colour)
        x = r.left() + r.width() * self._fraction(self._peak)
        p.fillRect(QRectF(x - _PEAK_MARK_WIDTH, r.top(), _PEAK_MARK_WIDTH, r.height()), self.palette().text())
        p.end()


class Banner(QWidget):
    """A dismissable strip across the window for device faults and errors; nothing the core reports is hidden."""

    dismissed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self._label = QLabel(self)
        self._label.setWordWrap(True)
        self._label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._label.setAccessibleName("Status message")
        self._close = QPushButton("Dismiss", self)
        self._close.setAccessibleName("Dismiss message")
        self._close.clicked.connect(self._dismiss)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(10, 6, 10, 6)
        lay.addWidget(self._label, 1)
        lay.addWidget(self._close)
        self._kind = "error"
        self.hide()

    def show_message(self, text: str, kind: str = "error") -> None:
        """``kind`` is ``error`` (red) or ``info`` (blue)."""
        self._kind = kind
        prefix = "banner" if kind == "error" else "info"
        bg, fg = accent(f"{prefix}_bg"), accent(f"{prefix}_fg")
        self.setStyleSheet(f"#banner {{ background: {bg.name()}; }} #banner QLabel {{ color: {fg.name()}; }}")
        self._label.setText(text)
        self.show()

    def text(self) -> str:
        return self._label.text() if self.isVisible() else ""

    def kind(self) -> str:
        return self._kind

    def _dismiss(self) -> None:
        self.hide()
        self.dismissed.emit()
