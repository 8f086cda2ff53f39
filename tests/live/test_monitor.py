"""The shared resource sampler: process CPU, RSS, load, temperature."""

from __future__ import annotations

import time

from edge_asr.monitor import ResourceSampler, read_cpu_temperature


def test_cpu_follows_work_and_rss_is_real() -> None:
    sampler = ResourceSampler()
    other = ResourceSampler()
    deadline = time.perf_counter() + 0.5
    x = 0
    while time.perf_counter() < deadline:  # half a second of one busy core
        x += 1
    busy = sampler.sample()
    assert 50.0 < busy.cpu_percent <= 200.0, busy
    assert 10.0 < busy.rss_mb < 16_000.0
    assert busy.load_avg >= 0.0
    time.sleep(0.3)  # idle on purpose: the figure must drop
    assert sampler.sample().cpu_percent < 30.0
    assert other.sample().cpu_percent > 10.0  # each sampler keeps its own baseline


def test_temperature_is_absent_or_plausible() -> None:
    t = read_cpu_temperature()
    assert t is None or 0.0 < t < 130.0
    assert (ResourceSampler().sample().cpu_temp_c is None) == (t is None)
