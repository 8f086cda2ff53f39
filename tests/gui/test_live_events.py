"""Live events from the core's stream reach the window through the bridge, from a non-GUI thread.

The events are the core's own typed events, delivered on a separate thread as the pipeline's dispatch thread
does; the end-to-end test with the real pipeline and the virtual microphone is in test_live_e2e.py.
"""

from __future__ import annotations

import threading
from pathlib import Path

from edge_asr.gui.main_window import MainWindow
from edge_asr.live.events import DeviceBack, DeviceLost, Error, Event, Final, Level, Partial, Stats
from edge_asr.results import Segment

from .conftest import settle
from .test_window import assert_fits, save


def deliver(window: MainWindow, events: list[Event]) -> None:
    def dispatch() -> None:
        for e in events:
            window.bridge.deliver(e)

    t = threading.Thread(target=dispatch, name="dispatch")
    t.start()
    t.join()


def test_partial_final_level_stats_and_device_faults(window: MainWindow, artifacts: Path, qtbot) -> None:  # type: ignore[no-untyped-def]
    text = " And so, my fellow Americans, ask not what your country can do for you."
    seg = Segment(id=0, start=0.0, end=4.2, text=text)
    deliver(window, [
        Final(segment=seg, latency=0.18),
        Level(rms=-22.0, peak=-9.0),
        Stats(rtf=0.07, latency=0.18, drops=0, queue_depth=0, cpu_percent=23.0, rss_mb=231.0, load_avg=0.8),
        Partial(text="ask what you can do for", stable_text="ask what you", start=4.6, end=6.1),
    ])
    live = window.tabs.live
    qtbot.waitUntil(lambda: live.partial_text() == "ask what you can do for", timeout=2000)
    assert live.plain_text().startswith("And so, my fellow Americans")
    panel = window.resources
    assert panel.value_text("rtf") == "0.07" and panel.value_text("latency") == "180 ms"
    assert panel.value_text("cpu") == "23 %"
    qtbot.waitUntil(lambda: window.session.level.level()[0] == -22.0, timeout=1000)
    settle(window)
    assert_fits(window)
    save(window, artifacts, "live-partial")

    deliver(window, [DeviceLost(device="USB Mic", reason="no audio for 2.0 s")])
    qtbot.waitUntil(window.banner.isVisible, timeout=2000)
    assert "USB Mic" in window.banner.text() and "resumes" in window.banner.text()
    assert window.banner.kind() == "error"
    settle(window)
    save(window, artifacts, "device-lost")
    deliver(window, [DeviceBack(device="USB Mic", outage=3.4)])
    qtbot.waitUntil(lambda: window.banner.kind() == "info", timeout=2000)
    assert "back after 3.4 s" in window.banner.text()
    deliver(window, [Error(message="The decoder fell behind; a partial pass was skipped.", fatal=False)])
    qtbot.waitUntil(lambda: "fell behind" in window.banner.text(), timeout=2000)
    # The final replaced the partial it came from; nothing else was added to the transcript.
    deliver(window, [Final(segment=Segment(id=1, start=4.6, end=6.4, text=" ask what you can do for your country."))])
    qtbot.waitUntil(lambda: live.partial_text() == "", timeout=2000)
    assert len(live.segments()) == 2 and "can do for your country." in live.plain_text()
    assert "ask what you can do for …" not in live.document_text()
