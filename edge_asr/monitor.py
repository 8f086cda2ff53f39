"""Resource figures of this process and its machine (psutil), shared by the live pipeline, the GUI and the daemon
so that every front end shows the same numbers."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

import psutil

log = logging.getLogger(__name__)

BYTES_PER_MB = 1024 * 1024
TEMP_REFRESH = 5.0  # s between temperature reads: sysfs thermal zones can take milliseconds each
# Sensor names as psutil reports them, most specific first: x86 packages, AMD, Raspberry Pi / ARM SoCs, ACPI.
CPU_SENSORS = ("coretemp", "k10temp", "zenpower", "cpu_thermal", "cpu-thermal", "soc_thermal", "cpu0_thermal",
               "scpi_sensors", "acpitz")


@dataclass(frozen=True)
class ResourceSample:
    cpu_percent: float  # process CPU since the previous sample, % of one core (200 = two cores busy)
    rss_mb: float  # resident set size, MiB
    load_avg: float  # 1-minute system load average
    cpu_temp_c: float | None  # CPU temperature, degrees C; None when the board exposes none


def read_cpu_temperature() -> float | None:
    """The hottest reading of the best-known CPU sensor, or None (no sensors, or not Linux/FreeBSD)."""
    read = getattr(psutil, "sensors_temperatures", None)
    if read is None:
        return None
    try:
        sensors = read()
    except (OSError, RuntimeError) as exc:  # unreadable sysfs nodes on some boards
        log.debug("temperature sensors unreadable: %s", exc)
        return None
    for name in (*CPU_SENSORS, *sorted(sensors)):
        readings = [t.current for t in sensors.get(name, ()) if t.current is not None and t.current > 0]
        if readings:
            return float(max(readings))
    return None


class ResourceSampler:
    """Call :meth:`sample` at any interval; CPU % is measured over the time since the previous call.

    Each sampler keeps its own baseline, so several of them (pipeline, GUI poller) do not disturb one another.
    """

    def __init__(self, pid: int | None = None) -> None:
        self._proc = psutil.Process(pid or os.getpid())
        self._proc.cpu_percent(None)  # sets the baseline; the first real figure comes from the next call
        self._temp: float | None = None
        self._temp_at = -TEMP_REFRESH

    def sample(self) -> ResourceSample:
        with self._proc.oneshot():
            cpu = self._proc.cpu_percent(None)
            rss = self._proc.memory_info().rss / BYTES_PER_MB
        now = time.monotonic()
        if now - self._temp_at >= TEMP_REFRESH:
            self._temp, self._temp_at = read_cpu_temperature(), now
        try:
            load = os.getloadavg()[0]
        except OSError:  # not available on this platform
            load = 0.0
        return ResourceSample(float(cpu), float(rss), float(load), self._temp)
