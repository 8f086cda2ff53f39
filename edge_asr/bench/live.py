"""`edge-asr bench live`: the live pipeline's targets, measured in real time and printed.

A session of speech clips separated by silence (with a faint noise floor, as a real room has) is paced like a
microphone through the whole pipeline. Measured: end-of-utterance latency (VAD end of speech -> final published),
the same from the true end of speech (it includes the min-silence wait), first partial after speech onset, CPU,
dropped blocks, RSS after warm-up and at the end, the session's WER. Then idle CPU over a stretch of silence, from
the same paced source or, with --device, from a real microphone.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..audio import decode_audio
from ..constants import SAMPLE_RATE
from ..errors import ConfigError
from ..evaluate import wer
from ..live.events import Event, Final, Partial, Stats, settle
from ..live.pipeline import LiveOptions, LivePipeline
from ..live.sources import ArraySource, AudioSource
from ..options import EngineOptions
from .common import CpuWindow, demo_clip, ms, percentile, shared_speech
from .live_latency import latency_figures, latency_report

log = logging.getLogger(__name__)

NOISE_FLOOR_DBFS = -65.0  # white noise under the whole session: a quiet room, not digital silence
ONSET_BELOW_PEAK = 35.0  # dB: a clip's speech starts/ends at the first/last 32-ms window this close to its peak
ONSET_WINDOW = 512  # samples per level window
# The RSS baseline is taken after the first pass over the clips: by then every utterance length of the session has
# been decoded once and ONNX Runtime / the allocator hold their working set; growth after that would be a leak.
# Sessions shorter than two passes use this fraction of the run instead.
WARMUP_FRACTION = 0.2
STOP_TIMEOUT = 30.0  # s
TARGETS = {"p50": 0.250, "p95": 0.500, "first_partial": 1.0, "idle_cpu": 3.0, "rss_growth": 5.0}


@dataclass
class Span:
    start: float  # s in the session: the clip's first sample
    end: float
    onset: float  # s: where its speech starts and ends
    offset: float
    reference: str
    clip: int = 0  # index into the clips the session was built from


@dataclass
class Recorder:
    events: list[tuple[float, Event]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, ev: Event) -> None:
        now = time.monotonic()
        if not isinstance(ev, Final | Partial | Stats):
            return  # ten levels a second would only grow the bench's own memory
        with self.lock:
            self.events.append((now, ev))


def _default_clips() -> list[tuple[Path, str]]:
    """en-dev from ../shared when this is a dev checkout, else the bundled demo clip."""
    from ..evaluate import read_manifest

    dev = shared_speech("en-dev")
    if dev is not None and (dev / "manifest.tsv").exists():
        return [(c.path, c.reference) for c in read_manifest(dev / "manifest.tsv")]
    return [(demo_clip(), "And so my fellow Americans, ask not what your country can do for you, ask what you can do "
                          "for your country.")]


def _clips(items: list[str]) -> list[tuple[Path, str]]:
    from ..evaluate import read_manifest

    out: list[tuple[Path, str]] = []
    for item in items:
        p = Path(item)
        if p.suffix == ".tsv":
            out += [(c.path, c.reference) for c in read_manifest(p)]
        elif p.is_dir():
            out += [(f, "") for f in sorted(p.iterdir()) if f.suffix.lower() in (".wav", ".flac", ".mp3", ".ogg")]
        elif p.exists():
            out.append((p, ""))
        else:
            raise ConfigError(f"{p} does not exist")
    return out


def speech_bounds(x: np.ndarray) -> tuple[float, float]:
    n = len(x) // ONSET_WINDOW
    if n == 0:
        return 0.0, len(x) / SAMPLE_RATE
    w = x[: n * ONSET_WINDOW].reshape(n, ONSET_WINDOW)
    level = 10 * np.log10(np.maximum((w * w).mean(axis=1), 1e-12))
    loud = np.flatnonzero(level >= level.max() - ONSET_BELOW_PEAK)
    return loud[0] * ONSET_WINDOW / SAMPLE_RATE, (loud[-1] + 1) * ONSET_WINDOW / SAMPLE_RATE


def build_session(clips: list[tuple[Path, str]], seconds: float, gap: float,
                  seed: int = 0) -> tuple[np.ndarray, list[Span]]:
    decoded = [(decode_audio(p), ref) for p, ref in clips]
    parts: list[np.ndarray] = []
    spans: list[Span] = []
    t = gap
    parts.append(np.zeros(round(gap * SAMPLE_RATE), np.float32))
    i = 0
    while t < seconds:
        x, ref = decoded[i % len(decoded)]
        on, off = speech_bounds(x)
        spans.append(Span(t, t + len(x) / SAMPLE_RATE, t + on, t + off, ref, i % len(decoded)))
        parts += [x, np.zeros(round(gap * SAMPLE_RATE), np.float32)]
        t += len(x) / SAMPLE_RATE + gap
        i += 1
    session = np.concatenate(parts)
    rng = np.random.default_rng(seed)
    session += (rng.standard_normal(len(session)) * 10 ** (NOISE_FLOOR_DBFS / 20)).astype(np.float32)
    return session, spans


def run_session(transcriber: Any, session: np.ndarray, spans: list[Span], options: LiveOptions,
                n_clips: int = 1) -> dict[str, Any]:
    source = ArraySource(session, realtime=True, name="bench session")
    rec = Recorder()
    pipeline = LivePipeline(transcriber, source, options)
    pipeline.subscribe(rec)
    pipeline.start()
    t0 = source.started_at
    duration = len(session) / SAMPLE_RATE
    pipeline.wait(duration + STOP_TIMEOUT)
    pipeline.stop(STOP_TIMEOUT)
    finals = [(t, e) for t, e in rec.events if isinstance(e, Final)]
    kept = {id(e) for e in settle(e for _, e in finals)}
    partials = [(t, e) for t, e in rec.events if isinstance(e, Partial)]
    stats = [(t, e) for t, e in rec.events if isinstance(e, Stats)]
    eou = [e.latency for _, e in finals]
    first_partial: list[float] = []
    late_partials: list[tuple[float, str]] = []
    first_partial_vad: list[float] = []
    refs: list[str] = []
    hyps: list[str] = []
    for s in spans:
        mine = [(t, e) for t, e in finals if s.start - 0.3 <= e.segment.start < s.end]
        early = [t for t, e in partials if e.start < s.end and e.end > s.start]
        if early:
            first_partial.append(min(early) - (t0 + s.onset))
            late_partials.append((round(float(first_partial[-1]), 3), s.reference[:30]))
            # The VAD's onset: the first utterance's audio starts a full pre-roll before it (gaps exceed it).
            vad_onset = min(e.start for t, e in partials if e.start < s.end and e.end > s.start) + options.pre_roll
            first_partial_vad.append(min(early) - (t0 + vad_onset))
        if s.reference:
            refs.append(s.reference)
            hyps.append(" ".join(e.segment.text for _, e in mine if id(e) in kept))
    first_pass = spans[n_clips].start if len(spans) >= 2 * n_clips else None
    warm = first_pass if first_pass is not None else WARMUP_FRACTION * duration
    rss_warm = next((e.rss_mb for t, e in stats if t - t0 >= warm), stats[-1][1].rss_mb if stats else float("nan"))
    rss_end = stats[-1][1].rss_mb if stats else float("nan")
    return {
        "audio_seconds": round(duration, 1),
        "utterances": len(spans),
        "finals": len(finals),
        "partials": len(partials),
        "eou_latency_p50": percentile(eou, 50), "eou_latency_p95": percentile(eou, 95),
        "eou_latency_max": max(eou, default=0.0),
        "first_partial_p50": percentile(first_partial, 50), "first_partial_p95": percentile(first_partial, 95),
        "first_partial_max": max(first_partial, default=float("nan")),
        "first_partial_vad_p50": percentile(first_partial_vad, 50),
        "first_partial_vad_p95": percentile(first_partial_vad, 95),
        "first_partial_vad_max": max(first_partial_vad, default=float("nan")),
        "cpu_percent_mean": statistics.fmean(e.cpu_percent for _, e in stats) if stats else float("nan"),
        "drops": source.drops + source.overruns,
        "warmup_seconds": round(warm, 1), "rss_after_warmup_mb": rss_warm, "rss_end_mb": rss_end,
        "rss_max_mb": max((e.rss_mb for _, e in stats), default=float("nan")),
        "rss_growth_percent": 100.0 * (rss_end - rss_warm) / rss_warm if stats else float("nan"),
        "decode_rtf": pipeline.stats["decode_seconds"] / duration,
        "skipped_partials": pipeline.stats["skipped_partials"],
        "wer": wer(refs, hyps) if refs else None,
        "guard_rejected": dict(pipeline.guard.rejected),
        "slowest_first_partials": sorted(late_partials, reverse=True)[:3],
        "slowest_finals": [(round(e.latency, 3), e.segment.temperature, e.segment.text.strip()[:40])
                           for _, e in sorted(finals, key=lambda f: -f[1].latency)[:3]],
        **latency_figures(finals, spans, t0),
    }


def file_wer(transcriber: Any, clips: list[tuple[Path, str]], spans: list[Span]) -> float | None:
    """WER of plain file transcription over the same utterances as the session (the bar live finals answer to)."""
    if not any(s.reference for s in spans):
        return None
    texts = ["".join(seg.text for seg in transcriber.transcribe(path)[0]) for path, _ in clips]
    return wer([s.reference for s in spans if s.reference], [texts[s.clip] for s in spans if s.reference])


def run_idle(transcriber: Any, seconds: float, options: LiveOptions, device: str | None) -> dict[str, Any]:
    source: AudioSource
    if device is not None:
        from ..live.capture import MicSource

        source = MicSource(int(device) if device.isdigit() else device)
    else:
        rng = np.random.default_rng(1)
        noise = (rng.standard_normal(round(seconds * SAMPLE_RATE)) * 10 ** (NOISE_FLOOR_DBFS / 20)).astype(np.float32)
        source = ArraySource(noise, realtime=True, name="silence")
    rec = Recorder()
    pipeline = LivePipeline(transcriber, source, options)
    pipeline.subscribe(rec)
    pipeline.start()
    window = CpuWindow()
    pipeline.wait(seconds)  # a paced source ends by itself; a microphone is stopped here
    cpu, elapsed = window.percent(), window.elapsed()
    pipeline.stop(STOP_TIMEOUT)
    return {"idle_seconds": round(elapsed, 1), "idle_cpu_percent": cpu, "idle_source": source.name,
            "idle_finals": sum(1 for _, e in rec.events if isinstance(e, Final)),
            "idle_drops": source.drops + source.overruns, "idle_vad_calls": pipeline.stats["vad_calls"]}


def report(r: dict[str, Any]) -> str:
    ok = lambda good: "ok" if good else "MISSED"  # noqa: E731
    lines = [
        f"edge-asr bench live: {r['model']}, {r['cores']} cores, {r['audio_seconds'] / 60:.1f} min real time, "
        f"{r['utterances']} utterances ({r['finals']} finals, {r['partials']} partials)",
        f"  end-of-utterance latency (VAD end -> final)  p50 {ms(r['eou_latency_p50'])}  "
        f"p95 {ms(r['eou_latency_p95'])}"
        f"  max {ms(r['eou_latency_max'])}   target p50 <= 250 ms, p95 <= 500 ms: "
        f"{ok(r['eou_latency_p50'] <= TARGETS['p50'] and r['eou_latency_p95'] <= TARGETS['p95'])}",
        *latency_report(r),
        f"  first partial after speech onset (energy)  p50 {ms(r['first_partial_p50'])}  "
        f"p95 {ms(r['first_partial_p95'])}  max {ms(r['first_partial_max'])}   target <= 1 s: "
        f"{ok(r['first_partial_max'] <= TARGETS['first_partial'])}",
        f"  first partial after the VAD's speech onset p50 {ms(r['first_partial_vad_p50'])}  "
        f"p95 {ms(r['first_partial_vad_p95'])}  max {ms(r['first_partial_vad_max'])}",
        f"  idle CPU ({r['idle_source']}, {r['idle_seconds']:.0f} s)         {r['idle_cpu_percent']:.2f} % of one core"
        f"   target < 3 %: {ok(r['idle_cpu_percent'] < TARGETS['idle_cpu'])}  (VAD model calls {r['idle_vad_calls']},"
        f" finals {r['idle_finals']})",
        f"  CPU while transcribing                      {r['cpu_percent_mean']:.1f} % of one core (mean); decode RTF "
        f"{r['decode_rtf']:.3f}; skipped partials {r['skipped_partials']}",
        f"  dropped blocks                              {r['drops']} (+{r['idle_drops']} idle)   target 0: "
        f"{ok(r['drops'] + r['idle_drops'] == 0)}",
        f"  RSS                                         {r['rss_after_warmup_mb']:.1f} MB after warm-up "
        f"({r['warmup_seconds']:.0f} s: one pass over the clips), max {r['rss_max_mb']:.1f} MB, "
        f"{r['rss_end_mb']:.1f} MB at the end, growth {r['rss_growth_percent']:+.2f} %   target < 5 %: "
        f"{ok(r['rss_growth_percent'] < TARGETS['rss_growth'])}",
    ]
    if r.get("wer") is not None:
        lines.append(f"  session WER                                 {100 * r['wer']:.1f} %   guard dropped "
                     f"{r['guard_rejected'] or 'nothing'}")
    if r.get("file_wer") is not None and r.get("wer") is not None:
        gap = 100 * (r["wer"] - r["file_wer"])
        lines.append(f"  `transcribe` on the same clips              {100 * r['file_wer']:.1f} %   live - file "
                     f"{gap:+.1f} pt   target <= +1.0: {ok(gap <= 1.0)}")
    lines.append(f"  slowest finals (latency s, temperature, text): {r['slowest_finals']}")
    lines.append(f"  slowest first partials (s, clip): {r['slowest_first_partials']}")
    return "\n".join(lines)


def live_overrides(items: list[str]) -> LiveOptions:
    """LiveOptions with ``name=value`` overrides, each value read as its field's type."""
    import dataclasses
    import typing

    from ..config_values import coerce_value

    hints = typing.get_type_hints(LiveOptions)
    changes: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or name not in LiveOptions.names():
            raise ConfigError(f"--set {item!r}: expected OPTION=VALUE, OPTION one of {', '.join(LiveOptions.names())}")
        changes[name] = coerce_value(f"--set {name}", value, hints[name])
    return dataclasses.replace(LiveOptions(), **changes)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="edge-asr bench live", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("clips", nargs="*", help="audio files, folders or a manifest.tsv (default: ../shared en-dev, else "
                   "the bundled demo clip)")
    p.add_argument("--minutes", type=float, default=3.0, help="length of the real-time run (default: %(default)s)")
    p.add_argument("--gap", type=float, default=2.0, help="s of silence between clips (default: %(default)s)")
    p.add_argument("--idle-seconds", type=float, default=30.0, help="s of silence for idle CPU (default: %(default)s)")
    p.add_argument("--device", default=None, help="measure idle CPU on this input device instead of a paced source")
    p.add_argument("--model", default=EngineOptions.model)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--cache-dir", default=None)
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object too")
    p.add_argument("--set", action="append", default=[], metavar="OPTION=VALUE",
                   help="a live option for this run, e.g. --set early_finals=false --set min_silence=0.4")
    a = p.parse_args(argv)
    if a.minutes <= 0 or a.gap < LiveOptions().min_silence or a.idle_seconds <= 0:
        raise ConfigError("--minutes and --idle-seconds must be positive, --gap at least the min-silence (0.5 s)")
    from ..factory import load_transcriber

    engine = EngineOptions(model=a.model, cache_dir=a.cache_dir,
                           **({"threads": a.threads, "decoder_threads": a.threads} if a.threads else {}))
    transcriber = load_transcriber(engine)
    options = live_overrides(a.set)
    clips = _clips(a.clips) if a.clips else _default_clips()
    session, spans = build_session(clips, a.minutes * 60.0, a.gap)
    result: dict[str, Any] = {"model": transcriber.name, "cores": os.cpu_count(), "min_silence": options.min_silence,
                              "options": a.set}
    result.update(run_idle(transcriber, a.idle_seconds, options, a.device))
    result.update(run_session(transcriber, session, spans, options, len(clips)))
    result["file_wer"] = file_wer(transcriber, clips, spans)
    print(report(result))
    if a.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
