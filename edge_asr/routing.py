"""Language routing: several models behind one Transcriber, the language deciding which one decodes.

A route table such as ``en=tiny.en,*=base`` sends English to the small English-only model and everything
else to the multilingual one. The language is the one the request names, else the one a multilingual
model (the detector) hears in the first seconds of the audio. With ``redetect`` a long file is cut at
pauses into pieces of at most one Whisper window and every piece is detected and routed on its own, for
recordings that switch language.

Core module: no Qt, no web framework. Shells build a router with ``load_router`` (or through
``EngineOptions(routes=...)`` and ``load_transcriber``) and pass ``RoutedOptions`` to choose a model or
per-piece detection for one request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .constants import CHUNK_LENGTH, LANGUAGE_DETECT_SECONDS, SAMPLE_RATE
from .engine.base import AudioInput, Transcriber
from .errors import AudioTooLong, ConfigError
from .options import EngineOptions, TranscribeOptions
from .results import Segment, TranscriptionInfo, WindowResult
from .route_table import ANY, SUGGESTED_ROUTES, RouteTable

log = logging.getLogger(__name__)

ENGLISH = "en"
PIECE_SECONDS = float(CHUNK_LENGTH)  # s: a re-detected piece is at most one window
PIECE_SEARCH = 10.0  # s before a piece's end searched for the quietest place to cut
QUIET_BLOCK = SAMPLE_RATE // 10  # samples (100 ms) over which loudness is compared when cutting


@dataclass(frozen=True)
class RoutedOptions(TranscribeOptions):
    """TranscribeOptions plus what a router honours: a model chosen by the request, per-piece detection."""

    model: str | None = None  # one of the router's models; None: route by language
    redetect: bool = False  # detect (and route) every piece of a long file separately
    detect_seconds: float = LANGUAGE_DETECT_SECONDS  # s of audio the detection reads

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.detect_seconds <= 0:
            raise ConfigError(f"detect_seconds must be positive, not {self.detect_seconds}")


def routed_options(base: TranscribeOptions, **changes: Any) -> RoutedOptions:
    """``base`` as RoutedOptions with ``changes`` applied."""
    fields = {k: getattr(base, k) for k in TranscribeOptions.__dataclass_fields__}
    if isinstance(base, RoutedOptions):
        fields.update(model=base.model, redetect=base.redetect, detect_seconds=base.detect_seconds)
    fields.update(changes)
    return RoutedOptions(**fields)


def quiet_cuts(samples: np.ndarray, piece: float = PIECE_SECONDS, search: float = PIECE_SEARCH) -> list[int]:
    """Sample offsets that cut ``samples`` into pieces of at most ``piece`` s, each cut at the quietest 100 ms
    of the last ``search`` s of its piece (a pause between sentences, where a language switch happens)."""
    n, size, window = len(samples), int(piece * SAMPLE_RATE), int(min(search, piece / 2) * SAMPLE_RATE)
    cuts, start = [0], 0
    while n - start > size:
        lo, hi = start + size - window, start + size
        blocks = (hi - lo) // QUIET_BLOCK
        energy = (samples[lo : lo + blocks * QUIET_BLOCK].astype(np.float64) ** 2).reshape(blocks, QUIET_BLOCK)
        start = lo + int(np.argmin(energy.mean(axis=1))) * QUIET_BLOCK + QUIET_BLOCK // 2
        cuts.append(start)
    return cuts


class RoutedTranscriber:
    """A Transcriber over several loaded models, routing each request (or piece) by language."""

    def __init__(self, table: RouteTable, transcribers: Mapping[str, Transcriber]) -> None:
        missing = [m for m in table.models if m not in transcribers]
        if missing:
            raise ConfigError(f"route table {table} names models that are not loaded: {', '.join(missing)}")
        self.table, self.transcribers = table, dict(transcribers)
        detectors = [m for m in (table.model_for(ANY), *table.models) if m and self.transcribers[m].is_multilingual]
        if not detectors:
            raise ConfigError(
                f"route table {table} has no multilingual model to detect the language with; "
                "add one, e.g. '*=base' (pip install 'edge-asr[base]')"
            )
        self.detector_name = detectors[0]
        self.detector = self.transcribers[self.detector_name]

    @property
    def name(self) -> str:
        return str(self.table)

    @property
    def is_multilingual(self) -> bool:
        return True

    @property
    def models(self) -> tuple[str, ...]:
        return self.table.models

    def detect_language(
        self, audio: AudioInput, seconds: float = LANGUAGE_DETECT_SECONDS
    ) -> tuple[str, float, list[tuple[str, float]]]:
        from .transcribe import WhisperTranscriber

        if isinstance(self.detector, WhisperTranscriber):
            return self.detector.detect_language(audio, seconds)
        return self.detector.detect_language(audio)

    def route(self, language: str, task: str = "transcribe") -> str:
        """The model for ``language``; a translation never goes to an English-only model unless it is English."""
        model = self.table.model_for(language) or self.detector_name
        if language != ENGLISH and not self.transcribers[model].is_multilingual:
            log.warning("route %s=%s is English-only; using %s", language, model, self.detector_name)
            model = self.detector_name
        return model

    def transcribe(
        self, audio: AudioInput, options: TranscribeOptions | None = None
    ) -> tuple[Iterator[Segment], TranscriptionInfo]:
        windows, info = self.transcribe_windows(audio, options)
        return (seg for w in windows for seg in w.segments), info

    def transcribe_windows(
        self, audio: AudioInput, options: TranscribeOptions | None = None, *, max_duration: float | None = None
    ) -> tuple[Iterator[WindowResult], TranscriptionInfo]:
        """Detect (unless the request names the language), then the routed model's windows. Files stream through
        as they do for one model; only per-piece re-detection holds the whole signal in memory."""
        opts = options or TranscribeOptions()
        model = getattr(opts, "model", None)
        if model is not None and model not in self.transcribers:
            raise ConfigError(f"model {model!r} is not loaded here; loaded: {', '.join(self.transcribers)}")
        if getattr(opts, "redetect", False):
            from .transcribe import as_samples

            samples = as_samples(audio)
            duration = len(samples) / SAMPLE_RATE
            if max_duration is not None and duration > max_duration:
                raise AudioTooLong(str(audio) if isinstance(audio, (str, Path)) else "audio", duration, max_duration)
            if duration > PIECE_SECONDS:
                return self._pieces(samples, opts)
            audio = samples
        return self._one(audio, opts, 0.0, max_duration)

    def _choose(self, audio: AudioInput, opts: TranscribeOptions) -> tuple[str, str, float, tuple[Any, ...] | None]:
        """(model, language, probability, all probabilities) for one piece of audio."""
        model = getattr(opts, "model", None)
        if opts.language is not None:
            if model is not None and opts.language != ENGLISH and not self.transcribers[model].is_multilingual:
                raise ConfigError(f"model {model} is English-only; it cannot transcribe {opts.language!r}")
            return model or self.route(opts.language, opts.task), opts.language, 1.0, None
        seconds = getattr(opts, "detect_seconds", LANGUAGE_DETECT_SECONDS)
        started = time.perf_counter()
        language, prob, probs = self.detect_language(audio, seconds)
        log.debug("detected %s (p=%.3f) in %.0f ms", language, prob, 1000 * (time.perf_counter() - started))
        return model or self.route(language, opts.task), language, prob, tuple(probs)

    def _one(
        self, audio: AudioInput, opts: TranscribeOptions, offset: float, max_duration: float | None = None
    ) -> tuple[Iterator[WindowResult], TranscriptionInfo]:
        model, language, prob, probs = self._choose(audio, opts)
        target = self.transcribers[model]
        inner = _plain(opts).with_(language=language if target.is_multilingual else None)
        if not target.is_multilingual and language == ENGLISH:
            inner = inner.with_(task="transcribe")  # English into English: translating is transcribing
        windows, info = target.transcribe_windows(audio, inner, max_duration=max_duration)
        info = replace(
            info,
            language=language,
            language_probability=prob,
            options=opts,
            all_language_probs=probs if probs is not None else info.all_language_probs,
        )
        log.info("routed %.1f s of %s to %s", info.duration, language, model)
        return _tagged(windows, language, offset), info

    def _pieces(self, samples: np.ndarray, opts: TranscribeOptions) -> tuple[Iterator[WindowResult], TranscriptionInfo]:
        cuts = quiet_cuts(samples)
        bounds = list(zip(cuts, [*cuts[1:], len(samples)], strict=True))
        first, info = self._one(samples[bounds[0][0] : bounds[0][1]], opts, 0.0)
        info = replace(info, duration=len(samples) / SAMPLE_RATE, model=str(self.table))

        def windows() -> Iterator[WindowResult]:
            seg_id = 0
            for k, (lo, hi) in enumerate(bounds):
                part = first if k == 0 else self._one(samples[lo:hi], opts, lo / SAMPLE_RATE)[0]
                for w in part:
                    segs = tuple(replace(seg, id=seg_id + i) for i, seg in enumerate(w.segments))
                    seg_id += len(segs)
                    yield replace(w, segments=segs)

        return windows(), info


def _plain(opts: TranscribeOptions) -> TranscribeOptions:
    """The TranscribeOptions part of (possibly) RoutedOptions, for a single-model transcriber."""
    return TranscribeOptions(**{k: getattr(opts, k) for k in TranscribeOptions.__dataclass_fields__})


def _shift(seg: Segment, language: str, offset: float) -> Segment:
    words = seg.words
    if offset and words:
        words = tuple(replace(w, start=round(w.start + offset, 3), end=round(w.end + offset, 3)) for w in words)
    return replace(
        seg, start=round(seg.start + offset, 3), end=round(seg.end + offset, 3), words=words, language=language
    )


def _tagged(windows: Iterator[WindowResult], language: str, offset: float) -> Iterator[WindowResult]:
    for w in windows:
        yield WindowResult(
            round(w.start + offset, 3),
            round(w.end + offset, 3),
            tuple(_shift(seg, language, offset) for seg in w.segments),
        )


Loader = Callable[[EngineOptions], Transcriber]


def load_router(options: EngineOptions, loader: Loader) -> RoutedTranscriber:
    """Load every model of ``options.routes`` with ``loader`` (each with ``options``' runtime settings) into one
    router. ``factory.load_transcriber`` passes itself as the loader; tests pass scripted models."""
    table = RouteTable.parse(options.routes)
    loaded = {}
    for name in table.models:
        loaded[name] = loader(replace(options, model=name, routes=""))
    return RoutedTranscriber(table, loaded)


def suggested_routes(installed: Iterable[str]) -> str:
    """The route table a settings screen can offer: ``en=tiny.en,*=base`` when both models are in ``installed``
    (e.g. the names ``factory.list_models()`` reports as installed), else "" (a single model)."""
    return SUGGESTED_ROUTES if set(RouteTable.parse(SUGGESTED_ROUTES).models) <= set(installed) else ""
