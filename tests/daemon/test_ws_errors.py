"""A RuntimeError inside a WebSocket handler is a bug to report, not a disconnect to ignore (issue 11, defect 11).
In-process (Starlette's TestClient) with a scheduler and an event hub that fail on purpose."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from edge_asr.daemon.app import WS_INTERNAL_ERROR, DaemonState, create_app
from edge_asr.daemon.config import DaemonConfig
from edge_asr.daemon.live import Subscriber
from edge_asr.daemon.metrics import Metrics

pytestmark = pytest.mark.timeout(60)

SR = 16_000


class BrokenScheduler:
    def submit(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("scheduler bug (injected)")

    def depth(self) -> dict[str, int]:
        return {}


class Unserializable(dict):  # type: ignore[type-arg]
    def items(self) -> Any:  # json.dumps walks a dict subclass through items()
        raise RuntimeError("event bug (injected)")


class OneEventHub:
    max_clients = 4

    def subscribe(self, types: frozenset[str]) -> Subscriber:
        sub = Subscriber(types)
        sub.queue.put_nowait(Unserializable(type="final"))
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        pass


def _client(**state: Any) -> TestClient:
    daemon = DaemonState(DaemonConfig(), Metrics(), **state)
    daemon.model_name = "fake"
    return TestClient(create_app(daemon))


def test_a_runtime_error_in_a_stream_session_is_logged_and_closes_1011(caplog) -> None:
    client = _client(scheduler=BrokenScheduler())
    pcm = np.zeros(3 * SR, dtype="<i2").tobytes()
    with caplog.at_level(logging.ERROR, logger="edge_asr"), client.websocket_connect("/v1/stream") as ws:
        assert ws.receive_json()["type"] == "ready"
        for i in range(0, len(pcm), SR):  # 1 s per message: the second one surfaces the failed decode
            ws.send_bytes(pcm[i : i + SR])
        msg = ws.receive_json()
        assert msg["type"] == "error" and "internal error" in msg["message"], msg
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == WS_INTERNAL_ERROR
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert failures and failures[0].exc_info and "scheduler bug" in str(failures[0].exc_info[1])


def test_a_runtime_error_in_a_live_session_is_logged_and_closes_1011(caplog) -> None:
    client = _client(hub=OneEventHub())
    with caplog.at_level(logging.ERROR, logger="edge_asr"), client.websocket_connect("/v1/live") as ws:
        assert ws.receive_json()["type"] == "hello"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == WS_INTERNAL_ERROR
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert failures and failures[0].exc_info and "event bug" in str(failures[0].exc_info[1])
