"""Language routing (edge_asr.routing) with scripted transcribers: the route table, which model gets which
request, translation of English by an English-only model, per-piece re-detection of a mixed file. The same on
the real models is in test_base_model.py."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pytest

from edge_asr.constants import SAMPLE_RATE
from edge_asr.engine.base import AudioInput
from edge_asr.errors import ConfigError
from edge_asr.options import EngineOptions, TranscribeOptions
from edge_asr.results import Segment, TranscriptionInfo, WindowResult
from edge_asr.routing import RoutedOptions, RoutedTranscriber, RouteTable, load_router, quiet_cuts, routed_options

LOUD = 0.3  # amplitude of the scripted "speech"


@dataclass
class Scripted:
    """A Transcriber that hears German wherever the audio is negative-biased, English elsewhere, and records calls."""

    model: str
    multilingual: bool
    calls: list[tuple[int, TranscribeOptions]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.model

    @property
    def is_multilingual(self) -> bool:
        return self.multilingual

    def detect_language(self, audio: AudioInput) -> tuple[str, float, list[tuple[str, float]]]:
        assert isinstance(audio, np.ndarray), "the router hands samples, not files, to its models"
        lang = "de" if float(np.mean(audio)) < 0 else "en"
        other = "en" if lang == "de" else "de"
        return lang, 0.9, [(lang, 0.9), (other, 0.1)]

    def transcribe(self, audio: AudioInput, options: TranscribeOptions | None = None
                   ) -> tuple[Iterator[Segment], TranscriptionInfo]:
        windows, info = self.transcribe_windows(audio, options)
        return (s for w in windows for s in w.segments), info

    def transcribe_windows(self, audio: AudioInput, options: TranscribeOptions | None = None, *,
                           max_duration: float | None = None) -> tuple[Iterator[WindowResult], TranscriptionInfo]:
        assert isinstance(audio, np.ndarray), "the router hands samples, not files, to its models"
        opts = options or TranscribeOptions()
        if not self.multilingual and (opts.task == "translate" or opts.language not in (None, "en")):
            raise ConfigError(f"{self.model} is English-only")
        self.calls.append((len(audio), opts))
        duration = len(audio) / SAMPLE_RATE
        info = TranscriptionInfo(opts.language or "en", 1.0, duration, opts, self.model)
        seg = Segment(0, 0.0, duration, f" {self.model}:{opts.language}:{opts.task}")
        return iter([WindowResult(0.0, duration, (seg,))]), info


def _router(spec: str = "en=tiny.en,*=base") -> tuple[RoutedTranscriber, Scripted, Scripted]:
    small, big = Scripted("tiny.en", False), Scripted("base", True)
    return RoutedTranscriber(RouteTable.parse(spec), {"tiny.en": small, "base": big}), small, big


def _speech(seconds: float, sign: float = 1.0) -> np.ndarray:
    return np.full(int(seconds * SAMPLE_RATE), sign * LOUD, np.float32)


def test_route_table_parse_and_errors() -> None:
    t = RouteTable.parse(" en = tiny.en ; *=base, zh=base")
    assert t.routes == (("en", "tiny.en"), ("*", "base"), ("zh", "base"))
    assert t.models == ("tiny.en", "base") and str(t) == "en=tiny.en,*=base,zh=base"
    assert t.model_for("en") == "tiny.en" and t.model_for("ja") == "base"
    assert RouteTable.parse("en=tiny.en").model_for("de") is None
    for bad, match in (("", "at least one"), ("en", "LANGUAGE=MODEL"), ("xx=base", "unknown language"),
                       ("en=", "names no model"), ("en=a,en=b", "two routes")):
        with pytest.raises(ConfigError, match=match):
            RouteTable.parse(bad)
    with pytest.raises(ConfigError, match="unknown language"):
        EngineOptions(routes="english=tiny.en")  # validated with the other engine options


def test_router_needs_a_multilingual_model_and_every_model() -> None:
    with pytest.raises(ConfigError, match="no multilingual model"):
        RoutedTranscriber(RouteTable.parse("*=tiny.en"), {"tiny.en": Scripted("tiny.en", False)})
    with pytest.raises(ConfigError, match="not loaded: base"):
        RoutedTranscriber(RouteTable.parse("en=tiny.en,*=base"), {"tiny.en": Scripted("tiny.en", False)})


def test_detected_language_picks_the_model() -> None:
    router, small, big = _router()
    segs, info = router.transcribe(_speech(3.0))
    assert [s.text for s in segs] == [" tiny.en:None:transcribe"] and info.language == "en"
    assert info.model == "tiny.en" and info.all_language_probs == (("en", 0.9), ("de", 0.1))
    segs, info = router.transcribe(_speech(3.0, -1.0))
    out = list(segs)
    # the detected language is handed on, so the multilingual model does not detect it again
    assert [s.text for s in out] == [" base:de:transcribe"] and out[0].language == "de" and info.model == "base"
    assert len(small.calls) == len(big.calls) == 1


def test_requested_language_and_model() -> None:
    router, _, _ = _router()
    segs, info = router.transcribe(_speech(2.0), TranscribeOptions(language="fr"))
    assert [s.text for s in segs] == [" base:fr:transcribe"] and info.language_probability == 1.0
    segs, _ = router.transcribe(_speech(2.0, -1.0), routed_options(TranscribeOptions(), model="tiny.en"))
    assert [s.text for s in segs] == [" tiny.en:None:transcribe"]  # the client's choice wins over detection
    with pytest.raises(ConfigError, match="not loaded here"):
        router.transcribe(_speech(1.0), routed_options(TranscribeOptions(), model="small"))
    with pytest.raises(ConfigError, match="English-only"):
        router.transcribe(_speech(1.0), routed_options(TranscribeOptions(language="de"), model="tiny.en"))


def test_translate_routes_foreign_speech_to_the_multilingual_model() -> None:
    router, _, _ = _router()
    segs, info = router.transcribe(_speech(2.0, -1.0), TranscribeOptions(task="translate"))
    assert [s.text for s in segs] == [" base:de:translate"] and info.options.task == "translate"
    # English speech into English needs no translation: the English-only model transcribes it
    segs, info = router.transcribe(_speech(2.0), TranscribeOptions(task="translate"))
    assert [s.text for s in segs] == [" tiny.en:None:transcribe"] and info.options.task == "translate"
    # a route to an English-only model for another language falls back to the detector
    router, _, _ = _router("de=tiny.en,*=base")
    assert router.route("de") == "base" and router.route("en") == "base"


def test_routed_options_keep_their_fields() -> None:
    opts = routed_options(TranscribeOptions(beam_size=5), model="base", redetect=True)
    assert isinstance(opts, RoutedOptions) and opts.beam_size == 5 and opts.model == "base"
    again = routed_options(opts.with_(task="translate"))
    assert isinstance(again, RoutedOptions) and again.redetect and again.model == "base"
    with pytest.raises(ConfigError, match="detect_seconds"):
        RoutedOptions(detect_seconds=0)


def test_quiet_cuts_fall_in_pauses() -> None:
    rng = np.random.default_rng(0)
    audio = (0.2 * rng.standard_normal(70 * SAMPLE_RATE)).astype(np.float32)
    audio[25 * SAMPLE_RATE : 26 * SAMPLE_RATE] *= 0.01  # a pause in the search range of the first cut
    cuts = quiet_cuts(audio)
    assert cuts[0] == 0 and 25 * SAMPLE_RATE <= cuts[1] <= 26 * SAMPLE_RATE
    assert all(b - a <= 30 * SAMPLE_RATE for a, b in zip(cuts, [*cuts[1:], len(audio)], strict=False))
    assert quiet_cuts(audio[: 29 * SAMPLE_RATE]) == [0]


def test_redetect_routes_every_piece() -> None:
    router, small, big = _router()
    audio = np.concatenate([_speech(24.0), np.zeros(SAMPLE_RATE, np.float32), _speech(20.0, -1.0)])
    segs, info = router.transcribe(audio, routed_options(TranscribeOptions(), redetect=True))
    out = list(segs)
    assert [(s.text, s.language) for s in out] == [(" tiny.en:None:transcribe", "en"), (" base:de:transcribe", "de")]
    assert [s.id for s in out] == [0, 1] and 24.0 <= out[1].start <= 25.0 and out[1].end == pytest.approx(45.0, 0.01)
    assert info.duration == pytest.approx(45.0) and info.model == "en=tiny.en,*=base"
    assert [n for n, _ in small.calls] == [24 * SAMPLE_RATE + SAMPLE_RATE // 20] and len(big.calls) == 1
    # without redetect the whole file goes to the model of its first seconds
    segs, _ = router.transcribe(audio)
    assert [s.text for s in segs] == [" tiny.en:None:transcribe"]


def test_load_router_loads_each_model_once_with_the_engine_settings() -> None:
    seen: list[EngineOptions] = []

    def loader(o: EngineOptions) -> Scripted:
        seen.append(o)
        return Scripted(o.model, o.model != "tiny.en")

    router = load_router(EngineOptions(routes="en=tiny.en,*=base,zh=base", threads=3), loader=loader)
    assert [o.model for o in seen] == ["tiny.en", "base"] and all(o.threads == 3 and not o.routes for o in seen)
    assert router.detector_name == "base" and router.is_multilingual and router.models == ("tiny.en", "base")


def test_suggested_routes_need_both_models() -> None:
    from edge_asr.routing import suggested_routes

    assert suggested_routes(["tiny.en", "base"]) == "en=tiny.en,*=base"
    assert suggested_routes(["tiny.en"]) == ""
    assert RouteTable.parse(suggested_routes(["tiny.en", "base"])).model_for("de") == "base"
