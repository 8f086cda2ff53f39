"""A focus ring drawn the same way on every control, whatever the style draws (or does not draw) itself.

One transparent overlay, a child of the window laid over the focused widget, ignores the mouse and repaints
only when focus moves or the focused widget moves or resizes. It stays a child of the window (never of the
focused widget's parent), so closing a tab cannot delete it with the tab.
"""

from __future__ import annotations

import contextlib
import logging

from PySide6.QtCore import QEvent, QObject, QPoint, QRect, QRectF, Qt
from PySide6.QtGui import QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QAbstractScrollArea, QApplication, QWidget

log = logging.getLogger(__name__)

RING_WIDTH = 2.0  # px
RING_OUTSET = 1  # px the ring extends beyond the widget
RING_RADIUS = 4.0  # px


class FocusRing(QWidget):
    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self.setObjectName("focus-ring")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents, True)
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground, True)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._window = window
        self._target: QWidget | None = None
        self._watched: list[QWidget] = []  # the target and its ancestors: any of them moving moves the ring
        self._seen_first = False
        self.hide()
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.focusChanged.connect(self._on_focus_changed)

    def target(self) -> QWidget | None:
        return self._target

    def detach(self) -> None:
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.focusChanged.disconnect(self._on_focus_changed)
        self._follow(None)

    def _on_focus_changed(self, old: QWidget | None, new: QWidget | None) -> None:
        if new is not None and (new.window() is not self._window or new is self):
            new = None
        # Like CSS :focus-visible: no ring for the focus Qt gives the window when it opens, nor for a click
        # (the pointer shows where the user is); a ring for Tab, shortcuts and everything else.
        if new is not None and old is None and not self._seen_first:
            self._seen_first = True
            new = None
        elif new is not None and QApplication.mouseButtons() != Qt.MouseButton.NoButton:
            new = None
        if isinstance(new, QWidget) and isinstance(new.parentWidget(), QAbstractScrollArea):
            new = new.parentWidget()  # a view's viewport: ring the whole view
        self._follow(new)

    def _follow(self, target: QWidget | None) -> None:
        for w in self._watched:
            with contextlib.suppress(RuntimeError):  # already deleted (its tab was closed)
                w.removeEventFilter(self)
        if self._target is not None:
            with contextlib.suppress(RuntimeError, TypeError):
                self._target.destroyed.disconnect(self._on_target_destroyed)
        self._watched = []
        self._target = target
        if target is None:
            self.hide()
            return
        node: QWidget | None = target
        while node is not None and node is not self._window:
            node.installEventFilter(self)
            self._watched.append(node)
            node = node.parentWidget()
        target.destroyed.connect(self._on_target_destroyed)
        self._place()

    def _on_target_destroyed(self) -> None:
        self._target = None
        self.hide()

    def _place(self) -> None:
        t = self._target
        if t is None or not t.isVisible():
            self.hide()
            return
        top_left = t.mapTo(self._window, QPoint(0, 0))
        self.setGeometry(QRect(top_left, t.size()).adjusted(-RING_OUTSET, -RING_OUTSET, RING_OUTSET, RING_OUTSET))
        self.show()
        self.raise_()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in (QEvent.Type.Move, QEvent.Type.Resize, QEvent.Type.Show,
                                                         QEvent.Type.Hide):
            self._place()
        return False

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen = QPen(self.palette().highlight().color(), RING_WIDTH)
        p.setPen(pen)
        half = RING_WIDTH / 2
        p.drawRoundedRect(QRectF(self.rect()).adjusted(half, half, -half, -half), RING_RADIUS, RING_RADIUS)
        p.end()
