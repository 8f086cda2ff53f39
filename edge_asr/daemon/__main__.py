"""``python -m edge_asr.daemon [options]``: the daemon without the rest of the CLI."""

from __future__ import annotations

import sys

from ..cli.common import standalone_main
from ..cli.daemon import add_arguments, run

if __name__ == "__main__":
    sys.exit(standalone_main("python -m edge_asr.daemon", "edge-asr headless daemon", add_arguments, run))
