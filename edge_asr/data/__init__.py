"""Files that ship inside the package: the demo clip and the daemon's example config."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

DEMO_CLIP = "jfk.flac"  # 11 s of JFK's inaugural address (public domain)


def demo_clip() -> Path:
    """The bundled demo clip (`edge-asr transcribe --demo`, the doctor's check, static-quantization calibration)."""
    return Path(str(importlib.resources.files(__name__).joinpath(DEMO_CLIP)))
