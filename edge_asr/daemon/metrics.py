"""Prometheus metrics of the daemon, in a registry of its own (so tests and embedders never collide).

Latency percentiles (p50/p99) come from the histograms with ``histogram_quantile`` on the server side.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

import psutil
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)

from .scheduler import Job, JobResult

log = logging.getLogger(__name__)

NAMESPACE = "edge_asr"
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)  # s
RTF_BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 5.0)  # model s per audio s
EOU_BUCKETS = (0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)  # s
CONTENT_TYPE = CONTENT_TYPE_LATEST


def cpu_temperature() -> float:
    """Highest CPU/SoC temperature in degrees C, or NaN when the board exposes none (containers, VMs)."""
    try:
        sensors = psutil.sensors_temperatures()
    except (AttributeError, OSError):
        return float("nan")
    readings = [t.current for entries in sensors.values() for t in entries if t.current is not None]
    return max(readings) if readings else float("nan")


class Metrics:
    def __init__(self) -> None:
        disable_created_metrics()  # the *_created series double the output and no dashboard reads them
        self.registry = CollectorRegistry()
        r, ns = self.registry, NAMESPACE
        ProcessCollector(registry=r)  # process_cpu_seconds_total, process_resident_memory_bytes, ...
        PlatformCollector(registry=r)
        self.requests = Counter("http_requests", "HTTP requests and WebSocket sessions by route and status",
                                ["route", "method", "status"], namespace=ns, registry=r)
        self.errors = Counter("http_errors", "Requests answered with an error, by route and kind",
                              ["route", "kind"], namespace=ns, registry=r)
        self.latency = Histogram("http_request_duration_seconds", "Time to answer a request, by route",
                                 ["route"], buckets=LATENCY_BUCKETS, namespace=ns, registry=r)
        self.rtf = Histogram("transcription_rtf", "Model seconds per audio second of a finished job, by source",
                             ["source"], buckets=RTF_BUCKETS, namespace=ns, registry=r)
        self.audio_seconds = Counter("audio_seconds", "Seconds of audio transcribed, by source",
                                     ["source"], namespace=ns, registry=r)
        self.queue_wait = Histogram("scheduler_wait_seconds", "Time a job waited for the model, by source",
                                    ["source"], buckets=LATENCY_BUCKETS, namespace=ns, registry=r)
        self.queue_depth = Gauge("scheduler_queue_depth", "Jobs waiting or running, by source",
                                 ["source"], namespace=ns, registry=r)
        self.rejected = Counter("scheduler_rejected", "Jobs refused (queue full, shutting down), by reason",
                                ["reason"], namespace=ns, registry=r)
        self.jobs = Counter("scheduler_jobs", "Finished jobs by source and outcome", ["source", "outcome"],
                            namespace=ns, registry=r)
        self.eou_latency = Histogram("live_end_of_utterance_latency_seconds",
                                     "Live: end of speech to the final transcript", buckets=EOU_BUCKETS,
                                     namespace=ns, registry=r)
        self.live_finals = Counter("live_finals", "Live final segments published", namespace=ns, registry=r)
        self.dropped_frames = Counter("live_dropped_frames", "Live audio blocks dropped (capture overruns)",
                                      namespace=ns, registry=r)
        self.mic_available = Gauge("live_mic_available", "1 when the microphone is capturing, else 0",
                                   namespace=ns, registry=r)
        self.live_clients = Gauge("live_clients", "Subscribers of /v1/live", namespace=ns, registry=r)
        self.stream_sessions = Gauge("stream_sessions", "Open /v1/stream sessions", namespace=ns, registry=r)
        self.journal_lines = Counter("journal_lines", "Lines appended to the journal", namespace=ns, registry=r)
        self.live_pipelines = Gauge("live_pipelines", "Live pipelines running (more than 1 is a bug)",
                                    namespace=ns, registry=r)
        self.closed_connections = Counter("closed_connections", "Connections the server closed on a limit, by reason "
                                          "(header_timeout, too_many)", ["reason"], namespace=ns, registry=r)
        self.ws_closed = Counter("websocket_limit_closes", "WebSocket and SSE sessions closed on a limit, by route "
                                 "and reason (idle, session_limit, unread)", ["route", "reason"],
                                 namespace=ns, registry=r)
        self.model_load = Gauge("model_load_seconds", "Time to build or load the model at start", namespace=ns,
                                registry=r)
        self.model_ready = Gauge("model_ready", "1 once the model is loaded", namespace=ns, registry=r)
        cpu = Gauge("process_cpu_percent", "Process CPU since the last scrape, % of one core", namespace=ns,
                     registry=r)
        proc = psutil.Process(os.getpid())
        proc.cpu_percent(None)  # primes the counter: the next call measures since now
        cpu.set_function(lambda: proc.cpu_percent(None))
        rss = Gauge("process_rss_bytes", "Resident memory of the daemon", namespace=ns, registry=r)
        rss.set_function(lambda: float(proc.memory_info().rss))
        temp = Gauge("cpu_temperature_celsius", "Highest CPU/SoC temperature (NaN when not exposed)",
                     namespace=ns, registry=r)
        temp.set_function(cpu_temperature)
        self._last_drops = 0

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def observe_job(self, job: Job, result: JobResult | None, error: BaseException | None) -> None:
        """Scheduler observer: rtf, audio seconds, queue wait and outcome of every finished job."""
        source = job.priority.name.lower()
        if result is not None:
            self.jobs.labels(source, "ok").inc()
            self.audio_seconds.labels(source).inc(job.duration)
            self.queue_wait.labels(source).observe(result.waited)
            if job.duration > 0:
                self.rtf.labels(source).observe(result.busy / job.duration)
        elif error is not None:
            self.jobs.labels(source, type(error).__name__).inc()
        else:
            self.jobs.labels(source, "ok").inc()

    def set_depth_source(self, depth: Callable[[], dict[str, int]]) -> None:
        """Read the queue depth from the scheduler at scrape time."""
        for name in ("live", "stream", "upload"):
            self.queue_depth.labels(name).set_function(lambda n=name: float(depth().get(n, 0)))  # type: ignore[misc]

    def set_total_drops(self, drops: int) -> None:
        """The live pipeline reports drops since its start; the counter only moves forward."""
        if drops > self._last_drops:
            self.dropped_frames.inc(drops - self._last_drops)
        self._last_drops = drops

    def reset_drop_base(self) -> None:
        self._last_drops = 0  # a restarted pipeline counts from zero again
