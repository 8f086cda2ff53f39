"""Long-form decoding on real long recordings (../shared/speech/en-wild): what a user sees in the words and the cue
times, and the invariants of Whisper's reference decoder that the short clips of en-dev cannot show."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge_asr.constants import ENCODER_STRIDE, N_FRAMES, TIME_PRECISION
from edge_asr.evaluate import normalize, wer
from edge_asr.formats import parse_srt, to_srt
from edge_asr.options import TranscribeOptions
from edge_asr.results import Segment
from tests.conftest import read_manifest

EARNINGS_1 = "earnings22_1_4482311_3_62.wav"
EARNINGS_3 = "earnings22_3_4483589_261_321.wav"
# Bars with room over what this build measures (3.3 % and 11.3 %); the prompt bug gave 11.0 % and 26.3 %.
WER_BARS = {EARNINGS_1: 0.06, EARNINGS_3: 0.16}
EN_WILD_BAR = 0.10  # all nine clips; measured 7.99 % (faster-whisper's default long-form mode: 8.46 %)


@pytest.fixture(scope="module")
def wild() -> dict[str, dict[str, str]]:
    return {r["path"]: r for r in read_manifest("en-wild")}


def _segments(transcriber: Any, path: str, **options: Any) -> list[Segment]:
    segs, _info = transcriber.transcribe(path, TranscribeOptions(**options))
    return list(segs)


def _text(segments: list[Segment]) -> str:
    return "".join(s.text for s in segments)


@pytest.mark.parametrize("name", [EARNINGS_1, EARNINGS_3])
def test_earnings_calls_keep_every_sentence(transcriber, wild, name) -> None:
    """The prompt carried from window to window holds the timestamp tokens: without them the model wrote 30-s
    blocks and dropped sentences after ~25 s."""
    row = wild[name]
    segs = _segments(transcriber, row["abspath"])
    score = wer([row["reference_text"]], [_text(segs)])
    assert score < WER_BARS[name], _text(segs)
    assert max(s.end - s.start for s in segs) < 20.0, [(s.start, s.end) for s in segs]
    if name == EARNINGS_3:  # the sentence the prompt bug lost, in the second window
        assert "627000 subscribers" in normalize(_text(segs))


def test_en_wild_wer_and_segment_invariants(transcriber, wild) -> None:
    refs, hyps = [], []
    for row in wild.values():
        segs, info = transcriber.transcribe(row["abspath"], TranscribeOptions())
        segs = list(segs)
        refs.append(row["reference_text"])
        hyps.append(_text(segs))
        prev_end = 0.0
        for s in segs:
            assert prev_end <= s.start <= s.end <= info.duration + TIME_PRECISION, (row["path"], s)
            assert s.end > s.start or not s.text.strip(), f"zero-length segment with text: {s}"
            prev_end = s.end
    assert wer(refs, hyps) < EN_WILD_BAR, list(zip(refs, hyps, strict=True))


class EncoderSpy:
    """Wraps a runtime and keeps every encoder input (the mel window)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.mels: list[np.ndarray] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def encode(self, mel: np.ndarray) -> Any:
        self.mels.append(mel.copy())
        return self.inner.encode(mel)


def test_frames_past_the_audio_are_zero_in_full_window_encodes(transcriber, wild, monkeypatch) -> None:
    """As Whisper pads the mel segment: zeros past the audio, not the log-mel of padding."""
    spy = EncoderSpy(transcriber.runtime)
    monkeypatch.setattr(transcriber, "runtime", spy)
    segs = _segments(transcriber, wild[EARNINGS_1]["abspath"], short_clip=False, temperatures=(0.0,))
    assert segs
    last = spy.mels[-1][0]
    assert last.shape[-1] == N_FRAMES
    audio_frames = int(np.flatnonzero(np.abs(last).sum(axis=0) > 0).max()) + 1
    assert audio_frames < N_FRAMES - 100, "the last window of a 60-s file holds less than 30 s of audio"
    assert np.all(last[:, audio_frames:] == 0.0)
    assert np.abs(last[:, : audio_frames]).mean() > 0.1


