"""Progress people can read: percent, elapsed, time left and speed, as text. No Qt here.

Time left is extrapolated from the rate so far, and only once there is enough of it to mean something
(a few percent done and a second elapsed); before that it says so rather than guess.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

_SECONDS_PER_MINUTE = 60
_SECONDS_PER_HOUR = 3600
MIN_FRACTION_FOR_ETA = 0.02  # below this the extrapolated time left is noise
MIN_ELAPSED_FOR_ETA_S = 1.0  # s


def format_duration(seconds: float) -> str:
    """``0:07``, ``12:34``, ``1:02:03``: whole seconds, like a media player."""
    total = max(0, round(seconds))
    h, rest = divmod(total, _SECONDS_PER_HOUR)
    m, s = divmod(rest, _SECONDS_PER_MINUTE)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


@dataclass(frozen=True)
class ProgressSnapshot:
    fraction: float  # 0..1
    elapsed_s: float
    remaining_s: float | None  # None: not known yet
    speed: float | None = None  # audio seconds per wall second (x real time); None for non-audio work

    @property
    def percent(self) -> int:
        return int(self.fraction * 100)  # floor: "100 %" only when it is done

    def text(self, *, done: bool = False) -> str:
        """``43 % · 0:05 elapsed · about 0:07 left · 2.1× real time``; when done, ``done in 0:12 · 2.1× real time``."""
        parts = [f"done in {format_duration(self.elapsed_s)}"] if done else [
            f"{self.percent} %", f"{format_duration(self.elapsed_s)} elapsed",
            "estimating time left" if self.remaining_s is None else f"about {format_duration(self.remaining_s)} left",
        ]
        if self.speed is not None:
            parts.append(f"{self.speed:.1f}× real time")
        return " · ".join(parts)


class ProgressClock:
    """Turns fractions reported over time into snapshots; ``clock`` is injectable for tests."""

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self._clock = clock or time.monotonic
        self.started = self._clock()
        self.fraction = 0.0
        self.audio_done_s: float | None = None

    def update(self, fraction: float, audio_done_s: float | None = None) -> None:
        self.fraction = min(1.0, max(self.fraction, fraction))  # never goes backwards on screen
        if audio_done_s is not None:
            self.audio_done_s = audio_done_s

    def snapshot(self, elapsed_s: float | None = None) -> ProgressSnapshot:
        elapsed = self._clock() - self.started if elapsed_s is None else elapsed_s
        f = self.fraction
        remaining = None
        if f >= 1.0:
            remaining = 0.0
        elif f >= MIN_FRACTION_FOR_ETA and elapsed >= MIN_ELAPSED_FOR_ETA_S:
            remaining = elapsed * (1.0 - f) / f
        speed = None
        if self.audio_done_s is not None and elapsed > 0:
            speed = self.audio_done_s / elapsed
        return ProgressSnapshot(f, elapsed, remaining, speed)
