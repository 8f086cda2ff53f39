"""`edge-asr bench gui`: time from launching the app to an interactive window, and to a loaded model.

Each run starts a fresh ``python -m edge_asr.gui`` process (so imports, Qt start-up and the window are all
counted), which prints a wall-clock mark at the first event-loop turn after the window shows and another when
the model is loaded, then quits. Printed, not asserted: the target is <= 2 s to an interactive window.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from ..errors import EdgeAsrError
from .constants import MODEL_MARK, READY_MARK

TARGET_READY_S = 2.0  # s, launch to interactive window with the model already built
RUN_TIMEOUT_S = 300.0  # s per launch: a first run builds the model


def launch_once(settings_file: str, platform: str | None) -> tuple[float, float]:
    """One launch; returns (seconds to interactive window, seconds to loaded model)."""
    env = dict(os.environ)
    if platform:
        env["QT_QPA_PLATFORM"] = platform
    cmd = [sys.executable, "-m", "edge_asr.gui", "--exit-when-ready", "--settings", settings_file]
    started = time.time()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False)
    marks: dict[str, float] = {}
    model_ok = False
    for line in proc.stdout.splitlines():
        parts = line.split()
        if parts and parts[0] in (READY_MARK, MODEL_MARK):
            marks[parts[0]] = float(parts[1])
            if parts[0] == MODEL_MARK:
                model_ok = parts[2] == "1"
    if proc.returncode != 0 or READY_MARK not in marks:
        raise EdgeAsrError(f"the app did not start (exit {proc.returncode}): {proc.stderr.strip()[-800:]}")
    if not model_ok:
        raise EdgeAsrError(f"the app started but the model did not load: {proc.stderr.strip()[-800:]}")
    return marks[READY_MARK] - started, marks[MODEL_MARK] - started


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="edge-asr bench gui", description=__doc__.split("\n\n")[0] if __doc__ else "")
    p.add_argument("--runs", type=int, default=5, help="launches to time (default: %(default)s)")
    p.add_argument("--platform", default=None,
                   help="Qt platform plugin (default: xcb when DISPLAY is set, else offscreen)")
    p.add_argument("--overhead", metavar="CLIP", type=Path, default=None,
                   help="instead: CPU the window adds over the bare live pipeline replaying CLIP in real time")
    p.add_argument("--repeats", type=int, default=2, help="interleaved passes for --overhead (default: %(default)s)")
    args = p.parse_args(argv)
    if args.runs < 1 or args.repeats < 1:
        raise EdgeAsrError("--runs and --repeats must be at least 1")
    if args.overhead is not None:
        from .bench_overhead import run_overhead

        run_overhead(args.overhead, args.repeats)
        return 0
    platform = args.platform or (None if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                                 else "offscreen")
    with tempfile.TemporaryDirectory(prefix="edge-asr-bench-gui-") as tmp:
        settings_file = str(Path(tmp) / "settings.ini")
        print("warm-up launch (builds the model if it is not built yet)...", flush=True)
        launch_once(settings_file, platform)
        ready: list[float] = []
        model: list[float] = []
        for i in range(args.runs):
            r, m = launch_once(settings_file, platform)
            ready.append(r)
            model.append(m)
            print(f"run {i + 1}: interactive window {r:.2f} s, model loaded {m:.2f} s", flush=True)
    med = statistics.median(ready)
    print(f"platform: {platform or os.environ.get('QT_QPA_PLATFORM') or 'default'}; {args.runs} launches")
    print(f"launch -> interactive window: median {med:.2f} s, max {max(ready):.2f} s "
          f"(target <= {TARGET_READY_S:.1f} s: {'met' if med <= TARGET_READY_S else 'MISSED'})")
    print(f"launch -> model loaded:       median {statistics.median(model):.2f} s, max {max(model):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
