"""The scheduler: priorities at window granularity, bounded admission, cancellation, failures, shutdown.

Timing and failures are injected with a scripted stand-in transcriber; the interleaving invariant is checked on
the real model."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from edge_asr.daemon.scheduler import Cancelled, Overloaded, Priority, ScheduledTranscriber, Scheduler, Unavailable
from edge_asr.engine.base import AudioInput
from edge_asr.errors import AudioError
from edge_asr.options import TranscribeOptions
from edge_asr.results import Segment, TranscriptionInfo, WindowResult

pytestmark = pytest.mark.timeout(120)

SR = 16_000
WAIT = 30.0  # s, upper bound for anything in these tests


class ScriptedTranscriber:
    """Fault injection: each window blocks until the test releases it; audio valued -1 fails."""

    name = "scripted"
    is_multilingual = False

    def __init__(self) -> None:
        self.log: list[str] = []
        self.gate = threading.Semaphore(0)
        self.started = threading.Event()

    def transcribe_windows(self, audio: AudioInput, options: TranscribeOptions | None = None, *,
                           max_duration: float | None = None) -> tuple[Iterator[WindowResult], TranscriptionInfo]:
        assert isinstance(audio, np.ndarray)
        tag = f"{audio[0]:.0f}"
        if audio[0] == -1:
            raise AudioError("injected failure")
        windows = len(audio) // SR

        def gen() -> Iterator[WindowResult]:
            for i in range(windows):
                self.started.set()
                assert self.gate.acquire(timeout=WAIT)
                self.log.append(f"{tag}:{i}")
                segs = () if audio[1] == -2 else (Segment(i, float(i), float(i + 1), f" {tag}-{i}"),)
                yield WindowResult(float(i), float(i + 1), segs)

        return gen(), TranscriptionInfo("en", 1.0, windows, options or TranscribeOptions())

    def transcribe(self, audio: AudioInput, options: TranscribeOptions | None = None
                   ) -> tuple[Iterator[Segment], TranscriptionInfo]:
        windows, info = self.transcribe_windows(audio, options)
        return (s for w in windows for s in w.segments), info

    def detect_language(self, audio: AudioInput) -> tuple[str, float, list[tuple[str, float]]]:
        return "en", 1.0, [("en", 1.0)]


def _audio(tag: int, seconds: int) -> np.ndarray:
    return np.full(seconds * SR, tag, dtype=np.float32)


def test_live_jumps_ahead_of_a_running_upload_by_one_window() -> None:
    t = ScriptedTranscriber()
    s = Scheduler(t, max_queue=4)
    upload = s.submit(_audio(1, 10), None, Priority.UPLOAD)
    assert t.started.wait(WAIT)
    live = s.submit(_audio(7, 1), None, Priority.LIVE)
    for _ in range(12):
        t.gate.release()
    assert [seg.text for seg in live.future.result(WAIT).segments] == [" 7-0"]
    assert len(upload.future.result(WAIT).segments) == 10
    assert t.log.index("7:0") <= 1, t.log  # at most the window in progress ran before it
    s.close(WAIT)


def test_admission_is_bounded_and_reopens_when_the_queue_drains() -> None:
    t = ScriptedTranscriber()
    s = Scheduler(t, max_queue=2)
    a = s.submit(_audio(1, 2), None, Priority.UPLOAD)
    s.submit(_audio(2, 2), None, Priority.STREAM)
    with pytest.raises(Overloaded) as err:
        s.submit(_audio(3, 2), None, Priority.UPLOAD)
    assert err.value.retry_after >= 1
    live = s.submit(_audio(4, 1), None, Priority.LIVE)  # the microphone is never refused
    for _ in range(5):
        t.gate.release()
    live.future.result(WAIT)
    a.future.result(WAIT)
    assert s.depth()["upload"] == 0
    t.gate.release()
    s.submit(_audio(5, 1), None, Priority.UPLOAD)  # room again
    t.gate.release()
    s.close(WAIT)


def test_failures_reach_the_caller_and_the_worker_keeps_going() -> None:
    t = ScriptedTranscriber()
    s = Scheduler(t, max_queue=4)
    bad = s.submit(_audio(-1, 1), None, Priority.UPLOAD)
    with pytest.raises(AudioError, match="injected"):
        bad.future.result(WAIT)
    t.gate.release()
    assert len(s.submit(_audio(2, 1), None, Priority.UPLOAD).future.result(WAIT).segments) == 1
    s.close(WAIT)


def test_a_cancelled_job_stops_at_its_next_window_and_frees_its_slot() -> None:
    t = ScriptedTranscriber()
    s = Scheduler(t, max_queue=1)
    job = s.submit(_audio(1, 100), None, Priority.UPLOAD)
    assert t.started.wait(WAIT)
    job.cancel()
    t.gate.release()
    with pytest.raises(Cancelled):
        job.future.result(WAIT)
    t.gate.release()
    done = s.submit(_audio(2, 1), None, Priority.UPLOAD)
    t.gate.release()
    done.future.result(WAIT)
    assert sum(1 for x in t.log if x.startswith("1:")) <= 2
    s.close(WAIT)


def test_shutdown_finishes_queued_work_and_refuses_new_work() -> None:
    t = ScriptedTranscriber()
    s = Scheduler(t, max_queue=4)
    jobs = [s.submit(_audio(i, 2), None, Priority.UPLOAD) for i in (1, 2)]
    s.stop_accepting()
    with pytest.raises(Unavailable):
        s.submit(_audio(3, 1), None, Priority.UPLOAD)
    live = s.submit(_audio(4, 1), None, Priority.LIVE)  # the final utterance of the mic still gets through
    for _ in range(5):
        t.gate.release()
    assert s.close(WAIT)
    assert all(len(j.future.result(0).segments) == 2 for j in jobs) and live.future.done()


def test_interleaved_jobs_give_the_same_transcripts_as_running_alone(en_dev) -> None:
    """Window-level interleaving on the real model must not mix state between requests."""
    from edge_asr.audio import decode_audio
    from edge_asr.factory import load_transcriber

    tr = load_transcriber()
    clips = [decode_audio(r["abspath"]) for r in en_dev[:3]]
    alone = [[seg.text for seg in tr.transcribe(c)[0]] for c in clips]
    s = Scheduler(tr, max_queue=8)
    priorities = (Priority.UPLOAD, Priority.STREAM, Priority.UPLOAD)
    jobs = [s.submit(c, None, p) for c, p in zip(clips, priorities, strict=True)]
    live = ScheduledTranscriber(s).transcribe(clips[0])[0]
    assert [seg.text for seg in live] == alone[0]
    assert [[seg.text for seg in j.future.result(WAIT).segments] for j in jobs] == alone
    s.close(WAIT)


def test_silent_windows_are_one_step_each() -> None:
    """Windows that give no segment (silence, no speech) are steps too: the live mic never waits for a run of them."""
    t = ScriptedTranscriber()
    s = Scheduler(t, max_queue=4)
    silent = _audio(1, 10)
    silent[1] = -2  # the scripted transcriber's mark for "no segments in any window"
    upload = s.submit(silent, None, Priority.UPLOAD)
    assert t.started.wait(WAIT)
    live = s.submit(_audio(7, 1), None, Priority.LIVE)
    for _ in range(12):
        t.gate.release()
    assert [seg.text for seg in live.future.result(WAIT).segments] == [" 7-0"]
    assert upload.future.result(WAIT).segments == []
    assert t.log.index("7:0") <= 1, t.log
    s.close(WAIT)


class WindowSpy:
    """The real transcriber, with an event set when an upload's first window is done and the windows counted."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name, self.is_multilingual = inner.name, inner.is_multilingual
        self.first_window = threading.Event()
        self.windows = 0

    def transcribe_windows(self, audio: AudioInput, options: TranscribeOptions | None = None, *,
                           max_duration: float | None = None) -> tuple[Iterator[WindowResult], TranscriptionInfo]:
        gen, info = self.inner.transcribe_windows(audio, options)

        def spy() -> Iterator[WindowResult]:
            for w in gen:
                self.windows += 1
                yield w
                self.first_window.set()

        return spy(), info

    def transcribe(self, audio: AudioInput, options: TranscribeOptions | None = None
                   ) -> tuple[Iterator[Segment], TranscriptionInfo]:
        return self.inner.transcribe(audio, options)  # type: ignore[no-any-return]

    def detect_language(self, audio: AudioInput) -> tuple[str, float, list[tuple[str, float]]]:
        return self.inner.detect_language(audio)  # type: ignore[no-any-return]


