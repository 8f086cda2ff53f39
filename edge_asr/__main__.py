"""`python -m edge_asr`: the `edge-asr` command."""

import sys

from .cli.main import main

if __name__ == "__main__":
    sys.exit(main())
