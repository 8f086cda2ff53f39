"""`edge-asr gui` as a user runs it: a fresh process, the real window, a PNG, exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtGui import QImage

from .conftest import ARTIFACTS, ROOT, SMALL_SCREEN

RUN_TIMEOUT_S = 240  # s: a first run on a fresh machine builds the model


def run_gui(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "edge_asr", "gui", *args], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False)


def test_screenshot_mode_writes_png_and_exits_0(tmp_path: Path) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    out = ARTIFACTS / "cli-screenshot-dark.png"
    out.unlink(missing_ok=True)
    settings = tmp_path / "s.ini"
    proc = run_gui("--screenshot", str(out), "--theme", "dark", "--size", "1024x600", "--settings", str(settings))
    assert proc.returncode == 0, proc.stderr
    image = QImage(str(out))
    assert (image.width(), image.height()) == SMALL_SCREEN
    # Dark theme: the window background (bottom-left corner, the status bar) is dark.
    assert image.pixelColor(4, image.height() - 4).lightness() < 80
    assert not settings.exists() or "theme=dark" not in settings.read_text()  # screenshots do not rewrite settings


def test_hidpi_scales_the_window(tmp_path: Path) -> None:
    out = tmp_path / "hidpi.png"
    proc = run_gui("--screenshot", str(out), "--size", "1024x600", "--no-model", "--settings", str(tmp_path / "s.ini"),
                   env={"QT_SCALE_FACTOR": "1.5"})
    assert proc.returncode == 0, proc.stderr
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1536, 900)  # 1.5 device pixels per logical pixel


def test_bad_arguments_are_reported(tmp_path: Path) -> None:
    proc = run_gui("--size", "100x100", "--settings", str(tmp_path / "s.ini"))
    assert proc.returncode == 2
    assert "at least 800x480" in proc.stderr
    proc = run_gui("--screenshot", str(tmp_path / "x.jpg"))
    assert proc.returncode == 2 and ".png" in proc.stderr
    help_text = run_gui("--help").stdout
    for flag in ("--screenshot", "--theme", "--size"):
        assert flag in help_text
