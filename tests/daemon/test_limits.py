"""Hostile and unlucky clients against a real daemon on 127.0.0.1 (issue 11, defects 3-5): idle WebSocket clients,
slowloris headers, a body that stops arriving, clients that vanish mid-upload, SIGTERM during a long upload,
/v1/live session limits. The new limits are set through environment variables, which a daemon without them
ignores, so these tests show the defect on a daemon that lacks the fix instead of failing on an unknown key."""

from __future__ import annotations

import io
import json
import re
import selectors
import signal
import socket
import threading
import time
from typing import Any
from urllib.parse import urlparse

import httpx
import numpy as np
import pytest
import soundfile as sf
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from edge_asr.audio import decode_audio

pytestmark = pytest.mark.timeout(240)

SR = 16_000
LIMIT = 1.0  # s: the short timeouts the daemons of these tests run with
SLACK = 4.0  # s beyond a limit for the server to act and the client to see it
SLOWLORIS = 1000  # connections, as in the report
CALM_FLOOD = 100  # connections during which a legitimate request must still be served
DISCONNECTS = 50


def _ws(url: str, path: str) -> str:
    return "ws" + url.removeprefix("http") + path


def _addr(url: str) -> tuple[str, int]:
    u = urlparse(url)
    return str(u.hostname), int(u.port or 80)


def _metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _wav(audio: np.ndarray) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, audio, SR, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def _closed_within(socks: list[socket.socket], seconds: float) -> int:
    """How many of ``socks`` the server closed (EOF) within ``seconds``."""
    sel = selectors.DefaultSelector()
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    closed, deadline = 0, time.monotonic() + seconds
    while closed < len(socks) and (left := deadline - time.monotonic()) > 0:
        for key, _ in sel.select(left):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                data = b""
            if not data:
                sel.unregister(sock)
                closed += 1
    sel.close()
    return closed


def test_idle_stream_clients_are_closed_and_free_their_slots(start_daemon, daemon_env, jfk_path) -> None:
    env = daemon_env(EDGE_ASR_SERVER_IDLE_TIMEOUT=str(LIMIT), EDGE_ASR_SCHEDULER_MAX_STREAMS="4")
    d = start_daemon(env=env)
    idle = [connect(_ws(d.url, "/v1/stream"), open_timeout=30) for _ in range(4)]
    for ws in idle:
        assert json.loads(ws.recv(timeout=30))["type"] == "ready"
    for ws in idle:  # they send nothing: each is told why and closed
        with pytest.raises(ConnectionClosed) as closed:
            msg = json.loads(ws.recv(timeout=LIMIT + SLACK))
            assert msg["type"] == "error" and "nothing received" in msg["message"], msg
            ws.recv(timeout=SLACK)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    pcm = (np.clip(decode_audio(jfk_path), -1, 1) * 32767).astype("<i2").tobytes()
    with connect(_ws(d.url, "/v1/stream"), open_timeout=30) as ws:  # a fifth client gets a slot
        assert json.loads(ws.recv(timeout=30))["type"] == "ready"
        for i in range(0, len(pcm), 8000):
            ws.send(pcm[i : i + 8000])
        ws.send(json.dumps({"type": "end"}))
        msgs: list[dict[str, Any]] = []
        while not msgs or msgs[-1]["type"] not in ("done", "error"):
            msgs.append(json.loads(ws.recv(timeout=60)))
    assert msgs[-1]["type"] == "done", msgs
    assert "country" in " ".join(m.get("text", "") for m in msgs)
    metrics = httpx.get(f"{d.url}/metrics").text
    assert _metric(metrics, "edge_asr_websocket_limit_closes_total", route="/v1/stream", reason="idle") == 4


def test_slowloris_connections_are_closed_after_the_header_timeout(start_daemon, daemon_env) -> None:
    d = start_daemon(env=daemon_env(EDGE_ASR_SERVER_HEADER_TIMEOUT=str(LIMIT)))
    host, port = _addr(d.url)
    partial = f"GET /healthz HTTP/1.1\r\nHost: {host}\r\nX-Slow: ".encode()

    flood = [socket.create_connection((host, port), timeout=30) for _ in range(CALM_FLOOD)]
    for s in flood:
        s.sendall(partial)
    assert httpx.get(f"{d.url}/healthz", timeout=10).status_code == 200  # served meanwhile
    for s in flood[:10]:  # trickling bytes does not extend the deadline
        s.sendall(b"a")
    assert _closed_within(flood, LIMIT + SLACK) == CALM_FLOOD, "slow-header connections are held open"

    flood = []
    for _ in range(SLOWLORIS):
        s = socket.create_connection((host, port), timeout=30)
        s.sendall(partial)
        flood.append(s)
    try:
        assert _closed_within(flood, LIMIT + 2 * SLACK) == SLOWLORIS, "slow-header connections are held open"
    finally:
        for s in flood:
            s.close()
    assert httpx.get(f"{d.url}/healthz", timeout=10).status_code == 200
    metrics = httpx.get(f"{d.url}/metrics").text
    closed = _metric(metrics, "edge_asr_closed_connections_total")
    assert closed == CALM_FLOOD + SLOWLORIS, metrics
    assert sum("closed connections:" in line for line in d.lines) <= 3, "each closed connection was logged"
    assert d.stop() == 0


