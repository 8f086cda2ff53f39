"""Background jobs and readable progress: a job outlives its caller's references, stops when cancelled, and
never emits into a window that is gone; progress text has percent, elapsed, time left and speed."""

from __future__ import annotations

import gc
import sys
import threading

import pytest
from PySide6.QtCore import QObject, Signal

from edge_asr.gui.jobs import Job, live_jobs, shutdown_jobs
from edge_asr.gui.progress import ProgressClock, format_duration

STEP_TIMEOUT_MS = 5000


def test_a_job_nobody_holds_still_reports_and_finishes(qtbot) -> None:  # type: ignore[no-untyped-def]
    """The old bug: the job's signal object was deleted while the pool thread still used it."""
    gate = threading.Event()
    seen: list[object] = []

    class Sink(QObject):
        got = Signal(object)

    sink = Sink()
    sink.got.connect(seen.append)

    def work(progress):  # type: ignore[no-untyped-def]
        gate.wait(5)
        for i in range(3):
            progress("step", i / 3)
        return "result"

    job = Job("orphan", work)
    job.progress.connect(lambda stage, f: sink.got.emit((stage, f)))
    job.finished.connect(sink.got.emit)
    job.start()
    del job  # the caller lets go before the job even runs
    gc.collect()
    gate.set()
    qtbot.waitUntil(lambda: "result" in seen, timeout=STEP_TIMEOUT_MS)
    assert seen == [("step", 0.0), ("step", 1 / 3), ("step", 2 / 3), "result"]
    qtbot.waitUntil(lambda: not live_jobs(), timeout=STEP_TIMEOUT_MS)  # released once its signals were delivered


def test_cancel_stops_at_the_next_progress_report(qtbot) -> None:  # type: ignore[no-untyped-def]
    started = threading.Event()
    reached: list[int] = []

    def work(progress):  # type: ignore[no-untyped-def]
        started.set()
        for i in range(1000):
            progress("step", i / 1000)
            reached.append(i)
            threading.Event().wait(0.005)
        return "never"

    job = Job("cancellable", work)
    finished: list[object] = []
    job.finished.connect(finished.append)
    with qtbot.waitSignal(job.cancelled, timeout=STEP_TIMEOUT_MS):
        job.start()
        assert started.wait(5)
        job.cancel()
    assert not finished and len(reached) < 1000


def test_shutdown_cancels_and_joins_and_late_emits_are_dropped(qtbot) -> None:  # type: ignore[no-untyped-def]
    """A window closing mid-build: the job stops at its next stage and nothing raises in the pool thread."""
    errors: list[BaseException] = []
    in_stage = threading.Event()

    def build(progress):  # type: ignore[no-untyped-def]
        try:
            progress("stage 1", 0.1)
            in_stage.set()
            threading.Event().wait(0.3)  # a long stage (quantizing), during which the window closes
            progress("stage 2", 0.5)  # raises Cancelled: the build cleans up and stops
        except BaseException as exc:
            errors.append(exc)
            raise
        return "built"

    job = Job("build", build)
    receiver = QObject()
    job.finished.connect(receiver.deleteLater)  # a receiver that disappears with the window
    job.start()
    assert in_stage.wait(5)
    del receiver
    assert shutdown_jobs(5.0)
    assert job.done.is_set()
    assert [type(e).__name__ for e in errors] == ["Cancelled"]


def test_progress_text() -> None:
    assert format_duration(7.4) == "0:07" and format_duration(754) == "12:34" and format_duration(3723) == "1:02:03"
    now = [100.0]
    clock = ProgressClock(lambda: now[0])
    assert clock.snapshot().text() == "0 % · 0:00 elapsed · estimating time left"
    now[0] = 110.0
    clock.update(0.25, audio_done_s=30.0)
    snap = clock.snapshot()
    assert snap.percent == 25 and snap.remaining_s == pytest.approx(30.0) and snap.speed == pytest.approx(3.0)
    assert snap.text() == "25 % · 0:10 elapsed · about 0:30 left · 3.0× real time"
    clock.update(0.2)  # a stage reporting a smaller fraction does not move the bar back
    assert clock.snapshot().fraction == 0.25
    clock.update(1.0, audio_done_s=120.0)
    now[0] = 140.0
    assert clock.snapshot().text(done=True) == "done in 0:40 · 3.0× real time"


def test_the_qt_binding_does_not_leak_a_reference_per_emit(monkeypatch: pytest.MonkeyPatch) -> None:
    """PySide6 6.12.0 drops a reference to True on every emit: fatal on Python < 3.12 within a minute of use."""
    from edge_asr.errors import EdgeAsrError
    from edge_asr.gui import qt_check

    assert not qt_check.emit_leaks_true(), "this PySide6 would crash the app: see edge_asr/gui/qt_check.py"
    qt_check.check_qt_binding()
    if sys.version_info < (3, 12):
        monkeypatch.setattr(qt_check, "emit_leaks_true", lambda: True)  # fault injection: the broken binding
        with pytest.raises(EdgeAsrError, match=r"pip install 'PySide6-Essentials>=6.6,!=6.12.0'"):
            qt_check.check_qt_binding()
