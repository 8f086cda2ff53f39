"""Fixtures of the live-pipeline tests: a run helper, speech clips, the virtual microphone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from edge_asr.live.events import Event, Final, Partial

RUN_TIMEOUT = 120.0  # s for one pipeline run on a busy 2-core machine


def run_pipeline(transcriber: Any, source: Any, options: Any = None, timeout: float = RUN_TIMEOUT) -> list[Event]:
    """Run a pipeline over a source that ends by itself; return every event in order."""
    from edge_asr.live.pipeline import LiveOptions, LivePipeline

    events: list[Event] = []
    pipeline = LivePipeline(transcriber, source, options or LiveOptions())
    pipeline.subscribe(events.append)
    pipeline.start()
    finished = pipeline.wait(timeout)
    pipeline.stop()
    assert finished, f"the pipeline did not finish within {timeout} s"
    return events


def finals(events: list[Event]) -> list[Final]:
    """The finals a reader keeps: early finals that a later one replaces are left out (events.settle)."""
    from edge_asr.live.events import settle

    return settle(e for e in events if isinstance(e, Final))


def partials(events: list[Event]) -> list[Partial]:
    return [e for e in events if isinstance(e, Partial)]


def text_of(events: list[Event]) -> str:
    return " ".join(f.segment.text.strip() for f in finals(events))


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text)


@pytest.fixture(scope="session")
def clip_audio() -> Any:
    from edge_asr.audio import decode_audio

    cache: dict[str, np.ndarray] = {}

    def load(path: str) -> np.ndarray:
        if path not in cache:
            cache[path] = decode_audio(path)
        return cache[path]

    return load


@pytest.fixture(scope="module")
def vmic() -> Iterator[Any]:
    """A private PulseAudio with a pipe source, PULSE_SERVER set, silence fed in real time (skips without it)."""
    from .vmic import VirtualMic, available

    reason = available()
    if reason:
        pytest.skip(reason)
    mic = VirtualMic()
    mic.start()  # installed but failing to start is a failure, not a skip
    try:
        yield mic
    finally:
        mic.close()
