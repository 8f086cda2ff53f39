"""`edge-asr gui`: the desktop app as a subcommand. Its options and launcher are the app's own
(edge_asr.gui.launch, Qt-free until the window opens); the CLI only registers them."""

from __future__ import annotations

import argparse

from ..gui import launch


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("gui", help=launch.SUMMARY, description=launch.DESCRIPTION)
    launch.add_arguments(p)
    p.set_defaults(func=launch.run)
