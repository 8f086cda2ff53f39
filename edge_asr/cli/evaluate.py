"""`edge-asr eval MANIFEST.tsv [...]`: WER against references, per clip and overall, optionally side by side with
the live pipeline on the same files and with faster-whisper on the same weights."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from ..errors import ConfigError
from ..shell_args import add_decode_args, add_engine_args, engine_options, transcribe_options
from .common import build_progress


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "eval",
        help="word error rate on manifests of clips with references",
        description="Transcribe every clip of one or more TSV manifests (path, language, reference_text) and print "
        "WER after Whisper's English text normalizer, per manifest and system. --live adds the live pipeline run "
        "over the same files (what a microphone user would have got); --vs faster-whisper adds faster-whisper int8 "
        "on the same weights in its default long-form mode (timestamps, condition on previous text, greedy, no VAD).",
    )
    p.add_argument("manifests", nargs="+", type=Path, metavar="MANIFEST")
    p.add_argument("--per-clip", action="store_true", help="print each clip's WER and hypothesis")
    p.add_argument("--live", action="store_true", help="also run the live pipeline (VAD, finals) over each file")
    p.add_argument("--vs", choices=["faster-whisper"], default=None, help="also run this peer on the same clips")
    add_decode_args(p)
    add_engine_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..evaluate import Clip, evaluate, print_table, read_manifest, require_scoring
    from ..factory import load_transcriber

    require_scoring("`edge-asr eval`")  # before the model loads

    manifests = {m: read_manifest(m) for m in args.manifests}
    engine = engine_options(args)
    tr = load_transcriber(engine, progress=build_progress(sys.stderr.isatty()))
    opts = transcribe_options(args)

    def ours(clip: Clip) -> str:
        segs, _info = tr.transcribe(clip.path, opts)
        return "".join(s.text for s in segs).strip()

    systems: dict[str, Callable[[Clip], str]] = {f"edge-asr {tr.name}": ours}
    if args.live:
        from ..live.offline import finals_text, live_finals

        systems["edge-asr live pipeline (finals)"] = lambda clip: finals_text(live_finals(tr, clip.path, None, opts))
    if args.vs == "faster-whisper":
        from ..bench.peers import faster_whisper_runner

        peer = faster_whisper_runner(engine.model, engine.threads)
        if peer is None:
            raise ConfigError("faster-whisper is not installed: pip install faster-whisper (or 'edge-asr[bench]')")
        name, fn = peer
        systems[name] = lambda clip: fn(clip.path)
    scores = evaluate(manifests, systems, per_clip=print if args.per_clip else None)
    print_table(scores)
    if any(c.language != "en" for clips in manifests.values() for c in clips):
        from ..evaluate import print_group_table

        print_group_table(manifests, scores)
    return 0
