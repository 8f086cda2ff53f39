"""Start the desktop app: QApplication, theme, the main window, and the screenshot mode.

Screenshot mode shows the window a user would see once it is usable: it waits for the model (building it on a
fresh cache, however long that takes, up to SCREENSHOT_MAX_WAIT_MS), lets the first resource samples arrive,
saves the PNG and prints the window's state at that moment (status text, whether Record is enabled) as one
JSON line, so a test can check what the picture shows.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from PySide6.QtCore import QEventLoop, QSettings, Qt, QTimer
from PySide6.QtGui import QGuiApplication, QIcon
from PySide6.QtWidgets import QApplication

from ..errors import ConfigError
from .constants import (
    DEFAULT_WINDOW_SIZE,
    MIN_WINDOW_SIZE,
    MODEL_MARK,
    ORGANIZATION,
    READY_MARK,
    SCREENSHOT_MAX_WAIT_MS,
    SCREENSHOT_SETTLE_MS,
)
from .icons import app_icon_path
from .main_window import MainWindow
from .model_loader import ModelState
from .qt_check import check_qt_binding
from .settings import THEMES, AppSettings, load_settings, open_store
from .theme import apply_theme

log = logging.getLogger(__name__)

_SIZE_RE = re.compile(r"^\s*(\d+)\s*[xX×]\s*(\d+)\s*$")
SCREENSHOT_MARK = "EDGE_ASR_SCREENSHOT"


def parse_size(text: str) -> tuple[int, int]:
    m = _SIZE_RE.match(text)
    if not m:
        raise ConfigError(f"window size must look like 1024x600, not {text!r}")
    return int(m.group(1)), int(m.group(2))


@dataclass(frozen=True)
class GuiOptions:
    """How to start the window (command line), as opposed to AppSettings (what the user chose inside it)."""

    screenshot: Path | None = None  # save a PNG of the settled window there and exit
    theme: str | None = None  # light | dark | system; None: the saved choice
    size: tuple[int, int] | None = None  # px; None: the saved geometry or the default
    settings_file: str | None = None  # an INI file instead of the per-user settings (tests, portable use)
    autoload: bool = True  # load the model as soon as the window shows
    print_ready: bool = False  # print READY_MARK and the time once the window is interactive
    exit_when_ready: bool = False  # quit once the model is loaded (bench)

    def __post_init__(self) -> None:
        if self.theme is not None and self.theme not in THEMES:
            raise ConfigError(f"theme must be one of {', '.join(THEMES)}, not {self.theme!r}")
        if self.size is not None and (self.size[0] < MIN_WINDOW_SIZE[0] or self.size[1] < MIN_WINDOW_SIZE[1]):
            raise ConfigError(f"window size must be at least {MIN_WINDOW_SIZE[0]}x{MIN_WINDOW_SIZE[1]}, "
                              f"not {self.size[0]}x{self.size[1]}")
        if self.screenshot is not None and self.screenshot.suffix.lower() != ".png":
            raise ConfigError(f"the screenshot must be a .png file, not {self.screenshot}")


def ensure_app() -> QApplication:
    """The process's QApplication, created once with HiDPI-friendly settings."""
    app = QApplication.instance()
    if isinstance(app, QApplication):
        return app
    check_qt_binding()
    # Fractional scale factors (1.25, 1.5) instead of rounding, so text is crisp and sized right on HiDPI.
    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QApplication(sys.argv[:1])
    app.setApplicationName("edge-asr")
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationDisplayName("edge-asr")
    app.setDesktopFileName("edge-asr")
    if app_icon_path().exists():
        app.setWindowIcon(QIcon(str(app_icon_path())))
    return app


def create_window(options: GuiOptions, store: QSettings | None = None) -> MainWindow:
    """Build the real main window with the saved settings (and the command-line overrides) applied."""
    app = ensure_app()
    store = store if store is not None else open_store(options.settings_file)
    settings: AppSettings = load_settings(store)
    if options.theme is not None:
        settings = settings.with_(theme=options.theme)
    apply_theme(app, settings.theme)
    window = MainWindow(store, settings, autoload=options.autoload)
    geometry = store.value("window/geometry")
    if options.size is not None:
        window.resize(*options.size)
    elif geometry is not None:
        window.restoreGeometry(geometry)  # type: ignore[arg-type]
    else:
        window.resize(*DEFAULT_WINDOW_SIZE)
    return window


def wait_for(window: MainWindow, ms: int) -> None:
    """Run the event loop for ``ms`` without blocking it (a timer ends a local loop, no sleeping)."""
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def settle(window: MainWindow, max_wait_ms: int = SCREENSHOT_MAX_WAIT_MS) -> None:
    """Let the window reach its resting state: the model loaded (or failed), first resource samples in.

    The load may not have started yet (it starts on the first event-loop turn), so this waits on the
    window's model state, not on whether a load job happens to exist right now.
    """
    if window.model_state() is ModelState.LOADING:
        loop = QEventLoop()
        window.model_ready.connect(loop.quit)
        QTimer.singleShot(max_wait_ms, loop.quit)
        loop.exec()
        window.model_ready.disconnect(loop.quit)
    wait_for(window, SCREENSHOT_SETTLE_MS)


@dataclass(frozen=True)
class ScreenshotState:
    """What the saved picture shows, read from the window at the moment of capture."""

    path: str
    width: int  # device pixels
    height: int
    model_state: str  # none | loading | ready | failed
    status: str  # the status bar's model text
    record_enabled: bool
    banner: str  # the error/info banner's text, "" when hidden

    def line(self) -> str:
        return f"{SCREENSHOT_MARK} {json.dumps(asdict(self))}"


def save_screenshot(window: MainWindow, path: Path) -> ScreenshotState:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = window.grab()
    state = ScreenshotState(str(path), image.width(), image.height(), window.model_state().value,
                            window.model_status.text(), window.actions_.record.isEnabled(), window.banner.text())
    if not image.save(str(path), "PNG"):
        raise ConfigError(f"could not write the screenshot {path}")
    log.info("screenshot saved to %s", path)
    return state


def run(options: GuiOptions) -> int:
    """Open the window and run until it closes; in screenshot mode, save the PNG and return 0."""
    app = ensure_app()
    window = create_window(options)
    if options.screenshot is not None:
        window.persist = False  # a documentation run must not rewrite the user's settings
    window.show()
    if options.print_ready:
        # The first turn of the event loop after show(): the window is painted and takes input.
        QTimer.singleShot(0, lambda: print(f"{READY_MARK} {time.time():.6f}", flush=True))
        window.model_ready.connect(lambda t: print(f"{MODEL_MARK} {time.time():.6f} {int(t is not None)}", flush=True))
    if options.exit_when_ready:
        window.persist = False
        if options.autoload:
            window.model_ready.connect(lambda _t: QTimer.singleShot(0, window.close))
        else:
            QTimer.singleShot(0, window.close)
    if options.screenshot is not None:
        settle(window)
        try:
            state = save_screenshot(window, options.screenshot)
        finally:
            window.close()  # cancels and joins the window's jobs: nothing runs on after the window is gone
        print(state.line(), flush=True)
        if options.autoload and state.model_state != ModelState.READY.value:
            print(f"edge-asr gui: the model did not load ({state.model_state}): {state.banner or state.status}",
                  file=sys.stderr)
            return 1
        return 0
    return int(app.exec())
