"""``python -m edge_asr.daemon [options]``: the daemon without the rest of the CLI."""

from __future__ import annotations

import argparse
import sys

from ..cli.common import setup_logging
from ..cli.daemon import add_arguments, run
from ..errors import EdgeAsrError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edge_asr.daemon", description="edge-asr headless daemon")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    add_arguments(parser)
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    try:
        return run(args)
    except EdgeAsrError as exc:
        print(f"edge-asr: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
