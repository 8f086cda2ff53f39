"""`edge-asr bench soak --minutes N`: a real daemon under a realistic mix for N minutes, then its figures.

The daemon runs as a subprocess on a free loopback port, its "microphone" a long file of real speech played in real
time (live.file). Clients: one /v1/live WebSocket that records every final, uploads of en-dev and en-wild clips
(../shared, else the bundled clip) with a burst now and then that the queue must refuse (429 + Retry-After, the
only errors allowed), /v1/stream sessions, Server-Sent-Event subscribers that come and go, a Prometheus-style
scrape, and a SIGHUP every so often (every third one changes a live setting, so the live pipeline restarts).

Printed while it runs: RSS, open fds, threads and counts. At the end (JSON): RSS over time and its growth after
warm-up, fd and thread counts, latency percentiles, errors, and the journal's integrity: every final a client saw is
in the journal exactly once, and no final is there twice.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from ..constants import SAMPLE_RATE
from .common import demo_clip, rss_mib, shared_speech
from .daemon import HTTP_TIMEOUT, NOISE_FLOOR, Daemon
from .soak_report import SoakRun, Stats, soak_report

DEFAULT_MINUTES = 10.0
SAMPLE_EVERY = 10.0  # s between RSS/fd/thread samples
REPORT_EVERY = 60.0  # s between progress lines
UPLOADS_PER_MINUTE = 6
STREAMS_PER_MINUTE = 2
SSE_CLIENTS = 2
SSE_SESSION = (10.0, 40.0)  # s an SSE subscriber stays before it leaves (uniform)
BURST_EVERY = 300.0  # s between upload bursts
WS_TRY_AGAIN_LATER = 1013  # WebSocket close code: the server is overloaded, retry later (RFC 6455 registry)
MAX_QUEUE = 4  # the daemon's queue in the soak: a burst of BURST_SIZE must meet 429s
BURST_SIZE = 3 * MAX_QUEUE
SCRAPE_EVERY = 15.0  # s, as a Prometheus scrape
STREAM_SPEED = 2.0  # a stream client sends its audio this much faster than real time
STREAM_CHUNK = 0.25  # s of audio per WebSocket message
GAP_RANGE = (1.0, 3.0)  # s of room noise between utterances of the live file
LIVE_TAIL = 120.0  # s of live file beyond the run (a restart replays it from the start)


def clips() -> dict[str, list[Path]]:
    """Upload clips by kind: short read speech (en-dev) and long real recordings (en-wild)."""
    dev_dir, wild_dir = shared_speech("en-dev"), shared_speech("en-wild")
    dev = sorted(dev_dir.glob("*.wav")) + sorted(dev_dir.glob("*.flac")) if dev_dir else []
    wild = sorted(p for p in wild_dir.glob("*") if p.suffix in (".wav", ".mp3", ".flac")) if wild_dir else []
    fallback = [demo_clip()]
    return {"en-dev": dev or fallback, "en-wild": wild or fallback}


def write_live_file(path: Path, seconds: float, sources: list[Path]) -> None:
    """``seconds`` of real speech with room-noise pauses, written block by block (an hour is 115 MB)."""
    import soundfile as sf

    from ..audio import decode_audio

    rng = np.random.default_rng(0)
    decoded = [decode_audio(p) for p in sources]
    total, i = 0, 0
    with sf.SoundFile(str(path), "w", SAMPLE_RATE, 1, subtype="PCM_16") as f:
        while total < seconds * SAMPLE_RATE:
            gap = (rng.standard_normal(int(rng.uniform(*GAP_RANGE) * SAMPLE_RATE)) * NOISE_FLOOR).astype(np.float32)
            for block in (decoded[i % len(decoded)], gap):
                f.write(block)
                total += len(block)
            i += 1


class Soak:
    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args, self.tmp = args, tmp
        self.stop = threading.Event()
        self.stats = Stats()
        self.finals: list[dict[str, Any]] = []  # as the persistent /v1/live client saw them
        self.samples: list[dict[str, float]] = []
        self.clips = clips()
        self.rng = random.Random(1)
        self.sighups = 0
        self.in_burst = threading.Event()
        self.config = tmp / "config.toml"
        self.journal = Path(args.journal_dir) if args.journal_dir else tmp / "journal"
        self.live_file = tmp / "live.wav"

    # ---- setup --------------------------------------------------------------------------------------------
    def write_config(self, generation: int) -> None:
        interval = 0.5 if (generation // 3) % 2 == 0 else 0.6  # every third SIGHUP restarts the live pipeline
        queue = MAX_QUEUE + generation % 2  # the others change a setting that needs no restart
        self.config.write_text(
            f'[live]\nfile = "{self.live_file}"\npartial_interval = {interval}\nretry_initial = 1.0\n'
            f'[scheduler]\nmax_queue = {queue}\n[journal]\ndirectory = "{self.journal}"\n[log]\nlevel = "info"\n')

    # ---- clients ------------------------------------------------------------------------------------------
    def _every(self, period: float, fn: Callable[[], None], jitter: float = 0.3) -> None:
        while not self.stop.wait(period * self.rng.uniform(1 - jitter, 1 + jitter)):
            try:
                fn()
            except Exception as exc:  # a client failure is a finding, not the end of the soak
                self.stats.error(f"{getattr(fn, '__name__', 'client')}: {type(exc).__name__}: {exc}")

    def upload(self, path: Path | None = None, kind: str = "") -> int:
        import httpx

        kind = kind or self.rng.choice(["en-dev", "en-dev", "en-wild"])
        path = path or self.rng.choice(self.clips[kind])
        t0 = time.perf_counter()
        with path.open("rb") as f:
            r = httpx.post(f"{self.url}/v1/audio/transcriptions", files={"file": (path.name, f)},
                           timeout=HTTP_TIMEOUT)
        if r.status_code == 200:
            self.stats.count(f"upload_ok_{kind}")
            self.stats.time(f"upload_{kind}", time.perf_counter() - t0)
        elif r.status_code == 429 and int(r.headers.get("Retry-After", "0")) >= 1:
            self.stats.count("upload_429_burst" if self.in_burst.is_set() else "upload_429_steady")
        else:
            self.stats.error(f"upload {path.name}: HTTP {r.status_code} {r.text[:200]}")
        return r.status_code

    def steady_upload(self) -> None:
        self.upload()

    def burst(self) -> None:
        self.in_burst.set()
        try:
            clip = self.clips["en-dev"][0]
            with ThreadPoolExecutor(BURST_SIZE) as pool:
                codes = list(pool.map(lambda _: self.upload(clip, "en-dev"), range(BURST_SIZE)))
        finally:
            self.in_burst.clear()
        self.stats.count("bursts")
        if 429 not in codes:
            self.stats.count("bursts_without_429")

    def stream(self) -> None:
        from websockets.exceptions import ConnectionClosedError

        try:
            self._stream()
        except ConnectionClosedError as exc:
            # 1013 "try again later" is the WebSocket's 429: the transcription queue was full (a burst was being
            # served), which the daemon must refuse rather than queue without bound.
            if exc.rcvd is not None and exc.rcvd.code == WS_TRY_AGAIN_LATER:
                self.stats.count("stream_1013_burst" if self.in_burst.is_set() else "stream_1013_steady")
            else:
                raise

    def _stream(self) -> None:
        from websockets.sync.client import connect

        from ..audio import decode_audio

        clip = self.rng.choice(self.clips["en-dev"])
        pcm = (np.clip(decode_audio(clip), -1, 1) * 32767).astype("<i2").tobytes()
        step = int(STREAM_CHUNK * SAMPLE_RATE) * 2
        with connect("ws" + self.url.removeprefix("http") + "/v1/stream", open_timeout=30) as ws:
            first = json.loads(ws.recv(timeout=30))
            if first.get("type") != "ready":
                self.stats.error(f"stream: {first}")
                return
            for i in range(0, len(pcm), step):
                ws.send(pcm[i : i + step])
                time.sleep(STREAM_CHUNK / STREAM_SPEED)  # a client pacing its audio
            t0 = time.perf_counter()
            ws.send(json.dumps({"type": "end"}))
            while True:
                msg = json.loads(ws.recv(timeout=HTTP_TIMEOUT))
                if msg["type"] == "done":
                    self.stats.count("stream_ok")
                    self.stats.time("stream_end_to_done", time.perf_counter() - t0)
                    return
                if msg["type"] == "error":
                    self.stats.error(f"stream {clip.name}: {msg}")
                    return

    def sse(self) -> None:
        import httpx

        while not self.stop.is_set():
            stay = self.rng.uniform(*SSE_SESSION)
            t0 = time.monotonic()
            try:
                with httpx.stream("GET", f"{self.url}/v1/live", timeout=30) as r:
                    if r.status_code != 200:
                        self.stats.error(f"sse: HTTP {r.status_code}")
                    else:
                        for line in r.iter_lines():
                            if line.startswith("data: "):
                                self.stats.count("sse_events")
                            if time.monotonic() - t0 > stay or self.stop.is_set():
                                break
                self.stats.count("sse_sessions")
            except Exception as exc:
                if not self.stop.is_set():
                    self.stats.error(f"sse: {type(exc).__name__}: {exc}")

    def live_subscriber(self) -> None:
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.client import connect

        url = "ws" + self.url.removeprefix("http") + "/v1/live?types=final"
        while True:
            try:
                with connect(url, open_timeout=30) as ws:
                    while True:
                        try:
                            msg = json.loads(ws.recv(timeout=1.0))
                        except TimeoutError:  # builtin TimeoutError: what websockets.sync raises
                            continue
                        if msg.get("type") == "final":
                            self.finals.append(msg)
                            self.stats.time("live_eou", float(msg.get("latency") or 0.0))
            except ConnectionClosed:
                if self.stop.is_set():
                    return  # the daemon closed it on SIGTERM, after the last flush
                self.stats.error("live subscriber: connection closed")
            except OSError as exc:
                if self.stop.is_set():
                    return
                self.stats.error(f"live subscriber: {exc}")
                self.stop.wait(1.0)

    def scrape(self) -> None:
        import httpx

        r = httpx.get(f"{self.url}/metrics", timeout=30)
        if r.status_code != 200:
            self.stats.error(f"/metrics: HTTP {r.status_code}")

    def final_metrics(self) -> dict[str, float]:
        """A few of the daemon's own counters, as a dashboard would read them."""
        import httpx

        wanted = ("edge_asr_live_dropped_frames_total", "edge_asr_live_pipelines", "edge_asr_live_finals_total",
                  "edge_asr_journal_lines_total", "edge_asr_http_errors_total")
        out: dict[str, float] = {}
        with contextlib.suppress(Exception):
            for line in httpx.get(f"{self.url}/metrics", timeout=30).text.splitlines():
                name = line.split("{", 1)[0].split(" ", 1)[0]
                if name in wanted:
                    out[name] = out.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
        return out

    def sighup(self) -> None:
        self.sighups += 1
        self.write_config(self.sighups)
        self.daemon.proc.send_signal(signal.SIGHUP)

    # ---- measuring ----------------------------------------------------------------------------------------
    def sample(self, proc: Any, started: float) -> None:
        while True:
            with contextlib.suppress(Exception):
                self.samples.append({"t": round(time.monotonic() - started, 1),
                                     "rss_mib": round(rss_mib(proc.pid), 1),
                                     "fds": proc.num_fds(), "threads": proc.num_threads()})
            if self.stop.wait(SAMPLE_EVERY):
                return

    def progress(self, started: float) -> None:
        while not self.stop.wait(self.args.report_every):
            s = self.samples[-1] if self.samples else {}
            with self.stats.lock:
                counts = dict(self.stats.counts)
                errors = len(self.stats.errors)
            print(f"[{(time.monotonic() - started) / 60:5.1f} min] rss {s.get('rss_mib')} MiB, fds {s.get('fds')}, "
                  f"threads {s.get('threads')}, finals {len(self.finals)}, errors {errors}, {counts}", flush=True)

    # ---- the run ------------------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        import psutil

        seconds = self.args.minutes * 60
        write_live_file(self.live_file, seconds + LIVE_TAIL, self.clips["en-dev"] + self.clips["en-wild"])
        self.write_config(0)
        self.daemon = Daemon(["--config", str(self.config)])
        self.url = self.daemon.url
        proc = psutil.Process(self.daemon.proc.pid)
        started = time.monotonic()
        sighup_every = self.args.sighup_every or min(60.0, seconds / 4)
        workers = [
            threading.Thread(target=self.live_subscriber, daemon=True),
            threading.Thread(target=self.sample, args=(proc, started), daemon=True),
            threading.Thread(target=self.progress, args=(started,), daemon=True),
            threading.Thread(target=self._every, args=(60 / UPLOADS_PER_MINUTE, self.steady_upload), daemon=True),
            threading.Thread(target=self._every, args=(60 / STREAMS_PER_MINUTE, self.stream), daemon=True),
            threading.Thread(target=self._every, args=(min(BURST_EVERY, seconds / 2), self.burst, 0.0),
                             daemon=True),
            threading.Thread(target=self._every, args=(SCRAPE_EVERY, self.scrape, 0.0), daemon=True),
            threading.Thread(target=self._every, args=(sighup_every, self.sighup, 0.0), daemon=True),
        ] + [threading.Thread(target=self.sse, daemon=True) for _ in range(SSE_CLIENTS)]
        for w in workers:
            w.start()
        self.stop.wait(seconds)  # the soak's duration: the clients run meanwhile
        self.stop.set()
        for w in workers[1:]:
            w.join(HTTP_TIMEOUT)
        end = {"rss_mib": round(rss_mib(proc.pid), 1), "fds": proc.num_fds(),
               "threads": proc.num_threads(), "metrics": self.final_metrics()}
        code = self.daemon.stop()
        workers[0].join(30)
        from ..daemon.journal import read_journal

        records = [r for p in sorted(self.journal.glob("*.jsonl")) for r in read_journal(p)]
        return soak_report(SoakRun(self.args.minutes, seconds, self.sighups, self.stats, self.samples, self.finals,
                                   records, self.daemon.lines, code, end))


def run_soak(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="edge-asr-soak-") as tmp:
        report = Soak(args, Path(tmp)).run()
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    print("soak: " + ("all targets met" if report["ok"] else "FAILED (see errors, journal and rss above)"))
    return 0 if report["ok"] else 1


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--minutes", type=float, default=DEFAULT_MINUTES, help="how long to run (default: 10)")
    p.add_argument("--sighup-every", type=float, default=None, help="seconds between SIGHUPs (default: 60)")
    p.add_argument("--report-every", type=float, default=REPORT_EVERY, help="seconds between progress lines")
    p.add_argument("--journal-dir", default=None, help="keep the journal here (default: a temporary folder)")
    p.add_argument("--json", default=None, help="also write the final report to this file")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `edge-asr bench soak ...`."""
    parser = argparse.ArgumentParser(prog="edge-asr bench soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run_soak(parser.parse_args(list(argv) if argv is not None else None))
