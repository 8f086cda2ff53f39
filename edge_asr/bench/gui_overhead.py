"""What the window costs while recording: the same live pipeline on the same clip, paced in real time, once
bare (no GUI) and once inside the real main window, each in a fresh process; process CPU over the run.

Run by ``edge-asr bench gui --overhead CLIP``. Target: the GUI adds < 5 % of one core.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ..errors import EdgeAsrError
from .common import cpu_seconds

TARGET_OVERHEAD_PCT = 5.0  # % of one core the GUI may add over the bare pipeline
CHILD_TIMEOUT_S = 600.0  # s per measured run (a real-time replay of the clip, plus model load)
PIPELINE_WAIT_S = 300.0  # s the replay may take to end
CPU_MARK = "EDGE_ASR_CPU"


def _pipeline_parts() -> tuple[Any, Any]:
    try:
        from ..live.pipeline import LivePipeline
        from ..live.sources import FileSource
    except ImportError as exc:
        raise EdgeAsrError(f"the live pipeline is not available in this installation ({exc})") from None
    return LivePipeline, FileSource


def child_bare(clip: str) -> None:
    from ..factory import load_transcriber

    pipeline_cls, file_source = _pipeline_parts()
    pipeline = pipeline_cls(load_transcriber(), file_source(clip, realtime=True))
    unsubscribe = pipeline.subscribe(lambda _event: None)  # one listener, as a front end would be
    cpu0, wall0 = cpu_seconds(), time.monotonic()
    pipeline.start()
    pipeline.wait(PIPELINE_WAIT_S)
    pipeline.stop()
    cpu, wall = cpu_seconds() - cpu0, time.monotonic() - wall0
    unsubscribe()
    print(f"{CPU_MARK} {cpu:.3f} {wall:.3f}", flush=True)


def child_gui(clip: str) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QSettings

    from ..gui.app import ensure_app
    from ..gui.jobs import Job
    from ..gui.main_window import MainWindow
    from ..gui.recording import RecState
    from ..gui.settings import AppSettings

    _, file_source = _pipeline_parts()
    ensure_app()
    store = QSettings(str(Path(os.environ.get("TMPDIR", "/tmp")) / "edge-asr-bench-gui.ini"),
                      QSettings.Format.IniFormat)
    window = MainWindow(store, AppSettings(), source_factory=lambda _device: file_source(clip, realtime=True))
    window.persist = False
    window.resize(1024, 600)
    window.show()
    loop = QEventLoop()
    window.model_ready.connect(loop.quit)
    loop.exec()
    if window.transcriber is None:
        raise EdgeAsrError(f"the model did not load: {window.banner.text()}")
    cpu0, wall0 = cpu_seconds(), time.monotonic()
    window.recorder.state_changed.connect(lambda s: loop.quit() if s in (RecState.RECORDING, RecState.IDLE) else None)
    window.toggle_recording()
    loop.exec()
    pipeline = window.recorder.pipeline
    if pipeline is None:
        raise EdgeAsrError(f"recording did not start: {window.banner.text()}")
    waiter = Job("waiting for the replay to end", lambda _p: pipeline.wait(PIPELINE_WAIT_S))
    waiter.finished.connect(loop.quit)
    waiter.failed.connect(loop.quit)
    waiter.start()
    loop.exec()  # the GUI runs normally (events, repaints, the resource panel) until the replay ends
    window.toggle_recording()
    if window.recorder.state is not RecState.IDLE:
        loop.exec()
    cpu, wall = cpu_seconds() - cpu0, time.monotonic() - wall0
    window.close()
    print(f"{CPU_MARK} {cpu:.3f} {wall:.3f}", flush=True)


def measure(mode: str, clip: Path) -> tuple[float, float]:
    proc = subprocess.run([sys.executable, "-m", "edge_asr.bench.gui_overhead", mode, str(clip)],
                          capture_output=True, text=True, timeout=CHILD_TIMEOUT_S, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith(CPU_MARK):
            _, cpu, wall = line.split()
            return float(cpu), float(wall)
    raise EdgeAsrError(f"the {mode} run failed (exit {proc.returncode}): {proc.stderr.strip()[-800:]}")


def run_overhead(clip: Path, repeats: int) -> None:
    if not clip.exists():
        raise EdgeAsrError(f"{clip} does not exist")
    results: dict[str, list[float]] = {"bare": [], "gui": []}
    for i in range(repeats):
        for mode in ("bare", "gui"):  # interleaved, so drifting machine load hits both alike
            cpu, wall = measure(mode, clip)
            pct = 100.0 * cpu / wall
            results[mode].append(pct)
            print(f"pass {i + 1} {mode:4s}: {cpu:.2f} s CPU over {wall:.2f} s = {pct:.1f} % of one core", flush=True)
    bare, gui = min(results["bare"]), min(results["gui"])
    overhead = gui - bare
    print(f"bare pipeline {bare:.1f} %, with the window {gui:.1f} % (best of {repeats}): the GUI adds "
          f"{overhead:.1f} % of one core (target < {TARGET_OVERHEAD_PCT:.0f} %: "
          f"{'met' if overhead < TARGET_OVERHEAD_PCT else 'MISSED'})")


if __name__ == "__main__":
    mode, clip_arg = sys.argv[1], sys.argv[2]
    {"bare": child_bare, "gui": child_gui}[mode](clip_arg)
