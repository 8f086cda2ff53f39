"""The model manager's import form: a checkpoint picked with a file or folder dialog, its detected format,
a name, and a tokenizer field that appears only when the checkpoint carries none."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from ..errors import EdgeAsrError
from . import model_store
from .jobs import Job
from .workers import human_message

log = logging.getLogger(__name__)

_CHECKPOINT_FILES = "Whisper checkpoints (*.pt *.pth *.bin);;All files (*)"
_TOKENIZER_FILES = "Tokenizers (tokenizer.json *.tiktoken);;All files (*)"


class ImportForm(QGroupBox):
    """Emits ``import_requested(path, name, tokenizer or None)`` once the form is complete."""

    import_requested = Signal(object, str, object)
    detected = Signal()  # the picked path was checked (format, tokenizer), off the GUI thread

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Import a downloaded checkpoint", parent)
        self.path = QLineEdit(self)
        self.path.setAccessibleName("Checkpoint path")
        self.path.setPlaceholderText("OpenAI .pt file, Hugging Face folder or CTranslate2 folder")
        self.pick_file = QPushButton("&File…", self)
        self.pick_file.setToolTip("Choose an OpenAI Whisper checkpoint file (.pt)")
        self.pick_folder = QPushButton("F&older…", self)
        self.pick_folder.setToolTip("Choose a Hugging Face (transformers) or CTranslate2 (faster-whisper) folder")
        self.format = QLabel("", self)
        self.format.setAccessibleName("Detected format")
        self.format.setWordWrap(True)
        self.name = QLineEdit(self)
        self.name.setAccessibleName("Model name")
        self.name.setPlaceholderText("e.g. base")
        self.tokenizer = QLineEdit(self)
        self.tokenizer.setAccessibleName("Tokenizer file")
        self.tokenizer.setPlaceholderText("tokenizer.json, gpt2.tiktoken or multilingual.tiktoken")
        self.pick_tokenizer = QPushButton("Choose…", self)
        self.pick_tokenizer.setAccessibleName("Choose the tokenizer")
        self.submit = QPushButton("&Import and build", self)
        self.submit.setEnabled(False)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path, 1)
        path_row.addWidget(self.pick_file)
        path_row.addWidget(self.pick_folder)
        self._tok_row = QWidget(self)
        tok_lay = QHBoxLayout(self._tok_row)
        tok_lay.setContentsMargins(0, 0, 0, 0)
        tok_lay.addWidget(self.tokenizer, 1)
        tok_lay.addWidget(self.pick_tokenizer)
        form = QFormLayout(self)
        path_label = QLabel("&Checkpoint", self)
        path_label.setBuddy(self.path)  # a row of several widgets gets no buddy by itself
        form.addRow(path_label, path_row)
        form.addRow("", self.format)
        form.addRow("&Name", self.name)
        tok_label = QLabel("&Tokenizer", self)
        tok_label.setBuddy(self.tokenizer)
        form.addRow(tok_label, self._tok_row)
        form.addRow("", self.submit)
        self._form = form
        self._fmt: str | None = None
        self._detect_job: Job | None = None
        self._needs_tokenizer = False
        self._set_tokenizer_visible(False)
        self.pick_file.clicked.connect(self._choose_file)
        self.pick_folder.clicked.connect(self._choose_folder)
        self.pick_tokenizer.clicked.connect(self._choose_tokenizer)
        self.path.editingFinished.connect(lambda: self.set_path(self.path.text()))
        self.name.textChanged.connect(self._update_submit)
        self.tokenizer.textChanged.connect(self._update_submit)
        self.submit.clicked.connect(self._submit)

    def needs_tokenizer(self) -> bool:
        return self._needs_tokenizer

    def set_path(self, text: str) -> None:
        """Check a picked (or typed) path on a worker thread (it may be on a slow disk): its format, whether
        it brings a tokenizer, a name for it. ``detected`` is emitted when the form shows the answer."""
        text = text.strip()
        self.path.setText(text)
        self._fmt = None
        self._update_submit()
        if self._detect_job is not None:
            self._detect_job.detach()
        if not text:
            self.format.setText("")
            self._set_tokenizer_visible(False)
            self.detected.emit()
            return
        path = Path(text).expanduser()
        self.format.setText("Checking…")

        def check(_progress: object) -> tuple[str, bool]:
            fmt = model_store.detect(path)
            return fmt, model_store.tokenizer_needed(path, fmt)

        job = Job("checking a checkpoint", check)
        job.finished.connect(lambda result: self._show_detected(path, *result))
        job.failed.connect(self._show_failed)
        self._detect_job = job.start()

    def _show_failed(self, exc: BaseException) -> None:
        self._detect_job = None
        self.format.setText(f"⚠ {exc}" if isinstance(exc, EdgeAsrError) else f"⚠ {human_message(exc)}")
        self._set_tokenizer_visible(False)
        self._update_submit()
        self.detected.emit()

    def _show_detected(self, path: Path, fmt: str, needs: bool) -> None:
        self._detect_job = None
        self._fmt = fmt
        label = model_store.FORMAT_LABELS.get(self._fmt, self._fmt)
        self.format.setText(f"{label}" + (": it has no tokenizer beside it, choose one below" if needs else
                                          ", with its tokenizer"))
        self._set_tokenizer_visible(needs)
        if not self.name.text().strip():
            self.name.setText(model_store.suggest_name(path))
        self._update_submit()
        self.detected.emit()

    def shutdown(self) -> None:
        if self._detect_job is not None:
            self._detect_job.detach()
            self._detect_job = None

    def _set_tokenizer_visible(self, visible: bool) -> None:
        self._needs_tokenizer = visible
        self._form.setRowVisible(self._tok_row, visible)

    def _update_submit(self) -> None:
        ok = self._fmt is not None and bool(self.name.text().strip())
        if self._needs_tokenizer:
            ok = ok and Path(self.tokenizer.text().strip()).is_file()
        self.submit.setEnabled(ok)

    def _submit(self) -> None:
        tok = Path(self.tokenizer.text().strip()) if self._needs_tokenizer else None
        self.import_requested.emit(Path(self.path.text()).expanduser(), self.name.text().strip(), tok)

    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a Whisper checkpoint", self.path.text(), _CHECKPOINT_FILES)
        if path:
            self.set_path(path)

    def _choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose a checkpoint folder", self.path.text())
        if path:
            self.set_path(path)

    def _choose_tokenizer(self) -> None:
        start = str(Path(self.path.text()).parent) if self.path.text() else ""
        path, _ = QFileDialog.getOpenFileName(self, "Choose the tokenizer", start, _TOKENIZER_FILES)
        if path:
            self.tokenizer.setText(path)
