"""`edge-asr bench CLIPS --backends onnxruntime,litert`: the runtimes side by side on the same clips, interleaved:
encoder and decoder time per window, time per decoder step, whole-run time, WER, model file sizes, and (in fresh
processes) whole-process time and peak RSS. Prints figures; asserts nothing."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..audio import decode_audio
from ..constants import SAMPLE_RATE
from ..engine.runtime import KV, StepOutput
from ..evaluate import Clip, normalize, wer
from ..options import EngineOptions, TranscribeOptions
from .common import MIB, Column, TimedRuntime, median, run_process, table


class CountingRuntime(TimedRuntime):
    """TimedRuntime that also counts encoder calls (windows) and decoder calls (steps)."""

    def __init__(self, inner: object) -> None:
        super().__init__(inner)  # type: ignore[arg-type]
        self.windows = 0
        self.steps = 0

    def encode(self, mel: np.ndarray) -> KV:
        self.windows += len(mel)
        return super().encode(mel)

    def decode(self, tokens: np.ndarray, cache: KV | None, cross: KV, logits_start: int) -> StepOutput:
        self.steps += 1
        return super().decode(tokens, cache, cross, logits_start)


@dataclass
class Runs:
    backend: str
    name: str
    load_s: float
    model_bytes: dict[str, int]
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # process CPU s: counts spinning worker threads too
    encoder_ms_per_window: list[float] = field(default_factory=list)
    decoder_ms_per_window: list[float] = field(default_factory=list)
    ms_per_step: list[float] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)


def _model_bytes(backend: str, engine: EngineOptions) -> dict[str, int]:
    if backend == "litert":
        from ..export.tflite_build import ensure_litert_model

        built = ensure_litert_model(engine.model, engine.cache_dir)
    else:
        from ..export.build import ensure_model

        built = ensure_model(engine.model, engine.cache_dir)
    return {name: int(meta["size"]) for name, meta in built.manifest["outputs"].items()}


def _load(backend: str, engine: EngineOptions) -> tuple[Callable[[Path], str], Runs, CountingRuntime]:
    from ..factory import load_transcriber
    from ..transcribe import WhisperTranscriber

    opts = replace(engine, backend=backend)  # type: ignore[arg-type]  # checked by the CLI
    t = time.perf_counter()
    tr = load_transcriber(opts)
    load_s = time.perf_counter() - t
    assert isinstance(tr, WhisperTranscriber)
    counting = CountingRuntime(tr.runtime)
    tr.runtime = counting
    tr.decoder.rt = counting
    decode_opts = TranscribeOptions()

    def run(p: Path) -> str:
        segs, _ = tr.transcribe(p, decode_opts)
        return "".join(s.text for s in segs).strip()

    return run, Runs(backend, tr.name, load_s, _model_bytes(backend, opts)), counting


def run_backend_comparison(
    clips: list[Clip],
    engine: EngineOptions,
    backends: list[str],
    repeats: int,
    processes: bool,
    out: Callable[[str], None] = print,
) -> None:
    audio_s = sum(len(decode_audio(c.path)) for c in clips) / SAMPLE_RATE
    out(
        f"{len(clips)} clips, {audio_s:.1f} s of audio, {engine.threads} encoder / {engine.decoder_threads} decoder "
        f"threads, {repeats} interleaved repeats"
    )
    systems = [_load(b, engine) for b in backends]
    for fn, _, _ in systems:
        fn(clips[0].path)  # warm-up
    for r in range(repeats):
        for fn, runs, rt in systems if r % 2 == 0 else systems[::-1]:
            rt.encoder_s = rt.decoder_s = 0.0
            rt.windows = rt.steps = 0
            t, c0 = time.perf_counter(), time.process_time()
            runs.texts = [fn(c.path) for c in clips]
            runs.wall.append(time.perf_counter() - t)
            runs.cpu.append(time.process_time() - c0)
            runs.encoder_ms_per_window.append(1000 * rt.encoder_s / max(rt.windows, 1))
            runs.decoder_ms_per_window.append(1000 * rt.decoder_s / max(rt.windows, 1))
            runs.ms_per_step.append(1000 * rt.decoder_s / max(rt.steps, 1))
    have_refs = all(c.reference for c in clips)
    out("")
    columns = [Column("backend", 12), Column("load s", 7, ".2f"), Column("wall s", 7, ".2f"), Column("cpu s", 7, ".2f"),
               Column("x RT", 6, ".1f"), Column("WER %", 6, ".2f"), Column("enc ms/win", 10, ".1f"),
               Column("dec ms/win", 10, ".1f"), Column("ms/step", 8, ".2f"), Column("model files (MiB)", 0)]
    rows = []
    for _, runs, _ in systems:
        w = median(runs.wall)
        score = 100 * wer([c.reference for c in clips], runs.texts) if have_refs else "n/a"
        sizes = ", ".join(f"{k} {v / MIB:.1f}" for k, v in runs.model_bytes.items())
        rows.append([runs.backend, runs.load_s, w, median(runs.cpu), audio_s / w, score,
                     median(runs.encoder_ms_per_window), median(runs.decoder_ms_per_window), median(runs.ms_per_step),
                     f"{sizes} (total {sum(runs.model_bytes.values()) / MIB:.1f})"])
    for line in table(columns, rows):
        out(line)
    if len(systems) > 1:
        a, b = systems[0][1], systems[1][1]
        same = sum(normalize(x) == normalize(y) for x, y in zip(a.texts, b.texts, strict=True))
        out(
            f"identical normalised transcripts {a.backend} vs {b.backend}: {same}/{len(clips)}; "
            f"steady-state {b.backend} / {a.backend} wall: {median(b.wall) / median(a.wall):.2f}"
        )
    if processes:
        _whole_processes(clips, engine, backends, repeats, out)


def _whole_processes(
    clips: list[Clip], engine: EngineOptions, backends: list[str], repeats: int, out: Callable[[str], None]
) -> None:
    paths = [str(c.path) for c in clips]
    cache = ["--cache-dir", engine.cache_dir] if engine.cache_dir else []
    walls: dict[str, list[float]] = {b: [] for b in backends}
    rss: dict[str, float] = dict.fromkeys(backends, 0.0)
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats):
            for b in backends if r % 2 == 0 else backends[::-1]:
                cmd = [
                    "-m",
                    "edge_asr",
                    "transcribe",
                    *paths,
                    "-q",
                    "-o",
                    tmp,
                    "--model",
                    engine.model,
                    "--backend",
                    b,
                    "--threads",
                    str(engine.threads),
                    "--decoder-threads",
                    str(engine.decoder_threads),
                    *cache,
                ]
                w, m, _ = run_process(cmd)
                walls[b].append(w)
                rss[b] = max(rss[b], m)
    out("")
    out("whole processes (start, load, transcribe every clip, exit), median, interleaved:")
    for b in backends:
        out(f"  {b:12s} {median(walls[b]):7.2f} s   peak RSS {rss[b]:6.0f} MiB")
