"""The live pipeline every front end shares: source -> VAD/segmenter -> streaming decoder -> one event stream.

Three threads: the worker reads the source (resampling, levels, VAD, scheduling decodes), the decoder runs the
transcriber (streaming.py), and the dispatcher hands events to subscribers, so a slow subscriber never stalls
capture and capture never waits for decoding. The pipeline knows nothing about who listens.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

import numpy as np

from ..constants import SAMPLE_RATE
from ..engine.base import Transcriber
from ..monitor import ResourceSampler
from ..options import TranscribeOptions
from .events import DeviceBack, DeviceLost, Error, Event, Level, Partial, Stats
from .guard import HallucinationGuard
from .settings import LiveOptions
from .sources import END, AudioBlock, AudioSource, SourceBack, SourceLost
from .streaming import StreamingDecoder
from .vad import Segmenter, SpeechModel, dbfs

log = logging.getLogger(__name__)

READ_TIMEOUT = 0.1  # s the worker waits for audio before it checks its timers
DISPATCH_QUEUE = 4096  # events waiting for subscribers; past this, levels/stats/partials are dropped
LOST_FLUSH_TIMEOUT = 5.0  # s the final of the audio before a device fault may delay the DeviceLost event
_SENTINEL = object()


class LivePipeline:
    def __init__(self, transcriber: Transcriber, source: AudioSource, options: LiveOptions | None = None,
                 transcribe_options: TranscribeOptions | None = None, *, vad_model: SpeechModel | None = None) -> None:
        self.transcriber, self.source = transcriber, source
        self.options = options or LiveOptions()
        self.transcribe_options = transcribe_options
        self._vad_model = vad_model
        self._subscribers: list[Callable[[Event], None]] = []
        self._sub_lock = threading.Lock()
        self._events: queue.Queue[object] = queue.Queue()  # unbounded: see _publish
        self._stop = threading.Event()
        self._done = threading.Event()
        self._started = False
        self._worker: threading.Thread | None = None
        self._dispatcher: threading.Thread | None = None
        self._decoder: StreamingDecoder | None = None
        self.guard = HallucinationGuard(self.options.guard_config())
        self.segmenter: Segmenter | None = None
        self.dropped_events = 0
        self.device_lost = False

    # -- public API ---------------------------------------------------------------------------------------------
    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Callbacks run on the dispatch thread, in event order, and must not block. Returns the unsubscribe."""
        with self._sub_lock:
            self._subscribers = [*self._subscribers, callback]

        def unsubscribe() -> None:
            with self._sub_lock:
                self._subscribers = [s for s in self._subscribers if s is not callback]

        return unsubscribe

    def start(self) -> None:
        """Open the source (DeviceError / AudioError when it cannot be) and start listening."""
        if self._started:
            raise RuntimeError("a LivePipeline can be started once")
        self.segmenter = Segmenter(self.options.segmenter_config(), self._vad_model)
        self._dispatcher = threading.Thread(target=self._dispatch, name="edge-asr-dispatch", daemon=True)
        self._dispatcher.start()
        try:
            self.source.start()
        except BaseException:
            self._events.put(_SENTINEL)
            self._dispatcher.join()
            raise
        o = self.options
        self._decoder = StreamingDecoder(self.transcriber, self._publish, transcribe_options=self.transcribe_options,
                                         partial_interval=o.partial_interval, partials=o.partials,
                                         speculative=o.speculative_final, guard=self.guard,
                                         synchronous=not self.source.realtime, early_finals=o.early_finals)
        self._started = True
        self._worker = threading.Thread(target=self._work, name="edge-asr-live", daemon=True)
        self._worker.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop capturing, finalise the utterance in flight, publish what is left and join the threads."""
        if not self._started:
            return
        self._stop.set()
        if not self._done.wait(timeout):
            log.warning("the live pipeline did not finish within %.1f s", timeout)

    @property
    def running(self) -> bool:
        """Started and not yet finished: its worker may still be using the VAD model and the transcriber."""
        return self._started and not self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """True once the source has ended (or stop() finished) and every event has been handed out."""
        return self._done.wait(timeout)

    def __enter__(self) -> LivePipeline:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def stats(self) -> dict[str, float]:
        d = self._decoder
        return {
            "decode_seconds": d.decode_seconds if d else 0.0,
            "audio_decoded_seconds": d.audio_seconds if d else 0.0,
            "skipped_partials": d.skipped_partials if d else 0,
            "vad_calls": self.segmenter.model_calls if self.segmenter else 0,
            "drops": self.source.drops,
            "overruns": self.source.overruns,
        }

    # -- events ---------------------------------------------------------------------------------------------
    def _publish(self, event: Event) -> None:
        """Hand an event to the dispatcher. Finals, errors and device events are never dropped nor waited for
        (a subscriber that fsyncs each final may lag; they queue up, a few hundred bytes each); levels, stats and
        partials are dropped, counted, while more than DISPATCH_QUEUE events wait, because newer ones replace them."""
        if isinstance(event, (Level, Stats, Partial)) and self._events.qsize() >= DISPATCH_QUEUE:
            self.dropped_events += 1
            if isinstance(event, Partial) and not event.text:
                self._events.put(event)  # an empty partial clears a preview; dropping it would leave stale text
            return
        self._events.put(event)

    def _dispatch(self) -> None:
        while (event := self._events.get()) is not _SENTINEL:
            with self._sub_lock:
                subscribers = self._subscribers
            for callback in subscribers:
                try:
                    callback(event)  # type: ignore[arg-type]
                except Exception:
                    log.exception("a live event subscriber failed")

    # -- the worker -----------------------------------------------------------------------------------------
    def _work(self) -> None:
        assert self._decoder is not None and self.segmenter is not None
        try:
            self._loop()
        except Exception as exc:
            log.exception("the live pipeline failed")
            self._publish(Error(f"live transcription stopped: {exc}", fatal=True))
        finally:
            try:
                self.source.stop()
            except Exception:
                log.exception("stopping the audio source failed")
            self._decoder.close(stopped=self._stop.is_set())
            self._events.put(_SENTINEL)
            if self._dispatcher is not None:
                self._dispatcher.join()
            self._done.set()

    def _loop(self) -> None:
        seg, dec, src, o = self.segmenter, self._decoder, self.source, self.options
        assert seg is not None and dec is not None
        sampler = ResourceSampler()
        next_stats = time.monotonic() + o.stats_interval
        level_len = round(o.level_interval * SAMPLE_RATE)
        level_sq, level_peak, level_n = 0.0, 0.0, 0
        decoded_at_stats = (0.0, 0.0)
        stopping = False
        while True:
            if self._stop.is_set() and not stopping:
                stopping = True
                src.stop()  # what was captured before stop() is still read and transcribed
            item = src.read(0.0 if stopping else READ_TIMEOUT)
            if item is END or (stopping and item is None):
                for ev in seg.flush("flush"):
                    dec.on_event(ev, time.monotonic(), seg.current)
                return
            if isinstance(item, AudioBlock):
                x = item.samples
                if x.size:
                    level_sq += float(np.dot(x, x))
                    level_peak = max(level_peak, float(np.abs(x).max()))
                    level_n += x.size
                    if level_n >= level_len:
                        self._publish(Level(round(dbfs(level_sq / level_n), 1), round(dbfs(level_peak**2), 1)))
                        level_sq, level_peak, level_n = 0.0, 0.0, 0
                    for ev in seg.feed(x):
                        dec.on_event(ev, item.arrival, seg.current)
                    if seg.in_speech:
                        dec.maybe_partial(seg.position, seg.current, seg.paused, seg.silent)
            elif isinstance(item, SourceLost):
                # Everything captured before the fault was read before this marker: finalise it now.
                for ev in seg.flush("device lost"):
                    dec.on_event(ev, time.monotonic(), seg.current)
                # Its final goes out before the outage is reported; no audio is arriving meanwhile anyway.
                dec.wait_idle(LOST_FLUSH_TIMEOUT)
                self.device_lost = True
                self._publish(DeviceLost(src.name, item.reason))
            elif isinstance(item, SourceBack):
                seg.skip(item.outage)
                self.device_lost = False
                self._publish(DeviceBack(src.name, round(item.outage, 3)))
            now = time.monotonic()
            if now >= next_stats:
                next_stats = now + o.stats_interval
                r = sampler.sample()
                dd, da = dec.decode_seconds - decoded_at_stats[0], dec.audio_seconds - decoded_at_stats[1]
                decoded_at_stats = (dec.decode_seconds, dec.audio_seconds)
                self._publish(Stats(round(dd / da, 3) if da > 0 else 0.0, round(dec.last_latency, 3),
                                    src.drops + src.overruns, src.queue_depth, round(r.cpu_percent, 1),
                                    round(r.rss_mb, 1), round(r.load_avg, 2), r.cpu_temp_c))


class SharedVadPipelines:
    """Makes pipeline after pipeline on one VAD model, for front ends that start many over their lifetime (the
    daemon on each reload or mic retry, the desktop app on each recording).

    Building a Silero ONNX Runtime session and dropping it again left a few MB of freed small blocks in glibc's
    heap each time, never returned: 20 daemon reloads grew RSS by 80 MB, all of it given back by malloc_trim. One
    session, reset between pipelines, keeps RSS flat. A pipeline that has not finished may still be using it, so
    the next one then gets a fresh model of its own.
    """

    def __init__(self, vad_factory: Callable[[], SpeechModel] | None = None) -> None:
        self._vad_factory = vad_factory
        self._vad: SpeechModel | None = None
        self._holder: LivePipeline | None = None  # the pipeline lent self._vad last

    def pipeline(self, transcriber: Transcriber, source: AudioSource, options: LiveOptions | None = None,
                 transcribe_options: TranscribeOptions | None = None) -> LivePipeline:
        if self._holder is not None and self._holder.running:
            log.warning("the previous live pipeline is still running; the new one gets a VAD model of its own")
            return LivePipeline(transcriber, source, options, transcribe_options, vad_model=self._new_vad())
        if self._vad is None:
            self._vad = self._new_vad()
        else:
            self._vad.reset()
        self._holder = LivePipeline(transcriber, source, options, transcribe_options, vad_model=self._vad)
        return self._holder

    def _new_vad(self) -> SpeechModel:
        if self._vad_factory is not None:
            return self._vad_factory()
        from .vad import SileroModel

        return SileroModel()


def make_source(options: LiveOptions, file: str | None = None) -> AudioSource:
    """The source a front end asked for: a file (paced when options.realtime) or the options' microphone."""
    if file is not None:
        from .sources import FileSource

        return FileSource(file, realtime=options.realtime)
    from .capture import MicSource

    return MicSource(options.device)
