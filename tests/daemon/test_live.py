"""Live mode in a real daemon subprocess: microphone retries with backoff, finals on /v1/live (WebSocket and SSE),
in the journal and the log, metrics, and the flush of the utterance in flight on SIGTERM.

The pipeline here is scripted (tests/daemon/scripted_live.py) to inject the missing-mic and unplug faults; its
"speech" is a real clip decoded by the real model through the daemon's scheduler.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from edge_asr.daemon.journal import read_journal

pytestmark = pytest.mark.timeout(180)

HERE = Path(__file__).resolve().parent
FAILS = 2  # scripted failures to open the "microphone" before it works


def test_live_events_reach_websocket_sse_journal_log_and_metrics(start_daemon, tmp_path, jfk_path) -> None:
    journal = tmp_path / "journal"
    d = start_daemon("--set", "live.retry_initial=0.5", live=True,
                     script=[str(HERE / "scripted_live.py"), str(jfk_path), str(FAILS)])
    try:
        d.wait_for(r"microphone unavailable \(no input device \(scripted failure 1\)\); retrying in 0.5 s", 30)
        d.wait_for(r"retrying in 1.0 s", 30)  # the backoff doubled
        d.wait_for("live: capturing", 30)
        ws_url = "ws" + d.url.removeprefix("http") + "/v1/live?types=final,device_lost,device_back"
        with connect(ws_url, open_timeout=30) as ws:
            hello = json.loads(ws.recv(timeout=30))
            assert hello["type"] == "hello" and hello["mic"]["state"] in ("running", "unavailable")
            finals: list[dict[str, Any]] = []
            while len(finals) < 4:
                msg = json.loads(ws.recv(timeout=60))
                assert msg["type"] in ("final", "device_lost", "device_back")
                if msg["type"] == "final":
                    finals.append(msg)
        text = " ".join(f["text"] for f in finals[:2]).lower()
        assert "ask not what your country can do for you" in text
        assert all(f["end"] > f["start"] >= 0 and f["latency"] > 0 for f in finals)

        with httpx.stream("GET", f"{d.url}/v1/live", params={"types": "final"}, timeout=60) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            events = []
            for line in r.iter_lines():
                if line.startswith("data: "):
                    events.append(json.loads(line[6:]))
                    if len(events) == 2:
                        break
        assert all(e["type"] == "final" and e["text"] for e in events)

        assert httpx.get(f"{d.url}/v1/live", params={"types": "bogus"}).status_code == 400
        ready = httpx.get(f"{d.url}/readyz").json()
        assert ready["mic"]["state"] == "running"
        metrics = httpx.get(f"{d.url}/metrics").text
        assert "edge_asr_live_mic_available 1.0" in metrics
        assert 'edge_asr_scheduler_jobs_total{outcome="ok",source="live"}' in metrics
        assert "edge_asr_live_end_of_utterance_latency_seconds_count" in metrics
        d.wait_for(r"live \[\d+\.\d+-\d+\.\d+\]: And so my fellow Americans", 10)  # finals go to the log
    finally:
        code = d.stop(signal.SIGTERM)
    assert code == 0, d.log()
    records = [r for p in sorted(journal.glob("*.jsonl")) for r in read_journal(p)]
    assert len(records) >= 4
    assert records[-1]["text"] == "flushed on stop", "the utterance in flight on SIGTERM was not journaled"
    assert all(r["type"] == "final" and r["utc"] and r["device"] for r in records)
    starts = [r["start"] for r in records]
    assert starts == sorted(starts)
