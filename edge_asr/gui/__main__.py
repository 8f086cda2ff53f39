"""`python -m edge_asr.gui`: the same as `edge-asr gui`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..cli.common import human_error, setup_logging
from ..cli.gui import add_arguments, run
from ..errors import EdgeAsrError


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edge_asr.gui", description="The edge-asr desktop app.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    add_arguments(parser)
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    try:
        return run(args)
    except EdgeAsrError as exc:
        print(f"edge-asr gui: error: {human_error(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
