"""The streaming policy: LocalAgreement stabilisation, and finals that never wait behind partials."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from edge_asr.live.events import Final, Partial
from edge_asr.live.pipeline import LiveOptions
from edge_asr.live.sources import ArraySource
from edge_asr.live.streaming import LocalAgreement, live_options
from edge_asr.options import TranscribeOptions
from edge_asr.results import Segment, TranscriptionInfo

from .conftest import finals, partials, run_pipeline

SLOW_DECODE = 0.4  # s per decode of the slow stand-in


def test_stable_text_is_the_agreed_prefix_and_only_grows() -> None:
    la = LocalAgreement()
    assert la.update("And so") == ("And so", "")
    assert la.update("And so my fell") == ("And so my fell", "And so")
    assert la.update("And so my fellow American.") == ("And so my fellow American.", "And so my")
    # A pass that disagrees with the stable prefix cannot take it back...
    text, stable = la.update("Ants are my fellow Americans")
    assert stable == "And so my" and text.startswith(stable)
    # ...and agreement is case- and punctuation-blind, the stable words keep their first spelling.
    assert la.update("ants are my fellow Americans, ask")[1] == "And so my"
    assert la.update("And so my fellow Americans, ask not")[1] == "And so my"
    # newly agreed words take the newest spelling (that pass heard the most audio)
    assert la.update("and so my fellow americans ask not what")[1] == "And so my fellow americans ask not"


def test_live_options_keep_the_callers_choices() -> None:
    partial, final = live_options(TranscribeOptions(initial_prompt="Kennedy", word_timestamps=True))
    assert final.initial_prompt == partial.initial_prompt == "Kennedy"
    assert final.short_clip and not final.condition_on_previous_text and final.without_timestamps
    assert final.word_timestamps and not partial.word_timestamps
    assert partial.temperatures == (0.0,) and len(final.temperatures) > 1  # finals keep the fallback


class SlowTranscriber:
    """Fault injection: a decoder far slower than the real one, which also checks it is never entered twice."""

    name = "slow stand-in"
    is_multilingual = False

    def __init__(self) -> None:
        self.calls: list[tuple[float, bool]] = []  # (seconds of audio, greedy-only i.e. a partial)
        self.busy = threading.Lock()
        self.overlapped = False

    def transcribe(self, audio: Any, options: TranscribeOptions | None = None) -> tuple[Iterator[Segment], Any]:
        opts = options or TranscribeOptions()
        seconds = len(audio) / 16_000
        info = TranscriptionInfo("en", 1.0, seconds, opts)

        def run() -> Iterator[Segment]:
            if not self.busy.acquire(blocking=False):
                self.overlapped = True
                self.busy.acquire()
            try:
                time.sleep(SLOW_DECODE)  # stands in for ONNX Runtime being busy
                self.calls.append((seconds, opts.temperatures == (0.0,)))
                text = " " + " ".join(f"w{i}" for i in range(max(1, int(seconds))))
                yield Segment(0, 0.0, seconds, text, (1, 2, 3), -0.2, 1.2, 0.05)
            finally:
                self.busy.release()

        return run(), info

    def detect_language(self, audio: Any) -> tuple[str, float, list[tuple[str, float]]]:
        return "en", 1.0, [("en", 1.0)]


def test_a_slow_decoder_skips_partials_but_finals_stay_prompt(jfk_path, clip_audio) -> None:
    audio = clip_audio(str(jfk_path))[: round(5.3 * 16_000)]  # two utterances
    slow = SlowTranscriber()
    audio = np.concatenate([audio, np.zeros(16_000, np.float32)])
    events = run_pipeline(slow, ArraySource(audio, realtime=True), LiveOptions(partial_interval=0.25))
    assert not slow.overlapped, "the decoder must run one decode at a time"
    fs = finals(events)
    assert len(fs) == 2
    for f in fs:
        # The final may wait for at most the one partial already running, never for queued ones.
        assert f.latency < 2 * SLOW_DECODE + 0.2, f.latency
    greedy = [c for c in slow.calls if c[1]]
    assert greedy and len(greedy) < 5.3 / 0.25  # partials happened, and were skipped while the decoder was busy
    assert partials(events)
    for p in partials(events):
        assert isinstance(p, Partial) and p.text.startswith(p.stable_text)
    order = [type(e) for e in events if isinstance(e, Partial | Final)]
    assert order[-1] is Final
