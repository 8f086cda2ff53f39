"""The PySide6 desktop app: a thin shell over the core (engine, live pipeline, monitor). Nothing here decodes.

Importing this package does not import Qt, so ``edge-asr --help`` works without the ``gui`` extra; the Qt
modules are imported by :mod:`edge_asr.gui.app` when the window is actually opened.
"""

from __future__ import annotations
