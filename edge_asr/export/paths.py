"""Where built models (and joined source weights) are kept: the one rule the cache, the builders and the model
registry share. Standard library and platformdirs only, so any of them can import it."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from ..constants import APP_NAME

CACHE_ENV = "EDGE_ASR_CACHE_DIR"


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """Explicit directory, else $EDGE_ASR_CACHE_DIR, else the per-user cache (~/.cache/edge-asr/models)."""
    if cache_dir:
        return Path(cache_dir)
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return Path(platformdirs.user_cache_dir(APP_NAME)) / "models"
