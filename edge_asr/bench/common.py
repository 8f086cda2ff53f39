"""The measuring helpers every benchmark shares: fresh processes with their own peak RSS, /proc memory readings,
CPU over a window, medians and percentiles, encoder/decoder timing, and fixed-width tables.

Standard library only at import time (psutil and the engine types load when used), so importing it does not
move the figures it measures.
"""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import numpy as np

    from ..engine.runtime import KV, ModelRuntime, StepOutput

KIB = 1024  # bytes
MIB = 1024 * 1024  # bytes
KB_PER_MIB = 1024  # /proc/*/status reports kB
HWM_POLL = 0.02  # s between reads of a child's peak RSS while it runs
_MEMORY_FIELDS = ("VmRSS", "VmHWM", "RssAnon", "RssFile")
SHARED_ENV = "EDGE_ASR_SHARED"  # where ../shared is when it is not beside the checkout


# -- the audio a benchmark plays ----------------------------------------------------------------------------------
def shared_speech(corpus: str) -> Path | None:
    """``speech/CORPUS`` of ../shared (real speech with references: en-dev, en-wild, multilingual-dev): from
    $EDGE_ASR_SHARED, else beside this checkout or the working directory; None when there is none (an installation)."""
    env = os.environ.get(SHARED_ENV)
    roots = [Path(env)] if env else [Path(__file__).resolve().parents[3] / "shared", Path.cwd().parent / "shared"]
    return next((r / "speech" / corpus for r in roots if (r / "speech" / corpus).is_dir()), None)


def demo_clip() -> Path:
    """The packaged demo clip (jfk.flac, 11 s of speech)."""
    import importlib.resources

    return Path(str(importlib.resources.files("edge_asr.data").joinpath("jfk.flac")))


# -- statistics ---------------------------------------------------------------------------------------------------
def median(values: Iterable[float]) -> float:
    """The median; NaN for no values (a table cell, not an exception)."""
    xs = list(values)
    return statistics.median(xs) if xs else float("nan")


def percentile(values: Iterable[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation, as numpy's default; NaN for no values."""
    xs = sorted(values)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * q / 100.0
    lo = math.floor(k)
    hi = min(lo + 1, len(xs) - 1)
    return float(xs[lo] + (xs[hi] - xs[lo]) * (k - lo))


# -- memory and CPU of a process ----------------------------------------------------------------------------------
def proc_memory(pid: int | str = "self") -> dict[str, float]:
    """VmRSS, VmHWM (peak), RssAnon and RssFile of a process in MiB, from /proc/PID/status (Linux)."""
    out: dict[str, float] = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in _MEMORY_FIELDS:
                out[key] = int(value.split()[0]) / KB_PER_MIB
    return out


def rss_mib(pid: int | str = "self") -> float:
    return proc_memory(pid)["VmRSS"]


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU seconds of a process (this one by default), all its threads."""
    import psutil

    t = psutil.Process(pid).cpu_times()
    return float(t.user + t.system)


class CpuWindow:
    """CPU of a process over a stretch of wall time, as a percentage of one core: start, then ``percent()``."""

    def __init__(self, pid: int | None = None) -> None:
        self.pid = pid
        self.cpu0, self.wall0 = cpu_seconds(pid), time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.wall0

    def percent(self) -> float:
        cpu, wall = cpu_seconds(self.pid) - self.cpu0, self.elapsed()
        return 100.0 * cpu / wall if wall > 0 else float("nan")


def watch_peak(pid: int) -> Callable[[], float]:
    """Poll a child's VmHWM while it runs; the returned function stops polling and gives the peak in MiB (NaN if
    never read). Its own peak: ru_maxrss of a child also counts our pages it shared between fork and exec."""
    peak = [0.0]
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            try:
                peak[0] = max(peak[0], proc_memory(pid).get("VmHWM", 0.0))
            except (OSError, ValueError):
                return  # the child is gone
            stop.wait(HWM_POLL)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()

    def result() -> float:
        stop.set()
        thread.join()
        return peak[0] if peak[0] else float("nan")

    return result


# A child's ru_maxrss counts the parent's pages it shared between fork and exec, so a child measures its own
# peak (VmHWM of its post-exec address space) at exit and writes it to the file named in this variable.
_HWM_ENV = "EDGE_ASR_BENCH_HWM_FILE"
SPAWNED_AT_ENV = "EDGE_ASR_BENCH_SPAWNED_AT"  # time.time() just before run_process spawns the process
_HWM_WRAPPER = """
import atexit, os, runpy, sys
def _report():
    with open("/proc/self/status") as f:
        kb = next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))
    with open(os.environ["EDGE_ASR_BENCH_HWM_FILE"], "w") as f:
        f.write(str(kb))
