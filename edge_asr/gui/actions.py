"""The window's actions: one QAction per command, with its icon, shortcut, tooltip and accessible name.

Toolbar buttons, menu items and the empty state's buttons share these, so every command has a keyboard
shortcut, and the tooltip names it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QToolBar

from .icons import ICON_SIZE, icon
from .settings import THEMES


@dataclass
class Actions:
    record: QAction
    open_files: QAction
    export: QAction
    copy: QAction
    clear: QAction
    find: QAction
    copy_time: QAction
    edit_line: QAction
    models: QAction
    settings: QAction
    show_resources: QAction
    show_files: QAction
    quit: QAction
    themes: dict[str, QAction]


Shortcut = QKeySequence | QKeySequence.StandardKey | Qt.Key | str
ICONS = {"record": "record", "open_files": "open", "export": "export", "copy": "copy", "clear": "clear",
         "find": "find", "models": "models", "settings": "settings", "show_resources": "resources",
         "show_files": "files"}


def shortcut_text(a: QAction) -> str:
    return a.shortcut().toString(QKeySequence.SequenceFormat.NativeText)


def set_tip(a: QAction, tip: str) -> None:
    """Tooltip with the shortcut in it, e.g. ``Start recording (Space)``."""
    key = shortcut_text(a)
    a.setToolTip(f"{tip} ({key})" if key else tip)
    a.setStatusTip(tip)


def _action(window: QMainWindow, text: str, shortcut: Shortcut, tip: str) -> QAction:
    a = QAction(text, window)
    a.setShortcut(QKeySequence(shortcut))  # type: ignore[arg-type]  # every Shortcut form converts
    a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    set_tip(a, tip)
    return a


def build_actions(window: QMainWindow) -> Actions:
    acts = Actions(
        record=_action(window, "Record", Qt.Key.Key_Space, "Start recording from the microphone"),
        open_files=_action(window, "Open…", QKeySequence.StandardKey.Open, "Transcribe audio files"),
        export=_action(window, "Export…", QKeySequence.StandardKey.Save, "Save the transcript as txt, srt, vtt, json"),
        copy=_action(window, "Copy", "Ctrl+Shift+C", "Copy the transcript text"),
        clear=_action(window, "Clear", "Ctrl+L", "Clear the transcript"),
        find=_action(window, "Find", QKeySequence.StandardKey.Find, "Find in the transcript"),
        copy_time=_action(window, "Copy time", "Ctrl+T", "Copy the start time of the selected line"),
        edit_line=_action(window, "Edit line", "F2", "Correct the selected line's text"),
        models=_action(window, "Models", "Ctrl+M", "Models: use, import, rebuild, delete builds"),
        settings=_action(window, "Settings", "Ctrl+,", "Backend, accelerator, threads"),
        show_resources=_action(window, "Resources", "Ctrl+Shift+R", "Show or hide the resource figures"),
        show_files=_action(window, "Files panel", "Ctrl+Shift+F", "Show or hide the file jobs panel"),
        quit=_action(window, "Quit", QKeySequence.StandardKey.Quit, "Quit edge-asr"),
        themes={},
    )
    for name, icon_name in ICONS.items():
        getattr(acts, name).setIcon(icon(icon_name))
    acts.show_resources.setCheckable(True)
    acts.show_files.setCheckable(True)
    group = QActionGroup(window)
    for i, name in enumerate(THEMES, start=1):
        a = _action(window, name.capitalize(), f"Ctrl+Shift+{i}", f"{name.capitalize()} theme")
        a.setCheckable(True)
        group.addAction(a)
        acts.themes[name] = a
    return acts


def refresh_icons(acts: Actions) -> None:
    """Re-tint the icons after a theme change (they follow the palette's text colour)."""
    for f in fields(Actions):
        name = f.name
        if name in ICONS and name != "record":
            getattr(acts, name).setIcon(icon(ICONS[name]))


def build_toolbar(window: QMainWindow, acts: Actions) -> QToolBar:
    bar = QToolBar("Main", window)
    bar.setObjectName("main-toolbar")
    bar.setMovable(False)
    bar.setIconSize(ICON_SIZE)
    bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    groups = ((acts.record,), (acts.open_files, acts.export), (acts.copy, acts.find, acts.clear),
              (acts.models, acts.settings))
    for i, group in enumerate(groups):
        if i:
            bar.addSeparator()
        for a in group:
            bar.addAction(a)
            button = bar.widgetForAction(a)
            if button is not None:
                button.setAccessibleName(a.text().rstrip("…"))
                button.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # toolbar buttons are in the Tab order too
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
    edit_menu.addActions([acts.copy, acts.copy_time, acts.edit_line, acts.find])
    edit_menu.addSeparator()
    edit_menu.addAction(acts.clear)
    rec_menu = QMenu("&Record", menu)
    rec_menu.addAction(acts.record)
    view_menu = QMenu("&View", menu)
    view_menu.addActions([acts.show_resources, acts.show_files])
    theme_menu = view_menu.addMenu("&Theme")
    theme_menu.addActions(list(acts.themes.values()))
    tools_menu = QMenu("&Tools", menu)
    tools_menu.addActions([acts.models, acts.settings])
    for m in (file_menu, edit_menu, rec_menu, view_menu, tools_menu):
        menu.addMenu(m)
