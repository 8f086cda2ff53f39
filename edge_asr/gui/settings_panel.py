"""Device and model settings: the microphone picker in the sidebar and the model/runtime dialog."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..errors import ConfigError
from ..tokenizer import LANGUAGE_CODES
from .constants import MAX_THREADS
from .settings import ACCELERATORS, AUTO_LANGUAGE, BACKENDS, AppSettings

log = logging.getLogger(__name__)

DEFAULT_DEVICE_LABEL = "System default"


class InputDevicePicker(QComboBox):
    """Lists input devices; keeps the chosen one (by name) across refreshes and replugs."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Microphone")
        self.setToolTip("Input device (refreshes when devices are plugged in or out)")
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(12)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._wanted = ""  # the user's choice, remembered even while that device is unplugged
        self._names: list[str] = []
        self.addItem(DEFAULT_DEVICE_LABEL, "")
        self.activated.connect(self._on_activated)

    def set_wanted(self, name: str) -> None:
        self._wanted = name
        self._select()

    def wanted(self) -> str:
        return self._wanted

    def device_names(self) -> list[str]:
        return list(self._names)

    def set_devices(self, devices: Sequence[Any]) -> bool:
        """Replace the list with ``InputDevice`` records; returns whether it changed."""
        names = [str(d.name) for d in devices]
        if names == self._names:
            return False
        self._names = names
        self.blockSignals(True)
        try:
            self.clear()
            self.addItem(DEFAULT_DEVICE_LABEL, "")
            for d in devices:
                rate = getattr(d, "default_samplerate", 0) or 0
                self.addItem(str(d.name), str(d.name))
                self.setItemData(self.count() - 1, f"{d.name}\n{getattr(d, 'host_api', '')}, {rate:.0f} Hz",
                                 Qt.ItemDataRole.ToolTipRole)
            if self._wanted and self._wanted not in names:
                self.addItem(f"{self._wanted} (not connected)", self._wanted)
            self._select()
        finally:
            self.blockSignals(False)
        return True

    def _select(self) -> None:
        index = self.findData(self._wanted)
        self.setCurrentIndex(max(index, 0))

    def _on_activated(self, index: int) -> None:
        self._wanted = str(self.itemData(index) or "")


class SettingsDialog(QDialog):
    """Model, backend, accelerator, language and threads. Returns a validated AppSettings."""

    def __init__(self, current: AppSettings, models: Sequence[Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Model and runtime settings")
        self._current = current
        self._models = {m.name: m for m in models}
        form = QFormLayout()

        self.model = QComboBox(self)
        self.model.setAccessibleName("Model")
        for m in models:
            state = "ready" if m.built else "built on first use" if m.installed else "not installed"
            self.model.addItem(f"{m.name} — {state}", m.name)
            tip = f"{m.description}\n{m.install_hint}"
            self.model.setItemData(self.model.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        if current.model not in self._models:  # a checkpoint path, or a model this install does not list
            self.model.addItem(current.model, current.model)
        self.model.setCurrentIndex(max(self.model.findData(current.model), 0))
        form.addRow("&Model", self.model)

        self.backend = self._combo("Backend", BACKENDS, current.backend)
        form.addRow("&Backend", self.backend)
        accelerators = ACCELERATORS if current.accelerator in ACCELERATORS else (*ACCELERATORS, current.accelerator)
        self.accelerator = self._combo("Accelerator", accelerators, current.accelerator)
        self.accelerator.setEditable(True)  # execution-provider names (CUDA, QNN...) are open-ended
        form.addRow("&Accelerator", self.accelerator)

        self.language = self._combo("Language", (AUTO_LANGUAGE, *LANGUAGE_CODES), current.language)
        form.addRow("&Language", self.language)

        self.threads = QSpinBox(self)
        self.threads.setAccessibleName("Encoder threads")
        self.threads.setRange(0, MAX_THREADS)
        self.threads.setSpecialValueText("automatic")
        self.threads.setValue(current.threads)
        form.addRow("&Threads", self.threads)

        self.hint = QLabel(self)
        self.hint.setWordWrap(True)
        self.error = QLabel(self)
        self.error.setWordWrap(True)
        self.error.setAccessibleName("Settings error")
        self.error.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.hint)
        lay.addWidget(self.error)
        lay.addWidget(buttons)
        self.model.currentIndexChanged.connect(self._update_language)
        self._update_language()
        self._result: AppSettings | None = None

    def _combo(self, name: str, items: Sequence[str], current: str) -> QComboBox:
        box = QComboBox(self)
        box.setAccessibleName(name)
        for item in items:
            box.addItem(item, item)
        box.setCurrentIndex(max(box.findData(current), 0))
        return box

    def _update_language(self) -> None:
        info = self._models.get(str(self.model.currentData()))
        multilingual = bool(info is not None and info.multilingual)
        self.language.setEnabled(multilingual)
        self.hint.setText("" if multilingual else "This model is English-only; the language is fixed to English.")

    def settings(self) -> AppSettings:
        """The dialog's choices; raises ConfigError when they do not validate."""
        return self._current.with_(
            model=str(self.model.currentData()),
            backend=str(self.backend.currentData()),
            accelerator=self.accelerator.currentText().strip(),
            language=str(self.language.currentData()),
            threads=self.threads.value(),
        )

    def accept(self) -> None:
        try:
            self._result = self.settings()
            self._result.engine_options()  # the core's own validation, too
        except ConfigError as exc:
            self.error.setText(str(exc))
            self.error.show()
            return
        super().accept()

    def result_settings(self) -> AppSettings | None:
        return self._result
