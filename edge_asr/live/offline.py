"""The live pipeline run over a file as fast as it can go: what a microphone user would have seen, for evals.

The file is fed block by block through the same VAD, streaming policy and guard as a microphone, and every
decode is waited for (the pipeline is synchronous for non-realtime sources), so the result is deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..engine.base import Transcriber
from ..errors import EdgeAsrError
from ..options import TranscribeOptions
from .events import Error, Event, Final, settle
from .pipeline import LiveOptions, LivePipeline
from .sources import FileSource

RUN_TIMEOUT = 3600.0  # s one file may take through the pipeline before it counts as stalled


def live_finals(transcriber: Transcriber, path: str | Path, options: LiveOptions | None = None,
                transcribe_options: TranscribeOptions | None = None, timeout: float = RUN_TIMEOUT) -> list[Final]:
    """The finals the live pipeline leaves for ``path`` (amended early finals settled; no partials: they never
    change a final)."""
    events: list[Event] = []
    opts = options or LiveOptions(partials=False)
    pipeline = LivePipeline(transcriber, FileSource(str(path), realtime=False), opts, transcribe_options)
    pipeline.subscribe(events.append)
    pipeline.start()
    finished = pipeline.wait(timeout)
    pipeline.stop()
    if not finished:
        raise EdgeAsrError(f"{path}: the live pipeline did not finish within {timeout:.0f} s")
    fatal = [e for e in events if isinstance(e, Error) and e.fatal]
    if fatal:
        raise EdgeAsrError(f"{path}: {fatal[0].message}")
    return settle(e for e in events if isinstance(e, Final))


def finals_text(finals: Iterable[Final]) -> str:
    return " ".join(f.segment.text.strip() for f in finals)