def test_a_long_real_upload_yields_to_live_between_windows(transcriber, shared) -> None:
    """Three minutes of real speech and silence through the real model: a live decode submitted while the upload
    runs is done before the upload, and Retry-After follows the measured speed."""
    from edge_asr.audio import decode_audio

    speech = decode_audio(shared("speech", "en-wild", "earnings22_1_4482311_3_62.wav"))
    upload_audio = np.concatenate([speech, np.zeros(60 * SR, np.float32), speech])  # 180 s: 6 windows or more
    spy = WindowSpy(transcriber)
    s = Scheduler(spy, max_queue=4)  # type: ignore[arg-type]
    upload = s.submit(upload_audio, None, Priority.UPLOAD)
    assert spy.first_window.wait(WAIT)
    live = s.submit(decode_audio(shared("speech", "en-dev", "jfk.flac")), None, Priority.LIVE)
    live_text = "".join(seg.text for seg in live.future.result(WAIT).segments).lower()
    assert "ask not what your country" in live_text
    assert not upload.future.done(), "the live decode waited for the whole upload"
    retry = s.retry_after()
    result = upload.future.result(120)
    assert spy.windows >= 6 and len(result.segments) >= 8
    # Queued audio times the measured model time per second of audio: within a few times the real remaining work.
    assert retry <= max(3, 3 * result.busy), (retry, result.busy)
    s.close(WAIT)


def test_the_heap_goes_back_to_the_system_when_the_queue_drains(monkeypatch) -> None:
    """Not between the windows of a job, nor while another job waits: once, when nothing is left to do."""
    from edge_asr.daemon import scheduler as scheduler_module
    from edge_asr.memory import release_free_heap

    garbage = [bytes(1000) for _ in range(20_000)]  # 20 MB of malloc'd blocks (past pymalloc's small objects)
    del garbage
    assert release_free_heap()  # glibc here: malloc_trim is there and gives the freed blocks back
    trims: list[int] = []
    drained = threading.Event()

    def trim() -> bool:
        trims.append(len(t.log))
        drained.set()
        return True

    monkeypatch.setattr(scheduler_module, "release_free_heap", trim)
    t = ScriptedTranscriber()
    s = Scheduler(t, max_queue=4)
    a = s.submit(_audio(1, 3), None, Priority.UPLOAD)
    assert t.started.wait(WAIT)
    b = s.submit(_audio(2, 2), None, Priority.UPLOAD)
    for _ in range(5):
        t.gate.release()
    a.future.result(WAIT)
    b.future.result(WAIT)
    assert drained.wait(WAIT)
    assert trims == [5], trims  # after all 5 windows of both jobs, not after the first job
    s.close(WAIT)
