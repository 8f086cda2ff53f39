"""`edge-asr gui`: open the desktop app (needs the `gui` extra: PySide6)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..distribution import missing_part
from ..errors import EdgeAsrError

THEME_CHOICES = ("system", "light", "dark")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--screenshot", metavar="PATH", type=Path, default=None,
                   help="open the window, let it settle, save a PNG of it to PATH and exit 0")
    p.add_argument("--theme", choices=THEME_CHOICES, default=None, help="colour theme (default: the saved choice, "
                   "else follow the system)")
    p.add_argument("--size", metavar="WxH", default=None, help="window size in pixels, e.g. 1024x600")
    p.add_argument("--settings", metavar="FILE", default=None,
                   help="keep settings in this INI file instead of the per-user settings")
    p.add_argument("--no-model", action="store_true", help="do not load the model at start (it loads on demand)")
    # For `edge-asr bench gui`: announce readiness on stdout and quit once the model is loaded.
    p.add_argument("--print-ready", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--exit-when-ready", action="store_true", help=argparse.SUPPRESS)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("gui", help="open the desktop app (record, transcribe files, watch resources)",
                              description="The desktop app: live transcription from a microphone, file "
                              "transcription with progress, export, and live resource figures.")
    add_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        from ..gui.app import GuiOptions, parse_size
        from ..gui.app import run as run_app
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


# Qt's own libraries come with PySide6 (and with the bundle); these few come from the system.
QT_SYSTEM_PACKAGES = "libegl1 libgl1 libxkbcommon0 libfontconfig1 libglib2.0-0 libdbus-1-3"


def _gui_import_error(exc: ImportError) -> str:
    if exc.name is None:  # PySide6 is there but a shared library it links is not (libEGL.so.1, ...)
        return (f"the desktop app cannot load a system library ({exc}); on Debian/Ubuntu: "
                f"apt install {QT_SYSTEM_PACKAGES}")
    return f"the desktop app needs {exc.name}, which is missing. {missing_part('gui')}"
