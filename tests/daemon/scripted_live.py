"""The real daemon with a scripted live pipeline, for fault injection: the "microphone" fails to open a given
number of times, then "hears" a real clip over and over (decoded through the daemon's own scheduler), drops out
once (DeviceLost/DeviceBack), and on stop flushes one last utterance, as the real pipeline must.

Usage: python tests/daemon/scripted_live.py CLIP FAILS [daemon options...]
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable
from typing import Any

from edge_asr.app_setup import setup_logging
from edge_asr.audio import decode_audio
from edge_asr.daemon.launch import add_arguments, overrides_from_args
from edge_asr.daemon.server import run_daemon
from edge_asr.errors import DeviceError
from edge_asr.live.events import DeviceBack, DeviceLost, Final, Partial, Stats
from edge_asr.options import TranscribeOptions
from edge_asr.results import Segment

PAUSE = 0.5  # s between "utterances"
LATENCY = 0.25  # s reported as end-of-utterance latency
FLUSH_TEXT = "flushed on stop"


class ScriptedPipeline:
    attempts = 0

    def __init__(self, transcriber: Any, clip: str, fails: int, options: TranscribeOptions | None) -> None:
        ScriptedPipeline.attempts += 1
        if ScriptedPipeline.attempts <= fails:
            raise DeviceError(f"no input device (scripted failure {ScriptedPipeline.attempts})")
        self.transcriber, self.options = transcriber, options
        self.audio = decode_audio(clip)
        self.subs: list[Callable[[Any], None]] = []
        self.stop_requested = threading.Event()
        self.done = threading.Event()

    def subscribe(self, callback: Callable[[Any], None]) -> Callable[[], None]:
        self.subs.append(callback)
        return lambda: self.subs.remove(callback)

    def start(self) -> None:
        threading.Thread(target=self._run, daemon=True).start()

    def stop(self, timeout: float = 5.0) -> None:
        self.stop_requested.set()
        self.done.wait(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)

    def _emit(self, event: Any) -> None:
        for cb in list(self.subs):
            cb(event)

    def _run(self) -> None:
        offset, rounds = 0.0, 0
        while True:
            segments, _ = self.transcriber.transcribe(self.audio, self.options)
            segments = list(segments)
            self._emit(Partial(text=segments[0].text, stable_text="", start=offset, end=offset + 1.0))
            for seg in segments:
                self._emit(Final(segment=Segment(seg.id, offset + seg.start, offset + seg.end, seg.text),
                                 latency=LATENCY))
            rounds += 1
            offset += len(self.audio) / 16_000
            self._emit(Stats(rtf=0.1, latency=LATENCY, drops=rounds, queue_depth=0, cpu_percent=1.0, rss_mb=100.0))
            if rounds == 1:
                self._emit(DeviceLost(device="scripted", reason="unplugged"))
                self._emit(DeviceBack(device="scripted", outage=0.1))
            if self.stop_requested.wait(PAUSE):
                break
        # The utterance in flight when stop() came: the real pipeline decodes and publishes it before returning.
        # Its decode goes through the scheduler like any other; its text is fixed so the test can find it.
        list(self.transcriber.transcribe(self.audio[: 16_000 * 2], self.options)[0])
        self._emit(Final(segment=Segment(0, offset, offset + 2.0, f" {FLUSH_TEXT}"), latency=LATENCY))
        self.done.set()


def main() -> int:
    clip, fails, *argv = sys.argv[1:]
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(argv)
    setup_logging(0)

    def factory(transcriber: Any, config: Any, options: TranscribeOptions | None) -> ScriptedPipeline:
        return ScriptedPipeline(transcriber, clip, int(fails), options)

    return run_daemon(args.config, overrides_from_args(args), live_factory=factory)


if __name__ == "__main__":
    sys.exit(main())
