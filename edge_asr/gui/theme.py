"""Light and dark palettes on the Fusion style; "system" follows the desktop's colour scheme."""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

log = logging.getLogger(__name__)

# (window, base, text, button, highlight, dimmed text, link) per theme
_COLOURS: dict[str, dict[str, str]] = {
    "light": {
        "window": "#f3f4f6", "base": "#ffffff", "alt": "#eef0f3", "text": "#1b1f24", "button": "#e6e8eb",
        "highlight": "#2563eb", "dim": "#6b7280", "link": "#1d4ed8", "tooltip": "#ffffdc",
    },
    "dark": {
        "window": "#1f2227", "base": "#16181c", "alt": "#23262c", "text": "#e6e8eb", "button": "#2b2f36",
        "highlight": "#3b82f6", "dim": "#9aa1ab", "link": "#7fb0ff", "tooltip": "#2b2f36",
    },
}
# Colours the custom-painted widgets take from the theme, not from the palette (which has no "ok/warn/bad").
ACCENTS: dict[str, dict[str, str]] = {
    "light": {"plot": "#2563eb", "ok": "#15803d", "warn": "#b45309", "bad": "#b91c1c", "banner_bg": "#fde2e1",
              "banner_fg": "#7f1d1d", "info_bg": "#dbeafe", "info_fg": "#1e3a8a", "rec": "#dc2626"},
    "dark": {"plot": "#60a5fa", "ok": "#4ade80", "warn": "#fbbf24", "bad": "#f87171", "banner_bg": "#4c1d1d",
             "banner_fg": "#fecaca", "info_bg": "#1e3a5f", "info_fg": "#dbeafe", "rec": "#f87171"},
}


def system_theme() -> str:
    scheme = QGuiApplication.styleHints().colorScheme()
    return "dark" if scheme == Qt.ColorScheme.Dark else "light"


def resolve_theme(name: str) -> str:
    """``system`` becomes ``light`` or ``dark`` from the desktop; an explicit choice is kept."""
    return system_theme() if name == "system" else name


def build_palette(theme: str) -> QPalette:
    c = {k: QColor(v) for k, v in _COLOURS[theme].items()}
    pal = QPalette()
    role = QPalette.ColorRole
    pal.setColor(role.Window, c["window"])
    pal.setColor(role.WindowText, c["text"])
    pal.setColor(role.Base, c["base"])
    pal.setColor(role.AlternateBase, c["alt"])
    pal.setColor(role.Text, c["text"])
    pal.setColor(role.Button, c["button"])
    pal.setColor(role.ButtonText, c["text"])
    pal.setColor(role.Highlight, c["highlight"])
    pal.setColor(role.HighlightedText, QColor("#ffffff"))
    pal.setColor(role.ToolTipBase, c["tooltip"])
    pal.setColor(role.ToolTipText, c["text"])
    pal.setColor(role.PlaceholderText, c["dim"])
    pal.setColor(role.Link, c["link"])
    pal.setColor(role.BrightText, QColor("#ffffff"))
    for r in (role.WindowText, role.Text, role.ButtonText):
        pal.setColor(QPalette.ColorGroup.Disabled, r, c["dim"])
    return pal


def apply_theme(app: QApplication, name: str) -> str:
    """Apply ``light``, ``dark`` or ``system``; returns the theme actually applied."""
    theme = resolve_theme(name)
    app.setStyle("Fusion")  # the one style that honours a full palette identically on every platform
    app.setPalette(build_palette(theme))
    app.setProperty("edge_asr_theme", theme)
    log.debug("theme %s (asked %s)", theme, name)
    return theme


def current_theme() -> str:
    app = QApplication.instance()
    theme = app.property("edge_asr_theme") if app is not None else None
    return theme if theme in ACCENTS else "light"


def accent(name: str) -> QColor:
    return QColor(ACCENTS[current_theme()][name])


def dim_text() -> QColor:
    return QColor(_COLOURS[current_theme()]["dim"])
