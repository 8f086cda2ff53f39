"""The HTTP API of a real daemon subprocess, with real clients: httpx and OpenAI's own Python client."""

from __future__ import annotations

import itertools
import json
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from edge_asr.evaluate import wer
from edge_asr.formats import parse_srt

pytestmark = pytest.mark.timeout(300)

CORPUS_WER_BAR = 0.12  # tiny.en INT8 on en-dev measures about 0.05 through the CLI; the API must match that
HTTP_TIMEOUT = 120.0  # s


def _http_post(*args: Any, **kw: Any) -> httpx.Response:
    """httpx.post with the suite's timeout: on a loaded CI machine even an error reply can take over httpx's 5 s."""
    kw.setdefault("timeout", HTTP_TIMEOUT)
    return httpx.post(*args, **kw)


def _http_get(*args: Any, **kw: Any) -> httpx.Response:
    kw.setdefault("timeout", HTTP_TIMEOUT)
    return httpx.get(*args, **kw)


def _post(url: str, path: Path, **fields: str) -> httpx.Response:
    with path.open("rb") as f:
        return httpx.post(f"{url}/v1/audio/transcriptions", files={"file": (path.name, f)}, data=fields,
                          timeout=HTTP_TIMEOUT)


def _metrics(url: str) -> dict[str, float]:
    text = httpx.get(f"{url}/metrics", timeout=HTTP_TIMEOUT).text
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            key = s.name + ("{" + ",".join(f"{k}={v}" for k, v in sorted(s.labels.items())) + "}" if s.labels else "")
            out[key] = s.value
    return out


def test_uploads_transcribe_en_dev_with_the_cli_accuracy(shared_daemon, en_dev) -> None:
    refs, hyps = [], []
    for row in en_dev:
        r = _post(shared_daemon.url, Path(row["abspath"]))
        assert r.status_code == 200, r.text
        refs.append(row["reference_text"])
        hyps.append(r.json()["text"])
    assert wer(refs, hyps) < CORPUS_WER_BAR, list(zip(refs, hyps, strict=False))


def test_openai_client_works_against_the_daemon(shared_daemon, jfk_path) -> None:
    openai = pytest.importorskip("openai", reason="the OpenAI client (a test extra) is not installed")
    client = openai.OpenAI(base_url=f"{shared_daemon.url}/v1", api_key="unused-on-loopback", max_retries=0)
    with jfk_path.open("rb") as f:
        text = client.audio.transcriptions.create(model="whisper-1", file=f)
    assert "ask not what your country can do for you" in text.text.lower()
    with jfk_path.open("rb") as f:
        verbose = client.audio.transcriptions.create(model="whisper-1", file=f, response_format="verbose_json",
                                                     timestamp_granularities=["word", "segment"])
    assert verbose.language == "english"
    assert abs(verbose.duration - 11.0) < 0.1
    assert verbose.segments and verbose.words
    words = verbose.words
    assert all(a.start <= b.start for a, b in itertools.pairwise(words)), "word times go backwards"
    assert all(0 <= w.start <= w.end <= verbose.duration + 0.5 for w in words)
    assert words[-1].word.strip(".").lower() == "country"


def test_response_formats_agree(shared_daemon, jfk_path) -> None:
    url = shared_daemon.url
    plain = _post(url, jfk_path, response_format="json").json()["text"]
    text = _post(url, jfk_path, response_format="text")
    assert text.headers["content-type"].startswith("text/plain")
    assert text.text.strip() == plain
    cues = parse_srt(_post(url, jfk_path, response_format="srt").text)
    vtt = _post(url, jfk_path, response_format="vtt")
    assert vtt.text.startswith("WEBVTT")
    assert " ".join(" ".join(c[2].split()) for c in cues) == plain
    assert all(0 <= s <= e <= 11.5 for s, e, _ in cues)
    assert all(len(line) <= 42 for c in cues for line in c[2].split("\n")), cues  # subtitle-sized cues
    verbose = _post(url, jfk_path, response_format="verbose_json").json()
    assert verbose["text"] == plain and "words" not in verbose
    # Cues split long segments between words (at word times, so a cue may start at the first word, a little
    # after the segment): every segment starts a cue.
    assert all(any(abs(s["start"] - c[0]) < 0.3 for c in cues) for s in verbose["segments"]), (verbose, cues)


@pytest.mark.parametrize(
    ("kind", "status", "words"),
    [
        ("empty", 400, "empty"),
        ("not_audio", 400, "not audio"),
        ("truncated", 400, "audio"),
        ("no_file", 400, "'file'"),
        ("json_body", 415, "multipart/form-data"),
        ("malformed", 400, "multipart"),
        ("unterminated", 400, "'file'"),
        ("bad_format", 400, "response_format"),
        ("bad_language", 400, "English-only"),
        ("bad_temperature", 400, "temperature"),
    ],
)
def test_bad_uploads_get_a_clear_4xx_and_the_daemon_keeps_serving(shared_daemon, jfk_path, kind, status,
                                                                  words) -> None:
    url = f"{shared_daemon.url}/v1/audio/transcriptions"
    wav = jfk_path.read_bytes()
    if kind == "empty":
        r = _http_post(url, files={"file": ("empty.wav", b"")})
    elif kind == "not_audio":
        r = _http_post(url, files={"file": ("notes.wav", b"this is a text file, not audio\n" * 50)})
    elif kind == "truncated":
        r = _http_post(url, files={"file": ("cut.flac", wav[:300])})
    elif kind == "no_file":
        r = _http_post(url, data={"model": "whisper-1"}, files={"other": ("x.txt", b"x")})
    elif kind == "json_body":
        r = _http_post(url, json={"file": "jfk.flac"})
    elif kind == "malformed":
        r = _http_post(url, content=b"--xyz\r\n\r\nabc", headers={"content-type": "multipart/form-data"})
    elif kind == "unterminated":
        r = _http_post(url, content=b"--xyz\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc",
                       headers={"content-type": "multipart/form-data; boundary=xyz"})
    elif kind == "bad_format":
        r = _http_post(url, files={"file": ("jfk.flac", wav)}, data={"response_format": "mp3"})
    elif kind == "bad_language":
        r = _http_post(url, files={"file": ("jfk.flac", wav)}, data={"language": "de"})
    else:
        r = _http_post(url, files={"file": ("jfk.flac", wav)}, data={"temperature": "hot"})
    assert r.status_code == status, r.text
    body = r.json()
    assert words.lower() in body["error"]["message"].lower(), body
    assert _http_get(f"{shared_daemon.url}/healthz").status_code == 200
    assert _post(shared_daemon.url, jfk_path).status_code == 200


