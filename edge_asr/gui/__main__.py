"""`python -m edge_asr.gui`: the same as `edge-asr gui`."""

from __future__ import annotations

import sys

from ..cli.common import standalone_main
from ..cli.gui import add_arguments, run

if __name__ == "__main__":
    sys.exit(standalone_main("python -m edge_asr.gui", "The edge-asr desktop app.", add_arguments, run))
