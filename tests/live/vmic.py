"""A real microphone for tests on machines without a sound card: a private PulseAudio with a pipe source.

    with VirtualMic() as mic:          # starts PulseAudio, sets PULSE_SERVER, feeds silence in real time
        source = MicSource(mic.device) # PortAudio sees it as the ALSA device "pulse"
        mic.play(samples_16k_float32)  # speak into it (returns at once; wait_played() blocks)
        mic.stop_feeder()              # "unplug": no more frames reach the recorder
        mic.start_feeder()             # "replug"
        mic.drain()                    # forget queued and buffered audio between tests

Setting PULSE_SERVER must happen before PortAudio enumerates devices; when sounddevice was already imported in
this process, the context manager makes PortAudio enumerate again. Known traps, handled here: with nothing
writing the FIFO, a PortAudio stream on it spins and never ends (a feeder writes silence in real time); the FIFO
buffers stale audio while nobody records (it is shrunk to one page and drained); speech queued for one test bleeds
into the next (drain()). Everything is started and stopped by the context manager, bounded in time.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from pathlib import Path
from types import TracebackType

import numpy as np

RATE = 16_000  # Hz, the pipe source's format: s16le mono
BYTES_PER_SAMPLE = 2
FEED_CHUNK = 0.02  # s written per feeder tick
PIPE_SIZE = 4096  # bytes (128 ms): the smallest pipe Linux allows, so little stale audio can pile up
STARTUP_TIMEOUT = 15.0  # s for PulseAudio to come up
SHUTDOWN_TIMEOUT = 5.0  # s for PulseAudio to exit on SIGTERM
F_SETPIPE_SZ = 1031  # fcntl commands (Linux)
F_GETPIPE_SZ = 1032
READY_LINE = "Daemon startup complete"
DEVICE = "pulse"  # the ALSA PCM that routes PortAudio to PULSE_SERVER


class VirtualMicUnavailable(RuntimeError):
    """PulseAudio is not installed or would not start (tests skip on this)."""


def available() -> str | None:
    """None when a virtual mic can be started here, else the reason it cannot."""
    if not sys.platform.startswith("linux"):
        return "the virtual microphone needs Linux"
    for tool in ("pulseaudio",):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt install pulseaudio pulseaudio-utils libasound2-plugins)"
    return None


def _to_s16(samples: np.ndarray) -> bytes:
    x = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0)
    return (x * 32767.0).astype("<i2").tobytes()


class VirtualMic:
    device = DEVICE

    def __init__(self) -> None:
        self.dir: Path | None = None
        self.proc: subprocess.Popen[str] | None = None
        self.log: list[str] = []
        self._fd: int | None = None
        self._old_env: str | None = None
        self._queue: deque[bytes] = deque()  # speech waiting to be written, FEED_CHUNK pieces
        self._lock = threading.Lock()
        self._played = threading.Condition(self._lock)
        self._feeding = threading.Event()
        self._feeder: threading.Thread | None = None
        self.skipped_chunks = 0  # silence not written because the pipe was full (nobody recording)

    # -- lifecycle ------------------------------------------------------------------------------------------
    def __enter__(self) -> VirtualMic:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def start(self) -> None:
        reason = available()
        if reason:
            raise VirtualMicUnavailable(reason)
        self.dir = Path(tempfile.mkdtemp(prefix="edge-asr-vmic-"))
        sock, fifo = self.dir / "native", self.dir / "mic.fifo"
        script = self.dir / "default.pa"
        script.write_text(
            f"load-module module-native-protocol-unix socket={sock} auth-anonymous=1\n"
            f"load-module module-pipe-source source_name=vmic file={fifo} format=s16le rate={RATE} channels=1\n"
            "load-module module-null-sink sink_name=vnull\n"
            "set-default-source vmic\n"
            "set-default-sink vnull\n")
        env = dict(os.environ)
        for var, sub in (("HOME", "home"), ("XDG_RUNTIME_DIR", "run"), ("XDG_CONFIG_HOME", "config"),
                         ("PULSE_RUNTIME_PATH", "run/pulse"), ("PULSE_STATE_PATH", "state")):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
            env[var] = str(self.dir / sub)
        env.pop("PULSE_SERVER", None)
        self.proc = subprocess.Popen(
            ["pulseaudio", "-n", "-F", str(script), "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no",
             "--log-target=stderr", "--log-level=info", "--disable-shm=yes"],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            start_new_session=True)
        ready = threading.Event()
        threading.Thread(target=self._read_log, args=(ready,), name="vmic-log", daemon=True).start()
        if not ready.wait(STARTUP_TIMEOUT) or self.proc.poll() is not None or not fifo.exists():
            raise VirtualMicUnavailable("PulseAudio did not start: " + " | ".join(self.log[-8:]))
        self._fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        self._drain_pipe()
        with contextlib.suppress(OSError):
            fcntl.fcntl(self._fd, F_SETPIPE_SZ, PIPE_SIZE)
        self._old_env = os.environ.get("PULSE_SERVER")
        os.environ["PULSE_SERVER"] = f"unix:{sock}"
        if "sounddevice" in sys.modules:  # PortAudio enumerated before the server existed: enumerate again
            sd = sys.modules["sounddevice"]
            sd._terminate()
            sd._initialize()
        self.start_feeder()

    def _read_log(self, ready: threading.Event) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.append(line.rstrip())
            if READY_LINE in line:
                ready.set()
        ready.set()  # exited: start() sees proc.poll()

    def close(self) -> None:
        self.stop_feeder()
        if self._old_env is None:
            os.environ.pop("PULSE_SERVER", None)
        else:
            os.environ["PULSE_SERVER"] = self._old_env
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(SHUTDOWN_TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(SHUTDOWN_TIMEOUT)
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    # -- the feeder -----------------------------------------------------------------------------------------
    def start_feeder(self) -> None:
        """Write audio in real time: queued speech, else silence. Also 'replugs' after stop_feeder()."""
        if self._feeder is not None and self._feeder.is_alive():
            return
        self._feeding.set()
        self._feeder = threading.Thread(target=self._feed, name="vmic-feeder", daemon=True)
        self._feeder.start()

    def stop_feeder(self) -> None:
        """Stop writing: to a recorder the device has stalled, as if unplugged. Queued speech stays queued."""
        self._feeding.clear()
        if self._feeder is not None:
            self._feeder.join()
            self._feeder = None

    def _feed(self) -> None:
        chunk_bytes = round(FEED_CHUNK * RATE) * BYTES_PER_SAMPLE
        silence = bytes(chunk_bytes)
        started = time.monotonic()
        ticks = 0
        stop = threading.Event()  # never set: its timed wait paces the loop without a bare sleep
        while self._feeding.is_set():
            with self._lock:
                data = self._queue[0] if self._queue else silence
            try:
                os.write(self._fd, data)  # type: ignore[arg-type]
                if data is not silence:
                    with self._lock:
                        self._queue.popleft()
                        if not self._queue:
                            self._played.notify_all()
            except BlockingIOError:
                self.skipped_chunks += 1  # nobody is reading: speech waits, silence is skipped
            except OSError as exc:
                if exc.errno in (errno.EPIPE, errno.EBADF):
                    return
                raise
            ticks += 1
            stop.wait(max(0.0, started + ticks * FEED_CHUNK - time.monotonic()))

    # -- speech ---------------------------------------------------------------------------------------------
    def play(self, samples_16k: np.ndarray) -> float:
        """Queue float32 mono 16-kHz samples to be 'spoken' in real time; returns their duration in s."""
        data = _to_s16(samples_16k)
        step = round(FEED_CHUNK * RATE) * BYTES_PER_SAMPLE
        pieces = [data[i : i + step] for i in range(0, len(data), step)]
        if pieces and len(pieces[-1]) < step:
            pieces[-1] = pieces[-1] + bytes(step - len(pieces[-1]))
        with self._lock:
            self._queue.extend(pieces)
        return len(samples_16k) / RATE

    def wait_played(self, timeout: float) -> bool:
        """Block until everything queued has been written (or timeout s); True when it has."""
        with self._lock:
            return self._played.wait_for(lambda: not self._queue, timeout)

    @property
    def queued_seconds(self) -> float:
        with self._lock:
            return len(self._queue) * FEED_CHUNK

    def drain(self) -> None:
        """Forget queued speech and whatever the FIFO still holds, so nothing bleeds into the next test."""
        with self._lock:
            self._queue.clear()
            self._played.notify_all()
        self._drain_pipe()

    def _drain_pipe(self) -> None:
        if self.dir is None:
            return
        fd = os.open(self.dir / "mic.fifo", os.O_RDONLY | os.O_NONBLOCK)
        try:
            while True:
                try:
                    if not os.read(fd, 1 << 16):
                        break
                except BlockingIOError:
                    break
        finally:
            os.close(fd)

    @property
    def pipe_size(self) -> int:
        assert self._fd is not None
        return int(fcntl.fcntl(self._fd, F_GETPIPE_SZ))


virtual_mic = VirtualMic  # the name other test suites look up


def main(argv: list[str]) -> int:
    """python tests/live/vmic.py [--noise-dbfs D] -- COMMAND...: run COMMAND with the virtual mic as its default input
    (PULSE_SERVER set; the device is called "pulse"), e.g. `edge-asr bench live --device pulse`."""
    import argparse

    p = argparse.ArgumentParser(prog="vmic.py", description=main.__doc__)
    p.add_argument("command", nargs=argparse.REMAINDER)
    a = p.parse_args(argv)
    command = a.command[1:] if a.command[:1] == ["--"] else a.command
    if not command:
        p.error("give a command after --")
    with VirtualMic() as mic:
        print(f"virtual mic up: device {mic.device!r}, PULSE_SERVER={os.environ['PULSE_SERVER']}", file=sys.stderr)
        return subprocess.run(command, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
