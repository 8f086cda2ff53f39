"""`edge-asr listen` and `edge-asr devices` as a user runs them: real processes, real files, a real Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from edge_asr.evaluate import wer

ROOT = Path(__file__).resolve().parents[2]
PROCESS_TIMEOUT = 120  # s: interpreter start, model load (cached build), decoding
JFK = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."


def edge_asr(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edge_asr", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=PROCESS_TIMEOUT, check=False, **kw)  # type: ignore[call-overload]


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_listen_to_a_file_writes_one_final_per_line(jfk_path, tmp_path) -> None:
    out = tmp_path / "notes.jsonl"
    proc = edge_asr("listen", "--file", str(jfk_path), "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    lines = read_jsonl(out)
    assert lines and all(d["type"] == "final" for d in lines)
    assert all({"text", "start", "end"} <= set(d) and d["start"] <= d["end"] for d in lines)
    assert [d["start"] for d in lines] == sorted(d["start"] for d in lines)
    assert wer([JFK], [" ".join(d["text"] for d in lines)]) < 0.2
    shown = [ln for ln in proc.stdout.splitlines() if ln.startswith("[")]
    assert len(shown) == len(lines) and lines[0]["text"] in shown[0]  # "[00:00.32 -> 00:02.18] And so ..."


def test_all_events_can_be_written(jfk_path, tmp_path) -> None:
    out = tmp_path / "all.jsonl"
    proc = edge_asr("listen", "--file", str(jfk_path), "--output", str(out), "--events", "all", "--quiet")
    assert proc.returncode == 0, proc.stderr
    kinds = {d["type"] for d in read_jsonl(out)}
    assert {"final", "partial", "level"} <= kinds
    assert proc.stdout == ""


def test_ctrl_c_flushes_the_utterance_in_flight(jfk_path, tmp_path) -> None:
    out = tmp_path / "notes.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "edge_asr", "listen", "--file", str(jfk_path), "--realtime",
                             "--output", str(out)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    first = threading.Event()
    lines: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            first.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert first.wait(PROCESS_TIMEOUT), "no final from the paced file"  # "And so my fellow Americans." ~2.7 s
        # The first final is out about 0.5 s after its speech ended (2.2 s); "what your country can do for you"
        # runs from 5.4 s to 7.6 s: interrupt after "country" (~6.9 s) and before "ask what you" (8.3 s). A cut
        # inside "country" decodes as noise ("what you are cult?"), which is published, not lost, but unreadable.
        threading.Event().wait(4.2)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    notes = read_jsonl(out)
    assert len(notes) >= 2, notes
    last = notes[-1]["text"].lower()
    assert last.startswith("what") and "country" in last and "ask what you" not in last, notes  # cut mid-utterance
    assert 5.0 < notes[-1]["start"] < notes[-1]["end"] < 7.7


def test_devices_lists_the_virtual_mic(vmic) -> None:
    proc = edge_asr("devices", env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    assert "pulse" in proc.stdout and "host API" in proc.stdout
    proc = edge_asr("devices", "--json", env=dict(os.environ))
    devices = [json.loads(line) for line in proc.stdout.splitlines()]
    assert any(d["name"] == "pulse" and d["channels"] > 0 for d in devices)


def test_a_missing_device_is_a_clear_error(vmic) -> None:
    started = time.monotonic()
    proc = edge_asr("listen", "--device", "No Such Microphone", env=dict(os.environ))
    assert proc.returncode == 2
    assert "no input device matches 'No Such Microphone'" in proc.stderr and "pulse" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert time.monotonic() - started < 30  # fails before loading the model


def test_realtime_needs_a_file() -> None:
    proc = edge_asr("listen", "--realtime")
    assert proc.returncode == 2 and "--realtime" in proc.stderr


@pytest.fixture(autouse=True)
def _test_cache(monkeypatch) -> None:
    # Subprocesses use the session's model cache (tests/conftest.py sets it in os.environ).
    monkeypatch.setenv("EDGE_ASR_CACHE_DIR", os.environ["EDGE_ASR_CACHE_DIR"])


def test_terminal_overwrites_an_early_final_that_was_amended(monkeypatch) -> None:
    import io

    from edge_asr.cli.listen import TerminalView
    from edge_asr.live.events import Final, Partial
    from edge_asr.results import Segment

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setenv("TERM", "xterm")
    out = Tty()
    view = TerminalView(out, quiet=False)
    seg = lambda i, e, t: Segment(i, 1.0, e, t, (), -0.1, 1.0, 0.0)  # noqa: E731
    view(Final(seg(0, 2.0, " Ask not.")))
    view(Partial("ask not what your", "ask not", 0.5, 3.0))
    view(Final(seg(1, 4.0, " Ask not what your country can do for you."), replaces=0))
    text = out.getvalue()
    up = text.index("\x1b[1A")  # back to the early final's line, cleared, then the amended one
    assert text.index("Ask not.") < up < text.index("Ask not what your country can do for you.")
