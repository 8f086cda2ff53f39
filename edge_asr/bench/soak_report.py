"""What a soak run observed, and its report: RSS growth after warm-up, fd and thread counts, latency percentiles,
errors, and the journal's integrity (every final a client saw is journaled once, none twice)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from .common import median, percentile

WARMUP_FRACTION = 0.2  # of the run; RSS growth is measured from there
MIN_WARMUP = 60.0  # s
GROWTH_TARGET = 5.0  # % RSS growth after warm-up
GROWTH_MIN_MINUTES = 10.0  # shorter runs report the growth but do not judge it
DUPLICATE_WINDOW = 2.5  # s: the same final twice this close together means two live pipelines


class Stats:
    """Everything the clients observe, behind one lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.errors: list[str] = []
        self.counts: dict[str, int] = {}
        self.latency: dict[str, list[float]] = {}

    def count(self, key: str, n: int = 1) -> None:
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + n

    def time(self, key: str, seconds: float) -> None:
        with self.lock:
            self.latency.setdefault(key, []).append(seconds)

    def error(self, what: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {what}"
        print(f"soak error: {line}", flush=True)  # as it happens, not only in the final report
        with self.lock:
            self.errors.append(line)


@dataclass
class SoakRun:
    """A finished run: its settings, what the clients saw, the journal's records and the daemon's log."""

    minutes: float
    seconds: float
    sighups: int
    stats: Stats
    samples: list[dict[str, Any]]  # {"t": s, "rss_mib", "fds", "threads"} every SAMPLE_EVERY
    finals: list[dict[str, Any]]  # as the /v1/live client received them
    records: list[dict[str, Any]]  # the journal's lines
    daemon_lines: list[str]
    exit_code: int
    end: dict[str, Any]  # rss_mib, fds, threads and metrics just before the daemon was stopped


def soak_report(run: SoakRun) -> dict[str, Any]:
    """The figures and verdict of a finished run (the issue's targets: RSS growth, errors, lost or doubled finals)."""
    records, exit_code, end, seconds = run.records, run.exit_code, run.end, run.seconds

    def key(r: dict[str, Any]) -> tuple[Any, ...]:
        return (r.get("wall_time"), r["text"], r["start"])

    journaled = [key(r) for r in records]
    seen = {key(f) for f in run.finals if f.get("text")}
    lost = sorted(seen - set(journaled), key=str)
    exact_dups = len(journaled) - len(set(journaled))
    near, last = 0, dict[tuple[Any, ...], float]()
    for r in sorted(records, key=lambda r: r.get("wall_time") or 0):
        k = (r["start"], r["end"], r["text"])
        if k in last and abs((r.get("wall_time") or 0) - last[k]) < DUPLICATE_WINDOW:
            near += 1
        last[k] = r.get("wall_time") or 0
    log_errors = [line for line in run.daemon_lines
                  if line.startswith(("ERROR", "CRITICAL")) or "Traceback" in line or "never retrieved" in line]
    warm = max(MIN_WARMUP, WARMUP_FRACTION * seconds)
    after = [s["rss_mib"] for s in run.samples if s["t"] >= warm]
    base, final = median(after[: max(1, len(after) // 10)]), median(after[-max(1, len(after) // 10):])
    growth = round((final / base - 1) * 100, 2) if after else None
    lat = {k: {"n": len(v), "p50_s": round(percentile(v, 50), 3), "p95_s": round(percentile(v, 95), 3),
               "p99_s": round(percentile(v, 99), 3)} for k, v in sorted(run.stats.latency.items())}
    errors = run.stats.errors + [f"daemon log: {line}" for line in log_errors]
    if exit_code != 0:
        errors.append(f"daemon exit code {exit_code}")
    judged = run.minutes >= GROWTH_MIN_MINUTES
    ok = not errors and not lost and not exact_dups and not near and (
        not judged or (growth is not None and growth < GROWTH_TARGET))
    return {
        "minutes": run.minutes, "sighups": run.sighups, "counts": dict(sorted(run.stats.counts.items())),
        "latency": lat,
        "rss": {"warmup_s": warm, "after_warmup_mib": round(base, 1), "end_mib": round(final, 1),
                "growth_after_warmup_percent": growth, "target_percent": GROWTH_TARGET, "judged": judged,
                "max_mib": max((s["rss_mib"] for s in run.samples), default=None),
                "series": " ".join(f"{s['t'] / 60:.1f}m:{s['rss_mib']:.0f}"
                                   for s in run.samples[:: max(1, len(run.samples) // 60)])},
        "fds": {"start": run.samples[0]["fds"] if run.samples else None, "end": end["fds"],
                "max": max((s["fds"] for s in run.samples), default=None)},
        "threads": {"start": run.samples[0]["threads"] if run.samples else None, "end": end["threads"],
                    "max": max((s["threads"] for s in run.samples), default=None)},
        "journal": {"finals_seen_by_client": len(seen), "journal_lines": len(records), "lost": len(lost),
                    "duplicated": exact_dups, "near_duplicates": near,
                    "journal_only": len(set(journaled) - seen), "lost_examples": [str(x) for x in lost[:5]]},
        "daemon_metrics_at_end": end["metrics"],
        "errors": len(errors), "error_examples": errors[:20], "daemon_exit_code": exit_code, "ok": ok,
    }
