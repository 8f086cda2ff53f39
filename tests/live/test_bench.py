"""`edge-asr bench live` runs end to end and prints every figure the targets are stated in."""

from __future__ import annotations

import json

from edge_asr.bench.live import build_session, main, speech_bounds


def test_session_spans_match_the_audio(jfk_path, clip_audio) -> None:
    _session, spans = build_session([(jfk_path, "ref")], 30.0, 2.0)
    assert len(spans) >= 2 and spans[0].start == 2.0
    for s in spans:
        assert s.start <= s.onset < s.offset <= s.end
    on, off = speech_bounds(clip_audio(str(jfk_path)))
    assert 0.0 <= on < 1.0 and 10.0 < off <= 11.1


def test_bench_live_prints_the_targets(jfk_path, capsys) -> None:
    assert main([str(jfk_path), "--minutes", "0.3", "--idle-seconds", "3", "--json"]) == 0
    out = capsys.readouterr().out
    for label in ("end-of-utterance latency", "first partial", "idle CPU", "dropped blocks", "RSS"):
        assert label in out
    figures = json.loads(out.strip().splitlines()[-1])
    assert figures["finals"] >= 3 and figures["drops"] == 0 and figures["idle_finals"] == 0
    assert figures["eou_latency_p50"] < 1.0 and figures["idle_cpu_percent"] < 50.0