def test_a_body_that_stops_arriving_gets_408(start_daemon, daemon_env) -> None:
    d = start_daemon(env=daemon_env(EDGE_ASR_SERVER_IDLE_TIMEOUT=str(LIMIT)))
    host, port = _addr(d.url)
    part = b'--b\r\nContent-Disposition: form-data; name="file"; filename="x.wav"\r\n\r\nRIFF'
    head = (f"POST /v1/audio/transcriptions HTTP/1.1\r\nHost: {host}\r\nContent-Length: 100000\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\n\r\n").encode()
    with socket.create_connection((host, port), timeout=LIMIT + SLACK) as s:
        s.sendall(head + part)
        answer = b""
        try:
            while chunk := s.recv(65536):
                answer += chunk
        except TimeoutError:
            pass
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert "stopped arriving" in body["error"]["message"]


def test_clients_that_vanish_mid_upload_are_one_info_line_each(start_daemon, jfk_path) -> None:
    d = start_daemon()
    host, port = _addr(d.url)
    wav = jfk_path.read_bytes()
    part = b'--b\r\nContent-Disposition: form-data; name="file"; filename="jfk.flac"\r\n\r\n' + wav[: len(wav) // 2]
    head = (f"POST /v1/audio/transcriptions HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(wav) + 200}\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\n\r\n").encode()
    mark = len(d.lines)
    for _ in range(DISCONNECTS):
        with socket.create_connection((host, port), timeout=30) as s:
            s.sendall(head + part)
    d.wait_count("the client disconnected before the answer", DISCONNECTS, 60, mark)
    with jfk_path.open("rb") as f:  # still serving
        assert httpx.post(f"{d.url}/v1/audio/transcriptions", files={"file": ("jfk.flac", f)},
                          timeout=120).status_code == 200
    metrics = httpx.get(f"{d.url}/metrics").text
    route = "/v1/audio/transcriptions"
    assert _metric(metrics, "edge_asr_http_requests_total", route=route, status="499") == DISCONNECTS
    assert _metric(metrics, "edge_asr_http_requests_total", route=route, status="500") == 0
    assert _metric(metrics, "edge_asr_http_errors_total", route=route) == 0
    log = d.lines[mark:]
    assert not [line for line in log if "Traceback" in line or line.startswith(("ERROR", "CRITICAL"))], \
        "\n".join(log[:80])
    assert len(log) <= DISCONNECTS + 5, f"{len(log)} log lines for {DISCONNECTS} disconnects"
    assert d.stop() == 0


def test_sigterm_during_a_long_upload_answers_503_json_and_exits_cleanly(start_daemon, daemon_env,
                                                                         jfk_path) -> None:
    d = start_daemon(env=daemon_env(EDGE_ASR_SERVER_GRACEFUL_TIMEOUT=str(LIMIT)))
    data = _wav(np.tile(decode_audio(jfk_path), 20))  # 220 s of speech: several seconds of work, more than LIMIT
    result: dict[str, httpx.Response] = {}

    def upload() -> None:
        result["r"] = httpx.post(f"{d.url}/v1/audio/transcriptions", files={"file": ("long.wav", data)},
                                 timeout=120)

    t = threading.Thread(target=upload)
    mark = len(d.lines)
    t.start()
    d.wait_for("upload long.wav: .* queued", 60, mark)
    d.send_signal(signal.SIGTERM)
    t.join(60)
    r = result["r"]
    assert r.status_code == 503, r.text
    assert r.headers["content-type"].startswith("application/json"), r.headers
    assert int(r.headers["Retry-After"]) >= 1
    assert "grace period" in r.json()["error"]["message"]
    assert d.stop(timeout=60) == 0, d.log()
    log = d.log()
    assert "never retrieved" not in log and "Traceback" not in log, log


def test_live_subscriptions_end_at_the_session_limit(start_daemon, daemon_env) -> None:
    d = start_daemon(env=daemon_env(EDGE_ASR_LIVE_MAX_SESSION_SECONDS=str(LIMIT)))
    t0 = time.monotonic()
    with connect(_ws(d.url, "/v1/live"), open_timeout=30) as ws:
        assert json.loads(ws.recv(timeout=30))["type"] == "hello"
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=LIMIT + SLACK)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
    assert "session time limit" in closed.value.rcvd.reason
    with httpx.stream("GET", f"{d.url}/v1/live", timeout=LIMIT + SLACK) as r:
        assert r.status_code == 200
        body = b"".join(r.iter_bytes())  # ends by itself
    assert body.startswith(b"retry:")
    assert time.monotonic() - t0 < 2 * (LIMIT + SLACK)
    metrics = httpx.get(f"{d.url}/metrics").text
    assert _metric(metrics, "edge_asr_websocket_limit_closes_total", route="/v1/live", reason="session_limit") == 2
    assert re.search(r"edge_asr_live_clients 0\.0", metrics)
