"""`edge-asr gui --install-desktop-entry`: the menu entry and icon for the current user, in the XDG data
directory ($XDG_DATA_HOME, default ~/.local/share), so a pip install gets a launcher like a packaged app.

No Qt here. The entry starts this very installation (the ``edge-asr`` script beside this Python, else
``python -m edge_asr gui``), so it works from a virtualenv that is not on PATH.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import EdgeAsrError
from .assets import app_icon_path, assets_dir

log = logging.getLogger(__name__)

APP_ID = "edge-asr"
DESKTOP_FILE = f"{APP_ID}.desktop"
ICON_FILE = f"{APP_ID}.svg"
_HOOK_TIMEOUT_S = 30  # s for update-desktop-database / gtk-update-icon-cache, which are optional


@dataclass(frozen=True)
class Installed:
    desktop_file: Path
    icon_file: Path
    exec_line: str


def data_home() -> Path:
    value = os.environ.get("XDG_DATA_HOME", "").strip()
    # The spec: a relative (or empty) XDG_DATA_HOME is invalid and must be ignored.
    return Path(value) if value and Path(value).is_absolute() else Path.home() / ".local" / "share"


def _quote(arg: str) -> str:
    """Quote one Exec argument as the Desktop Entry spec requires."""
    if arg and not any(c in arg for c in ' \t\n"\'\\><~|&;$*?#()`='):
        return arg
    escaped = "".join("\\" + c if c in '"`$\\' else c for c in arg)
    return f'"{escaped}"'


def exec_command() -> list[str]:
    script = Path(sys.executable).with_name("edge-asr")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script), "gui"]
    return [sys.executable, "-m", "edge_asr", "gui"]


def _template() -> str:
    path = assets_dir() / DESKTOP_FILE
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise EdgeAsrError(f"the desktop entry template {path} is missing from this installation ({exc})") from exc


def render_entry(command: list[str]) -> str:
    """The shipped entry (assets/edge-asr.desktop) with Exec and TryExec pointing at this installation."""
    exec_line = " ".join(_quote(a) for a in command).replace("%", "%%")
    out = []
    for line in _template().splitlines():
        if line.startswith("Exec="):
            line = f"Exec={exec_line}"
        elif line.startswith("TryExec="):
            line = f"TryExec={command[0]}"
        out.append(line)
    return "\n".join(out) + "\n"


def install(base: Path | None = None) -> Installed:
    base = base or data_home()
    apps = base / "applications"
    icons = base / "icons" / "hicolor" / "scalable" / "apps"
    command = exec_command()
    try:
        apps.mkdir(parents=True, exist_ok=True)
        icons.mkdir(parents=True, exist_ok=True)
        icon_file = icons / ICON_FILE
        shutil.copyfile(app_icon_path(), icon_file)
        desktop = apps / DESKTOP_FILE
        tmp = desktop.with_suffix(".tmp")
        tmp.write_text(render_entry(command), encoding="utf-8")
        tmp.replace(desktop)
    except OSError as exc:
        raise EdgeAsrError(f"cannot install the desktop entry under {base}: {exc.strerror or exc}") from exc
    _refresh_caches(apps, base / "icons" / "hicolor")
    return Installed(desktop, icon_file, " ".join(command))


def uninstall(base: Path | None = None) -> list[Path]:
    base = base or data_home()
    removed = []
    for p in (base / "applications" / DESKTOP_FILE, base / "icons" / "hicolor" / "scalable" / "apps" / ICON_FILE):
        if p.exists():
            p.unlink()
            removed.append(p)
    _refresh_caches(base / "applications", base / "icons" / "hicolor")
    return removed


def _refresh_caches(apps: Path, icon_theme: Path) -> None:
    # Menus pick new entries up by themselves on most desktops; these only speed it up where installed.
    for cmd in (["update-desktop-database", "-q", str(apps)], ["gtk-update-icon-cache", "-q", "-t", str(icon_theme)]):
        if shutil.which(cmd[0]) is None or not Path(cmd[-1]).exists():
            continue
        try:
            subprocess.run(cmd, check=False, capture_output=True, timeout=_HOOK_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.info("%s failed: %s", cmd[0], exc)