def _raw_upload(url: str, total: int, chunked: bool) -> bytes:
    """Send a huge body with a plain socket and return whatever the server answers (it may cut us off)."""
    u = urlparse(url)
    head = (f"POST /v1/audio/transcriptions HTTP/1.1\r\nHost: {u.hostname}\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\n")
    head += "Transfer-Encoding: chunked\r\n\r\n" if chunked else f"Content-Length: {total}\r\n\r\n"
    block = b"\0" * (1024 * 1024)
    with socket.create_connection((u.hostname, u.port or 80), timeout=60) as s:
        part = b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.wav"\r\n\r\n'
        s.sendall(head.encode() + (b"%x\r\n%s\r\n" % (len(part), part) if chunked else part))
        sent = 0
        try:
            while sent < total:
                s.sendall(b"%x\r\n%s\r\n" % (len(block), block) if chunked else block)
                sent += len(block)
        except OSError:
            pass  # the server answered and closed: read what it said
        s.shutdown(socket.SHUT_WR)
        data = b""
        try:
            while chunk := s.recv(65536):
                data += chunk
        except OSError:
            pass
    return data


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_200_mb_upload_is_refused_413_without_buffering_it(shared_daemon, jfk_path, chunked) -> None:
    answer = _raw_upload(shared_daemon.url, 200 * 1024 * 1024, chunked)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"larger than the limit" in answer
    assert _post(shared_daemon.url, jfk_path).status_code == 200


def test_eight_concurrent_clients_all_get_their_own_transcript(shared_daemon, en_dev) -> None:
    rows = [r for r in en_dev if r["path"].startswith("LJ")][:8]
    solo = {r["path"]: _post(shared_daemon.url, Path(r["abspath"])).json()["text"] for r in rows}
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda r: (r["path"], _post(shared_daemon.url, Path(r["abspath"]))), rows))
    for name, r in answers:
        assert r.status_code == 200, r.text
        assert r.json()["text"] == solo[name], "a concurrent answer differs from the same clip alone (mixed up?)"


def test_metrics_parse_and_move(shared_daemon, jfk_path) -> None:
    before = _metrics(shared_daemon.url)
    assert _post(shared_daemon.url, jfk_path).status_code == 200
    assert _http_post(f"{shared_daemon.url}/v1/audio/transcriptions", json={}).status_code == 415
    after = _metrics(shared_daemon.url)
    route = "/v1/audio/transcriptions"
    ok = f"edge_asr_http_requests_total{{method=POST,route={route},status=200}}"
    bad = f"edge_asr_http_errors_total{{kind=415,route={route}}}"
    assert after[ok] == before.get(ok, 0) + 1
    assert after[bad] == before.get(bad, 0) + 1
    assert after["edge_asr_audio_seconds_total{source=upload}"] >= before.get(
        "edge_asr_audio_seconds_total{source=upload}", 0) + 10.9
    count = f"edge_asr_http_request_duration_seconds_count{{route={route}}}"
    assert after[count] >= before.get(count, 0) + 2
    assert after["edge_asr_transcription_rtf_count{source=upload}"] >= 1
    assert after["edge_asr_model_load_seconds"] > 0
    assert after["edge_asr_model_ready"] == 1
    assert after["edge_asr_live_mic_available"] == 0  # started with --no-live
    assert after["edge_asr_process_rss_bytes"] > 50e6
    for name in ("process_cpu_seconds_total", "edge_asr_cpu_temperature_celsius",
                 "edge_asr_scheduler_queue_depth{source=upload}", "edge_asr_live_dropped_frames_total",
                 "edge_asr_live_end_of_utterance_latency_seconds_count"):
        assert name in after, name


def test_health_readiness_and_openapi(shared_daemon) -> None:
    url = shared_daemon.url
    assert _http_get(f"{url}/healthz").json() == {"status": "ok"}
    ready = _http_get(f"{url}/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready" and body["model"].startswith("tiny.en")
    assert body["mic"]["state"] == "stopped" and "disabled" in body["mic"]["reason"]
    spec = _http_get(f"{url}/openapi.json").json()
    assert "multipart/form-data" in json.dumps(spec["paths"]["/v1/audio/transcriptions"])
    assert _http_get(f"{url}/v1/models").json()["data"][0]["id"].startswith("tiny.en")
    missing = _http_get(f"{url}/nope")
    assert missing.status_code == 404 and "error" in missing.json()
