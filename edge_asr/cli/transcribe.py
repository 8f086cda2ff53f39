"""`edge-asr transcribe FILES...`: subtitles and transcripts for audio files, with progress bars."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterable
from pathlib import Path

from ..app_setup import human_error
from ..cues import CueOptions
from ..data import demo_clip
from ..errors import EdgeAsrError
from ..results import Segment
from ..shell_args import add_decode_args, add_engine_args, engine_options, transcribe_options
from .common import build_progress

log = logging.getLogger(__name__)
ALL_FORMATS = ("txt", "srt", "vtt", "json")
EXIT_SOME_FAILED = 1


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "transcribe",
        help="transcribe audio files to txt/srt/vtt/json",
        description="Transcribe audio files (wav, flac, ogg, mp3, m4a, ... at any rate) with the INT8 Whisper model. "
        "Writes DIR/<file stem>.<format> for each input; a file that fails is reported and the others still run.",
    )
    p.add_argument("files", nargs="*", type=Path, help="audio files")
    p.add_argument(
        "--demo", action="store_true", help="also transcribe the bundled 11-s demo clip (JFK, public domain)"
    )
    p.add_argument("-f", "--format", default="txt", help="txt, srt, vtt, json, a comma list, or all (default: txt)")
    p.add_argument("-o", "--output-dir", type=Path, default=Path("."), help="where to write transcripts (default: .)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars and no text on stdout")
    p.add_argument("--overwrite", action="store_true", help="replace existing transcripts of the same name "
                   "(default: pick a free name_2, name_3, ...)")
    cues = p.add_argument_group(
        "subtitles (srt, vtt)",
        "Long segments are split between words into cues within these limits; word timestamps are turned on for "
        "srt/vtt so the splits fall at the right times. 0 turns a limit off.",
    )
    cues.add_argument("--max-line-width", type=int, default=42, help="characters per line (default: 42)")
    cues.add_argument("--max-line-count", type=int, default=2, help="lines per cue (default: 2)")
    cues.add_argument("--max-cue-seconds", type=float, default=7.0, help="seconds per cue (default: 7)")
    add_decode_args(p)
    add_engine_args(p)
    p.set_defaults(func=run)


def _formats(spec: str) -> list[str]:
    fmts = list(ALL_FORMATS) if spec == "all" else [f.strip().lower() for f in spec.split(",") if f.strip()]
    bad = [f for f in fmts if f not in ALL_FORMATS]
    if bad or not fmts:
        raise EdgeAsrError(f"unknown format {', '.join(bad) or spec!r}; choose from {', '.join(ALL_FORMATS)} or all")
    return fmts


def cue_options(args: argparse.Namespace) -> CueOptions:
    return CueOptions(args.max_line_width or None, args.max_line_count or None, args.max_cue_seconds or None)


def _collect(segments: Iterable[Segment], duration: float, name: str, show: bool) -> list[Segment]:
    """Decode every segment; when shown, with a progress bar on stderr and each segment's line on stdout."""
    if not show:
        return list(segments)
    from tqdm import tqdm  # only when a bar is drawn: it and what it imports cost ~3 MiB of RSS

    out: list[Segment] = []
    with tqdm(total=round(duration, 2), unit="s", desc=name, file=sys.stderr,
              bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} s audio [{elapsed}<{remaining}]",
              ) as bar:
        for seg in segments:
            out.append(seg)
            bar.update(min(seg.end, duration) - bar.n)
            tqdm.write(f"[{seg.start:7.2f} -> {seg.end:7.2f}] {seg.text.strip()}", file=sys.stdout)
        bar.update(duration - bar.n)
    return out


def run(args: argparse.Namespace) -> int:
    from ..factory import load_transcriber
    from ..formats import write_transcript
    from .outputs import output_stems, prepare_output_dir

    files: list[Path] = list(args.files) + ([demo_clip()] if args.demo else [])
    if not files:
        print("edge-asr transcribe: give audio files, or --demo for the bundled clip (see --help)", file=sys.stderr)
        return 2
    fmts = _formats(args.format)
    cues = cue_options(args)
    opts = transcribe_options(args)
    if cues.active and {"srt", "vtt"} & set(fmts):
        opts = opts.with_(word_timestamps=True)
    show = not args.quiet
    prepare_output_dir(args.output_dir)
    stems = output_stems(files, args.output_dir, fmts, args.overwrite)
    transcriber = load_transcriber(engine_options(args), progress=build_progress(show and sys.stderr.isatty()))
    failures = 0
    for path, stem in zip(files, stems, strict=False):
        try:
            segments_iter, info = transcriber.transcribe(path, opts)
            segments = _collect(segments_iter, info.duration, path.name, show)
            for fmt in fmts:
                write_transcript(segments, info, fmt, args.output_dir / f"{stem}.{fmt}", cues)
            log.info("%s: %d segments, %.1f s", path, len(segments), info.duration)
        except EdgeAsrError as exc:
            failures += 1
            print(f"edge-asr: {path}: {human_error(exc)}", file=sys.stderr)
        except OSError as exc:  # writing the transcript: disk full, permissions
            failures += 1
            print(
                f"edge-asr: {path}: cannot write transcript: {exc.strerror or exc} ({exc.filename or args.output_dir})",
                file=sys.stderr,
            )
    if failures:
        print(f"edge-asr: {failures} of {len(files)} files failed", file=sys.stderr)
        return EXIT_SOME_FAILED
    return 0
