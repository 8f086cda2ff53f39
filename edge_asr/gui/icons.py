"""The bundled SVG icons (assets/icons, shipped as ``edge_asr.assets``), tinted to the theme's text colour.

The line icons are drawn in black (``#000000``) and recoloured when loaded, so one file serves light and dark;
coloured parts (the red record dot) keep their colour. A missing file falls back to a Qt standard icon, so a
broken install still shows something recognisable.
"""

from __future__ import annotations

import logging
from functools import cache

from PySide6.QtCore import QByteArray, QSize, Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication, QStyle

from .assets import app_icon_path, assets_dir

log = logging.getLogger(__name__)

__all__ = ["ICON_SIZE", "app_icon_path", "assets_dir", "icon"]

_INK = "#000000"  # the colour the line icons are drawn in, replaced by the theme's
_SIZES = (16, 20, 24, 32, 48)  # px rendered up front: crisp at 1x and on HiDPI without rescaling bitmaps
_FALLBACK = {
    "record": QStyle.StandardPixmap.SP_MediaPlay, "stop": QStyle.StandardPixmap.SP_MediaStop,
    "open": QStyle.StandardPixmap.SP_DialogOpenButton, "export": QStyle.StandardPixmap.SP_DialogSaveButton,
    "copy": QStyle.StandardPixmap.SP_FileDialogContentsView, "clear": QStyle.StandardPixmap.SP_DialogResetButton,
    "find": QStyle.StandardPixmap.SP_FileDialogContentsView, "models": QStyle.StandardPixmap.SP_DriveHDIcon,
    "settings": QStyle.StandardPixmap.SP_FileDialogDetailedView, "close": QStyle.StandardPixmap.SP_TitleBarCloseButton,
    "files": QStyle.StandardPixmap.SP_FileIcon, "resources": QStyle.StandardPixmap.SP_ComputerIcon,
    "mic": QStyle.StandardPixmap.SP_MediaVolume,
}


@cache
def _svg(name: str) -> str | None:
    path = assets_dir() / "icons" / f"{name}.svg"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        log.warning("icon %s is missing: using Qt's standard icon", path)
        return None


def _render(svg: str, size: int, ratio: float) -> QPixmap:
    renderer = QSvgRenderer(QByteArray(svg.encode()))
    px = max(1, round(size * ratio))
    image = QImage(px, px, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    p = QPainter(image)
    renderer.render(p)
    p.end()
    pixmap = QPixmap.fromImage(image)
    pixmap.setDevicePixelRatio(ratio)
    return pixmap


def icon(name: str, colour: QColor | None = None) -> QIcon:
    """The named icon in ``colour`` (default: the palette's text colour); disabled states are dimmed by Qt."""
    svg = _svg(name)
    app = QApplication.instance()
    if svg is None:
        style = app.style() if isinstance(app, QApplication) else None
        return style.standardIcon(_FALLBACK.get(name, QStyle.StandardPixmap.SP_FileIcon)) if style else QIcon()
    if colour is None:
        colour = app.palette().buttonText().color() if isinstance(app, QApplication) else QColor("black")
    tinted = svg.replace(_INK, colour.name())
    ratio = app.devicePixelRatio() if isinstance(app, QApplication) else 1.0
    result = QIcon()
    for size in _SIZES:
        result.addPixmap(_render(tinted, size, ratio))
        if ratio != 1.0:
            result.addPixmap(_render(tinted, size, 1.0))
    return result


ICON_SIZE = QSize(20, 20)  # px, toolbar icons
