"""`edge-asr bench daemon`: idle cost, concurrent-upload latency and throughput, live latency under load, and
(with --batching) whether batching encoder calls pays on this machine. Starts a real daemon subprocess on a free
loopback port and talks to it over HTTP, like any client."""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from ..constants import SAMPLE_RATE

DEFAULT_REQUESTS = 8
DEFAULT_CLIP_SECONDS = 10.0  # s per upload, as the target
DEFAULT_IDLE_SECONDS = 20.0  # s of idle measurement
SETTLE_SECONDS = 3.0  # s after the model is ready before measuring idle
START_TIMEOUT = 300.0  # s (a first run builds the model)
HTTP_TIMEOUT = 600.0  # s
IDLE_CPU_TARGET = 3.0  # % of one core
IDLE_RSS_TARGET = 250.0  # MiB
LISTEN_RE = re.compile(r"listening on (http://[\d.]+:\d+)")
BATCH_SIZES = (1, 2, 4)
BATCH_REPEATS = 3
BATCH_FRAMES = 3000  # mel frames of a full 30-s window


def _clip(seconds: float) -> bytes:
    """A WAV of real speech ``seconds`` long: en-dev clips from ../shared, or the packaged demo clip, looped."""
    import soundfile as sf

    from ..audio import decode_audio

    shared = Path(__file__).resolve().parents[2].parent / "shared" / "speech" / "en-dev"
    files = sorted(shared.glob("LJ*.wav")) if shared.is_dir() else []
    if not files:
        files = [Path(__file__).resolve().parents[1] / "data" / "jfk.flac"]
    need = int(seconds * SAMPLE_RATE)
    audio = np.zeros(0, dtype=np.float32)
    while len(audio) < need:
        for f in files:
            audio = np.concatenate([audio, decode_audio(f)])
            if len(audio) >= need:
                break
    buf = io.BytesIO()
    sf.write(buf, audio[:need], SAMPLE_RATE, format="WAV", subtype="PCM_16")
    return buf.getvalue()


class _Daemon:
    def __init__(self, extra: list[str]) -> None:
        root = Path(__file__).resolve().parents[2]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))
        self.proc = subprocess.Popen([sys.executable, "-m", "edge_asr.daemon", "--port", "0", *extra],
                                     env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.url = ""
        self._ready = threading.Event()
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        if not self._ready.wait(START_TIMEOUT) or not self.url:
            self.stop()
            raise RuntimeError("the daemon did not start:\n" + "\n".join(self.lines[-30:]))

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())
            m = LISTEN_RE.search(line)
            if m:
                self.url = m.group(1)
            if "ready in" in line or "cannot load the model" in line:
                self._ready.set()
        self._ready.set()

    def stop(self) -> int:
        self.proc.terminate()
        return self.proc.wait(60)


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q)) if values else float("nan")


def _upload(url: str, data: bytes) -> tuple[int, float]:
    import httpx

    t0 = time.perf_counter()
    r = httpx.post(f"{url}/v1/audio/transcriptions", files={"file": ("clip.wav", data)}, timeout=HTTP_TIMEOUT)
    return r.status_code, time.perf_counter() - t0


