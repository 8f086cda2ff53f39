"""Pieces the CLI's subcommands share. The engine/decoding flags and the logging set-up live in the core
(edge_asr.shell_args, edge_asr.app_setup) so the daemon and the desktop app use them without the CLI; they are
re-exported here for subcommands that import them from this module."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from ..app_setup import human_error, setup_logging
from ..shell_args import add_decode_args, add_engine_args, engine_options, transcribe_options

__all__ = ["add_decode_args", "add_engine_args", "build_progress", "engine_options", "human_error", "setup_logging",
           "transcribe_options"]


def build_progress(enabled: bool) -> Callable[[str, float], None]:
    """A progress callback for model builds that draws one tqdm bar."""
    bar: list[Any] = []

    def update(stage: str, fraction: float) -> None:
        if not enabled:
            return
        if not bar:
            from tqdm import tqdm  # imported only to draw (its imports cost ~3 MiB of RSS)

            bar.append(tqdm(total=100, desc="building INT8 model", unit="%", file=sys.stderr, leave=False))
        bar[0].set_postfix_str(stage)
        bar[0].update(round(fraction * 100) - bar[0].n)
        if fraction >= 1.0:
            bar[0].close()

    return update
