"""Early finals: published as the speaker pauses when the text ends a sentence, and amended (``replaces``) when
speech resumes within the min-silence wait; what a reader settles on is what the pipeline gave without them."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_asr.constants import SAMPLE_RATE
from edge_asr.live.early import ends_turn
from edge_asr.live.events import Final, settle
from edge_asr.live.pipeline import LiveOptions, LivePipeline
from edge_asr.live.sources import ArraySource
from edge_asr.options import TranscribeOptions
from edge_asr.results import Segment, TranscriptionInfo

from .conftest import RUN_TIMEOUT

NOISE_DBFS = -65.0  # a quiet room under the speech


def _session(parts: list[np.ndarray | float]) -> np.ndarray:
    """Clips and gaps (s) end to end, with a faint noise floor."""
    audio = np.concatenate([p if isinstance(p, np.ndarray) else np.zeros(round(p * SAMPLE_RATE), np.float32)
                            for p in parts])
    rng = np.random.default_rng(0)
    return audio + (rng.standard_normal(len(audio)) * 10 ** (NOISE_DBFS / 20)).astype(np.float32)


def _run(transcriber: Any, audio: np.ndarray, options: LiveOptions) -> list[tuple[float, Final]]:
    """Every final with the stream position (s) the segmenter had reached when the decoder published it (the
    file source is synchronous: each decode is waited for, so positions are exact and repeatable)."""
    out: list[tuple[float, Final]] = []
    pipeline = LivePipeline(transcriber, ArraySource(audio), options)
    publish = pipeline._publish

    def spy(event: Any) -> None:
        if isinstance(event, Final):
            assert pipeline.segmenter is not None
            out.append((pipeline.segmenter.position, event))
        publish(event)

    pipeline._publish = spy  # type: ignore[method-assign]
    pipeline.start()
    assert pipeline.wait(RUN_TIMEOUT)
    pipeline.stop()
    return out


def _row(en_dev: list[dict[str, str]], name: str) -> dict[str, str]:
    return next(r for r in en_dev if r["path"] == name)


def test_a_sentence_is_final_before_the_silence_rule_ends_it(transcriber, en_dev, clip_audio) -> None:
    clip = clip_audio(_row(en_dev, "LJ001-0001.wav")["abspath"])
    audio = _session([1.0, clip, 3.0])
    speech_end = 1.0 + len(clip) / SAMPLE_RATE
    early = _run(transcriber, audio, LiveOptions(partials=False))
    late = _run(transcriber, audio, LiveOptions(partials=False, early_finals=False))
    assert len(early) == len(late) == 1
    (at_early, f_early), (at_late, f_late) = early[0], late[0]
    assert f_early.segment.text == f_late.segment.text and ends_turn(f_early.segment.text)
    assert f_early.replaces is None
    # published at the pause (silence = post-roll), not after the min-silence wait
    o = LiveOptions()
    assert at_early < speech_end + o.min_silence - 0.1 <= at_late, (at_early, at_late, speech_end)


def test_speech_resuming_amends_the_early_final(transcriber, en_dev, clip_audio) -> None:
    """Two sentences 0.35 s apart: the first is published early, then the utterance goes on (the pause was shorter
    than min_silence) and its final replaces the early one. Settled, the finals are those without early finals."""
    first = clip_audio(_row(en_dev, "LJ001-0002.wav")["abspath"])
    second = clip_audio(_row(en_dev, "LJ001-0003.wav")["abspath"])
    audio = _session([1.0, first, 0.35, second, 3.0])
    early = [f for _, f in _run(transcriber, audio, LiveOptions(partials=False))]
    late = [f for _, f in _run(transcriber, audio, LiveOptions(partials=False, early_finals=False))]
    amending = [f for f in early if f.replaces is not None]
    assert amending, [f.segment.text for f in early]
    assert amending[0].replaces is not None
    replaced = {f.segment.id: f for f in early}[amending[0].replaces]
    assert replaced.segment.start == amending[0].segment.start
    assert amending[0].segment.end > replaced.segment.end
    assert [f.segment.text for f in settle(early)] == [f.segment.text for f in late]
    assert [f.segment.id for f in early] == list(range(len(early)))  # ids keep counting


class LengthTranscriber:
    """A stand-in whose text is a function of the audio it is given: with ``same`` every decode reads alike, else
    each length reads differently (the look at the lull hears 0.128 s less than the pause's decode)."""

    name = "length stand-in"
    is_multilingual = False

    def __init__(self, same: bool) -> None:
        self.same = same
        self.lengths: list[int] = []

    def transcribe(self, audio: Any, options: Any = None) -> Any:
        self.lengths.append(len(audio))
        text = " The same sentence." if self.same else f" Heard {len(audio)} samples."
        seg = Segment(0, 0.0, len(audio) / SAMPLE_RATE, text, (1, 2, 3), -0.2, 1.2, 0.05)
        return iter([seg]), TranscriptionInfo("en", 1.0, len(audio) / SAMPLE_RATE, TranscribeOptions())

    def detect_language(self, audio: Any) -> tuple[str, float, list[tuple[str, float]]]:
        return "en", 1.0, [("en", 1.0)]


def test_the_look_is_shown_at_the_pause_and_the_final_audio_settles_it(en_dev, clip_audio) -> None:
    audio = _session([1.0, clip_audio(_row(en_dev, "LJ001-0001.wav")["abspath"]), 3.0])
    differs = LengthTranscriber(same=False)
    out = _run(differs, audio, LiveOptions(partials=False))  # every pause in the sentence ends a turn here
    (at_look, look), (at_final, final) = out[-2], out[-1]  # the last pause's: its look, then its decode
    assert final.replaces == look.segment.id
    assert at_look == at_final  # both at the pause: the look waited for it, the final's decode came right after
    heard = int(final.segment.text.split()[1])
    assert heard == max(differs.lengths)  # the settled text is the decode of the utterance's whole audio
    assert int(look.segment.text.split()[1]) == heard - round(0.128 * SAMPLE_RATE)  # the look, at the lull
    assert [f.segment.text for f in settle(f for _, f in out)] == [final.segment.text]
    # Reading alike, the final's decode publishes nothing more: the look's final is the settled one.
    alike = _run(LengthTranscriber(same=True), audio, LiveOptions(partials=False))
    texts = [f.segment.text for _, f in alike]
    assert set(texts) == {" The same sentence."} and len(texts) == len(out) / 2  # one per pause, not two
    # Without looks each pause publishes its own decode once; the settled final is the same.
    plain = _run(LengthTranscriber(same=False), audio, LiveOptions(partials=False, lull=0.0))
    assert len(plain) == len(out) / 2 and plain[-1][1].segment.text == final.segment.text


def test_ends_turn() -> None:
    for text in ("Ask not.", "Is it?", "Go!", 'He said "stop."', "(Applause.)"):
        assert ends_turn(text), text
    for text in ("and so my fellow Americans", "We went to the...", "so…", "Well,", ""):
        assert not ends_turn(text), text


def test_settle_keeps_the_newest_of_each_utterance() -> None:
    def final(i: int, text: str, replaces: int | None = None) -> Final:
        return Final(Segment(i, 0.0, 1.0, text, (), -0.1, 1.0, 0.0), replaces=replaces)

    fs = [final(0, "One."), final(1, "Two."), final(2, "Two, three.", replaces=1), final(3, "Four.")]
    assert [f.segment.text for f in settle(fs)] == ["One.", "Two, three.", "Four."]
    d = fs[2].to_dict()
    assert d["id"] == 2 and d["replaces"] == 1 and d["text"] == "Two, three."
    assert fs[0].to_dict()["replaces"] is None
