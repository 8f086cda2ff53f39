"""End-of-speech latency and utterance splits of a `bench live` session, from the finals as a user receives them.

- **Speech end -> final**: from the clip's true end of speech (energy) to the first final that covers it, early or
  not; and to the *settled* final (after any amendment replaced it).
- **Splits**: a clip whose words arrive as more than one settled final was split; a split is *mid-sentence* when
  a final other than the clip's last does not end a sentence.
- **Amended**: early finals that speech resuming made the pipeline replace (see streaming.py).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol

from ..live.events import Final, settle
from .common import ms, percentile

# s: a final ending this close before the clip's true speech offset still covers it (the VAD's speech end, which a
# final's end is, comes before the last faint energy of the clip, which the offset is)
COVER_SLACK = 1.0
SPAN_SLACK = 0.3  # s before a clip's first sample that its first final may start (pre-roll)
SENTENCE_END = re.compile(r"[.?!…][\"')\]]*$")
PERCENTILES = (10, 50, 90, 95, 99)


class SpanLike(Protocol):
    start: float
    end: float
    offset: float


def latency_figures(finals: list[tuple[float, Final]], spans: Sequence[SpanLike], t0: float) -> dict[str, Any]:
    """``finals``: (monotonic arrival, event) as recorded; ``t0``: monotonic time of the session's first sample."""
    settled_ids = {id(e) for e in settle([e for _, e in finals])}
    first: list[float] = []
    settled: list[float] = []
    per_span: list[int] = []
    mid_sentence = 0
    for s in spans:
        mine = [(t, e) for t, e in finals if s.start - SPAN_SLACK <= e.segment.start < s.end]
        if not mine:
            continue
        speech_end = t0 + s.offset
        cover = [t for t, e in mine if e.segment.end >= s.offset - COVER_SLACK and t >= speech_end]
        if cover:
            first.append(min(cover) - speech_end)
        settled.append(mine[-1][0] - speech_end)
        kept = [e for _, e in mine if id(e) in settled_ids]
        per_span.append(len(kept))
        mid_sentence += sum(1 for e in kept[:-1] if not SENTENCE_END.search(e.segment.text.strip()))
    out: dict[str, Any] = {f"speech_end_to_final_p{q}": percentile(first, q) for q in PERCENTILES}
    out["speech_end_to_final_max"] = max(first, default=float("nan"))
    out["speech_end_to_settled_p50"] = percentile(settled, 50)
    out["speech_end_to_settled_p95"] = percentile(settled, 95)
    out["speech_end_to_final_all"] = [round(x, 3) for x in first]
    out["split_spans"] = sum(1 for n in per_span if n > 1)
    out["extra_finals"] = sum(n - 1 for n in per_span if n > 1)
    out["mid_sentence_splits"] = mid_sentence
    out["amended_finals"] = sum(1 for _, e in finals if e.replaces is not None)
    return out


def latency_report(r: dict[str, Any]) -> list[str]:
    dist = "  ".join(f"p{q} {ms(r[f'speech_end_to_final_p{q}'])}" for q in PERCENTILES)
    return [
        f"  true speech end -> final (first to cover it)  {dist}  max {ms(r['speech_end_to_final_max'])}   "
        "target p50 <= 300 ms, p95 <= 600 ms: "
        + ("ok" if r["speech_end_to_final_p50"] <= 0.3 and r["speech_end_to_final_p95"] <= 0.6 else "MISSED"),
        f"  true speech end -> settled final              p50 {ms(r['speech_end_to_settled_p50'])}  "
        f"p95 {ms(r['speech_end_to_settled_p95'])}   amended finals {r['amended_finals']}",
        f"  clips split into several finals               {r['split_spans']} ({r['extra_finals']} extra finals, "
        f"{r['mid_sentence_splits']} mid-sentence)",
    ]
