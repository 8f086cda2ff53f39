"""Keyboard and small screens: every control is reached by Tab with a focus ring that is really painted, the
toolbar fits 800x480 with icons and text, shortcuts are in tooltips, and panels hide and come back."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QAbstractButton, QComboBox, QLineEdit, QWidget

from edge_asr.gui.focus_ring import RING_OUTSET
from edge_asr.gui.main_window import MainWindow

from .conftest import open_window, settle, wait_model
from .test_document import focus
from .test_window import assert_fits, run_file_job, save

PI_SCREEN = (800, 480)  # px, the Raspberry Pi 7" touchscreen
MAX_TAB_STOPS = 60


def tab_chain(qtbot, window: MainWindow) -> list[QWidget]:  # type: ignore[no-untyped-def]
    """Press Tab until focus comes back round; the widgets in the order they got focus."""
    seen: list[QWidget] = []
    for _ in range(MAX_TAB_STOPS):
        current = window.focusWidget()
        assert current is not None
        qtbot.keyClick(current, Qt.Key.Key_Tab)
        w = window.focusWidget()
        assert w is not None
        if seen and w is seen[0]:
            break
        seen.append(w)
    return seen


def ring_is_painted(window: MainWindow, w: QWidget) -> bool:
    """The ring sits around ``w`` and its pixels are the highlight colour in a grab of the whole window."""
    ring = window.focus_ring
    target = ring.target()
    if target is None or not ring.isVisible():
        return False
    if target is not w and not target.isAncestorOf(w):
        return False
    top_left = target.mapTo(window, QPoint(0, 0))
    if ring.geometry().topLeft() != top_left - QPoint(RING_OUTSET, RING_OUTSET):
        return False
    image = window.grab().toImage()
    ratio = image.devicePixelRatio()
    highlight = window.palette().highlight().color()
    g = ring.geometry()
    x, y = round((g.left() + g.width() / 2) * ratio), round((g.top() + 1) * ratio)  # middle of the top edge
    px = image.pixelColor(x, y)
    pairs = ((px.red(), highlight.red()), (px.green(), highlight.green()), (px.blue(), highlight.blue()))
    distance = sum(abs(a - b) for a, b in pairs)
    return distance < 90


def test_every_control_is_reached_by_tab_with_a_visible_ring(window: MainWindow, jfk_path: Path,  # type: ignore[no-untyped-def]
                                                             artifacts: Path, qtbot) -> None:
    run_file_job(qtbot, window, jfk_path)  # a file tab and the files panel, with their controls
    window.tabs.setCurrentIndex(0)
    focus(qtbot, window)
    window.toolbar.widgetForAction(window.actions_.record).setFocus(Qt.FocusReason.TabFocusReason)
    chain = tab_chain(qtbot, window)
    names = [w.accessibleName() or w.metaObject().className() for w in chain]
    toolbar_buttons = [window.toolbar.widgetForAction(a) for a in window.toolbar.actions() if not a.isSeparator()]
    expected = [*toolbar_buttons, window.session.devices, window.tabs.tabBar(), window.resources.close_button]
    for w in expected:
        assert w in chain, f"{w.accessibleName() or w.metaObject().className()} is not in the Tab order: {names}"
    assert window.session.language not in chain  # disabled for an English-only model: skipped, as it should be
    files_cancel_or_close = [w for w in chain if w.window() is window and window.files.isAncestorOf(w)]
    assert files_cancel_or_close, f"the files panel has no Tab stop: {names}"
    unringed = []
    for w in chain:
        w.setFocus(Qt.FocusReason.TabFocusReason)
        settle(window, 30)
        if not ring_is_painted(window, w):
            unringed.append(w.accessibleName() or w.metaObject().className())
        assert w.focusPolicy() & Qt.FocusPolicy.TabFocus, w
        if isinstance(w, (QAbstractButton, QComboBox, QLineEdit)):
            assert w.accessibleName() or (isinstance(w, QAbstractButton) and w.text()), "unnamed control"
    assert not unringed, f"no visible focus on: {unringed}"
    window.toolbar.widgetForAction(window.actions_.open_files).setFocus(Qt.FocusReason.TabFocusReason)
    settle(window, 50)
    save(window, artifacts, "focus-ring")


def test_fits_800x480_with_icons_and_text(qtbot, settings_file: str, artifacts: Path) -> None:  # type: ignore[no-untyped-def]
    window = open_window(qtbot, settings_file, size=PI_SCREEN)
    wait_model(qtbot, window)
    settle(window, 1200)
    assert (window.width(), window.height()) == PI_SCREEN
    assert_fits(window, PI_SCREEN)
    for act in window.toolbar.actions():
        if act.isSeparator():
            continue
        button = window.toolbar.widgetForAction(act)
        assert button.isVisible(), f"{act.text()} overflowed the toolbar at 800 px"
        assert button.width() >= button.sizeHint().width() - 1, f"{act.text()} squeezed"
    view = window.tabs.live
    assert view.empty.isVisible() and "Record" in view.empty.text.text()  # the empty state tells what to do
    assert view.height() > PI_SCREEN[1] // 2, "the transcript keeps most of a small screen"
    save(window, artifacts, "small-800x480")
    # The resource strip hides (its own button) and comes back (View ▸ Resources), and the choice is kept.
    window.resources.close_button.click()
    assert not window.resources.isVisible() and not window.settings.show_resources
    window.actions_.show_resources.trigger()
    assert window.resources.isVisible() and window.settings.show_resources
    window.close()


def test_record_without_a_model_says_why(qtbot, settings_file: str) -> None:  # type: ignore[no-untyped-def]
    window = open_window(qtbot, settings_file, autoload=False)
    focus(qtbot, window)
    assert not window.actions_.record.isEnabled()
    assert "available once the model is loaded" in window.actions_.record.toolTip()
    qtbot.keyClick(window.tabs.live, Qt.Key.Key_Space)
    assert window.banner.isVisible() and "Cannot record" in window.banner.text()
    assert "Models (Ctrl+M)" in window.banner.text()
    window.close()
