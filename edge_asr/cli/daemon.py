"""`edge-asr daemon`: the headless server as a subcommand. Its options and launcher are the daemon's own
(edge_asr.daemon.launch, which imports the server stack only when it runs); the CLI only registers them."""

from __future__ import annotations

import argparse

from ..daemon import launch


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("daemon", help=launch.SUMMARY, description=launch.DESCRIPTION)
    launch.add_arguments(p)
    p.set_defaults(func=launch.run)