atexit.register(_report)
code, sys.argv = sys.argv[1], sys.argv[1:]
if code == "-m":
    sys.argv = sys.argv[1:]
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
else:
    exec(compile(code, "<bench>", "exec"), {"__name__": "__main__"})
"""


class ProcessRun(NamedTuple):
    wall_s: float
    peak_mib: float  # VmHWM of the child itself
    stdout: str


def run_process(args: list[str]) -> ProcessRun:
    """Wall seconds, peak RSS (MiB) and stdout of a fresh Python running ``args`` (``-m mod ...`` or ``code ...``);
    raises RuntimeError when it fails."""
    with tempfile.TemporaryDirectory() as tmp:
        hwm = Path(tmp) / "hwm"
        t = time.perf_counter()
        env = {**os.environ, _HWM_ENV: str(hwm), SPAWNED_AT_ENV: repr(time.time())}
        proc = subprocess.run([sys.executable, "-c", _HWM_WRAPPER, *args], capture_output=True, text=True, env=env)
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            raise RuntimeError(f"{args[:3]} exited with {proc.returncode}: {proc.stderr.strip()[-400:]}")
        peak = int(hwm.read_text()) / KB_PER_MIB if hwm.exists() else float("nan")
    return ProcessRun(wall, peak, proc.stdout)


# -- time inside the engine ---------------------------------------------------------------------------------------
class TimedRuntime:
    """Wraps a ModelRuntime and adds up the seconds spent in the encoder and the decoder."""

    def __init__(self, inner: ModelRuntime) -> None:
        self.inner = inner
        self.backend, self.providers = inner.backend, inner.providers
        self.n_text_layer, self.n_text_head, self.d_head = inner.n_text_layer, inner.n_text_head, inner.d_head
        self.encoder_s = 0.0
        self.decoder_s = 0.0

    def encode(self, mel: np.ndarray) -> KV:
        t = time.perf_counter()
        try:
            return self.inner.encode(mel)
        finally:
            self.encoder_s += time.perf_counter() - t

    def decode(self, tokens: np.ndarray, cache: KV | None, cross: KV, logits_start: int) -> StepOutput:
        t = time.perf_counter()
        try:
            return self.inner.decode(tokens, cache, cross, logits_start)
        finally:
            self.decoder_s += time.perf_counter() - t


# -- tables -------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    title: str
    width: int  # characters; 0: as wide as the cell (a last, free-text column)
    spec: str = ""  # a number's format ("7.2f" without the width: ".2f", "+.1f"); "" = text, left-aligned, cut


def _cell(col: Column, value: object) -> str:
    if not col.spec:
        text = str(value)
        return f"{text[: col.width]:<{col.width}}" if col.width else text
    if isinstance(value, str):  # "n/a" in a column of numbers
        return f"{value:>{col.width}}"
    sign, rest = ("+", col.spec[1:]) if col.spec.startswith("+") else ("", col.spec)
    return format(value, f">{sign}{col.width}{rest}")


def ms(seconds: float) -> str:
    """Seconds as whole milliseconds for a report line; "n/a" for NaN (no such event in the run)."""
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.0f} ms"


def table(columns: Sequence[Column], rows: Iterable[Sequence[object]]) -> list[str]:
    """A header line and one line per row: text columns left-aligned, numbers right-aligned."""
    header = " ".join(f"{c.title:<{c.width}}" if not c.spec else f"{c.title:>{c.width}}" for c in columns)
    lines = [header.rstrip()]
    for row in rows:
        lines.append(" ".join(_cell(c, v) for c, v in zip(columns, row, strict=True)).rstrip())
    return lines
