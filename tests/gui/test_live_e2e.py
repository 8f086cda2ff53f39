"""End to end: click Record, speak an en-dev clip into the virtual microphone, see it firm up into a final line;
unplug the microphone and see the banner. The real window, the real pipeline, the real engine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from edge_asr.evaluate import wer

from .conftest import ROOT

CHILD_TIMEOUT_S = 240  # s: model load, a 10-s clip in real time, decoding and the device watchdog
WER_BAR = 0.25  # word error rate a live utterance of a clean clip must stay under (normalised)


def test_record_speak_final_and_unplug(en_dev: list[dict[str, str]], artifacts: Path, tmp_path: Path) -> None:
    row = next(r for r in en_dev if r["path"].startswith("LJ001-0001"))
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("live_e2e_child.py")), row["abspath"], str(artifacts),
         str(tmp_path / "s.ini")],
        cwd=ROOT, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    seen = json.loads(lines[-1])
    assert seen["started"], f"recording did not start: {seen['start_banner']}"
    assert seen["final_ok"], seen
    assert seen["partials"] >= 1, "partials must appear before the final"
    assert wer([row["reference_text"]], [seen["text"]]) < WER_BAR, (row["reference_text"], seen["text"])
    assert seen["device_lost"], f"no banner after the microphone stopped: {seen}"
    assert seen["stopped"]
