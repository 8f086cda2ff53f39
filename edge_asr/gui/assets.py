"""Where the bundled icons and the desktop entry are: the installed ``edge_asr.assets`` package (assets/ of the
project, shipped as package data), else ``assets/`` of a source checkout. No Qt here."""

from __future__ import annotations

import importlib.resources
from pathlib import Path


def assets_dir() -> Path:
    try:
        return Path(str(importlib.resources.files("edge_asr.assets")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "assets"


def app_icon_path() -> Path:
    return assets_dir() / "edge-asr.svg"
