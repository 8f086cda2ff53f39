"""Child process of test_live_e2e.py: the real window, the real pipeline, the virtual microphone.

It runs in its own process because PULSE_SERVER must be set before PortAudio initialises, and earlier GUI tests
in the parent have already listed devices. Prints one JSON line with what it saw; screenshots go to ARTIFACTS.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[2]
FINAL_TIMEOUT_S = 60.0  # s from the end of the clip to its final line on a busy 2-core machine
DEVICE_LOST_TIMEOUT_S = 30.0  # s for the watchdog to notice the feeder stopped
SETTLE_MS = 500  # ms before a screenshot


def load_vmic():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("edge_asr_tests_vmic", ROOT / "tests" / "live" / "vmic.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name in ("virtual_mic", "VirtualMic", "vmic", "virtual_microphone"):
        if hasattr(module, name):
            return getattr(module, name)
    raise SystemExit(f"tests/live/vmic.py has none of the expected context managers: {dir(module)}")


def main(clip: str, artifacts: str, settings_file: str) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    from edge_asr.audio import decode_audio
    from edge_asr.constants import SAMPLE_RATE
    from edge_asr.gui.app import GuiOptions, create_window
    from edge_asr.gui.recording import RecState

    out: dict[str, object] = {}
    samples = decode_audio(clip)
    with load_vmic()() as mic:
        window = create_window(GuiOptions(settings_file=settings_file, size=(1024, 600), theme="light"))
        window.show()
        loop = QEventLoop()

        def wait_until(cond, timeout_s: float) -> bool:  # type: ignore[no-untyped-def]
            deadline = time.monotonic() + timeout_s
            while not cond() and time.monotonic() < deadline:
                QTimer.singleShot(50, loop.quit)  # run the event loop in short turns until the condition holds
                loop.exec()
            return bool(cond())

        def shot(name: str) -> None:
            QTimer.singleShot(SETTLE_MS, loop.quit)
            loop.exec()
            window.grab().save(str(Path(artifacts) / f"{name}.png"), "PNG")

        assert wait_until(lambda: window.transcriber is not None, 300), window.banner.text()
        device = getattr(mic, "device", None) or getattr(mic, "device_name", None)
        if device:
            window.session.devices.set_wanted(str(device))
        partials: list[str] = []
        window.bridge.partial.connect(lambda ev: partials.append(ev.text))
        window.toggle_recording()
        out["started"] = wait_until(lambda: window.recorder.state is RecState.RECORDING, 30)
        out["start_banner"] = window.banner.text()
        if not out["started"]:
            print(json.dumps(out), flush=True)
            return
        mic.play(samples)
        wait_until(lambda: bool(partials), len(samples) / SAMPLE_RATE + FINAL_TIMEOUT_S)
        if partials:
            shot("recording-partial")
        live = window.tabs.live
        out["final_ok"] = wait_until(lambda: len(live.segments()) > 0 and not live.partial_text(),
                                     len(samples) / SAMPLE_RATE + FINAL_TIMEOUT_S)
        out["partials"] = len(partials)
        out["text"] = window.tabs.live.plain_text()
        shot("recording-final")
        mic.stop_feeder()  # unplug: the watchdog must notice and the banner must say so
        out["device_lost"] = wait_until(lambda: window.banner.isVisible() and window.banner.kind() == "error",
                                        DEVICE_LOST_TIMEOUT_S)
        out["lost_banner"] = window.banner.text()
        shot("device-lost-real")
        window.toggle_recording()
        out["stopped"] = wait_until(lambda: window.recorder.state is RecState.IDLE, 30)
        stats = window.resources
        out["cpu"], out["rss"] = stats.value_text("cpu"), stats.value_text("rss")
        window.close()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])
