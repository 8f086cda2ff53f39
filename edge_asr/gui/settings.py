"""What the user chose, as one frozen dataclass validated once, and its persistence in QSettings.

The GUI builds the core's own option objects (:class:`~edge_asr.options.EngineOptions`,
:class:`~edge_asr.options.TranscribeOptions`) from it, exactly as the CLI and the config file do.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields, replace
from typing import Any, Literal

from PySide6.QtCore import QSettings

from ..constants import DEFAULT_MODEL
from ..errors import ConfigError
from ..options import EngineOptions, Task, TranscribeOptions
from .constants import EXPORT_FORMATS, MAX_THREADS, ORGANIZATION, SETTINGS_APP

log = logging.getLogger(__name__)

ThemeName = Literal["system", "light", "dark"]
THEMES: tuple[str, ...] = ("system", "light", "dark")
BACKENDS: tuple[str, ...] = ("auto", "onnxruntime", "tflite")
ACCELERATORS: tuple[str, ...] = ("auto", "cpu")
AUTO_LANGUAGE = "auto"
TASKS: tuple[str, ...] = ("transcribe", "translate")
_SETTINGS_GROUP = "app"


@dataclass(frozen=True)
class AppSettings:
    """Every persisted choice of the desktop app."""

    model: str = DEFAULT_MODEL
    backend: str = "auto"
    accelerator: str = "auto"  # EngineOptions.device
    threads: int = 0  # 0: the engine's default
    language: str = AUTO_LANGUAGE  # "auto": detect (multilingual) or the model's only language
    task: str = "transcribe"  # or "translate" (to English; multilingual models only)
    input_device: str = ""  # device name; "": the system default
    export_format: str = "srt"
    last_dir: str = ""
    theme: str = "system"
    show_resources: bool = True  # the resource strip at the bottom

    def __post_init__(self) -> None:
        if not self.model.strip():
            raise ConfigError("model must not be empty")
        if self.backend not in BACKENDS:
            raise ConfigError(f"backend must be one of {', '.join(BACKENDS)}, not {self.backend!r}")
        if not self.accelerator.strip():
            raise ConfigError("accelerator must not be empty")
        if not 0 <= self.threads <= MAX_THREADS:
            raise ConfigError(f"threads must be between 0 (automatic) and {MAX_THREADS}, not {self.threads}")
        if not self.language.strip():
            raise ConfigError("language must not be empty (use 'auto' to detect it)")
        if self.task not in TASKS:
            raise ConfigError(f"task must be one of {', '.join(TASKS)}, not {self.task!r}")
        if self.export_format not in EXPORT_FORMATS:
            raise ConfigError(f"export format must be one of {', '.join(EXPORT_FORMATS)}, not {self.export_format!r}")
        if self.theme not in THEMES:
            raise ConfigError(f"theme must be one of {', '.join(THEMES)}, not {self.theme!r}")

    def with_(self, **changes: Any) -> AppSettings:
        return replace(self, **changes)

    def engine_options(self) -> EngineOptions:
        kwargs: dict[str, Any] = {"model": self.model, "backend": self.backend, "device": self.accelerator}
        if self.threads:
            kwargs["threads"] = self.threads
        return EngineOptions(**kwargs)

    def transcribe_options(self, multilingual: bool) -> TranscribeOptions:
        # An English-only model has exactly one language; a stale choice from a multilingual model must not leak in.
        language = None if (self.language == AUTO_LANGUAGE or not multilingual) else self.language
        task: Task = "translate" if (multilingual and self.task == "translate") else "transcribe"
        return TranscribeOptions(language=language, task=task)


def load_settings(store: QSettings) -> AppSettings:
    """Read the saved settings; a value that no longer validates falls back to its default, with a warning."""
    defaults = AppSettings()
    values: dict[str, Any] = {}
    store.beginGroup(_SETTINGS_GROUP)
    try:
        for f in fields(AppSettings):
            if not store.contains(f.name):
                continue
            raw = store.value(f.name)
            default = getattr(defaults, f.name)
            try:
                values[f.name] = _parse(raw, default)
            except (TypeError, ValueError):
                log.warning("ignoring saved setting %s=%r: not a %s", f.name, raw, type(default).__name__)
    finally:
        store.endGroup()
    try:
        return AppSettings(**values)
    except ConfigError as exc:
        log.warning("saved settings are invalid (%s); checking them one by one", exc)
    good: dict[str, Any] = {}
    for name, value in values.items():
        try:
            AppSettings(**{**good, name: value})
            good[name] = value
        except ConfigError as exc:
            log.warning("ignoring saved setting %s=%r: %s", name, value, exc)
    return AppSettings(**good)


def _parse(raw: Any, default: Any) -> Any:
    """A stored value as the field's type (INI files give strings back; bool is checked before int)."""
    if isinstance(default, bool):
        text = str(raw).strip().lower()
        if text in ("true", "1", "yes"):
            return True
        if text in ("false", "0", "no"):
            return False
        raise ValueError(f"not a boolean: {raw!r}")
    if isinstance(default, int):
        return int(raw)
    return str(raw)


def save_settings(store: QSettings, settings: AppSettings) -> None:
    store.beginGroup(_SETTINGS_GROUP)
    try:
        for f in fields(AppSettings):
            store.setValue(f.name, getattr(settings, f.name))
    finally:
        store.endGroup()
    store.sync()
    if store.status() != QSettings.Status.NoError:
        log.error("could not write settings to %s (status %s)", store.fileName(), store.status())


def open_store(path: str | None = None) -> QSettings:
    """The app's settings store: an INI file at ``path`` (tests, portable installs) or the per-user default."""
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, SETTINGS_APP)
