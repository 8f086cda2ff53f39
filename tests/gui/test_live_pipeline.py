"""The window over the real live pipeline: Record replays a speech clip in real time through the core's
FileSource (the same pipeline, VAD and decoder a microphone feeds; the virtual-microphone run is
test_live_e2e.py). Partials appear, firm up into a final line; Stop mid-utterance loses nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edge_asr.evaluate import wer
from edge_asr.gui.app import GuiOptions, create_window
from edge_asr.gui.main_window import MainWindow
from edge_asr.gui.recording import RecState

from .conftest import SMALL_SCREEN, settle, wait_model
from .test_window import assert_fits, save, words

REPLAY_TIMEOUT_MS = 90_000  # ms: a clip of up to 10 s in real time plus decoding on a busy machine
STOP_AFTER_MS = 3500  # ms into the clip at which Stop is pressed, mid-sentence
STOP_SLACK_S = 3.0  # s of audio that may follow the Stop press (thread hand-offs, the utterance's flush)
WER_BAR = 0.25  # the engine's bar for clean read speech, normalised


def replay_window(qtbot, settings_file: str, clip: Path) -> MainWindow:  # type: ignore[no-untyped-def]
    from edge_asr.live.sources import FileSource

    def source(_device: str) -> Any:
        return FileSource(clip, realtime=True)

    window = create_window(GuiOptions(settings_file=settings_file, size=SMALL_SCREEN, theme="light"))
    window.close()  # rebuilt below with the replay source; create_window has applied theme and settings
    window = MainWindow(window.store, window.settings, source_factory=source)
    window.resize(*SMALL_SCREEN)
    qtbot.addWidget(window)
    window.show()
    wait_model(qtbot, window)
    return window


def start(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(window.recorder.state_changed, timeout=15_000,
                          check_params_cb=lambda s: s in (RecState.RECORDING, RecState.IDLE)):
        window.actions_.record.trigger()
    assert window.recorder.state is RecState.RECORDING, window.banner.text()


def stop(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(window.recorder.state_changed, timeout=REPLAY_TIMEOUT_MS,
                          check_params_cb=lambda s: s is RecState.IDLE):
        window.actions_.record.trigger()


def test_partials_firm_up_into_a_final(qtbot, settings_file: str, en_dev: list[dict[str, str]],  # type: ignore[no-untyped-def]
                                       artifacts: Path) -> None:
    row = next(r for r in en_dev if r["path"].startswith("LJ001-0001"))
    window = replay_window(qtbot, settings_file, Path(row["abspath"]))
    partials: list[str] = []
    finals: list[float] = []
    window.bridge.partial.connect(lambda ev: partials.append(ev.text))
    window.bridge.final.connect(lambda ev: finals.append(ev.latency))
    start(qtbot, window)
    assert window.actions_.record.text() == "Stop" and not window.session.devices.isEnabled()
    qtbot.waitUntil(lambda: bool(partials) and bool(window.tabs.live.partial_text()), timeout=REPLAY_TIMEOUT_MS)
    assert not finals, "a partial must come before the final"
    settle(window, 200)
    assert_fits(window)
    save(window, artifacts, "recording-partial")
    qtbot.waitUntil(lambda: window.recorder.pipeline is None or window.recorder.pipeline.wait(0),
                    timeout=REPLAY_TIMEOUT_MS)  # the clip has been replayed and every event handed out
    stop(qtbot, window)
    text = window.tabs.live.plain_text()
    assert wer([row["reference_text"]], [text]) < WER_BAR, (row["reference_text"], text)
    assert window.tabs.live.partial_text() == ""
    panel = window.resources
    assert panel.history("rtf"), "the pipeline's Stats reached the resource panel"
    assert panel.value_text("latency").endswith("ms")
    save(window, artifacts, "recording-final")
    window.close()


def test_stop_mid_utterance_loses_nothing(qtbot, settings_file: str, jfk_path: Path) -> None:  # type: ignore[no-untyped-def]
    window = replay_window(qtbot, settings_file, jfk_path)
    start(qtbot, window)
    qtbot.wait(STOP_AFTER_MS)  # "And so my fellow Americans, ..." is being spoken
    stop(qtbot, window)
    heard = words(window.tabs.live.plain_text())
    assert heard[:4] == ["and", "so", "my", "fellow"], heard  # flushed on Stop, not dropped
    last_end = max(seg.end for seg in window.tabs.live.segments())
    assert last_end < STOP_AFTER_MS / 1000 + STOP_SLACK_S, last_end  # the replay stopped with Stop: 11 s of clip
    window.close()
