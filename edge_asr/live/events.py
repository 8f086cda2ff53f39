"""The one typed event stream out of the live pipeline. Front ends subscribe; the pipeline never knows who."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from ..results import Segment


def _now() -> float:
    return time.time()


@dataclass(frozen=True)
class Event:
    wall_time: float = field(default_factory=_now, kw_only=True)  # s since the epoch

    @property
    def type(self) -> str:
        return _TYPE_NAMES[type(self)]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["type"] = self.type
        return d


@dataclass(frozen=True)
class Partial(Event):
    """The utterance in progress. An empty ``text`` means it ended without a final (the hallucination guard
    dropped it): front ends clear their preview."""

    text: str  # the whole current hypothesis of the utterance in progress
    stable_text: str  # the prefix two consecutive passes agreed on
    start: float  # s from the start of the stream
    end: float  # s


@dataclass(frozen=True)
class Final(Event):
    """One utterance's text. ``segment.id`` numbers the finals of a stream (0, 1, 2...).

    A final may be published early, as the speaker pauses (streaming.py). If speech then resumes within the
    pause that would have ended the utterance, the utterance goes on, and its final later comes with ``replaces``
    = the id of that early final: its text and times cover the early one's and supersede it. Front ends show it in
    place of the early final; append-only consumers (the journal, JSONL output) write it as a new line and readers
    keep the newest line of each id (see :func:`settle`)."""

    segment: Segment  # start/end in s from the start of the stream
    latency: float = 0.0  # s from the end-of-speech decision (an early final: the pause) to publication
    replaces: int | None = None  # id of an earlier final this one supersedes

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "final",
            "id": self.segment.id,
            "replaces": self.replaces,
            "text": self.segment.text.strip(),
            "start": self.segment.start,
            "end": self.segment.end,
            "latency": self.latency,
            "avg_logprob": self.segment.avg_logprob,
            "no_speech_prob": self.segment.no_speech_prob,
            "words": None if self.segment.words is None else [asdict(w) for w in self.segment.words],
            "wall_time": self.wall_time,
        }


def settle(finals: Iterable[Final]) -> list[Final]:
    """The finals a reader ends up with: each one that a later final ``replaces`` is left out."""
    items = list(finals)
    replaced = {f.replaces for f in items if f.replaces is not None}
    return [f for f in items if f.segment.id not in replaced]


@dataclass(frozen=True)
class Level(Event):
    rms: float  # dBFS
    peak: float  # dBFS


@dataclass(frozen=True)
class Stats(Event):
    rtf: float  # decode seconds per audio second over the last interval
    latency: float  # s, last end-of-utterance latency
    drops: int  # audio blocks dropped since start
    queue_depth: int  # audio blocks waiting
    cpu_percent: float  # process CPU, % of one core
    rss_mb: float  # MiB
    load_avg: float = 0.0
    cpu_temp_c: float | None = None


@dataclass(frozen=True)
class DeviceLost(Event):
    device: str
    reason: str


@dataclass(frozen=True)
class DeviceBack(Event):
    device: str
    outage: float  # s without audio


@dataclass(frozen=True)
class Error(Event):
    message: str  # for humans
    fatal: bool = False


_TYPE_NAMES: dict[type, str] = {
    Partial: "partial",
    Final: "final",
    Level: "level",
    Stats: "stats",
    DeviceLost: "device_lost",
    DeviceBack: "device_back",
    Error: "error",
}
