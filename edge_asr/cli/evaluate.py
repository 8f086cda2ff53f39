"""`edge-asr eval MANIFEST.tsv`: WER against references, per clip and overall."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .common import add_decode_args, add_engine_args, build_progress, engine_options, transcribe_options


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "eval",
        help="word error rate on a manifest of clips with references",
        description="Transcribe every clip of a TSV manifest (path, language, reference_text) and print "
        "WER after Whisper's English text normalizer.",
    )
    p.add_argument("manifest", type=Path)
    p.add_argument("--per-clip", action="store_true", help="print each clip's WER and hypothesis")
    add_decode_args(p)
    add_engine_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..engine import load_transcriber
    from ..evaluate import read_manifest, wer

    clips = read_manifest(args.manifest)
    tr = load_transcriber(engine_options(args), progress=build_progress(sys.stderr.isatty()))
    opts = transcribe_options(args)
    hyps: list[str] = []
    audio_s = 0.0
    started = time.perf_counter()
    for clip in clips:
        segs, info = tr.transcribe(clip.path, opts)
        text = "".join(s.text for s in segs).strip()
        hyps.append(text)
        audio_s += info.duration
        if args.per_clip:
            print(f"{clip.path.name:36s} WER {100 * wer([clip.reference], [text]):6.2f} %  {text}")
    elapsed = time.perf_counter() - started
    total = wer([c.reference for c in clips], hyps)
    print(
        f"{tr.name}: WER {100 * total:.2f} % on {len(clips)} clips ({audio_s:.1f} s audio) "
        f"in {elapsed:.1f} s, RTF {elapsed / max(audio_s, 1e-9):.3f}"
    )
    return 0
