"""The JSONL journal: durability, rotation, retention, and crash safety under a real kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge_asr.daemon.journal import Journal, read_journal, repair_tail

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[2]
KILL_ROUNDS = 6
BIG_TEXT = 256 * 1024  # characters per record in the crash test, so writes span many pages
KILL_STEP_BYTES = 2 * BIG_TEXT  # the journal grows by about this much more each round before the kill
GROWTH_WAIT = 30.0  # s for the writer to append that much


class Clock:
    def __init__(self, day: str) -> None:
        self.day = day

    def __call__(self) -> str:
        return self.day


def _journal_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.glob("*.jsonl"))


def _wait_for_growth(directory: Path, nbytes: int) -> None:
    """Until the journal files hold ``nbytes`` more than now (the writer is then mid-stream, not starting)."""
    target, deadline = _journal_bytes(directory) + nbytes, time.monotonic() + GROWTH_WAIT
    while _journal_bytes(directory) < target:
        assert time.monotonic() < deadline, f"the writer appended less than {nbytes} bytes in {GROWTH_WAIT} s"
        time.sleep(0.001)  # a file's size has no event to wait on; 1 ms is far below one record's write


def _all_records(directory: Path) -> list[dict]:
    j = Journal(directory, max_bytes=1 << 30)
    return [r for p in j.files() for r in read_journal(p)]


def test_lines_rotate_by_size_and_by_day_and_old_files_are_pruned(tmp_path: Path) -> None:
    clock = Clock("2026-01-01")
    j = Journal(tmp_path, max_bytes=300, rotate_daily=True, keep_files=3, today=clock)
    for i in range(10):
        j.append({"i": i, "text": "x" * 50})  # ~70 bytes a line: 4 lines per file
    clock.day = "2026-01-02"
    j.append({"i": 10, "text": "new day"})
    j.close()
    names = [p.name for p in j.files()]
    assert names == ["transcript-2026-01-01-001.jsonl", "transcript-2026-01-01-002.jsonl",
                     "transcript-2026-01-02-000.jsonl"]
    assert all(p.stat().st_size <= 300 for p in j.files())
    kept = [r["i"] for r in _all_records(tmp_path)]
    assert kept == sorted(kept) and kept[-1] == 10 and kept[0] == 4  # the oldest file (0..3) was pruned


def test_a_reopened_journal_appends_to_todays_file(tmp_path: Path) -> None:
    clock = Clock("2026-03-04")
    Journal(tmp_path, 10_000, today=clock).append({"n": 1})
    j = Journal(tmp_path, 10_000, today=clock)
    j.append({"n": 2})
    j.close()
    assert len(j.files()) == 1
    assert [r["n"] for r in read_journal(j.files()[0])] == [1, 2]


def test_a_torn_last_line_is_cut_before_appending(tmp_path: Path) -> None:
    clock = Clock("2026-03-04")
    j = Journal(tmp_path, 10_000, today=clock)
    j.append({"n": 1, "text": "kept"})
    j.close()
    path = j.files()[0]
    with path.open("ab") as f:
        f.write(b'{"n": 2, "text": "half a li')  # what a crash mid-write leaves
    j = Journal(tmp_path, 10_000, today=clock)
    j.append({"n": 3})
    j.close()
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""
    assert [json.loads(x)["n"] for x in lines[:-1]] == [1, 3]
    assert repair_tail(path) == 0


WRITER = """
import sys
from pathlib import Path
from edge_asr.daemon.journal import Journal
j = Journal(Path(sys.argv[1]), max_bytes=4 * 1024 * 1024, keep_files=100000)
start = int(sys.argv[2])
for i in range(start, start + 100000):
    j.append({"i": i, "text": "y" * int(sys.argv[3])})
    if i == start:
        print("writing", flush=True)
"""


def test_kill_9_mid_write_loses_at_most_the_line_in_flight(tmp_path: Path) -> None:
    """Really crash a writer process, repeatedly; every complete line must parse and none may be missing."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    next_i = 0
    for round_ in range(KILL_ROUNDS):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(next_i), str(BIG_TEXT)], env=env,
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "writing"
        _wait_for_growth(tmp_path, (round_ + 1) * KILL_STEP_BYTES + round_ * BIG_TEXT // KILL_ROUNDS)
        proc.send_signal(signal.SIGKILL)  # somewhere in a line: the growth target shifts inside one each round
        proc.wait(30)
        records = _all_records(tmp_path)  # read before any repair: a torn tail is skipped, the rest parses
        seen = [r["i"] for r in records]
        assert seen == list(range(len(seen))), "a line before the crash is missing or out of order"
        next_i = len(seen)
    assert next_i > KILL_ROUNDS
    j = Journal(tmp_path, max_bytes=4 * 1024 * 1024, keep_files=100000)
    j.append({"i": next_i, "text": "after the crashes"})
    j.close()
    for p in j.files():
        raw = p.read_bytes()
        assert raw.endswith(b"\n")
        for line in raw.splitlines():
            json.loads(line)
    assert [r["i"] for r in _all_records(tmp_path)] == list(range(next_i + 1))
