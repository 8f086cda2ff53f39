"""Build the INT8 model with edge-asr's own builder and copy it into a prebuilt-model folder for a bundle.

    python packaging/pyinstaller/prebuild_model.py OUT_DIR [MODEL ...]     (default model: tiny.en)
"""

import sys
import time
from pathlib import Path

from edge_asr.export.build import ensure_model
from edge_asr.export.prebuilt import write_prebuilt


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    out, names = Path(argv[0]), argv[1:] or ["tiny.en"]
    for name in names:
        started = time.monotonic()
        built = ensure_model(name)
        target = write_prebuilt(built, out)
        print(f"prebuilt {name}: {built.size_bytes / 1e6:.1f} MB in {target} "
              f"({time.monotonic() - started:.1f} s, built in {built.manifest.get('build_seconds', 0)} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
