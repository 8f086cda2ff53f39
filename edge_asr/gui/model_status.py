"""The model's state in the status bar: what is loading or built, percent, elapsed and time left, or ready."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QWidget

from .constants import PROGRESS_STEPS
from .model_loader import ModelController, ModelState
from .progress import format_duration

_TICK_MS = 1000  # ms between elapsed-time refreshes while the model builds
_BAR_WIDTH = 180  # px


class ModelStatus(QWidget):
    """Follows a ModelController; ``text()`` is what the status bar says (also the accessible name)."""

    def __init__(self, model: ModelController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._model = model
        self.label = QLabel("No model loaded", self)
        self.label.setAccessibleName("Model status")
        self.bar = QProgressBar(self)
        self.bar.setRange(0, PROGRESS_STEPS)
        self.bar.setAccessibleName("Model build progress")
        self.bar.setFixedWidth(_BAR_WIDTH)
        self.bar.setTextVisible(True)
        self.bar.hide()
        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 0, 4, 0)
        lay.addWidget(self.label, 1)
        lay.addWidget(self.bar)
        self._tick = QTimer(self)
        self._tick.setInterval(_TICK_MS)
        self._tick.timeout.connect(self._refresh)
        model.loading.connect(self._on_loading)
        model.progress.connect(lambda _stage, _f: self._refresh())
        model.failed.connect(self._on_failed)

    def text(self) -> str:
        return self.label.text()

    def show_ready(self, text: str) -> None:
        self._tick.stop()
        self.bar.hide()
        self._set(text)

    def _on_loading(self, name: str) -> None:
        self.bar.setValue(0)
        self._set(f"Loading {name}…")
        self._tick.start()

    def _on_failed(self, _message: str) -> None:
        self._tick.stop()
        self.bar.hide()
        self._set("Model not loaded: see the message above")

    def _refresh(self) -> None:
        snap = self._model.snapshot()
        if self._model.state is not ModelState.LOADING or snap is None:
            return
        if not self._model.stage:  # loading a built model: no stages, it takes a second or two
            self._set(f"Loading {self._model.name}… {format_duration(snap.elapsed_s)}")
            return
        self.bar.show()
        self.bar.setValue(round(snap.fraction * PROGRESS_STEPS))
        self.bar.setFormat(f"{snap.percent} %")
        self._set(f"Building {self._model.name} (first use): {self._model.stage} · {snap.text()}")

    def _set(self, text: str) -> None:
        self.label.setText(text)
        self.label.setToolTip(text)
        self.label.setAccessibleDescription(text)
