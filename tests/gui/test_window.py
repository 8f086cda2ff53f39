"""The real main window with the real engine: layout at 1024x600, file jobs, export, errors, themes, settings."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication, QImage, QKeySequence
from PySide6.QtWidgets import QLabel, QToolButton, QWidget

from edge_asr.gui.main_window import MainWindow
from edge_asr.gui.recording import RecState

from .conftest import SMALL_SCREEN, open_window, settle, wait_model

JOB_TIMEOUT_MS = 120_000  # ms for one short clip on a busy 2-core machine
_WORD = re.compile(r"[a-z']+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def assert_fits(window: MainWindow, screen: tuple[int, int] = SMALL_SCREEN) -> None:
    """Nothing clipped: every visible control lies inside the window and gets at least its minimum size."""
    hint = window.minimumSizeHint()
    assert hint.width() <= screen[0] and hint.height() <= screen[1], hint
    win_rect = window.rect()
    for w in window.findChildren(QWidget):
        if not w.isVisible() or w.window() is not window or w.parent() is None:
            continue
        if w.objectName().startswith("qt_scrollarea") or w.inherits("QScrollBar"):
            continue
        if _inside_scroll_area(w):
            continue  # the sidebar scrolls instead of clipping
        top_left = w.mapTo(window, QPoint(0, 0))
        assert win_rect.contains(top_left), f"{w.metaObject().className()} {w.accessibleName()!r} at {top_left}"
        min_size = w.minimumSizeHint()
        if min_size.isValid() and (w.inherits("QAbstractButton") or w.inherits("QLabel")):
            assert w.width() >= min_size.width() - 1, f"{w.metaObject().className()} {w.accessibleName()!r} squeezed"
        if isinstance(w, QLabel) and w.wordWrap() and w.text():  # wrapped text must get the lines it needs
            assert w.height() >= w.heightForWidth(w.width()) - 1, f"label {w.text()[:40]!r} is cut off"


def _inside_scroll_area(w: QWidget) -> bool:
    p = w.parentWidget()
    while p is not None:
        if p.inherits("QScrollArea"):
            return True
        p = p.parentWidget()
    return False


def save(window: MainWindow, artifacts: Path, name: str) -> Path:
    path = artifacts / f"{name}.png"
    assert window.grab().save(str(path), "PNG")
    image = QImage(str(path))
    assert image.width() >= window.width() and image.height() >= window.height()
    return path


def run_file_job(qtbot, window: MainWindow, path: Path) -> int:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(window.jobs.job_ended, timeout=JOB_TIMEOUT_MS) as ended:
        (job_id,) = window.open_files([path])
    assert ended.args == [job_id, "done"], window.banner.text()
    return job_id


def test_idle_window_fits_small_screen(window: MainWindow, artifacts: Path, qtbot) -> None:  # type: ignore[no-untyped-def]
    assert window.size().width() == SMALL_SCREEN[0] and window.size().height() == SMALL_SCREEN[1]
    assert "ready" in window.model_status.text()
    assert window.actions_.record.isEnabled()
    settle(window)
    assert_fits(window)
    # Every toolbar command has an icon, text, a shortcut named in its tooltip, and an accessible name.
    for act in window.toolbar.actions():
        if act.isSeparator():
            continue
        key = act.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        assert key and f"({key})" in act.toolTip(), (act.text(), act.toolTip())
        assert not act.icon().isNull() and act.text(), act.text()
        button = window.toolbar.widgetForAction(act)
        assert isinstance(button, QToolButton) and button.accessibleName()
        assert button.toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonTextBesideIcon
    save(window, artifacts, "idle-light")


def test_resource_panel_shows_live_cpu_and_rss(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    panel = window.resources
    qtbot.waitUntil(lambda: len(panel.history("rss")) >= 2, timeout=10_000)
    assert panel.history("rss")[-1] > 10, "RSS of a process with a loaded model is far above 10 MB"
    cpu = panel.history("cpu")
    # Loading the model cost CPU, and the panel's figure is the process's own.
    assert max(cpu) > 0, cpu
    assert panel.value_text("rss").endswith("MB")


def test_file_job_transcribes_jfk(window: MainWindow, jfk_path: Path, artifacts: Path, qtbot) -> None:  # type: ignore[no-untyped-def]
    job_id = run_file_job(qtbot, window, jfk_path)
    view = window.tabs.current_view()
    assert view.title == jfk_path.name
    text = view.plain_text()
    assert "ask not what your country can do for you" in " ".join(words(text)), text
    assert window.files.jobs.progress_value(job_id) == 1.0
    assert window.files.jobs.state(job_id) == "done"
    assert "[0:00.0 →" in view.document_text()  # timestamps shown
    settle(window)
    assert_fits(window)
    save(window, artifacts, "file-job")
    window.actions_.copy.trigger()
    assert QGuiApplication.clipboard().text() == text
    window.actions_.clear.trigger()
    assert view.segments() == [] and view.document_text() == ""


def test_export_all_formats(window: MainWindow, jfk_path: Path, tmp_path: Path, qtbot) -> None:  # type: ignore[no-untyped-def]
    from edge_asr import formats
    from edge_asr.cues import DEFAULT_CUES, build_cues

    run_file_job(qtbot, window, jfk_path)
    view = window.tabs.current_view()
    expected = words(view.plain_text())
    for fmt in ("srt", "vtt", "txt", "json"):
        out = tmp_path / f"jfk.{fmt}"
        assert window.export_to(out, fmt), window.banner.text()
        assert out.stat().st_size > 0
    cues = formats.parse_srt((tmp_path / "jfk.srt").read_text(encoding="utf-8"))
    assert words(" ".join(text for _, _, text in cues)) == expected
    segments = view.segments()
    # Cues are the core's subtitle-sized pieces of the segments (edge_asr.cues), in order, within each segment.
    expected_cues = build_cues(segments, DEFAULT_CUES)
    assert [(round(a, 2), round(b, 2)) for a, b, _ in cues] == [(round(c.start, 2), round(c.end, 2))
                                                                 for c in expected_cues]
    assert cues[0][0] == pytest.approx(segments[0].start, abs=0.01)
    assert cues[-1][1] == pytest.approx(segments[-1].end, abs=0.01)
    assert words(" ".join(t for _, _, t in formats.parse_srt((tmp_path / "jfk.vtt").read_text("utf-8")))) == expected
    assert (tmp_path / "jfk.vtt").read_text(encoding="utf-8").startswith("WEBVTT")
    assert words((tmp_path / "jfk.txt").read_text(encoding="utf-8")) == expected
    data = json.loads((tmp_path / "jfk.json").read_text(encoding="utf-8"))
    assert data  # a JSON document the core's writer produced
    assert window.settings.export_format == "json"  # the last choice is remembered


def test_drop_files_and_cancel(window: MainWindow, en_dev: list[dict[str, str]], qtbot) -> None:  # type: ignore[no-untyped-def]
    first, second = Path(en_dev[1]["abspath"]), Path(en_dev[2]["abspath"])
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(first)), QUrl.fromLocalFile(str(second))])
    enter = QDragEnterEvent(QPoint(200, 200), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                            Qt.KeyboardModifier.NoModifier)
    drop = QDropEvent(QPointF(200, 200), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                      Qt.KeyboardModifier.NoModifier)
    # QApplication only routes drop events during a platform drag, so the handlers get the events directly.
    window.dragEnterEvent(enter)
    assert enter.isAccepted()
    ended: list[tuple[int, str]] = []
    window.jobs.job_ended.connect(lambda j, s: ended.append((j, s)))
    with qtbot.waitSignal(window.jobs.job_added, timeout=1000):
        window.dropEvent(drop)
    assert window.tabs.count() == 3  # Live + one tab per dropped file
    second_id = max(window.jobs._specs)
    window.jobs.cancel(second_id)  # queued behind the first: it must never start
    qtbot.waitUntil(lambda: len(ended) == 2, timeout=JOB_TIMEOUT_MS)
    states = dict(ended)
    assert states[second_id] == "cancelled" and states[second_id - 1] == "done"
    assert window.tabs.job_view(second_id).segments() == []  # type: ignore[union-attr]
    assert window.tabs.job_view(second_id - 1).plain_text()  # type: ignore[union-attr]


def test_bad_file_shows_error_banner(window: MainWindow, tmp_path: Path, artifacts: Path, qtbot) -> None:  # type: ignore[no-untyped-def]
    bogus = tmp_path / "not-audio.wav"
    bogus.write_bytes(b"this is not a RIFF file at all" * 20)
    with qtbot.waitSignal(window.jobs.job_ended, timeout=JOB_TIMEOUT_MS) as ended:
        window.open_files([bogus])
    assert ended.args[1] == "failed"
    assert window.banner.isVisible() and "not-audio.wav" in window.banner.text(), window.banner.text()
    assert window.banner.kind() == "error"
    settle(window)
    assert_fits(window)
    save(window, artifacts, "error-banner")


def test_dark_theme(qtbot, settings_file: str, artifacts: Path) -> None:  # type: ignore[no-untyped-def]
    window = open_window(qtbot, settings_file, theme="dark")
    wait_model(qtbot, window)
    settle(window, 1500)
    bg = window.palette().window().color()
    assert bg.lightness() < 80, bg.name()
    text = window.palette().windowText().color()
    assert text.lightness() - bg.lightness() > 120  # legible contrast
    assert_fits(window)
    save(window, artifacts, "idle-dark")
    window.close()


def test_settings_persist_between_runs(qtbot, settings_file: str) -> None:  # type: ignore[no-untyped-def]
    first = open_window(qtbot, settings_file, autoload=False)
    first.apply_settings(first.settings.with_(export_format="vtt", input_device="USB Audio", threads=2))
    first.actions_.themes["dark"].trigger()
    first.close()
    second = open_window(qtbot, settings_file, theme=None, autoload=False)  # type: ignore[arg-type]
    assert second.settings.export_format == "vtt"
    assert second.settings.input_device == "USB Audio" and second.session.devices.wanted() == "USB Audio"
    assert second.settings.threads == 2 and second.settings.theme == "dark"
    assert second.actions_.themes["dark"].isChecked()
    second.close()


def test_space_toggles_recording_and_failures_are_shown(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    """Space starts recording. Without a working microphone the failure must be said, never swallowed."""
    window.raise_()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)  # window shortcuts (Space) fire in the active window only
    window.tabs.live.setFocus()
    states: list[RecState] = []
    window.recorder.state_changed.connect(states.append)
    qtbot.keyClick(window.tabs.live, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: bool(states) and states[-1] in (RecState.IDLE, RecState.RECORDING), timeout=15_000)
    assert states[0] is RecState.STARTING
    if states[-1] is RecState.RECORDING:  # a real microphone is there: Space again stops and flushes
        qtbot.keyClick(window.tabs.live, Qt.Key.Key_Space)
        qtbot.waitUntil(lambda: window.recorder.state is RecState.IDLE, timeout=15_000)
    else:
        assert window.banner.isVisible() and "Could not start recording" in window.banner.text()
    assert window.actions_.record.text() == "Record"
