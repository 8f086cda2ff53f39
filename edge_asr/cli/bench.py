"""`edge-asr bench FILES|MANIFEST`: speed and memory figures, optionally against faster-whisper.
`edge-asr bench live|daemon|soak|gui|multilingual|memory ...` runs the benchmark of that front end
(multilingual: language identification, transcription and translation against faster-whisper)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from ..errors import ConfigError
from .common import add_engine_args, engine_options


# Every benchmark lives in edge_asr.bench; static (if lazy) imports, so a freezer sees them.
def _live_bench() -> Callable[[list[str]], int]:
    from ..bench.live import main

    return main


def _daemon_bench() -> Callable[[list[str]], int]:
    from ..bench.daemon import main

    return main


def _gui_bench() -> Callable[[list[str]], int]:
    from ..bench.gui import main

    return main


def _soak_bench() -> Callable[[list[str]], int]:
    from ..bench.soak import main

    return main


def _multilingual_bench() -> Callable[[list[str]], int]:
    from ..bench.multilingual import main

    return main


def _memory_bench() -> Callable[[list[str]], int]:
    from ..bench.memory import main

    return main


FRONT_END_BENCHES: dict[str, Callable[[], Callable[[list[str]], int]]] = {
    "live": _live_bench,
    "daemon": _daemon_bench,
    "soak": _soak_bench,
    "gui": _gui_bench,
    "multilingual": _multilingual_bench,
    "memory": _memory_bench,
}


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "bench",
        help="speed/memory figures on audio files (or: bench live|daemon|soak|gui|multilingual|memory)",
        description="Print audio seconds, wall and CPU seconds, real-time factor, encoder/decoder split, load time, "
        "peak RSS and cold start; with --vs faster-whisper, the same for faster-whisper int8 on the same clips, "
        "interleaved, and the ratio. `edge-asr bench live|daemon|soak|gui|multilingual|memory --help` for the "
        "front-end benchmarks.",
    )
    p.add_argument("inputs", nargs="+",
                   help="audio files, or a manifest.tsv (adds WER); or live|daemon|soak|gui|multilingual|memory ...")
    p.add_argument("--vs", action="append", default=[], metavar="PEER",
                   help="also run this peer, interleaved: faster-whisper, or whisper.cpp=PATH_TO_CLI,GGML_MODEL "
                   "(write the model with: python -m edge_asr.bench.whispercpp MODEL OUT.bin); repeatable")
    p.add_argument(
        "--backends",
        default=None,
        help="compare runtimes instead, e.g. onnxruntime,litert: per-window encoder/decoder time, WER, sizes, RSS",
    )
    p.add_argument("--repeats", type=int, default=3, help="interleaved passes over all clips (default: 3)")
    p.add_argument("--no-processes", action="store_true", help="skip the whole-process, RSS and cold-start runs")
    add_engine_args(p)
    p.set_defaults(func=run)


def run_front_end(name: str, argv: list[str]) -> int:
    try:
        fn = FRONT_END_BENCHES[name]()
    except ImportError as exc:
        raise ConfigError(f"the {name} benchmark is not available in this installation ({exc})") from None
    return int(fn(argv) or 0)


def run(args: argparse.Namespace) -> int:
    from ..bench.files import run_benchmark
    from ..evaluate import Clip, read_manifest

    if args.inputs[0] in FRONT_END_BENCHES:
        return run_front_end(args.inputs[0], args.inputs[1:])
    clips: list[Clip] = []
    for item in args.inputs:
        p = Path(item)
        if p.suffix == ".tsv":
            clips += read_manifest(p)
        elif p.exists():
            clips.append(Clip(p, "en", ""))
        else:
            raise ConfigError(f"{p} does not exist")
    if args.repeats < 1:
        raise ConfigError("--repeats must be at least 1")
    if args.backends:
        from ..bench.backends import run_backend_comparison

        backends = [b.strip() for b in args.backends.split(",") if b.strip()]
        if not backends or any(b not in ("onnxruntime", "litert") for b in backends):
            raise ConfigError("--backends takes onnxruntime and/or litert, comma-separated")
        run_backend_comparison(clips, engine_options(args), backends, args.repeats, not args.no_processes)
        return 0
    engine = engine_options(args)
    whisper_cpp = None
    for peer in args.vs:
        if peer.startswith("whisper.cpp="):
            from ..bench.peers import WhisperCpp

            whisper_cpp = WhisperCpp.parse(peer.removeprefix("whisper.cpp="), engine.threads)
        elif peer != "faster-whisper":
            raise ConfigError(f"unknown peer {peer!r}: use faster-whisper or whisper.cpp=PATH_TO_CLI,GGML_MODEL")
    run_benchmark(clips, engine, args.repeats, "faster-whisper" in args.vs, not args.no_processes,
                  whisper_cpp=whisper_cpp)
    return 0
