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


CUT_AFTER = 7.0  # s: "what your country can do for you" runs 5.4-7.6 s, "country" ends ~6.9 s, "ask" starts 8.2 s


def _words(text: str) -> list[str]:
    return [w for w in "".join(c if c.isalnum() or c.isspace() else " " for c in text.lower()).split()]


def test_ctrl_c_flushes_the_utterance_in_flight(jfk_path) -> None:
    # The events go to stdout as JSON lines (a pipe: also the case of `--output /dev/stdout | jq`). The signal is
    # cued by a partial of the third utterance whose audio reaches CUT_AFTER: an utterance is then in flight. On a
    # quiet machine that is inside "... can do for you"; on a loaded one the partial comes later, and whichever
    # utterance is in flight when the signal lands is the one that must be published, with the words shown so far.
    proc = subprocess.Popen([sys.executable, "-m", "edge_asr", "listen", "--file", str(jfk_path), "--realtime",
                             "--quiet", "--events", "final,partial", "--output", "/dev/stdout"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    cue = threading.Event()
    lock = threading.Lock()
    events: list[dict] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            ev = json.loads(line)
            with lock:
                events.append(ev)
            if ev["type"] == "partial" and ev["start"] > 4.5 and ev["end"] >= CUT_AFTER:
                cue.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert cue.wait(PROCESS_TIMEOUT), f"no partial of the third utterance reached {CUT_AFTER} s: {events}"
        with lock:
            proc.send_signal(signal.SIGINT)
            before = list(events)
        proc.wait(timeout=60)  # not communicate(): it would read stdout too, taking lines from the reader
    finally:
        if proc.poll() is None:
            proc.kill()
    reader.join(timeout=10)
    assert proc.stderr is not None
    err = proc.stderr.read()
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    # The utterance in flight: the one the last partial before the signal belongs to, with no final yet.
    shown = [ev for ev in before if ev["type"] == "partial" and ev["text"]][-1]
    assert not [ev for ev in before if ev["type"] == "final" and ev["end"] > shown["start"]], (shown, before)
    after = [ev for ev in events[len(before):] if ev["type"] == "final" and ev["end"] > shown["start"]]
    assert after, f"the utterance in flight was lost: last partial {shown}, events {events}"
    final = after[0]
    assert final["start"] < shown["end"] and final["end"] >= shown["end"] - 0.5, (shown, final)
    assert _words(final["text"]), final
    assert len([ev for ev in events if ev["type"] == "final"]) >= 2, events
    if shown["start"] > 4.5 and shown["end"] < 7.6:  # the signal landed in "... can do for you", as meant
        text = " ".join(_words(final["text"]))
        assert text.startswith("what") and "country" in text and "ask what you" not in text, final


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
