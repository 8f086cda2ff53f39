"""The whole pipeline (Silero VAD, streaming policy, guard, the real INT8 engine) on files of real speech, and on
what must produce no text: silence, white and pink noise, music-like tones, non-English speech."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edge_asr.live.events import Final, Partial
from edge_asr.live.guard import collapse_repeats, compression_ratio
from edge_asr.live.pipeline import LiveOptions
from edge_asr.live.sources import ArraySource, FileSource

from .conftest import finals, partials, run_pipeline, text_of, wer, words
from .signals import pink, tones, white

WER_BAR = 0.15  # the engine's bar on en-dev, for finals out of the live pipeline
RATE = 16_000
MULTILINGUAL = ("de_test_de.wav", "es_test_es.wav", "ja_test_ja.wav", "fleurs_zh_1883_clip5.wav",
                "fleurs_zh_en_mix_1805_1830_clip6.wav", "pt_test_pt.wav")


def test_finals_on_en_dev_meet_the_wer_bar(transcriber, en_dev) -> None:
    refs, hyps = [], []
    for row in en_dev:
        events = run_pipeline(transcriber, FileSource(row["abspath"]), LiveOptions(partials=False))
        refs.append(row["reference_text"])
        hyps.append(text_of(events))
        for f in finals(events):
            d = f.to_dict()
            assert d["type"] == "final" and d["text"] == f.segment.text.strip() and d["start"] <= d["end"]
            json.dumps(d)
    score = wer(refs, hyps)
    print(f"live finals on en-dev: WER {100 * score:.1f} % over {len(refs)} clips")
    assert score < WER_BAR, list(zip(refs, hyps, strict=True))


@pytest.mark.parametrize("name", ["jfk.flac", "LJ001-0001.wav", "librispeech-1995-1837-0001.wav"])
def test_partials_firm_up_before_each_final(transcriber, en_dev, name) -> None:
    row = next(r for r in en_dev if r["path"] == name)
    events = run_pipeline(transcriber, FileSource(row["abspath"]))
    fs = finals(events)
    assert fs and wer([row["reference_text"]], [text_of(events)]) < 0.2
    utterance: list[Partial] = []
    prev_end = 0.0
    for ev in events:
        if isinstance(ev, Partial) and not ev.text:  # the utterance ended without a final (the guard dropped it)
            assert utterance and ev.start == utterance[-1].start
            utterance = []
        elif isinstance(ev, Partial):
            assert ev.text.startswith(ev.stable_text)
            if utterance:
                assert ev.start == utterance[-1].start  # same utterance until its final
                assert ev.stable_text.startswith(utterance[-1].stable_text), "stable text may only grow"
                assert ev.end >= utterance[-1].end
            utterance.append(ev)
        elif isinstance(ev, Final):
            seg = ev.segment
            assert prev_end <= seg.start <= seg.end, "final timestamps run forward"
            if seg.end - seg.start > 2.0:
                assert utterance, f"no partial before the final {seg.text!r}"
            if utterance:
                assert utterance[0].start <= seg.start and utterance[-1].wall_time <= ev.wall_time
            prev_end = seg.end
            utterance = []
    assert any(p.stable_text for p in partials(events))


def test_long_speech_is_capped_and_split_without_losing_words(transcriber, en_dev, clip_audio) -> None:
    rows = [r for r in en_dev if r["path"] in ("LJ001-0001.wav", "LJ001-0002.wav", "LJ001-0003.wav")]
    audio = np.concatenate([clip_audio(r["abspath"]) for r in rows])  # about 21 s, pauses too short to end it
    options = LiveOptions(partials=False, max_utterance=8.0, min_silence=1.5)
    events = run_pipeline(transcriber, ArraySource(audio), options)
    fs = finals(events)
    assert len(fs) >= 3
    assert all(f.segment.end - f.segment.start <= options.max_utterance for f in fs)
    assert wer([" ".join(r["reference_text"] for r in rows)], [text_of(events)]) < 0.2


NON_SPEECH = {
    "silence": lambda: np.concatenate([np.zeros(60 * RATE, np.float32), white(60, -70)]),
    "white noise": lambda: white(60, -20),
    "pink noise": lambda: pink(60, -15),
    "music-like tones": lambda: tones(60, -15),
}


@pytest.mark.parametrize("name", list(NON_SPEECH))
def test_non_speech_produces_no_text(transcriber, name) -> None:
    events = run_pipeline(transcriber, ArraySource(NON_SPEECH[name]()))
    said = text_of(events) + " ".join(p.text for p in partials(events))
    assert not words(said), f"{name}: {said!r}"


def test_non_english_speech_ends_cleanly_without_loops(transcriber) -> None:
    from tests.conftest import read_manifest

    rows = [r for r in read_manifest("multilingual-dev") if r["path"] in MULTILINGUAL]
    assert len(rows) == len(MULTILINGUAL)
    total_words, speech_seconds = 0, 0.0
    for row in rows:
        events = run_pipeline(transcriber, FileSource(row["abspath"]), timeout=60)  # ends: no runaway decode
        for text in [f.segment.text for f in finals(events)] + [p.text for p in partials(events)]:
            assert collapse_repeats(text, 3)[1] == 0, f"{row['path']}: a repetition loop got through: {text!r}"
            assert len(text) < 20 or compression_ratio(text) <= 2.4, text
        total_words += len(words(text_of(events)))
        speech_seconds += sum(f.segment.end - f.segment.start for f in finals(events))
    print(f"non-English speech into tiny.en: {total_words} words published over {len(rows)} clips")
    assert total_words <= 3 * len(rows), "tiny.en cannot transcribe these; the guard should drop nearly everything"
