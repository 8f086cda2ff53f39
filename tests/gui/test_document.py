"""The transcript as a document, on a real file job (jfk.flac): correct a line by typing, find (Ctrl+F), click a
line's time to copy it, and export what the user corrected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLineEdit

from edge_asr import formats
from edge_asr.gui.main_window import MainWindow
from edge_asr.gui.transcript_model import TEXT_COLUMN, TIME_COLUMN, format_timestamp

from .conftest import settle
from .test_window import run_file_job, save, words


def focus(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    window.raise_()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)  # window shortcuts fire in the active window only


def test_edit_find_copy_time_and_export_the_edit(window: MainWindow, jfk_path: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                 artifacts: Path, qtbot) -> None:
    run_file_job(qtbot, window, jfk_path)
    view = window.current_view()
    lines = view.model.lines()
    assert len(lines) >= 2, view.document_text()
    focus(qtbot, window)

    # Click the second line's time: its start time is on the clipboard and the status bar says so.
    second = lines[1]
    rect = view.table.visualRect(view.model.index(1, TIME_COLUMN))
    qtbot.mouseClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert QGuiApplication.clipboard().text() == format_timestamp(second.segment.start)
    assert "Copied the time" in window.statusBar().currentMessage()

    # Correct the first line by typing into it (F2), as a user would, and press Enter.
    view.table.setFocus()
    view.table.setCurrentIndex(view.model.index(0, TEXT_COLUMN))
    qtbot.keyClick(view.table, Qt.Key.Key_F2)
    editor = view.table.findChild(QLineEdit)
    assert editor is not None and editor.isVisible(), "F2 opens the line for editing"
    editor.selectAll()
    qtbot.keyClicks(editor, "And so, my fellow Americans: ask not what your country can do for you,")
    qtbot.keyClick(editor, Qt.Key.Key_Return)  # the delegate commits on the next event-loop turn
    qtbot.waitUntil(lambda: view.model.lines()[0].edited, timeout=2000)
    edited = view.model.lines()[0]
    assert edited.edited and edited.text.startswith("And so, my fellow Americans:")
    assert "✎" in view.model.data(view.model.index(0, TEXT_COLUMN))  # marked as corrected on screen
    assert edited.segment.text.strip() in view.model.data(view.model.index(0, TEXT_COLUMN),
                                                          Qt.ItemDataRole.ToolTipRole)  # the original is kept

    # Ctrl+F: find a word of the second line; the match is selected and counted.
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert view.find_bar.isVisible() and view.find_bar.field.hasFocus()
    qtbot.keyClicks(view.find_bar.field, "YOUR COUNTRY")
    assert view.model.matches() == [0, 1]  # case-insensitive, across the corrected line too
    assert view.find_bar.count.text() == "1 of 2" and view.current_row() == 0
    qtbot.keyClick(view.find_bar.field, Qt.Key.Key_Return)
    assert view.find_bar.count.text() == "2 of 2" and view.current_row() == 1
    settle(window, 200)
    save(window, artifacts, "document-find")
    qtbot.keyClick(view.find_bar.field, Qt.Key.Key_Escape)
    assert not view.find_bar.isVisible() and view.model.matches() == []

    # Copy and export carry the correction; word timings of the corrected line are dropped, the others kept.
    window.actions_.copy.trigger()
    assert QGuiApplication.clipboard().text().splitlines()[0] == edited.text
    for fmt in ("srt", "txt", "json"):
        assert window.export_to(tmp_path / f"jfk.{fmt}", fmt), window.banner.text()
    cues = formats.parse_srt((tmp_path / "jfk.srt").read_text(encoding="utf-8"))
    # The corrected line's cues (subtitle-sized pieces) carry its new words and span its times.
    mine = [c for c in cues if c[0] < edited.segment.end - 0.01]
    assert " ".join(" ".join(c[2].split()) for c in mine) == edited.text
    assert mine[0][0] == pytest.approx(edited.segment.start, abs=0.01)
    assert mine[-1][1] == pytest.approx(edited.segment.end, abs=0.01)
    assert words((tmp_path / "jfk.txt").read_text(encoding="utf-8"))[:4] == ["and", "so", "my", "fellow"]
    assert "And so, my fellow Americans:" in (tmp_path / "jfk.txt").read_text(encoding="utf-8")
    data = json.dumps(json.loads((tmp_path / "jfk.json").read_text(encoding="utf-8")))
    assert "And so, my fellow Americans:" in data


def test_empty_line_edits_are_refused_and_partials_are_not_editable(qtbot) -> None:  # type: ignore[no-untyped-def]
    from edge_asr.gui.transcript_view import TranscriptView
    from edge_asr.results import Segment

    view = TranscriptView("Live")
    qtbot.addWidget(view)
    assert view.stack.currentWidget() is view.empty  # a new user sees what to do, not a blank box
    view.add_segment(Segment(id=0, start=0.0, end=2.0, text=" hello there"))
    assert view.stack.currentWidget() is view.table
    view.set_partial("and more", "")
    partial_row = view.model.rowCount() - 1
    assert not view.model.flags(view.model.index(partial_row, TEXT_COLUMN)) & Qt.ItemFlag.ItemIsEditable
    assert not view.model.edit_line(0, "   ")  # an empty correction would silently drop a line
    assert view.model.edit_line(0, "hello  there ") is False  # the same words: not an edit
    assert view.model.edit_line(0, "Hello there!") and view.segments()[0].text.strip() == "Hello there!"
    assert view.segments()[0].words is None
