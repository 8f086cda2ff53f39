"""The strip above the transcript: microphone and its level, and, for multilingual models, the language
(auto-detect, shown with the detected language's probability) and the task (transcribe / translate)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import cache

from PySide6.QtCore import QLocale, QSize, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSizePolicy, QWidget

from ..tokenizer import LANGUAGE_CODES
from .icons import icon
from .settings import AUTO_LANGUAGE, TASKS
from .settings_panel import InputDevicePicker
from .widgets import LevelMeter

log = logging.getLogger(__name__)

_ICON_PX = 18  # px
_METER_WIDTH = 110  # px
_TASK_LABELS = {"transcribe": "Transcribe", "translate": "Translate to English"}


@cache
def language_name(code: str) -> str:
    """``German`` for ``de``; the code itself when Qt does not know the language."""
    loc = QLocale(code)
    if loc.language() in (QLocale.Language.C, QLocale.Language.AnyLanguage):
        return code
    return QLocale.languageToString(loc.language())


class SessionBar(QWidget):
    language_chosen = Signal(str)  # "auto" or a code
    task_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("session-bar")
        mic_icon = QLabel(self)
        mic_icon.setPixmap(icon("mic").pixmap(QSize(_ICON_PX, _ICON_PX)))
        mic_icon.setToolTip("Microphone")
        self.devices = InputDevicePicker(self)
        self.level = LevelMeter(self)
        self.level.setFixedWidth(_METER_WIDTH)
        self.level.setToolTip("Input level (RMS bar, peak mark)")
        self.mic_note = QLabel(self)
        self.mic_note.setAccessibleName("Microphone status")
        self.mic_note.hide()
        self.language = QComboBox(self)
        self.language.setAccessibleName("Language")
        self.language.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.language.setMinimumContentsLength(14)
        self.task = QComboBox(self)
        self.task.setAccessibleName("Task")
        for task in TASKS:
            self.task.addItem(_TASK_LABELS[task], task)
        lang_label = QLabel("&Language", self)
        lang_label.setBuddy(self.language)
        task_label = QLabel("T&ask", self)
        task_label.setBuddy(self.task)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 6, 8, 6)
        lay.setSpacing(8)
        lay.addWidget(mic_icon)
        lay.addWidget(self.devices, 1)
        lay.addWidget(self.level)
        lay.addWidget(self.mic_note)
        lay.addSpacing(12)
        lay.addWidget(lang_label)
        lay.addWidget(self.language, 1)
        lay.addSpacing(4)
        lay.addWidget(task_label)
        lay.addWidget(self.task)
        self.devices.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._multilingual = False
        self._chosen_language = AUTO_LANGUAGE
        self._detected: tuple[str, float] | None = None
        self.language.activated.connect(lambda i: self.language_chosen.emit(str(self.language.itemData(i))))
        self.task.activated.connect(lambda i: self.task_chosen.emit(str(self.task.itemData(i))))
        self.set_model(None, False, (), AUTO_LANGUAGE, "transcribe")

    def set_model(self, name: str | None, multilingual: bool, codes: Sequence[str], language: str, task: str) -> None:
        """Fill the pickers for a model: every language it knows, or a fixed English for English-only models."""
        self._multilingual = multilingual
        self._chosen_language = language
        self.language.blockSignals(True)
        self.language.clear()
        if multilingual:
            self.language.addItem(self._auto_label(), AUTO_LANGUAGE)
            for code in codes or LANGUAGE_CODES:
                self.language.addItem(f"{language_name(code)} ({code})", code)
            self.language.setCurrentIndex(max(self.language.findData(language), 0))
            self.language.setToolTip("The spoken language; auto-detect shows what it found and how sure it is")
            self.task.setToolTip("Transcribe in the spoken language, or translate the speech to English")
        else:
            self.language.addItem("English", "en")
            why = (f"{name} is English-only" if name else "No model is loaded") + \
                "; choose or import a multilingual model in Models (Ctrl+M) for other languages"
            self.language.setToolTip(why)
            self.task.setToolTip(why)
        self.language.blockSignals(False)
        self.language.setEnabled(multilingual)
        self.task.setEnabled(multilingual)
        self.task.setCurrentIndex(max(self.task.findData(task if multilingual else "transcribe"), 0))

    def show_detected(self, language: str | None, probability: float = 0.0) -> None:
        """The language auto-detect found (for the current transcript), shown in the Auto item."""
        self._detected = (language, probability) if language else None
        if self._multilingual:
            self.language.setItemText(0, self._auto_label())

    def auto_text(self) -> str:
        return self.language.itemText(0)

    def _auto_label(self) -> str:
        if self._detected is None:
            return "Auto-detect"
        code, p = self._detected
        return f"Auto: {language_name(code)} {p:.0%}"

    def show_mic_note(self, text: str) -> None:
        self.mic_note.setText("⚠ No microphone" if text else "")
        self.mic_note.setToolTip(text)
        self.mic_note.setAccessibleDescription(text)
        self.mic_note.setVisible(bool(text))
        self.devices.setToolTip(text or "Input device (refreshes when devices are plugged in or out)")
