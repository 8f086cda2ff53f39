"""The `edge-asr` bundle's program: the whole CLI, daemon included (no Qt)."""

import sys

from edge_asr.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
