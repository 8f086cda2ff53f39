"""The `edge-asr-gui` bundle's program: the desktop app, with `edge-asr gui`'s options."""

import sys

from edge_asr.cli.common import standalone_main
from edge_asr.cli.gui import add_arguments, run

if __name__ == "__main__":
    sys.exit(standalone_main("edge-asr-gui", "The edge-asr desktop app.", add_arguments, run))
