"""The whole pipeline (Silero VAD, streaming policy, guard, the real INT8 engine) on files of real speech, and on
what must produce no text: silence, white and pink noise, music-like tones, non-English speech."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from edge_asr.evaluate import wer
from edge_asr.live.events import Final, Partial
from edge_asr.live.guard import collapse_repeats, compression_ratio
from edge_asr.live.pipeline import LiveOptions
from edge_asr.live.sources import ArraySource, FileSource

from .conftest import finals, partials, run_pipeline, text_of, words
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
    end_before: dict[int, float] = {}  # final id -> prev_end before it (an amending final starts where it did)
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
            if ev.replaces is not None:
                prev_end = end_before[ev.replaces]
            end_before[seg.id] = prev_end
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


def test_jfk_keeps_ask_not(transcriber, en_dev) -> None:
    """"ask not" (two words, then a 1.1-s pause) decodes too unsurely alone; it is carried into the next utterance
    and decoded with it instead of being dropped."""
    from edge_asr.evaluate import normalize

    row = next(r for r in en_dev if r["path"] == "jfk.flac")
    for options in (LiveOptions(partials=False), LiveOptions()):
        text = normalize(text_of(run_pipeline(transcriber, FileSource(row["abspath"]), options)))
        assert "ask not what your country can do for you" in text, text


def test_live_finals_keep_the_words_file_transcription_gets(transcriber) -> None:
    """The issue's bar: live finals over en-dev and en-wild within +1.0 WER point of `transcribe` on the same files
    (same model, same normalizer). Measured: en-dev 3.05 vs 3.35 %, en-wild 8.78 vs 7.99 %."""
    from edge_asr.live.offline import finals_text, live_finals
    from tests.conftest import read_manifest

    for name in ("en-dev", "en-wild"):
        rows = read_manifest(name)
        refs = [r["reference_text"] for r in rows]
        live = [finals_text(live_finals(transcriber, r["abspath"])) for r in rows]
        files = ["".join(s.text for s in transcriber.transcribe(r["abspath"])[0]) for r in rows]
        live_wer, file_wer = wer(refs, live), wer(refs, files)
        print(f"{name}: live finals WER {100 * live_wer:.2f} %, file transcription {100 * file_wer:.2f} %")
        assert live_wer <= file_wer + 0.010, (name, live_wer, file_wer)


def test_a_slow_subscriber_loses_no_final(transcriber, en_dev, clip_audio, monkeypatch) -> None:
    """A subscriber that stalls (an fsync, a slow socket) lets levels and partials pile up past the dispatch queue;
    finals still all arrive, in order, the same as for a fast subscriber."""
    import threading

    import edge_asr.live.pipeline as pipeline_module

    monkeypatch.setattr(pipeline_module, "DISPATCH_QUEUE", 16)  # overflowed within a second of audio
    rows = [r for r in en_dev if r["path"].startswith("LJ001-000")][:6]
    gap = np.zeros(RATE, np.float32)
    audio = np.concatenate([x for r in rows for x in (clip_audio(r["abspath"]), gap)])
    options = LiveOptions()
    fast = [f.segment.text for f in finals(run_pipeline(transcriber, ArraySource(audio), options))]
    stall = threading.Event()
    events: list = []

    def slow(ev) -> None:
        if not events:
            stall.wait(10.0)  # the first event holds the dispatcher while the pipeline runs on
        events.append(ev)

    from edge_asr.live.pipeline import LivePipeline

    pipeline = LivePipeline(transcriber, ArraySource(audio), options)
    pipeline.subscribe(slow)
    pipeline.start()
    assert pipeline.wait(120)
    pipeline.stop()
    assert pipeline.dropped_events > 0, "the test did not overflow the dispatch queue"
    assert [f.segment.text for f in finals(events)] == fast
    assert len(fast) >= len(rows) - 1


def test_a_vad_model_lent_again_after_a_cut_off_utterance_hears_what_a_fresh_one_hears(transcriber, jfk_path,
                                                                                      clip_audio) -> None:
    """The daemon and the desktop app run pipeline after pipeline on one Silero session (SharedVadPipelines: a
    session per pipeline grew the daemon ~4 MB a restart). A pipeline stopped mid-word leaves the model's state in
    speech; the next one must still get the finals a fresh model gives."""
    from edge_asr.live.pipeline import SharedVadPipelines

    audio = clip_audio(str(jfk_path))
    fresh = text_of(run_pipeline(transcriber, ArraySource(audio)))
    shared = SharedVadPipelines()

    def run(samples: np.ndarray) -> str:
        events: list = []
        pipeline = shared.pipeline(transcriber, ArraySource(samples), LiveOptions())
        pipeline.subscribe(events.append)
        pipeline.start()
        assert pipeline.wait(120), "the pipeline did not finish"
        pipeline.stop()
        return text_of(events)

    run(audio[: int(5.5 * RATE)])  # ends inside "ask not"
    assert fresh and run(audio) == fresh


def _open_copies(path: Path) -> int:
    fd_dir = Path("/proc/self/fd")
    return sum(1 for fd in fd_dir.iterdir() if _target(fd) == str(path))


def _target(fd: Path) -> str:
    try:
        return os.readlink(fd)
    except OSError:  # closed between listing and reading
        return ""


@pytest.mark.parametrize("realtime", [True, False])
def test_a_file_source_stopped_mid_file_closes_the_file(jfk_path: Path, realtime: bool) -> None:
    """A daemon reload stops its live file source mid-file: the file must close then, not when the garbage
    collector gets round to a suspended generator (one descriptor leaked per reload otherwise)."""
    from edge_asr.live.sources import END, AudioBlock, FileSource

    before = _open_copies(jfk_path)
    src = FileSource(jfk_path, realtime=realtime)
    src.start()
    assert isinstance(src.read(10.0), AudioBlock)
    assert _open_copies(jfk_path) == before + 1
    src.stop()
    while src.read(1.0) is not END:
        pass
    assert _open_copies(jfk_path) == before, "the stopped source still holds its file open"
