"""The desktop app's options and launcher: what ``edge-asr gui``, ``python -m edge_asr.gui`` and the
``edge-asr-gui`` bundle run. No Qt at import time (the window's modules load in :func:`run`), so the CLI can
register ``edge-asr gui`` and answer ``--help`` without the ``gui`` extra."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from ..app_setup import standalone_main
from ..distribution import frozen_bundle, missing_part
from ..errors import EdgeAsrError

THEME_CHOICES = ("system", "light", "dark")
SUMMARY = "open the desktop app (record, transcribe files, watch resources)"
DESCRIPTION = ("The desktop app: live transcription from a microphone, file transcription with progress, export, "
               "and live resource figures.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--screenshot", metavar="PATH", type=Path, default=None,
                   help="open the window, let it settle, save a PNG of it to PATH and exit 0")
    p.add_argument("--theme", choices=THEME_CHOICES, default=None, help="colour theme (default: the saved choice, "
                   "else follow the system)")
    p.add_argument("--size", metavar="WxH", default=None, help="window size in pixels, e.g. 1024x600")
    p.add_argument("--settings", metavar="FILE", default=None,
                   help="keep settings in this INI file instead of the per-user settings")
    p.add_argument("--no-model", action="store_true", help="do not load the model at start (it loads on demand)")
    p.add_argument("--install-desktop-entry", action="store_true",
                   help="install the menu entry and icon for the current user ($XDG_DATA_HOME, default "
                   "~/.local/share) and exit")
    p.add_argument("--uninstall-desktop-entry", action="store_true", help="remove them again and exit")
    # For `edge-asr bench gui`: announce readiness on stdout and quit once the model is loaded.
    p.add_argument("--print-ready", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--exit-when-ready", action="store_true", help=argparse.SUPPRESS)


def _desktop_entry(args: argparse.Namespace) -> int:
    from . import desktop_entry  # no Qt needed: works without a display

    if args.uninstall_desktop_entry:
        removed = desktop_entry.uninstall()
        print("\n".join(f"removed {p}" for p in removed) or "no desktop entry was installed")
        return 0
    done = desktop_entry.install()
    print(f"installed {done.desktop_file}\ninstalled {done.icon_file}\nthe menu entry runs: {done.exec_line}")
    print("remove them with: edge-asr gui --uninstall-desktop-entry")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.install_desktop_entry or args.uninstall_desktop_entry:
        return _desktop_entry(args)
    try:
        from .app import GuiOptions, parse_size
        from .app import run as run_app
    except ImportError as exc:
        raise EdgeAsrError(_gui_import_error(exc)) from None
    options = GuiOptions(
        screenshot=args.screenshot,
        theme=args.theme,
        size=parse_size(args.size) if args.size else None,
        settings_file=args.settings,
        autoload=not args.no_model,
        print_ready=args.print_ready or args.exit_when_ready,
        exit_when_ready=args.exit_when_ready,
    )
    return run_app(options)


def main(argv: Sequence[str] | None = None, prog: str = "python -m edge_asr.gui") -> int:
    """The desktop app as a program of its own, with `edge-asr gui`'s options."""
    return standalone_main(prog, DESCRIPTION, add_arguments, run, argv)


# What Qt needs from the system: the graphics stack and fonts always (a bundle carries the rest of Qt's
# dependencies), and with a pip-installed PySide6 also the X11/xkb/glib/dbus libraries.
QT_SYSTEM_PACKAGES = "libgl1 libegl1 libxcb1 libdrm2 libwayland-client0 libwayland-cursor0 fonts-dejavu-core"
QT_PIP_EXTRA_PACKAGES = ("libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-render-util0 "
                         "libxcb-shape0 libxcb-xkb1 libxkbcommon-x11-0 libxkbcommon0 libfontconfig1 libglib2.0-0 "
                         "libdbus-1-3")


def _gui_import_error(exc: ImportError) -> str:
    if not isinstance(exc, ModuleNotFoundError):  # PySide6 is there but a library it links is not (libEGL.so.1)
        packages = QT_SYSTEM_PACKAGES if frozen_bundle() else f"{QT_SYSTEM_PACKAGES} {QT_PIP_EXTRA_PACKAGES}"
        return f"the desktop app cannot load a system library ({exc}); on Debian/Ubuntu: apt install {packages}"
    return f"the desktop app needs {exc.name}, which is missing. {missing_part('gui')}"
