"""`edge-asr gui` as a user runs it: a fresh process, the real window, a PNG, exit codes."""

from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QImage

from .conftest import ARTIFACTS, ROOT, SMALL_SCREEN

RUN_TIMEOUT_S = 600  # s: a first run on a fresh machine builds the model (about a minute on 2 idle cores)


def run_gui(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "edge_asr", "gui", *args], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False)


def screenshot_state(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    lines = [line for line in proc.stdout.splitlines() if line.startswith("EDGE_ASR_SCREENSHOT ")]
    assert len(lines) == 1, (proc.stdout, proc.stderr[-2000:])
    state: dict[str, Any] = json.loads(lines[0].split(" ", 1)[1])
    return state


def test_screenshot_on_a_fresh_cache_shows_the_ready_window(tmp_path: Path) -> None:
    """A first run: the model is built while the window waits, and the picture is of the usable window."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    out = ARTIFACTS / "cli-screenshot-dark.png"
    out.unlink(missing_ok=True)
    settings = tmp_path / "s.ini"
    proc = run_gui("--screenshot", str(out), "--theme", "dark", "--size", "1024x600", "--settings", str(settings),
                   env={"EDGE_ASR_CACHE_DIR": str(tmp_path / "fresh-cache")})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Signal source has been deleted" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    state = screenshot_state(proc)
    # What the picture shows, read from the window at the moment of capture.
    assert state["model_state"] == "ready" and "tiny.en" in state["status"] and "ready" in state["status"]
    assert state["record_enabled"] is True and state["banner"] == ""
    assert (state["width"], state["height"]) == SMALL_SCREEN and state["path"] == str(out)
    assert any((tmp_path / "fresh-cache").glob("tiny.en-*/manifest.json")), "the build went into the fresh cache"
    image = QImage(str(out))
    assert (image.width(), image.height()) == SMALL_SCREEN
    # Dark theme: the window background (bottom-left corner, the status bar) is dark.
    assert image.pixelColor(4, image.height() - 4).lightness() < 80
    assert not settings.exists() or "theme=dark" not in settings.read_text()  # screenshots do not rewrite settings


def test_screenshot_reports_a_model_that_cannot_load(tmp_path: Path) -> None:
    out = tmp_path / "broken.png"
    settings = tmp_path / "s.ini"
    settings.write_text("[app]\nmodel=/nonexistent/checkpoint.pt\n", encoding="utf-8")
    proc = run_gui("--screenshot", str(out), "--size", "1024x600", "--settings", str(settings))
    assert proc.returncode == 1, proc.stderr
    state = screenshot_state(proc)
    assert state["model_state"] == "failed" and state["record_enabled"] is False
    assert "/nonexistent/checkpoint.pt" in state["banner"]  # the picture shows why, and so does stderr
    assert "did not load" in proc.stderr and out.exists()


def test_install_desktop_entry_for_the_current_user(tmp_path: Path) -> None:
    data_home = tmp_path / "xdg-data"
    env = {"XDG_DATA_HOME": str(data_home), "QT_QPA_PLATFORM": "nonexistent-platform"}  # needs no display
    proc = run_gui("--install-desktop-entry", env=env)
    assert proc.returncode == 0, proc.stderr
    desktop = data_home / "applications" / "edge-asr.desktop"
    icon = data_home / "icons" / "hicolor" / "scalable" / "apps" / "edge-asr.svg"
    assert str(desktop) in proc.stdout and icon.is_file() and QImage(str(icon)).width() > 0
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    entry.read(desktop, encoding="utf-8")
    d = entry["Desktop Entry"]
    assert d["Type"] == "Application" and d["Icon"] == "edge-asr" and d["Name"] == "edge-asr"
    program = d["Exec"].split()[0]
    assert Path(program).is_absolute() and os.access(program, os.X_OK), d["Exec"]  # this installation, not PATH
    assert d["Exec"].endswith(" gui") or d["Exec"].endswith("edge_asr gui")
    if shutil.which("desktop-file-validate"):
        check = subprocess.run(["desktop-file-validate", str(desktop)], capture_output=True, text=True, check=False)
        assert check.returncode == 0, check.stdout + check.stderr
    # The entry really starts the app: its command, with --help, runs this installation's CLI.
    help_proc = subprocess.run([*d["Exec"].split(), "--help"], capture_output=True, text=True, timeout=60,
                               check=False)
    assert help_proc.returncode == 0 and "--install-desktop-entry" in help_proc.stdout
    removed = run_gui("--uninstall-desktop-entry", env=env)
    assert removed.returncode == 0 and not desktop.exists() and not icon.exists()


@pytest.mark.parametrize("value", ["", "relative/dir"])
def test_desktop_entry_ignores_an_invalid_xdg_data_home(tmp_path: Path, value: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from edge_asr.gui import desktop_entry

    monkeypatch.setenv("XDG_DATA_HOME", value)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert desktop_entry.data_home() == tmp_path / ".local" / "share"  # the spec's default


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
