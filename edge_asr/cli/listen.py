"""`edge-asr devices` and `edge-asr listen`: live transcription in a terminal, over the shared live pipeline.

Partials are drawn on one grey line that firms up (the stable prefix in normal colour) when stdout is a terminal;
each final prints as its own line with timestamps and is written through to the JSONL output at once. Ctrl-C
stops capture and flushes the utterance in flight, so nothing said before it is lost.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import stat
import sys
import threading
from pathlib import Path
from typing import IO

from ..errors import ConfigError, EdgeAsrError
from ..live.events import DeviceBack, DeviceLost, Error, Event, Final, Partial
from ..live.settings import LiveOptions
from ..options import EngineOptions
from ..shell_args import add_decode_args, transcribe_options
from .common import build_progress

log = logging.getLogger(__name__)

STOP_TIMEOUT = 30.0  # s for the pipeline to finish the last utterance after Ctrl-C or the end of a file
WAIT_SLICE = 0.5  # s per wait on the pipeline, so Ctrl-C is handled promptly on every platform
DEFAULT_EVENTS = ("final", "device_lost", "device_back", "error")
ALL_EVENTS = ("final", "partial", "level", "stats", "device_lost", "device_back", "error")
GREY, RESET, CLEAR_LINE = "\x1b[90m", "\x1b[0m", "\r\x1b[K"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    d = sub.add_parser("devices", help="list audio input devices",
                       description="List the input devices PortAudio sees: index, name, host API, default rate and "
                       "channels; * marks the default. Use the index or a part of the name with `listen --device`.")
    d.add_argument("--json", action="store_true", help="one JSON object per device")
    d.set_defaults(func=run_devices)

    p = sub.add_parser(
        "listen", help="transcribe the microphone (or a file) live",
        description="Live transcription: words appear while you speak (a grey partial line that firms up), then a "
        "final line per utterance with timestamps. --output appends one JSON object per event line, written as each "
        "utterance ends. Ctrl-C stops and flushes the last utterance.")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--device", default=None, help="input device: index or part of its name (default: the default "
                     "input; see `edge-asr devices`)")
    src.add_argument("--file", type=Path, default=None, help="run the live pipeline on an audio file instead")
    p.add_argument("--realtime", action="store_true", help="with --file: pace the file like a microphone")
    p.add_argument("-o", "--output", type=Path, default=None, help="JSONL file to append events to")
    p.add_argument("--events", default=",".join(DEFAULT_EVENTS),
                   help=f"event types written to --output, a comma list or all (default: %(default)s; "
                   f"all = {','.join(ALL_EVENTS)})")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors on the terminal")
    g = p.add_argument_group("live pipeline")
    o = LiveOptions()
    g.add_argument("--no-partials", action="store_true", help="only finals, no partial hypotheses")
    g.add_argument("--partial-interval", type=float, default=o.partial_interval, help="s between partial decodes "
                   "(default: %(default)s)")
    g.add_argument("--vad-threshold", type=float, default=o.vad_threshold, help="speech probability that starts "
                   "speech (default: %(default)s)")
    g.add_argument("--energy-gate", type=float, default=o.energy_gate_dbfs, help="dBFS below which audio is silence "
                   "without running the VAD (default: %(default)s)")
    g.add_argument("--vad-gain", type=_vad_gain, default=o.vad_peak_dbfs, metavar="DBFS|off",
                   help="the VAD hears the input raised until its recent peak reaches this level, so quiet speech "
                   "opens an utterance; the text is decoded from the audio as captured (default: %(default)s)")
    g.add_argument("--min-silence", type=float, default=o.min_silence, help="s of silence that ends an utterance "
                   "(default: %(default)s)")
    g.add_argument("--max-utterance", type=float, default=o.max_utterance, help="s before a long utterance is split "
                   "at its quietest point (default: %(default)s)")
    g.add_argument("--reject-log-prob", type=float, default=o.reject_log_prob, help="finals decoded less surely are "
                   "dropped as hallucinations (default: %(default)s; lower keeps more)")
    add_decode_args(p)
    e = p.add_argument_group("model and runtime")
    e.add_argument("--model", default=EngineOptions.model, help="model name or checkpoint path (default: %(default)s)")
    e.add_argument("--backend", default="auto", choices=["auto", "onnxruntime", "tflite"])
    e.add_argument("--compute-device", default="auto", help="auto, cpu or an execution provider (default: auto)")
    e.add_argument("--threads", type=int, default=None, help="encoder/decoder threads (default: up to 4)")
    e.add_argument("--cache-dir", default=None, help="where built INT8 models are kept")
    e.add_argument("--route", default="", metavar="SPEC",
                   help="language routing instead of --model, e.g. 'en=tiny.en,*=base' (each utterance is detected)")
    p.set_defaults(func=run_listen)


def run_devices(args: argparse.Namespace) -> int:
    from ..live.capture import list_input_devices

    devices = list_input_devices()
    if args.json:
        for d in devices:
            print(json.dumps({"index": d.index, "name": d.name, "host_api": d.host_api, "default": d.is_default,
                              "default_samplerate": d.default_samplerate, "channels": d.max_input_channels}))
        return 0
    if not devices:
        print("no audio input devices found", file=sys.stderr)
        return 1
    print(f"  {'#':>3}  {'name':40}  {'host API':12}  {'rate':>7}  ch")
    for d in devices:
        print(f"{'*' if d.is_default else ' '} {d.index:>3}  {d.name[:40]:40}  {d.host_api[:12]:12}  "
              f"{d.default_samplerate:>7.0f}  {d.max_input_channels}")
    return 0


def _vad_gain(value: str) -> float | None:
    if value.strip().lower() in ("off", "none", "no"):
        return None
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a level in dBFS (e.g. -6) or off, not {value!r}") from None


def _live_options(a: argparse.Namespace) -> LiveOptions:
    device: str | int | None = a.device
    if isinstance(device, str) and device.strip().isdigit():
        device = int(device)
    return LiveOptions(device=device, realtime=a.realtime, partials=not a.no_partials,
                       partial_interval=a.partial_interval, vad_threshold=a.vad_threshold,
                       energy_gate_dbfs=a.energy_gate, vad_peak_dbfs=a.vad_gain, min_silence=a.min_silence,
                       max_utterance=a.max_utterance,
                       reject_log_prob=a.reject_log_prob)


def _event_types(spec: str) -> frozenset[str]:
    types = set(ALL_EVENTS) if spec.strip() == "all" else {t.strip() for t in spec.split(",") if t.strip()}
    unknown = types - set(ALL_EVENTS)
    if unknown:
        raise ConfigError(f"unknown event type(s) {', '.join(sorted(unknown))}; choose from {', '.join(ALL_EVENTS)}")
    return frozenset(types)


def _clock(seconds: float) -> str:
    m, s = divmod(max(0.0, seconds), 60.0)
    h, m = divmod(int(m), 60)
    return f"{h:d}:{m:02d}:{s:05.2f}" if h else f"{m:02d}:{s:05.2f}"


class TerminalView:
    """Draws events on the terminal; runs on the pipeline's dispatch thread."""

    def __init__(self, out: IO[str], quiet: bool) -> None:
        self.out, self.quiet = out, quiet
        self.tty = out.isatty() and os.environ.get("TERM") != "dumb"
        self._partial_shown = False
        self._last_final_rows = 0  # terminal rows the last final took

    def _clear(self) -> None:
        if self._partial_shown:
            self.out.write(CLEAR_LINE)
            self._partial_shown = False

    def __call__(self, ev: Event) -> None:
        if self.quiet and not isinstance(ev, Error):
            return
        if isinstance(ev, Partial) and self.tty:
            width = shutil.get_terminal_size((100, 20)).columns - 1
            stable = ev.stable_text if ev.text.startswith(ev.stable_text) else ""
            rest = ev.text[len(stable):]
            over = max(0, len(stable) + len(rest) - width)  # keep the newest words on one line
            stable, rest = stable[over:], rest[max(0, over - len(ev.stable_text)):]
            self.out.write(f"{CLEAR_LINE}{stable}{GREY}{rest}{RESET}")
            self._partial_shown = bool(ev.text)  # an empty partial clears the line: the utterance came to nothing
        elif isinstance(ev, Final):
            self._clear()
            seg = ev.segment
            line = f"[{_clock(seg.start)} -> {_clock(seg.end)}] {seg.text.strip()}"
            if ev.replaces is not None and self.tty and self._last_final_rows:
                # an early final whose utterance went on: overwrite its line(s) (see live/events.py)
                self.out.write(f"\x1b[{self._last_final_rows}A\r\x1b[J")
            self.out.write(line + "\n")
            width = max(1, shutil.get_terminal_size((100, 20)).columns)
            self._last_final_rows = -(-len(line) // width)
        elif isinstance(ev, DeviceLost):
            self._clear()
            self.out.write(f"-- input device {ev.device} lost: {ev.reason}; reconnecting\n")
            self._last_final_rows = 0
        elif isinstance(ev, DeviceBack):
            self._clear()
            self.out.write(f"-- input device {ev.device} is back after {ev.outage:.1f} s\n")
            self._last_final_rows = 0
        elif isinstance(ev, Error):
            self._clear()
            print(f"edge-asr: {'error' if ev.fatal else 'warning'}: {ev.message}", file=sys.stderr)
            self._last_final_rows = 0
        self.out.flush()

    def close(self) -> None:
        self._clear()
        self.out.flush()


class JsonlWriter:
    """Appends one JSON object per event line and flushes each; finals are also fsynced (they are the notes)
    when the output is a regular file: a pipe or a terminal (``--output /dev/stdout``) cannot be fsynced."""

    def __init__(self, path: Path, types: frozenset[str]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.f = path.open("a", encoding="utf-8")
        self.durable = stat.S_ISREG(os.fstat(self.f.fileno()).st_mode)
        self.types = types
        self.lock = threading.Lock()

    def __call__(self, ev: Event) -> None:
        if ev.type not in self.types:
            return
        line = json.dumps(ev.to_dict(), ensure_ascii=False)
        with self.lock:
            self.f.write(line + "\n")
            self.f.flush()
            if self.durable and isinstance(ev, Final):
                os.fsync(self.f.fileno())

    def close(self) -> None:
        with self.lock:
            self.f.close()


def run_listen(args: argparse.Namespace) -> int:
    from ..factory import load_transcriber
    from ..live.pipeline import LivePipeline, make_source

    if args.realtime and args.file is None:
        raise ConfigError("--realtime only applies to --file")
    options = _live_options(args)
    types = _event_types(args.events)
    decode = transcribe_options(args)
    source = make_source(options, None if args.file is None else str(args.file))  # fails fast on a bad device/file
    engine = EngineOptions(model=args.model, backend=args.backend, device=args.compute_device, cache_dir=args.cache_dir,
                           routes=args.route,
                           **({"threads": args.threads, "decoder_threads": args.threads} if args.threads else {}))
    transcriber = load_transcriber(engine, build_progress(sys.stderr.isatty() and not args.quiet))
    view = TerminalView(sys.stdout, args.quiet)
    writer = JsonlWriter(args.output, types) if args.output else None
    pipeline = LivePipeline(transcriber, source, options, decode)
    pipeline.subscribe(view)
    if writer is not None:
        pipeline.subscribe(writer)
    fatal: list[str] = []
    pipeline.subscribe(lambda ev: fatal.append(ev.message) if isinstance(ev, Error) and ev.fatal else None)
    if not args.quiet and args.file is None:
        print(f"listening on {source.name} (Ctrl-C to stop)", file=sys.stderr)
    pipeline.start()
    try:
        while not pipeline.wait(WAIT_SLICE):
            pass
    except KeyboardInterrupt:
        # A second Ctrl-C while the last utterance is being decoded ends the process the hard way.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        if not args.quiet:
            print("\nstopping: finishing the last utterance...", file=sys.stderr)
    finally:
        pipeline.stop(STOP_TIMEOUT)
        view.close()
        if writer is not None:
            writer.close()
    if fatal:
        raise EdgeAsrError(fatal[-1])
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run `listen` on its own (python -m edge_asr.cli.listen ...)."""
    parser = argparse.ArgumentParser(prog="edge-asr")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except EdgeAsrError as exc:
        print(f"edge-asr: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["JsonlWriter", "TerminalView", "register", "run_devices", "run_listen"]
