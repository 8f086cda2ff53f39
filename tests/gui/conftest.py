"""GUI test setup: Qt renders offscreen unless a platform is set (the Xvfb run sets QT_QPA_PLATFORM=xcb)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("PySide6", reason="the desktop app needs the gui extra: pip install 'edge-asr[gui]'")
pytest.importorskip("pytestqt", reason="GUI tests need pytest-qt (the gui extra)")

from edge_asr.gui.app import GuiOptions, create_window, wait_for
from edge_asr.gui.main_window import MainWindow

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
SMALL_SCREEN = (1024, 600)  # px, the Raspberry Pi touchscreen the window must fit
MODEL_TIMEOUT_MS = 180_000  # ms: a first run builds the INT8 model (about a minute on 2 cores)


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def settings_file(tmp_path: Path) -> str:
    return str(tmp_path / "edge-asr-gui.ini")


def open_window(qtbot, settings_file: str, *, theme: str = "light", autoload: bool = True,  # type: ignore[no-untyped-def]
                size: tuple[int, int] = SMALL_SCREEN) -> MainWindow:
    window = create_window(GuiOptions(settings_file=settings_file, theme=theme, size=size, autoload=autoload))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


def wait_model(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    """Wait for the model (built on a first run) or for the error banner saying why it failed."""
    qtbot.waitUntil(lambda: window.transcriber is not None or window.banner.isVisible(), timeout=MODEL_TIMEOUT_MS)
    assert window.transcriber is not None, window.banner.text()


@pytest.fixture
def window(qtbot, settings_file: str) -> Iterator[MainWindow]:  # type: ignore[no-untyped-def]
    """The real main window at 1024x600 with the real engine loaded."""
    w = open_window(qtbot, settings_file)
    wait_model(qtbot, w)
    yield w
    w.close()


def settle(window: MainWindow, ms: int = 300) -> None:
    wait_for(window, ms)
