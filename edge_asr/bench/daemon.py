"""`edge-asr bench daemon`: idle cost, concurrent-upload latency and throughput, live latency under load, and
(with --batching) whether batching encoder calls pays on this machine. Starts real daemon subprocesses on free
loopback ports and talks to them over HTTP and WebSocket, like any client.

Without --device the "microphone" is a file played in real time through the shared live pipeline (live.file):
faint noise for the idle phase, speech clips separated by pauses for the load phase."""

from __future__ import annotations

import argparse
import io
import json
import os
import re
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
from .common import CpuWindow, demo_clip, median, percentile, rss_mib, shared_speech

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
NOISE_FLOOR = 10 ** (-65 / 20)  # -65 dBFS white noise: a quiet room, not digital silence
GAP_SECONDS = 1.5  # s of pause between utterances in the live session
SESSION_SECONDS = 90.0  # s of live session audio (replayed when it ends)
DEFAULT_BASELINE_SECONDS = 45.0  # s of live decoding measured alone, and again under sustained uploads


def _speech_files() -> list[Path]:
    dev = shared_speech("en-dev")
    files = sorted(dev.glob("LJ*.wav")) if dev else []
    return files or [demo_clip()]


def wav_bytes(audio: np.ndarray) -> bytes:
    """16-bit WAV file bytes of 16-kHz samples."""
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, audio, SAMPLE_RATE, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def _speech(seconds: float, gap: float = 0.0) -> np.ndarray:
    """Real speech ``seconds`` long (en-dev clips from ../shared, or the packaged demo clip), looped, with
    ``gap`` seconds of faint noise between clips."""
    from ..audio import decode_audio

    need = int(seconds * SAMPLE_RATE)
    rng = np.random.default_rng(0)
    parts: list[np.ndarray] = []
    total = 0
    while total < need:
        for f in _speech_files():
            parts += [decode_audio(f), (rng.standard_normal(int(gap * SAMPLE_RATE)) * NOISE_FLOOR).astype(np.float32)]
            total += len(parts[-2]) + len(parts[-1])
            if total >= need:
                break
    return np.concatenate(parts)[:need]


def speech_wav(seconds: float) -> bytes:
    """A WAV upload of ``seconds`` of real speech."""
    return wav_bytes(_speech(seconds))


def noise(seconds: float) -> np.ndarray:
    return (np.random.default_rng(1).standard_normal(int(seconds * SAMPLE_RATE)) * NOISE_FLOOR).astype(np.float32)


class LiveRecorder:
    """Subscribes to /v1/live and keeps (arrival time, end-of-utterance latency) of every final."""

    def __init__(self, url: str) -> None:
        self.finals: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._url = "ws" + url.removeprefix("http") + "/v1/live?types=final"
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from websockets.sync.client import connect

        with connect(self._url, open_timeout=30) as ws:
            while not self._stop.is_set():
                try:
                    msg = json.loads(ws.recv(timeout=1.0))
                except TimeoutError:  # builtin TimeoutError: what websockets.sync raises on every Python
                    continue
                if msg.get("type") == "final":
                    self.finals.append((time.monotonic(), float(msg["latency"])))

    def between(self, t0: float, t1: float) -> list[float]:
        return [lat for t, lat in self.finals if t0 <= t <= t1]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


class Daemon:
    """A real daemon subprocess on a free loopback port; ``url`` once it listens and its model is ready."""

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


def upload(url: str, data: bytes) -> tuple[int, float]:
    import httpx

    t0 = time.perf_counter()
    r = httpx.post(f"{url}/v1/audio/transcriptions", files={"file": ("clip.wav", data)}, timeout=HTTP_TIMEOUT)
    return r.status_code, time.perf_counter() - t0


def sustain_uploads(url: str, data: bytes, clients: int, seconds: float) -> dict[str, Any]:
    """``clients`` threads uploading back to back for ``seconds``: the load live decoding must hold up under."""
    deadline = time.monotonic() + seconds
    codes: list[int] = []

    def client() -> None:
        while time.monotonic() < deadline:
            codes.append(upload(url, data)[0])

    with ThreadPoolExecutor(clients) as pool:
        for _ in range(clients):
            pool.submit(client)
    return {"uploads": len(codes), "ok": codes.count(200), "rejected_429": codes.count(429)}


def measure_idle(url: str, pid: int, seconds: float) -> dict[str, float]:
    time.sleep(SETTLE_SECONDS)  # a benchmark's fixed measuring window, not a wait for a condition
    window = CpuWindow(pid)
    time.sleep(seconds)
    return {"idle_cpu_percent": round(window.percent(), 2), "idle_rss_mb": round(rss_mib(pid), 1)}


