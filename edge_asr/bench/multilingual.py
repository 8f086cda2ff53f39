"""`edge-asr bench multilingual`: language identification, transcription and translation of a multilingual
model on clips with references, next to faster-whisper on the same CTranslate2 weights, the same clips and the
same normalizer.

Printed: per clip the detected language, its probability and margin over the runner-up, the detection time,
both systems' transcripts and error (CER for zh/ja/ko, MER for code-switch clips, WER otherwise); error rates per
language group; whether ``--task translate`` produced English for every non-English clip. Both systems decode
greedily (beam 1) with Whisper's temperature fallback, detect the language themselves and run at the same thread
count, interleaved clip by clip. Timings are medians of ``--repeats`` passes.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..audio import decode_audio
from ..constants import SAMPLE_RATE
from ..errors import ConfigError
from ..evaluate import Clip, error_counts, group_scores, looks_english, metric_for, read_manifest
from ..options import EngineOptions, TranscribeOptions
from .common import median

DEFAULT_WINDOWS = (3.0, 5.0, 10.0, 30.0)  # s of audio for language identification
TARGET_MARGIN_PT = 0.5  # percentage points edge-asr may trail faster-whisper by, per language group

Detect = Callable[[np.ndarray, float], tuple[str, float, list[tuple[str, float]]]]
Run = Callable[[np.ndarray, str], str]


@dataclass
class System:
    name: str
    detect: Detect
    run: Run  # (samples, task) -> text
    lid: dict[float, list[tuple[str, float, float, float]]] = field(default_factory=dict)  # window -> per clip
    texts: dict[str, list[str]] = field(default_factory=dict)  # task -> per clip
    seconds: dict[str, float] = field(default_factory=dict)  # task -> wall seconds over all clips


def _margin(probs: Sequence[tuple[str, float]]) -> float:
    return probs[0][1] - (probs[1][1] if len(probs) > 1 else 0.0)


def _ours(engine: EngineOptions) -> System:
    from ..factory import load_transcriber

    tr = load_transcriber(engine)
    if not tr.is_multilingual:
        raise ConfigError(f"{tr.name} is English-only: this benchmark needs a multilingual model (e.g. --model base)")

    def detect(samples: np.ndarray, seconds: float) -> tuple[str, float, list[tuple[str, float]]]:
        return tr.detect_language(samples, seconds)  # type: ignore[call-arg]

    def run(samples: np.ndarray, task: str) -> str:
        segs, _ = tr.transcribe(samples, TranscribeOptions(task=task))  # type: ignore[arg-type]
        return "".join(s.text for s in segs).strip()

    return System(f"edge-asr {tr.name}", detect, run)


def _faster_whisper(folder: Path, threads: int, compute_type: str = "int8") -> System | None:
    try:
        import faster_whisper
    except ImportError:
        return None
    m = faster_whisper.WhisperModel(str(folder), device="cpu", compute_type=compute_type, cpu_threads=threads)

    def detect(samples: np.ndarray, seconds: float) -> tuple[str, float, list[tuple[str, float]]]:
        # faster-whisper always encodes a full 30-s window; the audio it gets is cut to the same length as ours.
        return m.detect_language(samples[: int(seconds * SAMPLE_RATE)])  # type: ignore[no-any-return]

    def run(samples: np.ndarray, task: str) -> str:
        segs, _ = m.transcribe(samples, task=task, beam_size=1, vad_filter=False)
        return "".join(s.text for s in segs).strip()

    return System(f"faster-whisper {faster_whisper.__version__} {compute_type}", detect, run)


def measure(systems: list[System], clips: list[Clip], windows: Sequence[float], repeats: int) -> None:
    audio = [decode_audio(c.path) for c in clips]
    for s in systems:  # warm-up
        s.detect(audio[0], windows[0])
        s.run(audio[0][: SAMPLE_RATE * 2], "transcribe")
    for w in windows:
        for s in systems:
            s.lid[w] = []
        for samples in audio:
            for s in systems:
                times = []
                for _ in range(repeats):
                    t = time.perf_counter()
                    lang, prob, probs = s.detect(samples, w)
                    times.append(time.perf_counter() - t)
                s.lid[w].append((lang, prob, _margin(probs), median(times)))
    for task in ("transcribe", "translate"):
        for s in systems:
            s.texts[task], s.seconds[task] = [], 0.0
        for clip, samples in zip(clips, audio, strict=True):
            for s in systems:
                if task == "translate" and _expected(clip) == "en":
                    s.texts[task].append("")  # English needs no translation
                    continue
                t = time.perf_counter()
                s.texts[task].append(s.run(samples, task))
                s.seconds[task] += time.perf_counter() - t


def _expected(clip: Clip) -> str:
    return clip.language.split("+")[0].strip().lower()


def lid_summary(system: System, clips: list[Clip], window: float) -> dict[str, float]:
    rows = system.lid[window]
    right = [r for r, c in zip(rows, clips, strict=True) if r[0] == _expected(c)]
    return {
        "accuracy": len(right) / len(rows),
        "right": len(right),
        "clips": len(rows),
        "min_margin": min(r[2] for r in rows),
        "median_margin": median(r[2] for r in rows),
        "median_ms": 1000 * median(r[3] for r in rows),
        "max_ms": 1000 * max(r[3] for r in rows),
    }


def report(systems: list[System], clips: list[Clip], windows: Sequence[float], out: Callable[[str], None]) -> dict:
    result: dict[str, Any] = {"clips": len(clips), "systems": {}}
    audio_s = sum(len(decode_audio(c.path)) for c in clips) / SAMPLE_RATE
    out(f"{len(clips)} clips, {audio_s:.1f} s of audio")
    out("\nlanguage identification (first N s of each clip; accuracy, probability margin top-1 minus top-2, time)")
    cols = f"{'N s':>5s} {'right':>7s} {'min margin':>11s} {'median':>7s} {'median ms':>10s} {'max ms':>7s}"
    out(f"  {'system':44s} {cols}")
    for s in systems:
        sys_result: dict[str, Any] = {"lid": {}, "groups": {}, "translate": {}}
        for w in windows:
            lid = lid_summary(s, clips, w)
            sys_result["lid"][str(w)] = lid
            out(
                f"  {s.name[:44]:44s} {w:5.0f} {lid['right']:3d}/{lid['clips']:<3d} {lid['min_margin']:11.3f} "
                f"{lid['median_margin']:7.3f} {lid['median_ms']:10.0f} {lid['max_ms']:7.0f}"
            )
        result["systems"][s.name] = sys_result
    w_best = max(windows)
    out(f"\nper clip (language detected on the first {w_best:.0f} s; error in the clip's unit)")
    for k, clip in enumerate(clips):
        out(f"  {clip.path.name} [{clip.language}, {metric_for(clip.language).upper()}] ref: {clip.reference}")
        for s in systems:
            lang, prob, _margin_k, _sec = s.lid[w_best][k]
            e, n = error_counts(clip.reference, s.texts["transcribe"][k], clip.language)
            out(f"    {s.name[:28]:28s} {lang} p={prob:.3f} {100 * e / max(n, 1):6.1f} %  {s.texts['transcribe'][k]}")
            if s.texts["translate"][k]:
                out(f"    {'':28s} translate: {s.texts['translate'][k]}")
    out("\nerror rate per language group (corpus level within the group)")
    header = "".join(f" {s.name[:30]:>30s}" for s in systems)
    out(f"  {'group':24s} {'clips':>5s}{header}")
    scores = {s.name: group_scores(clips, s.texts["transcribe"]) for s in systems}
    for i, g in enumerate(scores[systems[0].name]):
        cells = ""
        for s in systems:
            gs = scores[s.name][i]
            cells += f" {100 * gs.rate:29.1f}%"
            result["systems"][s.name]["groups"][gs.group] = round(100 * gs.rate, 2)
        out(f"  {g.group:24s} {g.clips:5d}{cells}")
    if len(systems) > 1:
        ours, peer = scores[systems[0].name], scores[systems[1].name]
        misses = [a.group for a, b in zip(ours, peer, strict=True) if 100 * (a.rate - b.rate) > TARGET_MARGIN_PT]
        verdict = "met" if not misses else "MISSED on " + ", ".join(misses)
        out(f"  target (edge-asr <= faster-whisper + {TARGET_MARGIN_PT} pt in every group): {verdict}")
        result["target_met"] = not misses
    out("\ntranslate (--task translate): English output for every non-English clip?")
    foreign = [k for k, c in enumerate(clips) if _expected(c) != "en"]
    for s in systems:
        english = [k for k in foreign if looks_english(s.texts["translate"][k])]
        result["systems"][s.name]["translate"] = {"english": len(english), "non_english_clips": len(foreign)}
        out(f"  {s.name[:44]:44s} {len(english)}/{len(foreign)} English")
    out("\nwall time over all clips, one pass")
    for s in systems:
        out(
            f"  {s.name[:44]:44s} transcribe {s.seconds['transcribe']:6.2f} s (RTF "
            f"{s.seconds['transcribe'] / audio_s:.3f})   translate (non-English clips) {s.seconds['translate']:6.2f} s"
        )
        result["systems"][s.name]["seconds"] = s.seconds
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="edge-asr bench multilingual", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "manifests", type=Path, nargs="+", help="manifest.tsv files (e.g. ../shared/speech/multilingual-dev, en-dev)"
    )
    p.add_argument("--model", default="base", help="a multilingual model (default: %(default)s)")
    p.add_argument("--threads", type=int, default=2, help="threads for both systems (default: %(default)s)")
    p.add_argument("--cache-dir", default=None)
    p.add_argument(
        "--windows", type=float, nargs="+", default=list(DEFAULT_WINDOWS), help="s of audio for language detection"
    )
    p.add_argument("--repeats", type=int, default=3, help="detections per clip and window for the timing median")
    p.add_argument("--vs", choices=["faster-whisper"], default=None, help="also run this peer, interleaved")
    p.add_argument(
        "--peer-compute-type",
        choices=["int8", "float32"],
        default="int8",
        help="faster-whisper's precision (float32: the weights unquantized, a control for quantization noise)",
    )
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object too")
    a = p.parse_args(argv)
    if a.repeats < 1 or a.threads < 1 or any(w <= 0 for w in a.windows):
        raise ConfigError("--repeats, --threads and --windows must be positive")
    from ..export.registry import resolve
    from ..weights.split import joined_folder

    clips = [c for m in a.manifests for c in read_manifest(m)]
    systems = [_ours(EngineOptions(model=a.model, threads=a.threads, decoder_threads=a.threads, cache_dir=a.cache_dir))]
    src = resolve(a.model)
    if a.vs and src.path is None:
        raise ConfigError(f"model {a.model!r} is not installed here. {src.install_hint}")
    if a.vs:
        assert src.path is not None
        # faster-whisper needs one model.bin: a joined copy exists only while it loads (CTranslate2 reads it whole).
        with joined_folder(src.path) as folder:
            peer = _faster_whisper(folder, a.threads, a.peer_compute_type)
        if peer is None:
            print("faster-whisper is not installed (pip install 'edge-asr[bench]'): comparison skipped")
        else:
            systems.append(peer)
    measure(systems, clips, sorted(a.windows), a.repeats)
    result = report(systems, clips, sorted(a.windows), print)
    if a.json:
        print(json.dumps(result))
    return 0
