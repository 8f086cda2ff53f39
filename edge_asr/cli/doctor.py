"""`edge-asr doctor`: the machine, the installed runtimes and their providers/delegates, what `--backend auto`
picks and why, and a ~10-s micro-benchmark of each runtime on the bundled demo clip (saved, so that auto
chooses by what was measured here)."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..errors import EdgeAsrError
from ..shell_args import add_engine_args, engine_options

GIB = 1024**3
BENCH_SECONDS = 10.0  # default budget of the micro-benchmark, all runtimes together
STEPS = 20  # decoder steps timed per round
MIN_ROUNDS = 1


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "doctor",
        help="machine, runtimes, accelerators, what auto picks, and a quick benchmark",
        description="Print the machine (CPU, cores, SIMD, memory, temperature source), the installed runtimes and "
        "their providers/delegates, which backend --backend auto picks and why, and a micro-benchmark of each "
        "runtime (the bundled 11-s clip, a 30-s encoder window, decoder steps). The benchmark is saved beside "
        "the model cache and --backend auto then follows it.",
    )
    p.add_argument("--seconds", type=float, default=BENCH_SECONDS, help="benchmark budget (default: %(default)s)")
    p.add_argument("--no-bench", action="store_true", help="skip the benchmark (and building models for it)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    add_engine_args(p)
    p.set_defaults(func=run)


@dataclass
class BackendBench:
    backend: str
    providers: list[str]
    load_s: float
    demo_s: list[float] = field(default_factory=list)  # transcribing the 11-s demo clip
    encoder_30s_s: list[float] = field(default_factory=list)
    step_ms: list[float] = field(default_factory=list)
    text: str = ""
    error: str = ""

    def median(self, name: str) -> float:
        values: list[float] = getattr(self, name)
        return float(np.median(values)) if values else float("nan")


def _runtimes() -> dict[str, Any]:
    from ..engine.devices import litert_version, ort_providers, ort_version
    from ..engine.selection import can_build_litert

    providers = ort_providers()
    litert = litert_version()
    out: dict[str, Any] = {
        "onnxruntime": {"version": ort_version(), "providers": providers} if providers is not None else None,
        "litert": {"version": litert, "delegates": ["XNNPACK (CPU)"], "can_build": can_build_litert()}
        if litert
        else None,
    }
    return out


def _auto(args: argparse.Namespace) -> dict[str, str]:
    from ..engine.selection import choose_backend

    opts = engine_options(argparse.Namespace(**{**vars(args), "backend": "auto"}))
    try:
        choice = choose_backend(opts)
    except EdgeAsrError as exc:
        return {"backend": "none", "reason": str(exc)}
    return {"backend": choice.backend, "reason": choice.reason}


def _load(backend: str, args: argparse.Namespace) -> tuple[Any, float]:
    from ..factory import load_transcriber

    opts = engine_options(argparse.Namespace(**{**vars(args), "backend": backend}))
    started = time.perf_counter()
    return load_transcriber(opts), time.perf_counter() - started


def _round(tr: Any, bench: BackendBench, clip: Any, mel30: np.ndarray) -> None:
    rt = tr.runtime
    t = time.perf_counter()
    segments, _ = tr.transcribe(clip)
    bench.text = "".join(s.text for s in segments).strip()
    bench.demo_s.append(time.perf_counter() - t)
    t = time.perf_counter()
    cross = rt.encode(mel30)
    bench.encoder_30s_s.append(time.perf_counter() - t)
    out = rt.decode(np.array([[tr.tok.sot]], dtype=np.int64), None, cross, 0)
    cache = out.cache
    t = time.perf_counter()
    for i in range(STEPS):
        out = rt.decode(np.array([[tr.tok.eot - 1 - i]], dtype=np.int64), cache, cross, 0)
        cache = out.cache
    bench.step_ms.append((time.perf_counter() - t) / STEPS * 1000)


def benchmark(args: argparse.Namespace, backends: list[str]) -> list[BackendBench]:
    from ..constants import N_FRAMES, N_SAMPLES
    from ..data import demo_clip
    from ..features import log_mel_spectrogram, pad_or_trim_frames
    from ..transcribe import as_samples

    clip = demo_clip()
    loaded: list[tuple[Any, BackendBench]] = []
    benches: list[BackendBench] = []
    for backend in backends:
        try:
            tr, load_s = _load(backend, args)
        except EdgeAsrError as exc:
            benches.append(BackendBench(backend, [], 0.0, error=str(exc)))
            continue
        bench = BackendBench(backend, list(tr.runtime.providers), load_s)
        list(tr.transcribe(clip)[0])  # warm-up (first-run allocations, delegate preparation)
        loaded.append((tr, bench))
        benches.append(bench)
    if not loaded:
        return benches
    mel = log_mel_spectrogram(as_samples(clip), loaded[0][0].dims.n_mels, padding=N_SAMPLES)
    mel30 = pad_or_trim_frames(mel, N_FRAMES)[None].astype(np.float32)
    deadline = time.monotonic() + args.seconds
    rounds = 0
    while rounds < MIN_ROUNDS or time.monotonic() < deadline:
        for tr, bench in loaded if rounds % 2 == 0 else loaded[::-1]:  # interleaved: load drifts hit both
            _round(tr, bench, clip, mel30)
        rounds += 1
    return benches


def _save(benches: list[BackendBench], args: argparse.Namespace) -> str | None:
    from ..engine.selection import measurement_path, save_measurement

    done = {b.backend: b.median("demo_s") for b in benches if b.demo_s}
    if len(done) < 2:
        return None
    opts = engine_options(args)
    save_measurement(opts.threads, done, time.strftime("%Y-%m-%d %H:%M"), opts.cache_dir)
    return str(measurement_path(opts.cache_dir))


def collect(args: argparse.Namespace) -> dict[str, Any]:
    from .. import __version__
    from ..engine.machine import machine_info

    runtimes = _runtimes()
    report: dict[str, Any] = {"edge_asr": __version__, "machine": asdict(machine_info()), "runtimes": runtimes}
    report["auto"] = _auto(args)
    if not args.no_bench:
        backends = [b for b in ("onnxruntime", "litert") if runtimes.get(b)]
        benches = benchmark(args, backends)
        report["benchmark"] = [asdict(b) for b in benches]
        saved = _save(benches, args)
        if saved:
            report["saved"] = saved
            report["auto_after"] = _auto(args)
    return report


def _print(report: dict[str, Any], threads: int) -> None:
    m = report["machine"]
    print(f"edge-asr {report['edge_asr']} doctor")
    print("machine")
    print(f"  cpu          {m['cpu']} ({m['machine']}), {m['cores']} usable cores")
    print(f"  simd         {', '.join(m['simd']) or 'none of the known int8/float extensions'}")
    print(f"  memory       {m['memory_total'] / GIB:.1f} GiB total, {m['memory_available'] / GIB:.1f} GiB available")
    print(f"  temperature  {m['temperature']}")
    print(f"  system       {m['system']}")
    print("runtimes")
    ort, lit = report["runtimes"]["onnxruntime"], report["runtimes"]["litert"]
    if ort:
        print(f"  onnxruntime  {ort['version']}: providers {', '.join(ort['providers'])}")
    else:
        print("  onnxruntime  not installed (pip install onnxruntime)")
    if lit:
        build = "" if lit["can_build"] else " (cannot build models: schema missing)"
        print(f"  LiteRT       {lit['version']}: delegates {', '.join(lit['delegates'])}{build}")
    else:
        print("  LiteRT       not installed (pip install ai-edge-litert)")
    auto = report["auto"]
    print(f"auto picks     {auto['backend']}: {auto['reason']}")
    if "benchmark" not in report:
        return
    print(f"benchmark      {threads} threads, interleaved, median per round")
    for b in report["benchmark"]:
        if b["error"]:
            print(f"  {b['backend']:12s} unavailable: {b['error']}")
            continue
        med = {k: float(np.median(b[k])) if b[k] else float("nan") for k in ("demo_s", "encoder_30s_s", "step_ms")}
        print(
            f"  {b['backend']:12s} demo clip (11 s) {med['demo_s']:.3f} s, encoder 30-s window "
            f"{med['encoder_30s_s'] * 1000:.0f} ms, decoder step {med['step_ms']:.2f} ms, load {b['load_s']:.2f} s, "
            f"{len(b['demo_s'])} rounds [{', '.join(b['providers'])}]"
        )
        print(f"  {'':12s} text: {b['text']}")
    if "auto_after" in report:
        after = report["auto_after"]
        print(f"saved          {report['saved']}: auto now picks {after['backend']} ({after['reason']})")


def run(args: argparse.Namespace) -> int:
    report = collect(args)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        _print(report, engine_options(args).threads)
    return 0
