"""Microphone capture without a microphone: fault injection through a fake PortAudio stream.

The fake device calls the real MicSource callback from its own thread, like PortAudio's audio thread, and can
stall mid-stream (an unplugged USB mic) or refuse to open (a device that is gone).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from edge_asr.errors import DeviceError
from edge_asr.evaluate import wer
from edge_asr.live.capture import InputDevice, MicSource, OpenedStream, resolve_device
from edge_asr.live.events import DeviceBack, DeviceLost, Final
from edge_asr.live.pipeline import LiveOptions, LivePipeline
from edge_asr.live.sources import END, AudioBlock, SourceBack, SourceLost

from .conftest import text_of

NATIVE_RATE = 48_000  # Hz: the fake device refuses nothing, but 48 kHz stereo exercises downmix + resampling
BLOCK = 1536  # frames per callback at 48 kHz (32 ms)
DEVICE = InputDevice(3, "USB Audio Device: Mic (hw:1,0)", "ALSA", NATIVE_RATE, 2, True)
WAIT = 10.0  # s bound for anything below


@dataclass
class Flags:
    input_overflow: bool = False


class FakeStream:
    """Delivers `audio` (frames, 2) in blocks from a thread at `speed` x real time, then goes silent forever
    (stalls) after `stall_after` blocks, like a device that disappears without an error."""

    def __init__(self, callback: Any, audio: np.ndarray, speed: float = 1.0, stall_after: int | None = None) -> None:
        self.callback, self.audio, self.speed, self.stall_after = callback, audio, speed, stall_after
        self.stop = threading.Event()
        self.delivered = 0
        self.closed = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        i = 0
        period = BLOCK / NATIVE_RATE / self.speed
        start = time.monotonic()
        while not self.stop.wait(max(0.0, start + (i + 1) * period - time.monotonic())):
            if self.stall_after is not None and i >= self.stall_after:
                continue  # stalled: no more callbacks, no error
            block = self.audio[(i * BLOCK) % len(self.audio):][:BLOCK]
            if len(block) < BLOCK:
                block = np.concatenate([block, self.audio[: BLOCK - len(block)]])
            self.callback(block, BLOCK, None, Flags())
            self.delivered += 1
            i += 1

    def abort(self) -> None:
        self.stop.set()

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.closed = True


class FakeDevice:
    """An opener whose behaviour per open() is scripted: a stream (with options) or an error."""

    def __init__(self, audio: np.ndarray, script: list[dict[str, Any] | Exception]) -> None:
        self.audio, self.script = audio, list(script)
        self.streams: list[FakeStream] = []
        self.opens = 0

    def __call__(self, device: InputDevice, callback: Any) -> OpenedStream:
        self.opens += 1
        step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(step, Exception):
            raise step
        stream = FakeStream(callback, self.audio, **step)
        self.streams.append(stream)
        return OpenedStream(stream, NATIVE_RATE, 2)


def stereo_48k(samples_16k: np.ndarray) -> np.ndarray:
    from edge_asr.audio import resample

    x = resample(samples_16k, 16_000, NATIVE_RATE)
    return np.stack([x, x], axis=1).astype(np.float32)


def tone(seconds: float) -> np.ndarray:
    t = np.arange(round(seconds * 16_000)) / 16_000
    return (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def read_until(source: MicSource, kind: type, timeout: float = WAIT) -> list[Any]:
    items: list[Any] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        item = source.read(0.05)
        if item is not None:
            items.append(item)
            if isinstance(item, kind):
                return items
    raise AssertionError(f"no {kind.__name__} within {timeout} s; got {[type(i).__name__ for i in items]}")


def test_a_stall_is_reported_after_the_audio_before_it_then_reconnects_with_backoff() -> None:
    fake = FakeDevice(stereo_48k(tone(2.0)), [{"speed": 4.0, "stall_after": 20}, DeviceError("gone"),
                                              DeviceError("still gone"), {"speed": 4.0}])
    rescans = []
    src = MicSource("usb", stall_timeout=0.3, backoff_initial=0.05, backoff_max=0.2, opener=fake,
                    lister=lambda: [DEVICE], rescan=lambda: rescans.append(1))
    src.start()
    try:
        before = read_until(src, SourceLost)
        audio = np.concatenate([b.samples for b in before if isinstance(b, AudioBlock)])
        # Every frame delivered before the fault is there, resampled to 16 kHz mono (the filter tail included).
        assert len(audio) == pytest.approx(20 * BLOCK / 3, abs=2)
        assert np.abs(audio[200:-200]).max() == pytest.approx(0.3, abs=0.02)  # the downmix keeps the level
        assert "no audio" in before[-1].reason
        after = read_until(src, SourceBack)
        assert after[-1].outage > 0.3
        assert fake.opens == 4 and src.reconnects == 1 and len(rescans) >= 2  # later attempts rescan devices
        assert fake.streams[0].closed  # the stalled stream was released
        more = read_until(src, AudioBlock)
        assert len(more[-1].samples) > 0
    finally:
        src.stop()
    tail = [src.read(0.0) for _ in range(2000)]
    assert END in tail


def test_the_callback_never_blocks_and_counts_what_it_drops() -> None:
    fake = FakeDevice(stereo_48k(tone(1.0)), [{"speed": 0.001}])  # a stream that (practically) never calls back
    src = MicSource(None, queue_duration=0.32, opener=fake, lister=lambda: [DEVICE], stall_timeout=60)
    src.start()
    try:
        callback = fake.streams[0].callback
        block = np.zeros((BLOCK, 2), np.float32)
        started = time.perf_counter()
        for _ in range(100):  # nobody reads: the bounded queue (10 blocks) fills
            callback(block, BLOCK, None, Flags())
        callback(block, BLOCK, None, Flags(input_overflow=True))
        elapsed = time.perf_counter() - started
        assert elapsed < 0.1, f"101 callbacks took {elapsed * 1000:.0f} ms: the callback must only enqueue"
        assert src.queue_depth == 10
        assert src.drops == 91 and src.overruns == 1
    finally:
        src.stop()


def test_devices_are_found_by_index_name_fragment_or_default() -> None:
    devices = [InputDevice(0, "HDA Intel PCH: ALC3246 Analog (hw:0,0)", "ALSA", 44100, 2),
               DEVICE, InputDevice(7, "pulse", "ALSA", 44100, 32), InputDevice(8, "default", "ALSA", 44100, 32)]
    assert resolve_device(None, devices) is DEVICE
    assert resolve_device(7, devices).name == "pulse"
    assert resolve_device("7", devices).name == "pulse"
    assert resolve_device("usb", devices) is DEVICE
    assert resolve_device("PULSE", devices).name == "pulse"
    with pytest.raises(DeviceError, match="pulse"):  # the message lists what there is
        resolve_device("Blue Yeti", devices)
    with pytest.raises(DeviceError):
        resolve_device(42, devices)
    with pytest.raises(DeviceError, match="no audio input device"):
        resolve_device(None, [])


def test_a_device_failing_mid_utterance_still_gets_its_words_transcribed(transcriber, jfk_path, clip_audio) -> None:
    speech = clip_audio(str(jfk_path))[: round(2.1 * 16_000)]  # "And so my fellow Americans" and then the fault
    audio = stereo_48k(np.concatenate([np.zeros(8_000, np.float32), speech]))
    blocks = len(audio) // BLOCK
    fake = FakeDevice(audio, [{"speed": 2.0, "stall_after": blocks}, {"speed": 2.0}])
    src = MicSource("usb", stall_timeout=0.5, backoff_initial=0.1, opener=fake, lister=lambda: [DEVICE])
    events: list[Any] = []
    got_back = threading.Event()
    pipeline = LivePipeline(transcriber, src, LiveOptions(partials=False))
    pipeline.subscribe(events.append)
    pipeline.subscribe(lambda ev: got_back.set() if isinstance(ev, DeviceBack) else None)
    pipeline.start()
    try:
        assert got_back.wait(30), [e.type for e in events]
    finally:
        pipeline.stop()
    kinds = [e.type for e in events if e.type in ("final", "device_lost", "device_back")]
    assert kinds[:3] == ["final", "device_lost", "device_back"], kinds
    lost = next(e for e in events if isinstance(e, DeviceLost))
    assert lost.device == DEVICE.name
    final = next(e for e in events if isinstance(e, Final))
    assert wer(["And so my fellow"], [text_of([final])[: len("And so my fellow")]]) == 0, final.segment.text
