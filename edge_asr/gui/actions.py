"""The window's actions: one QAction per command, with its shortcut, tooltip and accessible name.

Toolbar buttons and menu items share these, so every toolbar command has a keyboard shortcut.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QToolBar

from .settings import THEMES


@dataclass
class Actions:
    record: QAction
    open_files: QAction
    export: QAction
    copy: QAction
    clear: QAction
    settings: QAction
    quit: QAction
    themes: dict[str, QAction]


Shortcut = QKeySequence | QKeySequence.StandardKey | Qt.Key | str


def _action(window: QMainWindow, text: str, shortcut: Shortcut, tip: str) -> QAction:
    a = QAction(text, window)
    a.setShortcut(QKeySequence(shortcut))  # type: ignore[arg-type]  # every Shortcut form converts
    a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    key = a.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
    a.setToolTip(f"{tip} ({key})" if key else tip)
    a.setStatusTip(tip)
    return a


def build_actions(window: QMainWindow) -> Actions:
    acts = Actions(
        record=_action(window, "● Record", Qt.Key.Key_Space, "Start or stop recording from the microphone"),
        open_files=_action(window, "Open…", QKeySequence.StandardKey.Open, "Transcribe audio files"),
        export=_action(window, "Export…", QKeySequence.StandardKey.Save, "Save the transcript as txt, srt, vtt, json"),
        copy=_action(window, "Copy", "Ctrl+Shift+C", "Copy the transcript text"),
        clear=_action(window, "Clear", "Ctrl+L", "Clear the transcript"),
        settings=_action(window, "Settings…", "Ctrl+,", "Model, backend, accelerator, language, threads"),
        quit=_action(window, "Quit", QKeySequence.StandardKey.Quit, "Quit edge-asr"),
        themes={},
    )
    group = QActionGroup(window)
    for i, name in enumerate(THEMES, start=1):
        a = _action(window, name.capitalize(), f"Ctrl+Shift+{i}", f"{name.capitalize()} theme")
        a.setCheckable(True)
        group.addAction(a)
        acts.themes[name] = a
    return acts


def build_toolbar(window: QMainWindow, acts: Actions) -> QToolBar:
    bar = QToolBar("Main", window)
    bar.setObjectName("main-toolbar")
    bar.setMovable(False)
    bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    for a in (acts.record, acts.open_files, acts.export, acts.copy, acts.clear, acts.settings):
        bar.addAction(a)
        button = bar.widgetForAction(a)
        if button is not None:
            button.setAccessibleName(a.text().lstrip("● ■").rstrip("…"))
    record = bar.widgetForAction(acts.record)
    if record is not None:
        record.setObjectName("record-button")
        font = record.font()
        font.setBold(True)
        record.setFont(font)
    window.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
    return bar


def build_menus(window: QMainWindow, acts: Actions) -> None:
    menu = window.menuBar()
    file_menu = QMenu("&File", menu)
    file_menu.addActions([acts.open_files, acts.export])
    file_menu.addSeparator()
    file_menu.addAction(acts.quit)
    edit_menu = QMenu("&Edit", menu)
    edit_menu.addActions([acts.copy, acts.clear])
    rec_menu = QMenu("&Record", menu)
    rec_menu.addAction(acts.record)
    view_menu = QMenu("&View", menu)
    theme_menu = view_menu.addMenu("&Theme")
    theme_menu.addActions(list(acts.themes.values()))
    settings_menu = QMenu("&Settings", menu)
    settings_menu.addAction(acts.settings)
    for m in (file_menu, edit_menu, rec_menu, view_menu, settings_menu):
        menu.addMenu(m)
