"""`python -m edge_asr.gui`: the same as `edge-asr gui`."""

from __future__ import annotations

import sys

from .launch import main

if __name__ == "__main__":
    sys.exit(main())