class DecoderSpy:
    """Wraps a WindowDecoder and keeps each call's decoder input and result."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[tuple[list[int], int | None, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def decode(self, cross: Any, opts: Any, language: Any, prompt: list[int], temperature: float, rng: Any,
               hotwords: list[int] | None = None, max_timestamp: int | None = None) -> Any:
        result = self.inner.decode(cross, opts, language, prompt, temperature, rng, hotwords, max_timestamp)
        initial, _ = self.inner.initial_tokens(opts, language, prompt, hotwords)
        self.calls.append((initial, max_timestamp, result))
        return result


def test_timestamps_stay_within_the_encoded_audio(transcriber, wild, monkeypatch) -> None:
    spy = DecoderSpy(transcriber.decoder)
    monkeypatch.setattr(transcriber, "decoder", spy)
    tb = transcriber.tok.timestamp_begin
    for name in (EARNINGS_1, "osr_us_000_0034_8k_telephone.wav",
                 "pocketsphinx_librivox_sense_and_sensibility_0930.wav"):
        _segments(transcriber, wild[name]["abspath"])
    assert any(m is not None and m < N_FRAMES // ENCODER_STRIDE for _, m, _ in spy.calls), "no short window"
    for _, max_ts, result in spy.calls:
        stamps = [t - tb for t in result.tokens if t >= tb]
        assert max_ts is not None and all(s <= max_ts for s in stamps), (max_ts, stamps)


def test_prompt_carries_timestamps_and_keeps_hotwords(transcriber, wild, monkeypatch) -> None:
    spy = DecoderSpy(transcriber.decoder)
    monkeypatch.setattr(transcriber, "decoder", spy)
    tok = transcriber.tok
    hot = tok.encode(" TeamViewer, LeapFrog")
    long_prompt = " ".join(["A quarterly earnings call of a software company with subscribers."] * 30)
    _segments(transcriber, wild[EARNINGS_3]["abspath"], hotwords="TeamViewer, LeapFrog", initial_prompt=long_prompt)
    windows = [initial for initial, _, _ in spy.calls]
    assert len(windows) >= 2
    budget = transcriber.dims.n_text_ctx // 2
    for initial in windows:
        sot = initial.index(tok.sot)
        assert initial[0] == tok.sot_prev and initial[1 : 1 + len(hot)] == hot, "hotwords lost their place"
        assert sot <= budget
    later = windows[-1]
    assert any(t >= tok.timestamp_begin for t in later[: later.index(tok.sot)]), "no timestamps in the prompt"


def test_subtitles_are_readable_on_en_wild(transcriber, wild, tmp_path) -> None:
    """The CLI's default srt: no cue over 10 s nor over two lines of 42 characters, times running forward."""
    from tests.test_cli import edge_asr

    paths = [r["abspath"] for r in wild.values()]
    r = edge_asr("transcribe", *paths, "-f", "srt", "-q", "-o", str(tmp_path))
    assert r.returncode == 0, r.stderr
    for p in paths:
        text = (tmp_path / f"{Path(p).stem}.srt").read_text()
        cues = parse_srt(text)
        assert cues, p
        prev = 0.0
        for start, end, body in cues:
            assert prev <= start <= end and end - start <= 10.0, (p, start, end, body)
            lines = body.split("\n")
            assert len(lines) <= 2 and all(len(line) <= 42 for line in lines), (p, body)
            prev = end


def test_cues_without_limits_follow_segments() -> None:
    from edge_asr.cues import NO_LIMITS

    segs = [Segment(0, 0.0, 25.0, " " + "word " * 60)]
    assert len(parse_srt(to_srt(segs, NO_LIMITS))) == 1
    assert len(parse_srt(to_srt(segs))) >= 4


def test_a_truncated_flac_gives_what_it_holds(transcriber, shared, tmp_path, caplog) -> None:
    data = shared("speech", "en-dev", "jfk.flac").read_bytes()
    cut = tmp_path / "cut.flac"
    cut.write_bytes(data[: len(data) // 2])
    segs = _segments(transcriber, str(cut))
    assert "and so my fellow americans" in normalize(_text(segs))
    assert "damaged or truncated" in caplog.text and "of 11.0 s" in caplog.text
