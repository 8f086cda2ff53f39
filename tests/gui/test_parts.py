"""The app's parts on their own: options, settings persistence, the bridge across threads, the views."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from edge_asr.errors import ConfigError
from edge_asr.gui.app import GuiOptions, parse_size
from edge_asr.gui.bridge import EventBridge
from edge_asr.gui.constants import LEVEL_FLOOR_DBFS, PLOT_HISTORY
from edge_asr.gui.resource_strip import ResourceStrip
from edge_asr.gui.settings import AppSettings, load_settings, save_settings
from edge_asr.gui.transcript_view import TranscriptView, format_timestamp
from edge_asr.gui.widgets import LevelMeter, Sparkline
from edge_asr.live.events import DeviceLost, Error, Event, Final, Level, Partial, Stats
from edge_asr.results import Segment


def test_gui_options_validate_once() -> None:
    assert parse_size("1024x600") == (1024, 600)
    for bad in ("1024", "x600", "big"):
        with pytest.raises(ConfigError):
            parse_size(bad)
    with pytest.raises(ConfigError, match="at least"):
        GuiOptions(size=(320, 200))
    with pytest.raises(ConfigError, match="theme"):
        GuiOptions(theme="purple")
    with pytest.raises(ConfigError, match="png"):
        GuiOptions(screenshot=Path("shot.jpg"))


def test_app_settings_build_core_options() -> None:
    s = AppSettings(threads=2, backend="onnxruntime", language="de")
    eo = s.engine_options()
    assert (eo.threads, eo.backend, eo.model) == (2, "onnxruntime", "tiny.en")
    assert s.transcribe_options(multilingual=True).language == "de"
    assert s.transcribe_options(multilingual=False).language is None  # English-only: the stale choice is dropped
    bad_values = ({"backend": "cuda-magic"}, {"threads": -1}, {"export_format": "doc"}, {"theme": "pink"},
                  {"model": " "})
    for bad in bad_values:
        with pytest.raises(ConfigError):
            AppSettings(**bad)  # type: ignore[arg-type]


def test_settings_round_trip_and_bad_values_fall_back(tmp_path: Path) -> None:
    path = str(tmp_path / "s.ini")
    store = QSettings(path, QSettings.Format.IniFormat)
    chosen = AppSettings(input_device="USB Mic", export_format="vtt", theme="dark", threads=3, last_dir="/tmp")
    save_settings(store, chosen)
    assert load_settings(QSettings(path, QSettings.Format.IniFormat)) == chosen
    store.setValue("app/backend", "quantum")  # e.g. written by a newer version
    store.setValue("app/threads", "many")
    store.sync()
    loaded = load_settings(QSettings(path, QSettings.Format.IniFormat))
    assert loaded.backend == "auto" and loaded.threads == 0  # defaults for the bad ones
    assert loaded.input_device == "USB Mic" and loaded.theme == "dark"  # the good ones kept


def test_timestamps() -> None:
    assert format_timestamp(0) == "0:00.0"
    assert format_timestamp(65.25) == "1:05.2"
    assert format_timestamp(3723) == "1:02:03"


def _seg(i: int, start: float, end: float, text: str) -> Segment:
    return Segment(id=i, start=start, end=end, text=text)


def test_partial_firms_up_into_final(qtbot) -> None:  # type: ignore[no-untyped-def]
    view = TranscriptView("Live")
    qtbot.addWidget(view)
    view.set_partial("and so my fellow", "and so")
    assert "and so my fellow" in view.document_text()
    view.set_partial("and so my fellow americans", "and so my fellow")
    assert view.document_text().count("and so my") == 1  # the partial is replaced, not appended
    view.add_segment(_seg(0, 0.0, 2.5, " And so my fellow Americans,"))
    text = view.document_text()
    assert "[0:00.0 → 0:02.5]" in text and "And so my fellow Americans," in text
    assert "americans" not in text  # the partial is gone
    view.set_partial("ask not", "")
    view.add_segment(_seg(1, 2.5, 4.0, " ask not"))
    assert view.plain_text() == "And so my fellow Americans,\nask not"
    assert [s.id for s in view.segments()] == [0, 1]
    view.clear_transcript()
    assert view.document_text() == "" and view.segments() == []


def test_an_amended_final_replaces_the_early_one(qtbot) -> None:  # type: ignore[no-untyped-def]
    view = TranscriptView("Live")
    qtbot.addWidget(view)
    view.add_segment(_seg(0, 0.0, 2.5, " And so my fellow Americans."))
    view.add_segment(_seg(1, 3.0, 4.0, " Ask not."))
    view.set_partial("ask not what your country", "ask not")
    view.replace_last_segment(_seg(2, 3.0, 6.0, " Ask not what your country can do for you."))
    text = view.document_text()
    assert view.plain_text() == "And so my fellow Americans.\nAsk not what your country can do for you."
    assert text.count("Ask not") == 1 and "[0:03.0 → 0:06.0]" in text and "0:04.0" not in text and "…" not in text
    assert [s.id for s in view.segments()] == [0, 2]
    view.add_segment(_seg(3, 7.0, 8.0, " Next."))
    assert view.plain_text().endswith("for you.\nNext.")


def test_bridge_delivers_from_another_thread_and_stops_after_shutdown(qtbot) -> None:  # type: ignore[no-untyped-def]
    bridge = EventBridge()
    got: list[tuple[str, Event, bool]] = []
    gui_thread = threading.current_thread()
    for name in ("partial", "final", "level", "stats", "device_lost", "error"):
        getattr(bridge, name).connect(
            lambda ev, n=name: got.append((n, ev, threading.current_thread() is gui_thread)))
    subscribers: list = []

    def subscribe(cb):  # type: ignore[no-untyped-def]
        subscribers.append(cb)
        return lambda: subscribers.remove(cb)

    bridge.attach(subscribe)
    events: list[Event] = [
        Partial(text="hello", stable_text="", start=0.0, end=1.0),
        Final(segment=_seg(0, 0.0, 1.0, "hello"), latency=0.2),
        Level(rms=-30.0, peak=-12.0),
        Stats(rtf=0.1, latency=0.2, drops=0, queue_depth=0, cpu_percent=12.0, rss_mb=200.0),
        DeviceLost(device="mic", reason="unplugged"),
        Error(message="boom", fatal=False),
    ]
    t = threading.Thread(target=lambda: [subscribers[0](e) for e in events])  # the pipeline's dispatch thread
    t.start()
    t.join()
    qtbot.waitUntil(lambda: len(got) == len(events), timeout=2000)
    assert [g[1] for g in got] == events
    assert all(on_gui for _, _, on_gui in got), "slots must run on the GUI thread"
    bridge.shutdown()
    assert subscribers == []  # unsubscribed
    bridge.deliver(events[0])  # a late event after shutdown is dropped
    qtbot.wait(50)
    assert len(got) == len(events)


def test_level_meter_and_sparkline(qtbot) -> None:  # type: ignore[no-untyped-def]
    meter = LevelMeter()
    qtbot.addWidget(meter)
    meter.set_level(-200.0, 5.0)
    assert meter.level() == (LEVEL_FLOOR_DBFS, 0.0)  # clamped to the meter's range
    meter.reset()
    assert meter.level() == (LEVEL_FLOOR_DBFS, LEVEL_FLOOR_DBFS)
    plot = Sparkline()
    for i in range(PLOT_HISTORY + 10):
        plot.append(float(i))
    plot.append(float("nan"))
    values = plot.values()
    assert len(values) == PLOT_HISTORY and values[-1] == 0.0 and values[0] == 11.0


def test_resource_panel_shows_stats(qtbot) -> None:  # type: ignore[no-untyped-def]
    panel = ResourceStrip()
    qtbot.addWidget(panel)
    panel.show_stats(Stats(rtf=0.08, latency=0.21, drops=3, queue_depth=1, cpu_percent=37.4, rss_mb=245.6,
                           load_avg=0.5, cpu_temp_c=None))
    panel.show_latency(0.21)
    assert panel.value_text("cpu") == "37 %"
    assert panel.value_text("rss") == "246 MB"
    assert panel.value_text("rtf") == "0.08"
    assert panel.value_text("latency") == "210 ms"
    assert panel.value_text("drops") == "3"
    assert panel.value_text("temp") == "–"  # not exposed on this machine: shown as absent, not as 0
