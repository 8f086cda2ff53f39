"""The `edge-asr` command: one entry point, a subcommand per job."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from .. import __version__
from ..app_setup import human_error, setup_logging
from ..distribution import missing_module
from ..errors import EdgeAsrError
from ..memory import tune_allocator
from . import bench, config_cmd, daemon, doctor, evaluate, gui, listen, models, transcribe

log = logging.getLogger(__name__)

# Every subcommand, imported statically so a freezer (PyInstaller) sees them all. Each module imports only the
# standard library and the core at import time; a shell whose extra is missing says so when it is run.
COMMAND_MODULES = (transcribe, models, evaluate, bench, listen, daemon, config_cmd, gui, doctor)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edge-asr",
        description="On-device speech-to-text with an INT8 Whisper model (ONNX Runtime / LiteRT). "
        "Nothing leaves the machine; models are built locally from weights on first use.",
    )
    parser.add_argument("--version", action="version", version=f"edge-asr {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    tune_allocator()
    # `edge-asr bench live|daemon|gui ...`: those benchmarks parse their own options.
    if len(argv) >= 2 and argv[0] == "bench" and argv[1] in bench.FRONT_END_BENCHES:
        setup_logging(0)
        try:
            return bench.run_front_end(argv[1], argv[2:])
        except EdgeAsrError as exc:
            print(f"edge-asr: error: {human_error(exc)}", file=sys.stderr)
            return 2
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except EdgeAsrError as exc:
        print(f"edge-asr: error: {human_error(exc)}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        if not exc.name or exc.name.split(".")[0] == "edge_asr":
            raise  # a bug in edge-asr, not a missing dependency
        hint = missing_module(exc.name)
        print(f"edge-asr: error: `edge-asr {args.command}` needs {exc.name}. {hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("edge-asr: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
