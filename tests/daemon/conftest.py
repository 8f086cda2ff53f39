"""Start the daemon as a real subprocess on a free loopback port and talk to it with real clients."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 120.0  # s: a first run builds the INT8 model (about a minute); later runs load it in ~1 s
STOP_TIMEOUT = 30.0  # s
LISTEN_RE = re.compile(r"listening on (http://[\d.]+:\d+)")
READY_RE = re.compile(r"model .* ready in")


class DaemonProcess:
    """A daemon subprocess whose stderr is read by a thread, so tests can wait for log lines without polling."""

    def __init__(self, args: list[str], env: dict[str, str], script: list[str] | None = None) -> None:
        self.args = args
        entry = script or ["-m", "edge_asr.daemon"]
        self.proc = subprocess.Popen([sys.executable, *entry, *args], cwd=ROOT, env=env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, bufsize=1)
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.url = ""

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self.lines.append("<eof>")
            self._cond.notify_all()

    def wait_for(self, pattern: str | re.Pattern[str], timeout: float, start: int = 0) -> re.Match[str]:
        """The first log line from index ``start`` on matching ``pattern``; fails with the log on timeout or exit."""
        return self.wait_line(pattern, timeout, start)[1]

    def wait_count(self, pattern: str, count: int, timeout: float, start: int = 0) -> int:
        """Wait for ``count`` log lines from ``start`` on matching ``pattern``; the index after the last one."""
        deadline = time.monotonic() + timeout
        for _ in range(count):
            start = self.wait_line(pattern, max(deadline - time.monotonic(), 0.0), start)[0] + 1
        return start

    def wait_line(self, pattern: str | re.Pattern[str], timeout: float, start: int = 0) -> tuple[int, re.Match[str]]:
        """(index, match) of the first log line from ``start`` on matching ``pattern``."""
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        i = start
        with self._cond:
            while True:
                while i < len(self.lines):
                    m = rx.search(self.lines[i])
                    if m:
                        return i, m
                    if self.lines[i] == "<eof>":
                        raise AssertionError(f"daemon exited before {rx.pattern!r}:\n{self.log()}")
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {rx.pattern!r} within {timeout} s:\n{self.log()}")
                self._cond.wait(left)

    def start(self, ready: bool = True) -> DaemonProcess:
        self.url = self.wait_for(LISTEN_RE, START_TIMEOUT).group(1)
        if ready:
            self.wait_for(READY_RE, START_TIMEOUT)
        return self

    def log(self) -> str:
        with self._cond:
            return "\n".join(self.lines[-200:])

    def send_signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"daemon did not stop within {timeout} s:\n{self.log()}") from None
        self._reader.join(5)
        return code


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EDGE_ASR_", "NOTIFY_SOCKET", "WATCHDOG_"))}
    env.update(PYTHONPATH=str(ROOT), XDG_CONFIG_HOME=str(tmp / "config"), XDG_STATE_HOME=str(tmp / "state"),
               PYTHONUNBUFFERED="1")
    env.pop("PULSE_SERVER", None)
    env.update(extra)
    return env


@pytest.fixture
def daemon_env(tmp_path: Path) -> Any:
    """``daemon_env(**extra)``: a clean environment for a daemon of this test."""
    return lambda **extra: _env(tmp_path, **extra)


@pytest.fixture
def start_daemon(tmp_path: Path) -> Iterator[Any]:
    """Start daemons for one test; each is stopped (and must exit 0 unless the test stopped it) at teardown."""
    started: list[DaemonProcess] = []

    def start(*args: str, env: dict[str, str] | None = None, ready: bool = True, live: bool = False,
              script: list[str] | None = None) -> DaemonProcess:
        argv = ["--port", "0", "--journal-dir", str(tmp_path / "journal"), *args]
        if not live:
            argv.append("--no-live")
        d = DaemonProcess(argv, env or _env(tmp_path), script)
        started.append(d)
        return d.start(ready)

    yield start
    for d in started:
        if d.proc.poll() is None:
            d.stop()


@pytest.fixture(scope="session")
def shared_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    """One API-only daemon for the read-mostly tests (uploads, formats, metrics, bad input)."""
    tmp = tmp_path_factory.mktemp("daemon")
    d = DaemonProcess(["--port", "0", "--no-live", "--journal-dir", str(tmp / "journal"),
                       "--set", "scheduler.max_queue=32"], _env(tmp)).start()
    yield d
    assert d.stop() == 0, d.log()
