"""Python 3.10 (JetPack 6) raises asyncio.TimeoutError / concurrent.futures.TimeoutError, which are not the builtin
TimeoutError there (issue 9, item 5). Checked two ways without needing 3.10: the real daemon run with 3.10's
classes swapped in (tests/daemon/py310_timeouts.py), and a scan of the source for handlers of the builtin."""

from __future__ import annotations

import ast
import asyncio
import io
import socket
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf

from edge_asr.audio import decode_audio

pytestmark = pytest.mark.timeout(240)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SR = 16_000
WATCHDOG_USEC = 400_000  # the daemon pings every 0.2 s
PINGS = 5
REQUEST_TIMEOUT = 0.5  # s: shorter than the long upload below takes
ALLOW_MARK = "builtin TimeoutError:"  # a comment saying why a handler of the builtin is right there


def _long_wav(jfk: Path) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, np.tile(decode_audio(jfk), 20), SR, format="WAV", subtype="PCM_16")  # 220 s of speech
    return buf.getvalue()


def test_daemon_timeouts_behave_with_python_310_exception_classes(start_daemon, daemon_env, tmp_path,
                                                                 jfk_path) -> None:
    notify_path = tmp_path / "notify"
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(notify_path))
    notify.settimeout(30)
    env = daemon_env(NOTIFY_SOCKET=str(notify_path), WATCHDOG_USEC=str(WATCHDOG_USEC))
    extra = ["--set", f"server.request_timeout={REQUEST_TIMEOUT}"]
    wyoming = _has("wyoming")
    if wyoming:
        extra += ["--set", "wyoming.enabled=true", "--set", "wyoming.port=0"]
    grpc_ok = _has("grpc") and _has("grpc_tools")
    if grpc_ok:
        extra += ["--set", "grpc.enabled=true", "--set", "grpc.port=0"]
    d = start_daemon(*extra, env=env, script=[str(HERE / "py310_timeouts.py")])
    if any("cannot simulate" in line for line in d.lines):
        pytest.skip("this Python raises the builtin TimeoutError from asyncio.wait_for (3.12+)")

    pings, deadline = 0, time.monotonic() + 30
    while pings < PINGS and time.monotonic() < deadline:  # the watchdog task survives its timeouts
        pings += notify.recv(4096).decode().split("\n").count("WATCHDOG=1")
    assert pings >= PINGS
    notify.close()

    with httpx.stream("GET", f"{d.url}/v1/live", timeout=10) as r:  # SSE keep-alive after a quiet interval
        lines = r.iter_lines()
        assert next(lines).startswith("retry:")
        assert any(line.startswith(": keep-alive") for line, _ in zip(lines, range(4), strict=False))

    data = _long_wav(jfk_path)
    r = httpx.post(f"{d.url}/v1/audio/transcriptions", files={"file": ("long.wav", data)}, timeout=120)
    assert r.status_code == 504, r.text
    assert r.json()["error"]["type"] == "timeout"

    if wyoming:
        port = int(d.wait_for(r"wyoming listening on tcp://127\.0\.0\.1:(\d+)", 30).group(1))
        assert asyncio.run(_wyoming(port, data)) == "timeout"
    if grpc_ok:
        import grpc

        port = int(d.wait_for(r"grpc listening on tcp://127\.0\.0\.1:(\d+)", 30).group(1))
        pb, svc = grpc.protos_and_services("edge_asr/daemon/proto/edge_asr.proto")
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel, pytest.raises(grpc.RpcError) as err:
            svc.TranscriptionStub(channel).Transcribe(pb.TranscribeRequest(audio=data), timeout=120)
        assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED, err.value
    assert d.stop() == 0, d.log()
    assert "Traceback" not in d.log(), d.log()


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


async def _wyoming(port: int, wav: bytes) -> str:
    from wyoming.audio import AudioChunk, AudioStart, AudioStop
    from wyoming.client import AsyncTcpClient
    from wyoming.error import Error

    audio = decode_audio(wav)
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()
    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(AudioStart(rate=SR, width=2, channels=1).event())
        step = 32_000
        for i in range(0, len(pcm), step):
            await client.write_event(AudioChunk(rate=SR, width=2, channels=1, audio=pcm[i : i + step]).event())
        await client.write_event(AudioStop().event())
        event = await asyncio.wait_for(client.read_event(), 60)
    assert event is not None and Error.is_type(event.type), event
    return str(Error.from_event(event).code)


def _handlers_of_the_builtin(tree: ast.AST, source: list[str]) -> list[int]:
    """Lines that catch, suppress or test for the bare builtin TimeoutError."""
    found = []

    def names(node: ast.AST | None) -> list[ast.AST]:
        if node is None:
            return []
        return list(node.elts) if isinstance(node, ast.Tuple) else [node]

    for node in ast.walk(tree):
        candidates: list[ast.AST] = []
        if isinstance(node, ast.ExceptHandler):
            candidates = names(node.type)
        elif isinstance(node, ast.Call):
            fn = node.func
            called = fn.attr if isinstance(fn, ast.Attribute) else fn.id if isinstance(fn, ast.Name) else ""
            if called == "suppress":
                candidates = list(node.args)
            elif called == "isinstance" and len(node.args) == 2:
                candidates = names(node.args[1])
        for c in candidates:
            if isinstance(c, ast.Name) and c.id == "TimeoutError" and ALLOW_MARK not in source[c.lineno - 1]:
                found.append(c.lineno)
    return found


def test_no_handler_of_the_builtin_timeout_error_in_the_daemon_or_core() -> None:
    """asyncio.wait_for / Future.result timeouts must be caught as asyncio.TimeoutError or
    concurrent.futures.TimeoutError; a handler of the builtin is allowed only with a comment saying why."""
    offenders = []
    for path in sorted((ROOT / "edge_asr").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for line in _handlers_of_the_builtin(ast.parse(text), text.splitlines()):
            offenders.append(f"{path.relative_to(ROOT)}:{line}")
    assert not offenders, "catch asyncio.TimeoutError / concurrent.futures.TimeoutError instead: " + ", ".join(
        offenders)
