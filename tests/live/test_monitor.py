"""The shared resource sampler: process CPU, RSS, load, temperature.

CPU figures are checked against the process's own CPU clock over the same interval, not against fixed
thresholds: on a loaded machine half a second of busy loop may get a fraction of a core, and the figure must say
so rather than fail the test.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import psutil

from edge_asr.monitor import BYTES_PER_MB, ResourceSampler, read_cpu_temperature

BURN_CPU_S = 0.3  # s of this process's CPU time to burn
IDLE_S = 0.3  # s of sleeping, for a figure that must fall to what the sleep cost
# psutil reads CPU times in clock ticks (10 ms), user and system separately, at both ends of an interval.
TICK_SLACK_S = 0.04

T = TypeVar("T")


@dataclass(frozen=True)
class Marks:
    """Wall and process-CPU clocks just before and just after one call."""

    wall_before: float
    wall_after: float
    cpu_before: float
    cpu_after: float


def mark(call: Callable[[], T]) -> tuple[T, Marks]:
    w0, c0 = time.perf_counter(), time.process_time()
    result = call()
    return result, Marks(w0, time.perf_counter(), c0, time.process_time())


def percent_bounds(start: Marks, end: Marks) -> tuple[float, float]:
    """The range a correct CPU % must lie in: the sampler's interval lies between the two calls' outer marks
    and contains their inner ones; the CPU time spent in it lies between the inner and outer CPU spans."""
    outer_wall, inner_wall = end.wall_after - start.wall_before, end.wall_before - start.wall_after
    least_cpu, most_cpu = end.cpu_before - start.cpu_after, end.cpu_after - start.cpu_before
    low = max(0.0, least_cpu - TICK_SLACK_S) / outer_wall * 100.0
    high = (most_cpu + TICK_SLACK_S) / inner_wall * 100.0
    return low, high


def burn(cpu_seconds: float) -> None:
    start = time.process_time()
    x = 0
    while time.process_time() - start < cpu_seconds:
        x += 1


def test_cpu_percent_is_process_cpu_over_wall_time() -> None:
    ncpu = psutil.cpu_count() or 1
    sampler, made = mark(ResourceSampler)
    other, other_made = mark(ResourceSampler)
    burn(BURN_CPU_S)
    busy, busy_at = mark(sampler.sample)
    low, high = percent_bounds(made, busy_at)
    assert low <= busy.cpu_percent <= high, (low, busy, high)
    assert 0.0 <= busy.cpu_percent <= 100.0 * ncpu + TICK_SLACK_S / BURN_CPU_S * 100.0, busy
    assert low > 0.0  # the burn shows, whatever share of a core it got

    time.sleep(IDLE_S)  # idle on purpose: the figure is what the sleep cost, not the burn before it
    idle, idle_at = mark(sampler.sample)
    low, high = percent_bounds(busy_at, idle_at)
    assert low <= idle.cpu_percent <= high, (low, idle, high)

    # Each sampler keeps its own baseline: the second one still measures from before the burn.
    late, late_at = mark(other.sample)
    low, high = percent_bounds(other_made, late_at)
    assert low <= late.cpu_percent <= high, (low, late, high)
    assert late.cpu_percent * (late_at.wall_after - other_made.wall_before) / 100.0 >= BURN_CPU_S - TICK_SLACK_S


def test_rss_and_load_are_this_process_and_this_machine() -> None:
    sampler = ResourceSampler()
    load_before = os.getloadavg()[0]
    s = sampler.sample()
    load_after = os.getloadavg()[0]
    rss = psutil.Process().memory_info().rss / BYTES_PER_MB
    assert 0.0 < s.rss_mb < psutil.virtual_memory().total / BYTES_PER_MB
    assert abs(s.rss_mb - rss) < 0.1 * rss, (s.rss_mb, rss)  # the same process, a moment apart
    # The kernel's 1-minute figure, read between two readings of it (it changes every 5 s at most once here).
    assert min(load_before, load_after) <= s.load_avg <= max(load_before, load_after)


def test_temperature_is_absent_or_plausible() -> None:
    t = read_cpu_temperature()
    assert t is None or 0.0 < t < 130.0
    assert (ResourceSampler().sample().cpu_temp_c is None) == (t is None)
