"""The one transcriber interface every backend sits behind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from ..options import TranscribeOptions
from ..results import Segment, TranscriptionInfo, WindowResult

AudioInput = np.ndarray | str | Path  # float32 mono 16 kHz samples, or a file to decode


@runtime_checkable
class Transcriber(Protocol):
    """Turns audio into segments. ``transcribe`` returns a lazy generator: decoding happens as it is consumed."""

    @property
    def name(self) -> str: ...

    @property
    def is_multilingual(self) -> bool: ...

    def transcribe(
        self, audio: AudioInput, options: TranscribeOptions | None = None
    ) -> tuple[Iterator[Segment], TranscriptionInfo]: ...

    def transcribe_windows(
        self, audio: AudioInput, options: TranscribeOptions | None = None, *, max_duration: float | None = None
    ) -> tuple[Iterator[WindowResult], TranscriptionInfo]: ...

    def detect_language(self, audio: AudioInput) -> tuple[str, float, list[tuple[str, float]]]: ...
