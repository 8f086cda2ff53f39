"""Live mode in the daemon: keep the microphone pipeline running (retrying with backoff while there is no mic),
journal and log every final, and fan events out to /v1/live subscribers.

The pipeline itself (capture, VAD, streaming decoder) is the shared core in ``edge_asr.live``; the daemon only
supervises it. Its transcriber is the scheduler's live-priority view, so uploads never delay live decoding by more
than one window.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ..distribution import missing_part
from ..engine.base import Transcriber
from ..errors import BackendUnavailableError, ConfigError, DeviceError, EdgeAsrError, MissingExtraError
from ..options import TranscribeOptions
from .config import LiveConfig
from .journal import Journal
from .metrics import Metrics

if TYPE_CHECKING:
    from ..live.vad import SpeechModel

log = logging.getLogger(__name__)

SUBSCRIBER_QUEUE = 256  # events buffered per /v1/live client before the oldest are dropped
STOP_TIMEOUT = 10.0  # s for the pipeline to flush the utterance in flight on shutdown
DEFAULT_TYPES = frozenset({"partial", "final", "stats", "device_lost", "device_back", "error"})
ALL_TYPES = DEFAULT_TYPES | {"level"}


class Pipeline(Protocol):
    """What the daemon needs of edge_asr.live.pipeline.LivePipeline."""

    def subscribe(self, callback: Callable[[Any], None]) -> Callable[[], None]: ...
    def start(self) -> None: ...
    def stop(self, timeout: float = 5.0) -> None: ...
    def wait(self, timeout: float | None = None) -> bool: ...


PipelineFactory = Callable[[Transcriber, LiveConfig, "TranscribeOptions | None"], Pipeline]


class MicPipelines:
    """The daemon's pipeline factory: the shared live pipeline on the configured microphone (or a file played as
    one). One instance lives as long as the daemon, so every pipeline (a new one on each reload that touches live
    settings and on each retry after a lost mic) runs on one Silero VAD session (see SharedVadPipelines: one
    session per pipeline grew a soak with a SIGHUP a minute from 224 to 333 MiB)."""

    def __init__(self, vad_factory: Callable[[], SpeechModel] | None = None) -> None:
        from ..live.pipeline import SharedVadPipelines

        self._pipelines = SharedVadPipelines(vad_factory)

    def __call__(self, transcriber: Transcriber, config: LiveConfig,
                 transcribe_options: TranscribeOptions | None) -> Pipeline:
        """Raises DeviceError when no input device can be opened, AudioError for an unreadable file, ConfigError
        for bad live settings."""
        from ..live.pipeline import LiveOptions, make_source
        from ..live.vad_gain import DEFAULT_PEAK

        options = LiveOptions(device=parse_device(config.device), realtime=True,
                              partial_interval=config.partial_interval, vad_threshold=config.vad_threshold,
                              min_silence=config.min_silence,
                              vad_peak_dbfs=DEFAULT_PEAK if config.vad_gain else None)
        source = make_source(options, config.file)
        return self._pipelines.pipeline(transcriber, source, options,  # type: ignore[return-value]
                                        transcribe_options)


def parse_device(device: str | None) -> str | int | None:
    if device is None:
        return None
    return int(device) if device.strip().isdigit() else device


@dataclass(eq=False)  # identity semantics: each subscriber is one client
class Subscriber:
    types: frozenset[str]
    queue: asyncio.Queue[dict[str, Any] | None] = field(default_factory=lambda: asyncio.Queue(SUBSCRIBER_QUEUE))
    dropped: int = 0


class EventHub:
    """Thread-safe fan-out of event dicts to asyncio subscribers; a slow client loses its oldest events."""

    def __init__(self, loop: asyncio.AbstractEventLoop, max_clients: int, metrics: Metrics | None = None) -> None:
        self._loop = loop
        self.max_clients = max_clients
        self._subs: set[Subscriber] = set()  # touched on the loop only
        self._metrics = metrics

    def subscribe(self, types: frozenset[str]) -> Subscriber | None:
        """A new subscriber, or None when max_clients are already listening."""
        if len(self._subs) >= self.max_clients:
            return None
        sub = Subscriber(types)
        self._subs.add(sub)
        self._count()
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self._subs.discard(sub)
        self._count()

    def publish(self, event: dict[str, Any]) -> None:
        """From any thread."""
        with contextlib.suppress(RuntimeError):  # the loop is closed: shutting down
            self._loop.call_soon_threadsafe(self._deliver, event)

    def close(self) -> None:
        """Tell every subscriber the stream ended (from the loop)."""
        for sub in self._subs:
            self._put(sub, None)

    def _deliver(self, event: dict[str, Any]) -> None:
        for sub in self._subs:
            if event.get("type") in sub.types:
                self._put(sub, event)

    @staticmethod
    def _put(sub: Subscriber, item: dict[str, Any] | None) -> None:
        while True:
            try:
                sub.queue.put_nowait(item)
                return
            except asyncio.QueueFull:
                sub.queue.get_nowait()
                sub.dropped += 1

    def _count(self) -> None:
        if self._metrics is not None:
            self._metrics.live_clients.set(len(self._subs))


class LiveManager:
    """Supervises the live pipeline: start, retry with backoff, stop with a flush."""

    def __init__(self, transcriber: Transcriber, config: LiveConfig, transcribe_options: TranscribeOptions | None,
                 hub: EventHub, metrics: Metrics, journal: Journal | None,
                 factory: PipelineFactory | None = None) -> None:
        self.transcriber = transcriber
        self.config = config
        self.transcribe_options = transcribe_options
        self.hub, self.metrics, self.journal = hub, metrics, journal
        self.factory = factory or MicPipelines()
        self.state = "stopped"  # stopped | starting | running | unavailable
        self.reason = ""
        self._stop = threading.Event()
        self._wake = threading.Event()  # the running pipeline ended or failed, or stop() was called
        self._thread: threading.Thread | None = None
        metrics.mic_available.set(0)

    def status(self) -> dict[str, Any]:
        return {"enabled": self.config.enabled, "state": self.state, "reason": self.reason,
                "device": self.config.device}

    def start(self) -> None:
        if not self.config.enabled:
            self.state, self.reason = "stopped", "live mode is disabled (live.enabled = false)"
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._supervise, name="edge-asr-live", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = STOP_TIMEOUT) -> bool:
        """Stop capture and flush the utterance in flight (its final reaches the journal before this returns);
        False when the pipeline was still running after ``timeout`` s."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout + 1.0)
        if thread.is_alive():
            log.error("live: the pipeline did not stop within %.0f s", timeout)
            return False
        self._thread = None
        return True

    def _set(self, state: str, reason: str = "") -> None:
        if (state, reason) != (self.state, self.reason):
            self.state, self.reason = state, reason
            self.metrics.mic_available.set(1 if state == "running" else 0)

    def _supervise(self) -> None:
        delay = self.config.retry_initial
        while not self._stop.is_set():
            self._set("starting")
            self._wake.clear()
            if self._stop.is_set():
                break  # stop() came between the loop test and clear(): its wake-up must not be lost
            try:
                pipeline = self.factory(self.transcriber, self.config, self.transcribe_options)
                unsubscribe = pipeline.subscribe(self._on_event)
                pipeline.start()
            except ModuleNotFoundError as exc:  # MissingExtraError, or a raw import failure of an extra
                self._set("unavailable", str(exc) if isinstance(exc, MissingExtraError)
                          else f"live capture cannot start ({exc}): {missing_part('live')}")
                log.error("live: %s", self.reason)
                return  # retrying cannot install a package
            except ConfigError as exc:
                self._set("unavailable", f"bad live settings: {exc}")
                log.error("live: %s", self.reason)
                return
            except (DeviceError, BackendUnavailableError, OSError, EdgeAsrError) as exc:
                self._set("unavailable", str(exc))
                log.warning("live: microphone unavailable (%s); retrying in %.1f s", exc, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, self.config.retry_max)
                continue
            self._set("running")
            self.metrics.live_pipelines.inc()
            self.metrics.reset_drop_base()
            log.info("live: capturing from %s", self._source_name())
            delay = self.config.retry_initial
            threading.Thread(target=self._watch, args=(pipeline,), name="edge-asr-live-watch", daemon=True).start()
            self._wake.wait()
            pipeline.stop(STOP_TIMEOUT)
            unsubscribe()
            self.metrics.live_pipelines.dec()
            log.info("live: stopped capturing from %s", self._source_name())
            if self._stop.is_set():
                self._set("stopped", "shutting down")
                return
            self._set("unavailable", self.reason or "the live pipeline stopped")
            log.warning("live: pipeline stopped (%s); restarting in %.1f s", self.reason, delay)
            self._stop.wait(delay)
            delay = min(delay * 2, self.config.retry_max)

    def _source_name(self) -> str:
        if self.config.file:
            return f"file:{self.config.file}"
        return self.config.device or "the default input"

    def _watch(self, pipeline: Pipeline) -> None:
        pipeline.wait(None)
        self._wake.set()

    def _on_event(self, event: Any) -> None:
        """Runs on the pipeline's dispatch thread (not capture, not decoding). A final is journaled (fsync'd) before
        it is logged or published, so whatever a client or the log saw survives a crash."""
        kind = event.type
        d = event.to_dict()
        if kind == "final":
            self.metrics.live_finals.inc()
            if event.latency > 0:
                self.metrics.eou_latency.observe(event.latency)
            if self.journal is not None and d["text"]:
                record = dict(d, utc=dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"),
                              device=self._source_name())
                try:
                    self.journal.append(record)
                    self.metrics.journal_lines.inc()
                except OSError as exc:
                    log.error("journal: cannot write (%s)", exc)
            log.info("live [%.2f-%.2f]: %s", d["start"], d["end"], d["text"])
        elif kind == "stats":
            self.metrics.set_total_drops(event.drops)
        elif kind == "device_lost":
            self._set("unavailable", f"device lost: {event.reason}")
            log.warning("live: input device %s lost (%s)", event.device, event.reason)
        elif kind == "device_back":
            self._set("running")
            log.info("live: input device %s back after %.1f s", event.device, event.outage)
        elif kind == "error":
            log.error("live: %s", event.message)
            if event.fatal:
                self.reason = event.message
                self._wake.set()
        self.hub.publish(d)
