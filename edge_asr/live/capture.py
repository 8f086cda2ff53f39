"""Microphone capture through PortAudio (sounddevice).

The stream runs at the device's native rate (many devices refuse 16 kHz with PortAudio error -9997); downmixing
and resampling to 16 kHz happen in :meth:`MicSource.read`, on the consumer's thread. The PortAudio callback only
copies the block into a bounded queue and counts what it cannot queue. A watchdog thread notices when no frames
arrive (a device that stalls or disappears), reports it in the stream as :class:`SourceLost`, and reopens the device
with exponential backoff; the first frames of the new stream produce :class:`SourceBack`. Audio captured before
the fault stays in the queue, ahead of the fault marker, so it is still transcribed.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ..audio import StreamResampler
from ..constants import SAMPLE_RATE
from ..errors import DeviceError
from .block_queue import BlockQueue, QueueCounters
from .sources import BLOCK_DURATION, END, QUEUE_DURATION, AudioBlock, EndOfStream, SourceBack, SourceItem, SourceLost

log = logging.getLogger(__name__)

STALL_TIMEOUT = 1.5  # s without frames before the device counts as lost
WATCHDOG_INTERVAL = 0.25  # s between watchdog checks
BACKOFF_INITIAL = 0.5  # s before the first reconnect attempt
BACKOFF_MAX = 8.0  # s, ceiling of the doubling backoff
CLOSE_TIMEOUT = 2.0  # s to wait for PortAudio to close a stalled stream before abandoning it
FALLBACK_RATES = (48_000, 44_100, 32_000, 16_000)  # Hz tried after the device's default rate
PA_NOT_INSTALLED = "the PortAudio library is not installed (apt install libportaudio2)"


@dataclass(frozen=True)
class InputDevice:
    index: int
    name: str
    host_api: str
    default_samplerate: float  # Hz
    max_input_channels: int
    is_default: bool = False


Callback = Callable[[Any, int, Any, Any], None]


class Stream(Protocol):
    def abort(self) -> None: ...
    def close(self) -> None: ...


@dataclass
class OpenedStream:
    stream: Stream
    samplerate: int  # Hz
    channels: int


Opener = Callable[[InputDevice, Callback], OpenedStream]


def _sounddevice() -> Any:
    try:
        import sounddevice as sd
    except OSError as exc:  # the Python package is there, the C library is not
        raise DeviceError(PA_NOT_INSTALLED) from exc
    return sd


def rescan_devices() -> None:
    """Make PortAudio enumerate devices again (a replugged USB mic, a sound server started later).

    Only safe while this process has no other stream open.
    """
    sd = _sounddevice()
    sd._terminate()
    sd._initialize()


def list_input_devices() -> list[InputDevice]:
    sd = _sounddevice()
    try:
        devices = sd.query_devices()
        apis = sd.query_hostapis()
        default_in = sd.default.device[0]
    except sd.PortAudioError as exc:
        raise DeviceError(f"cannot list audio devices: {exc}") from exc
    if not isinstance(default_in, int) or default_in < 0:
        default_in = next((a["default_input_device"] for a in apis if a["default_input_device"] >= 0), -1)
    return [
        InputDevice(i, d["name"], apis[d["hostapi"]]["name"], float(d["default_samplerate"]),
                    int(d["max_input_channels"]), i == default_in)
        for i, d in enumerate(devices) if d["max_input_channels"] > 0
    ]


def resolve_device(spec: str | int | None, devices: list[InputDevice]) -> InputDevice:
    """The input device for an index, a (case-insensitive) name or name fragment, or None for the default."""
    if not devices:
        raise DeviceError("no audio input device found (is a microphone connected and allowed?)")
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        return next((d for d in devices if d.is_default), devices[0])
    if isinstance(spec, int) or spec.strip().isdigit():
        index = int(spec)
        for d in devices:
            if d.index == index:
                return d
        raise DeviceError(f"no input device with index {index}; inputs are {_names(devices)}")
    wanted = spec.strip().lower()
    exact = [d for d in devices if d.name.lower() == wanted]
    partial = [d for d in devices if wanted in d.name.lower()]
    if exact or partial:
        return (exact or partial)[0]
    raise DeviceError(f"no input device matches {spec!r}; inputs are {_names(devices)}")


def _names(devices: list[InputDevice]) -> str:
    return ", ".join(f"{d.index}: {d.name}" for d in devices)


def open_portaudio(device: InputDevice, callback: Callback) -> OpenedStream:
    """Open and start a float32 input stream at a rate and channel count the device accepts."""
    sd = _sounddevice()
    rates = list(dict.fromkeys([round(device.default_samplerate), *FALLBACK_RATES]))
    channels = list(dict.fromkeys([1, min(2, device.max_input_channels), device.max_input_channels]))
    errors = []
    for ch in channels:
        for rate in rates:
            stream = None
            try:
                stream = sd.InputStream(device=device.index, samplerate=rate, channels=ch, dtype="float32",
                                        blocksize=round(rate * BLOCK_DURATION), callback=callback)
                stream.start()
                log.info("opened %s at %d Hz, %d channel(s)", device.name, rate, ch)
                return OpenedStream(stream, rate, ch)
            except sd.PortAudioError as exc:  # -9997 invalid rate, -9998 invalid channel count, busy, ...
                errors.append(f"{rate} Hz x{ch}: {exc}")
                if stream is not None:
                    stream.close(ignore_errors=True)
    raise DeviceError(f"cannot open input device {device.name!r}: {errors[0] if errors else 'no usable format'}")


def close_stream(stream: Stream, timeout: float = CLOSE_TIMEOUT) -> bool:
    """Abort and close a stream on a helper thread; a stalled device can hang PortAudio, so give up after timeout."""

    def run() -> None:
        try:
            stream.abort()
            stream.close()
        except Exception as exc:  # the device is gone; nothing more to release
            log.debug("closing the stream failed: %s", exc)

    t = threading.Thread(target=run, name="edge-asr-close-stream", daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        log.warning("PortAudio did not close the stalled stream within %.1f s; abandoning it", timeout)
        return False
    return True


class MicSource(QueueCounters):
    """A microphone. Construction resolves the device (DeviceError if there is none); start() opens it."""

    def __init__(self, device: str | int | None = None, *, stall_timeout: float = STALL_TIMEOUT,
                 backoff_initial: float = BACKOFF_INITIAL, backoff_max: float = BACKOFF_MAX,
                 queue_duration: float = QUEUE_DURATION, opener: Opener | None = None,
                 lister: Callable[[], list[InputDevice]] | None = None,
                 rescan: Callable[[], None] | None = None) -> None:
        if stall_timeout <= 0 or backoff_initial <= 0 or backoff_max < backoff_initial:
            raise DeviceError("stall_timeout and backoff must be positive, backoff_max >= backoff_initial")
        self.spec = device
        self._opener = opener or open_portaudio
        self._lister = lister or list_input_devices
        self._rescan = rescan if rescan is not None else (rescan_devices if opener is None else lambda: None)
        self.device = resolve_device(device, self._lister())
        self.stall_timeout, self.backoff_initial, self.backoff_max = stall_timeout, backoff_initial, backoff_max
        # (generation, frames, arrival) tuples from the callback, SourceLost/SourceBack markers, stop()'s None
        self._buffer: BlockQueue[Any] = BlockQueue(max(2, round(queue_duration / BLOCK_DURATION)))
        self._pending: collections.deque[SourceItem] = collections.deque()
        self._rates: dict[int, int] = {}  # stream generation -> its sample rate
        self._generation = 0
        self._resampler: StreamResampler | None = None
        self._resampler_gen = -1
        self._stream: Stream | None = None
        self._last_frame = 0.0  # monotonic time of the last callback, written by the audio thread
        self._stop = threading.Event()
        self._ended = False
        self._watchdog: threading.Thread | None = None
        self.reconnects = 0

    @property
    def name(self) -> str:
        return self.device.name

    @property
    def realtime(self) -> bool:
        return True

    @property
    def samplerate(self) -> int:
        return self._rates.get(self._generation, 0)

    # -- the audio thread -----------------------------------------------------------------------------------
    def _make_callback(self, generation: int) -> Callback:
        buffer = self._buffer

        def callback(indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
            now = time.monotonic()
            self._last_frame = now
            if status.input_overflow:
                buffer.note_overrun()
            buffer.offer((generation, indata.copy(), now))

        return callback

    # -- control --------------------------------------------------------------------------------------------
    def _open(self, device: InputDevice) -> None:
        self._generation += 1
        gen = self._generation
        opened = self._opener(device, self._make_callback(gen))
        self._rates[gen] = opened.samplerate
        self._stream = opened.stream
        self.device = device

    def start(self) -> None:
        self._last_frame = time.monotonic()
        self._open(self.device)
        self._watchdog = threading.Thread(target=self._watch, name="edge-asr-mic-watchdog", daemon=True)
        self._watchdog.start()

    def stop(self) -> None:
        self._stop.set()
        if self._watchdog is not None:
            self._watchdog.join()
        if self._stream is not None:
            close_stream(self._stream)
            self._stream = None
        self._ended = True
        self._buffer.try_put(None)  # wakes a reader blocked in read()

    # -- the watchdog ---------------------------------------------------------------------------------------
    def _emit(self, item: SourceItem) -> None:
        while not self._stop.is_set():
            try:
                self._buffer.put(item, timeout=WATCHDOG_INTERVAL)
                return
            except queue.Full:
                continue

    def _watch(self) -> None:
        lost_at: float | None = None  # monotonic time of the last frame before the fault
        next_try = 0.0
        backoff = self.backoff_initial
        probing_since: float | None = None  # a reopened stream that has not delivered yet
        attempts = 0
        while not self._stop.wait(WATCHDOG_INTERVAL):
            now = time.monotonic()
            if lost_at is None:
                if now - self._last_frame > self.stall_timeout:
                    lost_at = self._last_frame
                    reason = f"no audio for {now - lost_at:.1f} s (the device stalled or was disconnected)"
                    log.warning("%s: %s", self.name, reason)
                    self._emit(SourceLost(reason))
                    self._drop_stream()
                    next_try, backoff, attempts = now + self.backoff_initial, self.backoff_initial, 0
                continue
            if probing_since is not None:
                if self._last_frame > probing_since:
                    outage = self._last_frame - lost_at
                    log.info("%s: audio is back after %.1f s", self.name, outage)
                    self.reconnects += 1
                    self._emit(SourceBack(outage))
                    lost_at, probing_since = None, None
                elif now - probing_since > self.stall_timeout:
                    log.info("%s: the reopened stream delivers nothing; retrying in %.1f s", self.name, backoff)
                    self._drop_stream()
                    probing_since, next_try = None, now + backoff
                    backoff = min(2 * backoff, self.backoff_max)
                continue
            if now >= next_try:
                attempts += 1
                try:
                    if attempts > 1:
                        self._rescan()
                    devices = self._lister()
                    try:
                        device = resolve_device(self.device.name, devices)
                    except DeviceError:
                        device = resolve_device(self.spec, devices)
                    probing_since = time.monotonic()
                    self._open(device)
                except DeviceError as exc:
                    log.info("%s: reconnect attempt %d failed (%s); next in %.1f s", self.name, attempts, exc, backoff)
                    probing_since, next_try = None, now + backoff
                    backoff = min(2 * backoff, self.backoff_max)

    def _drop_stream(self) -> None:
        if self._stream is not None:
            close_stream(self._stream)
            self._stream = None

    # -- the consumer ---------------------------------------------------------------------------------------
    def read(self, timeout: float | None) -> SourceItem | None:
        if self._pending:
            return self._pending.popleft()
        try:
            item = self._buffer.get_nowait() if self._ended else self._buffer.get(timeout=timeout)
        except queue.Empty:
            return END if self._ended else None
        if item is None:  # the wake-up token of stop()
            return None
        if isinstance(item, tuple):
            gen, data, arrival = item
            if gen != self._resampler_gen:
                self._resampler = StreamResampler(self._rates[gen], SAMPLE_RATE)
                self._resampler_gen = gen
            assert self._resampler is not None
            return AudioBlock(self._resampler.process(data), arrival)
        if isinstance(item, SourceLost) and self._resampler is not None:
            # The filter tail of the old stream is the last audio before the fault.
            tail = self._resampler.flush()
            self._resampler, self._resampler_gen = None, -1
            if tail.size:
                self._pending.append(item)
                return AudioBlock(tail, time.monotonic())
        return item  # type: ignore[no-any-return]


__all__ = ["END", "EndOfStream", "InputDevice", "MicSource", "OpenedStream", "list_input_devices",
           "open_portaudio", "rescan_devices", "resolve_device"]
