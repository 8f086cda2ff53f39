"""Service behaviour of a real daemon subprocess: signals, sd_notify, reload, auth, limits, queue overflow."""

from __future__ import annotations

import io
import signal
import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf

from edge_asr.audio import decode_audio

pytestmark = pytest.mark.timeout(300)

ROOT = Path(__file__).resolve().parents[2]

SR = 16_000


def _long_wav(en_dev: list[dict[str, str]], clips: int) -> bytes:
    audio = np.concatenate([decode_audio(r["abspath"]) for r in en_dev[:clips]])
    buf = io.BytesIO()
    sf.write(buf, audio, SR, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def _upload(url: str, data: bytes, name: str = "clip.wav", **kw: object) -> httpx.Response:
    return httpx.post(f"{url}/v1/audio/transcriptions", files={"file": (name, data)}, timeout=120, **kw)  # type: ignore[arg-type]


class NotifySocket:
    """A stand-in for systemd's notify socket: a datagram socket the daemon's sd_notify writes to."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(60)

    def until(self, field: str) -> list[str]:
        """Messages received up to and including one that contains ``field``."""
        seen = []
        while True:
            msg = self.sock.recv(4096).decode()
            seen.append(msg)
            if field in msg.split("\n"):
                return seen


def test_sd_notify_ready_watchdog_reload_and_stop(start_daemon, daemon_env, tmp_path) -> None:
    notify = NotifySocket(tmp_path / "notify")
    cfg = tmp_path / "config.toml"
    cfg.write_text("[log]\nlevel = \"info\"\n[scheduler]\nmax_queue = 4\n")
    env = daemon_env(NOTIFY_SOCKET=str(notify.path), WATCHDOG_USEC="1000000")
    d = start_daemon("--config", str(cfg), env=env)
    assert any("READY=1" in m for m in notify.until("READY=1"))
    notify.until("WATCHDOG=1")
    notify.until("WATCHDOG=1")  # keeps pinging at half the 1-s interval

    mark = len(d.lines)
    cfg.write_text("[log]\nlevel = \"debug\"\n[server]\nhost = \"127.0.0.2\"\n[scheduler]\nmax_queue = 2\n")
    d.send_signal(signal.SIGHUP)
    notify.until("RELOADING=1")
    notify.until("READY=1")
    d.wait_for("need a restart to change: server.host", 30, mark)
    assert httpx.get(f"{d.url}/healthz").status_code == 200  # still on the old port

    mark = len(d.lines)
    cfg.write_text("[scheduler]\nmax_queue = -3\n")
    d.send_signal(signal.SIGHUP)
    d.wait_for(r"reload failed, keeping the running configuration: .*scheduler\.max_queue must be positive", 30, mark)
    assert httpx.get(f"{d.url}/readyz").status_code == 200

    d.send_signal(signal.SIGTERM)
    notify.until("STOPPING=1")
    assert d.stop() == 0


def test_sigterm_during_an_upload_answers_it_then_exits_0(start_daemon, en_dev) -> None:
    d = start_daemon()
    data = _long_wav(en_dev, 12)  # about 70 s of speech: a few seconds of work
    solo = _upload(d.url, data).json()["text"]
    result: dict[str, httpx.Response] = {}
    t = threading.Thread(target=lambda: result.setdefault("r", _upload(d.url, data)))
    mark = len(d.lines)
    t.start()
    d.wait_for("upload clip.wav: .* queued", 60, mark)
    d.send_signal(signal.SIGTERM)
    d.wait_for("stopping", 30, mark)
    with pytest.raises(httpx.HTTPError):
        for _ in range(50):  # new work is refused while the old finishes: 503 first, then no listener
            r = _upload(d.url, b"RIFF")
            assert r.status_code == 503, r.text
    t.join(120)
    assert result["r"].status_code == 200, result["r"].text
    assert result["r"].json()["text"] == solo
    assert d.stop(timeout=60) == 0


def test_a_full_queue_answers_429_with_retry_after_and_loses_nothing(start_daemon, en_dev) -> None:
    d = start_daemon("--set", "scheduler.max_queue=1")
    data = _long_wav(en_dev, 6)
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: _upload(d.url, data), range(6)))
    codes = sorted(r.status_code for r in answers)
    assert 429 in codes and 200 in codes and set(codes) <= {200, 429}, codes
    texts = {r.json()["text"] for r in answers if r.status_code == 200}
    assert len(texts) == 1, "the same audio gave different transcripts under load"
    busy = next(r for r in answers if r.status_code == 429)
    assert int(busy.headers["Retry-After"]) >= 1
    assert "queue is full" in busy.json()["error"]["message"]
    assert _upload(d.url, data).status_code == 200  # served again once the queue drained


def test_token_is_enforced_and_openai_client_sends_it(start_daemon, tmp_path, jfk_path) -> None:
    openai = pytest.importorskip("openai", reason="the OpenAI client (a test extra) is not installed")
    token = tmp_path / "token"
    token.write_text("correct horse battery staple\n")
    d = start_daemon("--token-file", str(token))
    wav = jfk_path.read_bytes()
    assert httpx.get(f"{d.url}/healthz").status_code == 200  # health stays public for probes
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic Y29ycmVjdA=="}):
        r = _upload(d.url, wav, headers=headers)
        assert r.status_code == 401 and "token" in r.json()["error"]["message"]
        assert httpx.get(f"{d.url}/metrics", headers=headers).status_code == 401
    ok = _upload(d.url, wav, headers={"Authorization": "Bearer correct horse battery staple"})
    assert ok.status_code == 200
    client = openai.OpenAI(base_url=f"{d.url}/v1", api_key="correct horse battery staple", max_retries=0)
    with jfk_path.open("rb") as f:
        assert "your country" in client.audio.transcriptions.create(model="whisper-1", file=f).text
    bad = openai.OpenAI(base_url=f"{d.url}/v1", api_key="nope", max_retries=0)
    with jfk_path.open("rb") as f, pytest.raises(openai.AuthenticationError):
        bad.audio.transcriptions.create(model="whisper-1", file=f)


def _run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edge_asr.daemon", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_binding_off_loopback_without_a_token_is_refused(daemon_env) -> None:
    r = _run_cli(daemon_env(), "--host", "0.0.0.0", "--port", "0", "--no-live")
    assert r.returncode == 2
    assert "not a loopback address" in r.stderr and "token" in r.stderr


def test_a_port_in_use_is_a_clear_error(daemon_env) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = _run_cli(daemon_env(), "--port", str(port), "--no-live")
    assert r.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in r.stderr


def test_upload_and_audio_limits_come_from_the_config(start_daemon, tmp_path, jfk_path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[server]\nmax_upload_bytes = 200_000\nmax_audio_seconds = 5.0\n")
    d = start_daemon("--config", str(cfg))
    big = _upload(d.url, b"\0" * 300_000)
    assert big.status_code == 413 and "200000 bytes" in big.json()["error"]["message"]
    buf = io.BytesIO()
    sf.write(buf, decode_audio(jfk_path, sample_rate=8000), 8000, format="WAV", subtype="PCM_16")  # 176 kB
    long = _upload(d.url, buf.getvalue(), name="jfk.wav")  # 11 s > 5 s
    assert long.status_code == 413 and "longer than the limit of 5 s" in long.json()["error"]["message"]


def test_off_loopback_the_token_is_required(start_daemon, daemon_env, jfk_path) -> None:
    """Bound to every interface (traffic in this test still only goes to 127.0.0.1), with the token from the
    environment: nothing but the health probes answers without it."""
    d = start_daemon("--host", "0.0.0.0", env=daemon_env(EDGE_ASR_TOKEN="lan-token"))
    url = d.url.replace("0.0.0.0", "127.0.0.1")
    assert httpx.get(f"{url}/readyz").status_code == 200
    assert httpx.get(f"{url}/metrics").status_code == 401
    assert _upload(url, jfk_path.read_bytes()).status_code == 401
    ok = _upload(url, jfk_path.read_bytes(), headers={"Authorization": "Bearer lan-token"})
    assert ok.status_code == 200


def test_a_model_that_cannot_load_leaves_health_and_metrics_up(start_daemon, tmp_path) -> None:
    d = start_daemon("--model", str(tmp_path / "no-such-checkpoint"), ready=False)
    d.wait_for("cannot load the model", 60)
    ready = httpx.get(f"{d.url}/readyz")
    assert ready.status_code == 503 and ready.json()["status"] == "error" and ready.json()["error"]
    assert httpx.get(f"{d.url}/healthz").status_code == 200
    assert "edge_asr_model_ready 0.0" in httpx.get(f"{d.url}/metrics").text
    r = _upload(d.url, b"RIFF....WAVE")
    assert r.status_code == 503 and "could not be loaded" in r.json()["error"]["message"]
