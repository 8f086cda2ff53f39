"""Process start-up every program of edge-asr shares (the CLI, the daemon, the desktop app): the allocator,
logging, and the one place a library error becomes a line for a human.

Standard library and core only, so each shell can start on its own (``python -m edge_asr.daemon``,
``python -m edge_asr.gui``) without importing the CLI or another shell.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from .errors import EdgeAsrError
from .memory import tune_allocator

EXIT_USAGE = 2  # what argparse returns for bad usage; edge-asr uses it for every error it explains


class _QuietThirdParty(logging.Filter):
    # onnxruntime.quantization logs every skipped node at INFO on the root logger.
    def filter(self, record: logging.LogRecord) -> bool:
        return record.name.startswith("edge_asr") or record.levelno >= logging.WARNING


def setup_logging(verbose: int) -> None:
    """Log to stderr: warnings by default, -v info, -vv debug (other libraries' chatter stays at warnings)."""
    level = logging.DEBUG if verbose > 1 else logging.INFO if verbose == 1 else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_QuietThirdParty())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def human_error(exc: BaseException) -> str:
    if isinstance(exc, EdgeAsrError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def standalone_main(
    prog: str,
    description: str,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    run: Callable[[argparse.Namespace], int],
    argv: Sequence[str] | None = None,
) -> int:
    """One shell's parser and runner as a program of its own (``python -m edge_asr.<shell>``, a bundle)."""
    tune_allocator()
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    add_arguments(parser)
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    try:
        return run(args)
    except EdgeAsrError as exc:
        print(f"{prog}: error: {human_error(exc)}", file=sys.stderr)
        return EXIT_USAGE
