"""``python -m edge_asr.daemon [options]``: the daemon without the rest of the CLI."""

from __future__ import annotations

import sys

from .launch import main

if __name__ == "__main__":
    sys.exit(main())
