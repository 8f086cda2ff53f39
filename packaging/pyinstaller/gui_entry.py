"""The `edge-asr-gui` bundle's program: the desktop app, with `edge-asr gui`'s options."""

import sys

from edge_asr.gui.launch import main

if __name__ == "__main__":
    sys.exit(main(prog="edge-asr-gui"))
