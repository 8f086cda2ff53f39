"""`edge-asr bench FILES|MANIFEST`: speed and memory figures, optionally against faster-whisper.
`edge-asr bench live|daemon|gui|memory ...` runs the benchmark of that front end."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from ..errors import ConfigError
from .common import add_engine_args, engine_options

# Front-end benchmarks live beside their front ends: name -> (module, function taking argv).
FRONT_END_BENCHES = {
    "live": ("edge_asr.live.bench", "main"),
    "daemon": ("edge_asr.daemon.bench", "main"),
    "gui": ("edge_asr.gui.bench", "main"),
    "memory": ("edge_asr.bench_memory", "main"),
}


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "bench",
        help="speed/memory figures on audio files (or: bench live|daemon|gui)",
        description="Print audio seconds, wall and CPU seconds, real-time factor, encoder/decoder split, load time, "
        "peak RSS and cold start; with --vs faster-whisper, the same for faster-whisper int8 on the same clips, "
        "interleaved, and the ratio. `edge-asr bench live|daemon|gui --help` for the front-end benchmarks.",
    )
    p.add_argument("inputs", nargs="+", help="audio files, or a manifest.tsv (adds WER); or live|daemon|gui ...")
    p.add_argument("--vs", action="append", default=[], metavar="PEER",
                   help="also run this peer, interleaved: faster-whisper, or whisper.cpp=PATH_TO_CLI,GGML_MODEL "
                   "(write the model with: python -m edge_asr.whispercpp MODEL OUT.bin); repeatable")
    p.add_argument("--repeats", type=int, default=3, help="interleaved passes over all clips (default: 3)")
    p.add_argument("--no-processes", action="store_true", help="skip the whole-process, RSS and cold-start runs")
    add_engine_args(p)
    p.set_defaults(func=run)


def run_front_end(name: str, argv: list[str]) -> int:
    module, func = FRONT_END_BENCHES[name]
    try:
        fn = getattr(importlib.import_module(module), func)
    except ImportError as exc:
        raise ConfigError(f"the {name} benchmark is not available in this installation ({exc})") from None
    return int(fn(argv) or 0)


def run(args: argparse.Namespace) -> int:
    from ..bench import run_benchmark
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
    engine = engine_options(args)
    whisper_cpp = None
    for peer in args.vs:
        if peer.startswith("whisper.cpp="):
            from ..whispercpp import WhisperCpp

            whisper_cpp = WhisperCpp.parse(peer.removeprefix("whisper.cpp="), engine.threads)
        elif peer != "faster-whisper":
            raise ConfigError(f"unknown peer {peer!r}: use faster-whisper or whisper.cpp=PATH_TO_CLI,GGML_MODEL")
    run_benchmark(clips, engine, args.repeats, "faster-whisper" in args.vs, not args.no_processes,
                  whisper_cpp=whisper_cpp)
    return 0
