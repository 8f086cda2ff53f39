"""WS /v1/stream against a real daemon: a client streams PCM or WAV chunks and gets partials and finals."""

from __future__ import annotations

import io
import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from edge_asr.audio import decode_audio
from edge_asr.daemon.stream import PcmDecoder, StreamFormat
from edge_asr.evaluate import wer

pytestmark = pytest.mark.timeout(300)

SR = 16_000
CHUNK = 0.25  # s of audio per WebSocket message
GAP = 1.2  # s of silence between utterances in a multi-utterance stream
STREAM_WER_BAR = 0.15


def _ws_url(http_url: str, path: str) -> str:
    return "ws" + http_url.removeprefix("http") + path


def _s16(x: np.ndarray) -> bytes:
    return (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()


def stream(url: str, payload: bytes, chunk_bytes: int, query: str = "") -> list[dict[str, Any]]:
    """Send ``payload`` in chunks (faster than real time), then end; every server message until 'done'."""
    out = []
    with connect(_ws_url(url, f"/v1/stream{query}"), open_timeout=30, close_timeout=10) as ws:
        out.append(json.loads(ws.recv(timeout=30)))
        for i in range(0, len(payload), chunk_bytes):
            ws.send(payload[i : i + chunk_bytes])
        ws.send(json.dumps({"type": "end"}))
        while True:
            msg = json.loads(ws.recv(timeout=120))
            out.append(msg)
            if msg["type"] in ("done", "error"):
                break
    return out


def test_stream_of_one_clip_matches_the_upload(shared_daemon, jfk_path) -> None:
    audio = decode_audio(jfk_path)
    msgs = stream(shared_daemon.url, _s16(audio), int(CHUNK * SR) * 2)
    assert msgs[0]["type"] == "ready"
    assert msgs[-1]["type"] == "done", msgs
    finals = [m for m in msgs if m["type"] == "final"]
    assert [m["id"] for m in finals] == list(range(len(finals)))
    text = " ".join(m["text"] for m in finals)
    assert wer(["And so my fellow Americans, ask not what your country can do for you, ask what you can do for "
                "your country."], [text]) < STREAM_WER_BAR, text
    assert all(a["end"] <= b["start"] + 0.05 for a, b in itertools.pairwise(finals)), "finals overlap"
    assert finals[0]["start"] >= 0 and finals[-1]["end"] <= len(audio) / SR + 0.5
    assert any(m["type"] == "partial" for m in msgs), "no partial result before the end of the stream"
    assert abs(msgs[-1]["duration"] - len(audio) / SR) < 0.05


def test_a_multi_utterance_stream_is_cut_into_finals_at_the_pauses(shared_daemon, en_dev) -> None:
    rows = [r for r in en_dev if r["path"].startswith("LJ")][:4]
    parts = []
    for r in rows:
        parts += [decode_audio(r["abspath"]), np.zeros(int(GAP * SR), dtype=np.float32)]
    audio = np.concatenate(parts)
    msgs = stream(shared_daemon.url, _s16(audio), int(CHUNK * SR) * 2)
    finals = [m for m in msgs if m["type"] == "final"]
    assert len(finals) >= len(rows) - 1, finals  # the pauses end utterances before the stream does
    hyp = " ".join(m["text"] for m in finals)
    assert wer([" ".join(r["reference_text"] for r in rows)], [hyp]) < STREAM_WER_BAR, hyp


def test_a_wav_stream_at_another_rate_in_odd_chunks(shared_daemon, en_dev) -> None:
    row = next(r for r in en_dev if r["path"] == "LJ001-0009.wav")
    data, rate = sf.read(row["abspath"], dtype="float32")
    buf = io.BytesIO()
    sf.write(buf, data, rate, format="WAV", subtype="PCM_16")
    msgs = stream(shared_daemon.url, buf.getvalue(), 1001, "?encoding=wav")  # odd sizes split samples and header
    text = " ".join(m["text"] for m in msgs if m["type"] == "final")
    assert wer([row["reference_text"]], [text]) < STREAM_WER_BAR, text


def test_bad_stream_parameters_are_refused_with_a_message(shared_daemon) -> None:
    with connect(_ws_url(shared_daemon.url, "/v1/stream?encoding=mp3"), open_timeout=30) as ws:
        msg = json.loads(ws.recv(timeout=30))
        assert msg["type"] == "error" and "encoding" in msg["message"]
    with connect(_ws_url(shared_daemon.url, "/v1/stream?encoding=wav"), open_timeout=30) as ws:
        assert json.loads(ws.recv(timeout=30))["type"] == "ready"
        ws.send(b"this is not a RIFF header at all")
        msg = json.loads(ws.recv(timeout=30))
        assert msg["type"] == "error" and "WAV" in msg["message"]


def test_pcm_decoder_matches_the_file_decoder_whatever_the_chunking(jfk_path: Path) -> None:
    data, rate = sf.read(jfk_path, dtype="float32")  # 44.1 kHz stereo
    buf = io.BytesIO()
    sf.write(buf, data, rate, format="WAV", subtype="PCM_16")
    raw = buf.getvalue()
    reference = decode_audio(raw)
    dec = PcmDecoder(StreamFormat("wav"))
    rng = np.random.default_rng(0)
    pieces, i = [], 0
    while i < len(raw):
        n = int(rng.integers(1, 9000))
        pieces.append(dec.feed(raw[i : i + n]))
        i += n
    pieces.append(dec.flush())
    got = np.concatenate(pieces)
    assert abs(len(got) - len(reference)) <= 1
    n = min(len(got), len(reference))
    assert np.max(np.abs(got[:n] - reference[:n])) < 2e-3  # both resample with soxr; only 16-bit rounding differs


def test_stream_refused_when_the_token_is_missing(start_daemon, tmp_path) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    d = start_daemon("--token-file", str(token))
    with pytest.raises(InvalidStatus) as err:
        connect(_ws_url(d.url, "/v1/stream"), open_timeout=30)
    assert err.value.response.status_code == 403
    with connect(_ws_url(d.url, "/v1/stream"), open_timeout=30,
                 additional_headers={"Authorization": "Bearer s3cret"}) as ws:
        assert json.loads(ws.recv(timeout=30))["type"] == "ready"


def test_stream_sessions_are_bounded(start_daemon) -> None:
    d = start_daemon("--set", "scheduler.max_streams=1")
    url = _ws_url(d.url, "/v1/stream")
    with connect(url, open_timeout=30) as first:
        assert json.loads(first.recv(timeout=30))["type"] == "ready"
        with connect(url, open_timeout=30) as second:
            msg = json.loads(second.recv(timeout=30))
            assert msg["type"] == "error" and "too many" in msg["message"] and msg["retry_after"] >= 1
            with pytest.raises(ConnectionClosed) as closed:
                second.recv(timeout=30)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
    d.wait_for(r"stream session ended \(0 open\)", 30)
    with connect(url, open_timeout=30) as again:  # the slot is free once the first client left
        assert json.loads(again.recv(timeout=30))["type"] == "ready"
