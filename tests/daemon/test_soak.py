"""A short soak of the real daemon (`edge-asr bench soak --minutes 2`): live file at real time, uploads with a
burst that meets 429s, streams, SSE subscribers, SIGHUPs; no errors, no lost or duplicated journal lines. The hour
long run of the same command is what judges RSS growth (README)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.timeout(600), pytest.mark.slow]  # tests/run.sh runs it as its own tier

ROOT = Path(__file__).resolve().parents[2]
MINUTES = 2.0


def test_a_two_minute_soak_meets_its_targets(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    r = subprocess.run([sys.executable, "-m", "edge_asr", "bench", "soak", "--minutes", str(MINUTES),
                        "--json", str(out), "--report-every", "30"], capture_output=True, text=True, timeout=540,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.is_file(), r.stdout[-3000:] + r.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["errors"] == 0, report["error_examples"]
    j = report["journal"]
    assert j["lost"] == 0 and j["duplicated"] == 0 and j["near_duplicates"] == 0, j
    assert j["finals_seen_by_client"] > 0
    c = report["counts"]
    assert c.get("upload_ok_en-dev", 0) + c.get("upload_ok_en-wild", 0) > 0 and c.get("stream_ok", 0) > 0, c
    assert c.get("upload_429_burst", 0) > 0, "the burst met no 429: the queue bound was not exercised"
    assert c.get("sse_events", 0) > 0 and report["sighups"] >= 2, report
    assert report["daemon_exit_code"] == 0 and report["ok"] and r.returncode == 0, r.stdout[-3000:]
