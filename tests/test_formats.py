"""Transcript writers: SRT/VTT round trips through parse_srt, monotonic times, hour boundaries, JSON, atomic writes."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from edge_asr.errors import ConfigError
from edge_asr.formats import FORMATS, parse_srt, to_json, to_srt, to_txt, to_vtt, write_transcript
from edge_asr.options import TranscribeOptions
from edge_asr.results import Segment, TranscriptionInfo, Word

MS = 1e-3  # s: the resolution of SRT/VTT timestamps


def _seg(i: int, start: float, end: float, text: str, words: tuple[Word, ...] | None = None) -> Segment:
    return Segment(id=i, start=start, end=end, text=text, tokens=(50363, 921 + i), avg_logprob=-0.25, words=words)


SEGMENTS = [
    _seg(0, 0.0, 3.48, " And so my fellow Americans,"),
    _seg(1, 3.48, 7.6, " ask not what your country can do for you,"),
    _seg(2, 7.6, 11.0, " ask what you can do for your country."),
]
INFO = TranscriptionInfo(language="en", language_probability=1.0, duration=11.0, options=TranscribeOptions())


def test_srt_layout() -> None:
    assert to_srt(SEGMENTS[:2]) == (
        "1\n00:00:00,000 --> 00:00:03,480\nAnd so my fellow Americans,\n\n"
        "2\n00:00:03,480 --> 00:00:07,600\nask not what your country can do for you,\n"
    )


def test_vtt_layout() -> None:
    assert to_vtt(SEGMENTS[:1]) == "WEBVTT\n\n00:00:00.000 --> 00:00:03.480\nAnd so my fellow Americans,\n"


@pytest.mark.parametrize("writer", [to_srt, to_vtt])
def test_round_trip(writer: Callable[[list[Segment]], str]) -> None:
    cues = parse_srt(writer(SEGMENTS))
    assert [c[2] for c in cues] == [s.text.strip() for s in SEGMENTS]
    for (start, end, _), seg in zip(cues, SEGMENTS, strict=True):
        assert start == pytest.approx(seg.start, abs=MS / 2)
        assert end == pytest.approx(seg.end, abs=MS / 2)


@pytest.mark.parametrize(
    ("seconds", "srt"),
    [
        (0.0, "00:00:00,000"),
        (59.9996, "00:01:00,000"),  # rounding carries into the minute, never "00:00:60,000"
        (3599.999, "00:59:59,999"),
        (3599.9996, "01:00:00,000"),
        (3600.0, "01:00:00,000"),
        (3600.001, "01:00:00,001"),
        (36_000 + 61.5, "10:01:01,500"),
        (100 * 3600 + 0.25, "100:00:00,250"),
    ],
)
def test_time_formatting_at_boundaries(seconds: float, srt: str) -> None:
    text = to_srt([_seg(0, seconds, seconds, "x")])
    assert text.splitlines()[1] == f"{srt} --> {srt}"
    vtt = srt.replace(",", ".")
    assert to_vtt([_seg(0, seconds, seconds, "x")]).splitlines()[2] == f"{vtt} --> {vtt}"
    assert parse_srt(text)[0][0] == pytest.approx(round(seconds, 3), abs=MS / 2)


def test_monotonic_and_empty_segments_skipped() -> None:
    messy = [
        _seg(0, 1.0, 4.0, "  first  "),
        _seg(1, 3.0, 5.0, "overlaps the first"),  # start clamped to 4.0
        _seg(2, 5.0, 6.0, "   "),  # skipped
        _seg(3, 6.0, 5.5, "ends before it starts"),  # end clamped to 6.0
        _seg(4, 5.0, 5.2, "entirely before the previous end"),  # 6.0 --> 6.0
        _seg(5, -0.5, 7.0, ""),  # skipped
        _seg(6, 7.0, 8.0, "last"),
    ]
    for writer in (to_srt, to_vtt):
        cues = parse_srt(writer(messy))
        assert [c[2] for c in cues] == [
            "first",
            "overlaps the first",
            "ends before it starts",
            "entirely before the previous end",
            "last",
        ]
        assert [(c[0], c[1]) for c in cues] == [(1.0, 4.0), (4.0, 5.0), (6.0, 6.0), (6.0, 6.0), (7.0, 8.0)]
        prev_end = 0.0
        for start, end, _ in cues:
            assert prev_end <= start <= end
            prev_end = end
    assert [b.splitlines()[0] for b in to_srt(messy).split("\n\n")] == ["1", "2", "3", "4", "5"]
    assert to_txt(messy).splitlines() == [
        "first",
        "overlaps the first",
        "ends before it starts",
        "entirely before the previous end",
        "last",
    ]


def test_cue_text_cannot_break_the_format() -> None:
    seg = _seg(0, 0.0, 1.0, "one\n\ntwo --> three <i>&</i>")
    assert parse_srt(to_srt([seg]))[0][2] == "one two -> three <i>&</i>"
    vtt = to_vtt([seg])
    assert "&amp;" in vtt and "&lt;i&gt;" in vtt  # WebVTT cue text must escape & and <
    assert parse_srt(vtt)[0][2] == "one two -> three <i>&</i>"


def test_parse_srt_tolerates_crlf_bom_and_vtt_settings() -> None:
    srt = (
        "\ufeff1\r\n00:00:01,000 --> 00:00:02,500\r\nHello\r\nworld\r\n\r\n"
        "2\r\n00:00:03,000 --> 00:00:04,000\r\nBye\r\n"
    )
    assert parse_srt(srt) == [(1.0, 2.5, "Hello\nworld"), (3.0, 4.0, "Bye")]
    vtt = "WEBVTT\n\nNOTE a comment\n\ncue-1\n00:01.000 --> 00:02.000 align:start\nHi &amp; bye\n"
    assert parse_srt(vtt) == [(1.0, 2.0, "Hi & bye")]
    assert parse_srt("") == []


def test_txt() -> None:
    assert to_txt(SEGMENTS) == (
        "And so my fellow Americans,\n"
        "ask not what your country can do for you,\n"
        "ask what you can do for your country.\n"
    )
    assert to_txt([]) == ""


def test_json() -> None:
    words = (Word(0.0, 0.4, " And", 0.9), Word(0.4, 0.6, " so", float("nan")))
    segs = [_seg(0, 0.0, 3.48, " And so", words=words), _seg(1, 3.48, 7.6, " ask not"), _seg(2, 8.0, 9.0, " ")]
    doc = json.loads(to_json(segs, INFO))
    assert doc["language"] == "en"
    assert doc["duration"] == 11.0
    assert doc["text"] == "And so ask not"
    assert len(doc["segments"]) == 2
    first, second = doc["segments"]
    assert first["text"] == "And so" and first["start"] == 0.0 and first["end"] == 3.48
    assert first["tokens"] == [50363, 921]
    assert [w["word"] for w in first["words"]] == [" And", " so"]
    assert first["words"][1]["probability"] is None  # NaN is not JSON
    assert "words" not in second
    assert json.loads(to_json([]))["language"] is None


def test_json_is_strict() -> None:
    seg = Segment(id=0, start=0.0, end=1.0, text="x", avg_logprob=float("-inf"))
    text = to_json([seg], INFO)
    assert "Infinity" not in text and "NaN" not in text
    assert json.loads(text)["segments"][0]["avg_logprob"] is None


@pytest.mark.parametrize("fmt", FORMATS)
def test_write_transcript(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"jfk.{fmt}"
    path.write_text("stale content that must be replaced")
    assert write_transcript(iter(SEGMENTS), INFO, fmt, path) == path
    text = path.read_text(encoding="utf-8")
    assert "stale" not in text and "country" in text
    if fmt in ("srt", "vtt"):
        assert len(parse_srt(text)) == len(SEGMENTS)
    if fmt == "json":
        assert json.loads(text)["language"] == "en"
    assert os.listdir(tmp_path) == [path.name]  # no temp file left behind


def test_write_transcript_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown transcript format"):
        write_transcript(SEGMENTS, INFO, "docx", tmp_path / "out.docx")
    assert os.listdir(tmp_path) == []


def test_write_transcript_failure_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "is_a_dir"
    target.mkdir()
    with pytest.raises(OSError):
        write_transcript(SEGMENTS, INFO, "txt", target)  # os.replace onto a directory fails
    assert os.listdir(tmp_path) == ["is_a_dir"]
    assert os.listdir(target) == []


def test_unicode_is_written_as_utf8(tmp_path: Path) -> None:
    path = write_transcript([_seg(0, 0.0, 1.0, " Grüße, 你好")], INFO, "json", tmp_path / "u.json")
    assert "Grüße, 你好" in path.read_text(encoding="utf-8")