def _eou(url: str) -> tuple[float, float]:
    """(count, sum) of the live end-of-utterance latency histogram."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    count = total = 0.0
    for fam in text_string_to_metric_families(httpx.get(f"{url}/metrics", timeout=30).text):
        for s in fam.samples:
            if s.name == "edge_asr_live_end_of_utterance_latency_seconds_count":
                count = s.value
            elif s.name == "edge_asr_live_end_of_utterance_latency_seconds_sum":
                total = s.value
    return count, total


def measure_idle(url: str, pid: int, seconds: float) -> dict[str, float]:
    import psutil

    proc = psutil.Process(pid)
    time.sleep(SETTLE_SECONDS)  # a benchmark's fixed measuring window, not a wait for a condition
    c0, t0 = proc.cpu_times(), time.monotonic()
    time.sleep(seconds)
    c1, t1 = proc.cpu_times(), time.monotonic()
    cpu = (c1.user + c1.system - c0.user - c0.system) / (t1 - t0) * 100
    return {"idle_cpu_percent": round(cpu, 2), "idle_rss_mb": round(proc.memory_info().rss / 2**20, 1)}


def measure_uploads(url: str, data: bytes, n: int) -> dict[str, Any]:
    seq_t0 = time.perf_counter()
    sequential = [_upload(url, data) for _ in range(n)]
    seq_wall = time.perf_counter() - seq_t0
    eou_before = _eou(url)
    con_t0 = time.perf_counter()
    with ThreadPoolExecutor(n) as pool:
        concurrent = list(pool.map(lambda _: _upload(url, data), range(n)))
    con_wall = time.perf_counter() - con_t0
    eou_after = _eou(url)
    lat = [t for _, t in concurrent]
    live_n = eou_after[0] - eou_before[0]
    return {
        "requests": n,
        "ok_sequential": sum(c == 200 for c, _ in sequential),
        "ok_concurrent": sum(c == 200 for c, _ in concurrent),
        "sequential_wall_s": round(seq_wall, 2),
        "concurrent_wall_s": round(con_wall, 2),
        "throughput_ratio": round(seq_wall / con_wall, 2),
        "latency_p50_s": round(_percentile(lat, 50), 2),
        "latency_p99_s": round(_percentile(lat, 99), 2),
        "latency_max_s": round(max(lat), 2),
        "sequential_latency_p50_s": round(statistics.median(t for _, t in sequential), 2),
        "live_finals_during_load": int(live_n),
        "live_eou_latency_mean_s": round((eou_after[1] - eou_before[1]) / live_n, 3) if live_n else None,
    }


def measure_batching() -> list[dict[str, float]]:
    """Encoder time per item at batch sizes 1, 2, 4 on the loaded model (runtime internals, in process)."""
    from ..engine import load_transcriber

    rt = load_transcriber().runtime  # type: ignore[attr-defined]
    mel = (np.random.default_rng(0).standard_normal((1, 80, BATCH_FRAMES)) * 0.3).astype(np.float32)
    rt.encode(mel)
    out = []
    for b in BATCH_SIZES:
        batch = np.repeat(mel, b, axis=0)
        times = []
        for _ in range(BATCH_REPEATS):
            t0 = time.perf_counter()
            rt.encode(batch)
            times.append(time.perf_counter() - t0)
        out.append({"batch": b, "ms_per_item": round(min(times) / b * 1000, 1)})
    return out


def run_bench(args: argparse.Namespace) -> int:
    results: dict[str, Any] = {}
    extra = ["--journal-dir", str(Path(args.journal_dir))] if args.journal_dir else []
    if not args.live:
        extra.append("--no-live")
    if args.device:
        extra += ["--device", args.device]
    extra += ["--set", f"scheduler.max_queue={max(args.requests, 1) * 2}"]
    daemon = _Daemon(extra)
    try:
        results["url"] = daemon.url
        results["live"] = bool(args.live)
        results.update(measure_idle(daemon.url, daemon.proc.pid, args.idle_seconds))
        results["idle_targets_met"] = (results["idle_cpu_percent"] < IDLE_CPU_TARGET
                                       and results["idle_rss_mb"] <= IDLE_RSS_TARGET)
        results["uploads"] = measure_uploads(daemon.url, _clip(args.clip_seconds), args.requests)
        results["uploads"]["clip_s"] = args.clip_seconds
    finally:
        results["exit_code"] = daemon.stop()
    if args.batching:
        results["encoder_batching"] = measure_batching()
    print(json.dumps(results, indent=2))
    return 0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--requests", type=int, default=DEFAULT_REQUESTS, help="concurrent uploads (default: 8)")
    p.add_argument("--clip-seconds", type=float, default=DEFAULT_CLIP_SECONDS, help="seconds per upload (10)")
    p.add_argument("--idle-seconds", type=float, default=DEFAULT_IDLE_SECONDS, help="idle window (20)")
    p.add_argument("--live", action="store_true", help="run with the microphone open (default: API only)")
    p.add_argument("--device", default=None, help="microphone for --live")
    p.add_argument("--journal-dir", default=None, help="journal folder for --live (default: the state dir)")
    p.add_argument("--batching", action="store_true", help="also time encoder calls at batch 1, 2, 4")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("daemon", help="daemon benchmark: idle cost, concurrent uploads, live latency under load")
    add_arguments(p)
    p.set_defaults(func=run_bench)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `edge-asr bench daemon ...` (edge_asr.cli.bench hands over the remaining arguments)."""
    parser = argparse.ArgumentParser(prog="edge-asr bench daemon", description=__doc__)
    add_arguments(parser)
    return run_bench(parser.parse_args(list(argv) if argv is not None else None))