def measure_uploads(url: str, data: bytes, n: int) -> dict[str, Any]:
    seq_t0 = time.perf_counter()
    sequential = [upload(url, data) for _ in range(n)]
    seq_wall = time.perf_counter() - seq_t0
    con_t0 = time.perf_counter()
    with ThreadPoolExecutor(n) as pool:
        concurrent = list(pool.map(lambda _: upload(url, data), range(n)))
    con_wall = time.perf_counter() - con_t0
    lat = [t for _, t in concurrent]
    return {
        "requests": n,
        "ok_sequential": sum(c == 200 for c, _ in sequential),
        "ok_concurrent": sum(c == 200 for c, _ in concurrent),
        "sequential_wall_s": round(seq_wall, 2),
        "concurrent_wall_s": round(con_wall, 2),
        "throughput_ratio": round(seq_wall / con_wall, 2),
        "latency_p50_s": round(percentile(lat, 50), 2),
        "latency_p99_s": round(percentile(lat, 99), 2),
        "latency_max_s": round(max(lat), 2),
        "sequential_latency_p50_s": round(median(t for _, t in sequential), 2),
    }


def measure_batching() -> list[dict[str, float]]:
    """Encoder time per item at batch sizes 1, 2, 4 on the loaded model (runtime internals, in process)."""
    from ..factory import load_transcriber

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


def _latency_summary(values: list[float]) -> dict[str, Any]:
    return {"finals": len(values), "p50_s": round(percentile(values, 50), 3) if values else None,
            "p95_s": round(percentile(values, 95), 3) if values else None}


def run_bench(args: argparse.Namespace) -> int:
    import tempfile

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="edge-asr-bench-") as tmp:
        base = ["--journal-dir", str(Path(args.journal_dir) if args.journal_dir else Path(tmp) / "journal"),
                "--set", f"scheduler.max_queue={max(args.requests, 1) * 2}"]
        if args.no_live:
            mic: list[str] = ["--no-live"]
        elif args.device:
            mic = ["--device", args.device]
        else:
            silence = Path(tmp) / "room.wav"
            silence.write_bytes(wav_bytes(noise(max(args.idle_seconds + SETTLE_SECONDS + 30.0, 60.0))))
            mic = ["--set", f"live.file={silence}"]
        results["mic"] = "none" if args.no_live else (args.device or "file: -65 dBFS noise, real time")
        daemon = Daemon(base + mic)
        try:
            results.update(measure_idle(daemon.url, daemon.proc.pid, args.idle_seconds))
            results["idle_targets_met"] = (results["idle_cpu_percent"] < IDLE_CPU_TARGET
                                           and results["idle_rss_mb"] <= IDLE_RSS_TARGET)
        finally:
            results["idle_exit_code"] = daemon.stop()

        if not args.no_live and not args.device:
            session = Path(tmp) / "session.wav"
            session.write_bytes(wav_bytes(_speech(SESSION_SECONDS, GAP_SECONDS)))
            mic = ["--set", f"live.file={session}"]
        daemon = Daemon(base + mic)
        recorder = LiveRecorder(daemon.url) if not args.no_live else None
        try:
            t0 = time.monotonic()
            if recorder is not None:
                time.sleep(args.baseline_seconds)  # a fixed window of live decoding alone
            t1 = time.monotonic()
            clip = speech_wav(args.clip_seconds)
            results["uploads"] = measure_uploads(daemon.url, clip, args.requests)
            results["uploads"]["clip_s"] = args.clip_seconds
            if recorder is not None:
                t2 = time.monotonic()
                results["sustained_load"] = sustain_uploads(daemon.url, clip, args.requests, args.baseline_seconds)
                t3 = time.monotonic()
                results["live_eou_latency_alone"] = _latency_summary(recorder.between(t0, t1))
                results["live_eou_latency_during_uploads"] = _latency_summary(recorder.between(t1, t3))
                results["sustained_load"]["seconds"] = round(t3 - t2, 1)
        finally:
            if recorder is not None:
                recorder.close()
            results["load_exit_code"] = daemon.stop()
    if args.batching:
        results["encoder_batching"] = measure_batching()
    print(json.dumps(results, indent=2))
    return 0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--requests", type=int, default=DEFAULT_REQUESTS, help="concurrent uploads (default: 8)")
    p.add_argument("--clip-seconds", type=float, default=DEFAULT_CLIP_SECONDS, help="seconds per upload (10)")
    p.add_argument("--idle-seconds", type=float, default=DEFAULT_IDLE_SECONDS, help="idle window (20)")
    p.add_argument("--no-live", action="store_true", help="API only: no live pipeline at all")
    p.add_argument("--device", default=None, help="a real microphone instead of the paced file")
    p.add_argument("--baseline-seconds", type=float, default=DEFAULT_BASELINE_SECONDS,
                   help="seconds of live decoding measured alone, then under sustained uploads (45)")
    p.add_argument("--journal-dir", default=None, help="journal folder (default: a temporary one)")
    p.add_argument("--batching", action="store_true", help="also time encoder calls at batch 1, 2, 4")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `edge-asr bench daemon ...` (edge_asr.cli.bench hands over the rest of the command line)."""
    parser = argparse.ArgumentParser(prog="edge-asr bench daemon", description=__doc__)
    add_arguments(parser)
    return run_bench(parser.parse_args(list(argv) if argv is not None else None))
