"""The look: the platform's own style where there is one (Windows 11, macOS, KDE's Breeze), else Fusion with
our light and dark palettes; "system" follows the desktop's colour scheme. One small style sheet sets the
spacing and the flat, rounded toolbar buttons."""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

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


# Native styles that draw light and dark themselves (from the colour scheme, not from a palette we set).
NATIVE_STYLES = ("windows11", "macos")
# Desktop styles that follow a palette well; used when the desktop is already running them (e.g. KDE).
PALETTE_STYLES = ("breeze", "fusion")
_SPACING_PX = 6

STYLE_SHEET = f"""
QToolBar {{ spacing: 2px; padding: 4px {_SPACING_PX}px; border: none; }}
QToolBar QToolButton {{ padding: 4px 6px; border-radius: 6px; border: 1px solid transparent; }}
QToolBar QToolButton:hover {{ background: palette(alternate-base); border-color: palette(mid); }}
QToolBar QToolButton:pressed, QToolBar QToolButton:checked {{ background: palette(midlight); }}
QToolBar QToolButton:disabled {{ color: palette(placeholder-text); }}
#session-bar, #resource-strip {{ background: palette(window); }}
QFrame#rule {{ color: palette(mid); max-height: 1px; border: none; background: palette(mid); }}
QStatusBar {{ border-top: 1px solid palette(mid); }}
QStatusBar::item {{ border: none; }}
#banner {{ border-radius: 0; }}
QTableView#transcript-table {{ border: none; }}
QTableView#transcript-table::item {{ padding: 4px 6px; }}
"""


def choose_style(available: list[str], current: str) -> str:
    """The platform style when it exists, the desktop's own palette-friendly style, else Fusion."""
    keys = {k.lower(): k for k in available}
    for native in NATIVE_STYLES:
        if native in keys:
            return keys[native]
    if current.lower() in PALETTE_STYLES:
        return keys.get(current.lower(), current)
    return "Fusion"


def apply_theme(app: QApplication, name: str) -> str:
    """Apply ``light``, ``dark`` or ``system``; returns the theme actually applied."""
    initial = app.property("edge_asr_initial_style")
    if initial is None:  # the style the desktop gave us, before we ever changed it
        initial = app.style().name()
        app.setProperty("edge_asr_initial_style", initial)
    style = choose_style(QStyleFactory.keys(), str(initial))
    if app.style().name().lower() != style.lower():
        app.setStyle(style)
    hints = QGuiApplication.styleHints()
    if style.lower() in NATIVE_STYLES and hasattr(hints, "setColorScheme"):  # Qt >= 6.8
        hints.setColorScheme({"light": Qt.ColorScheme.Light, "dark": Qt.ColorScheme.Dark}.get(
            name, Qt.ColorScheme.Unknown))
        theme = resolve_theme(name)
    else:
        theme = resolve_theme(name)
        app.setPalette(build_palette(theme))
    app.setStyleSheet(STYLE_SHEET)
    app.setProperty("edge_asr_theme", theme)
    log.debug("theme %s (asked %s), style %s", theme, name, style)
    return theme


def current_theme() -> str:
    app = QApplication.instance()
    theme = app.property("edge_asr_theme") if app is not None else None
    return theme if theme in ACCENTS else "light"


def accent(name: str) -> QColor:
    return QColor(ACCENTS[current_theme()][name])


def dim_text() -> QColor:
    return QColor(_COLOURS[current_theme()]["dim"])
