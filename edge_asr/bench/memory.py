"""`edge-asr bench memory`: where the memory goes, and the RSS of each shell at rest.

1. **Per component**, in one fresh interpreter: each part is imported or created in turn and the growth of the
   process's resident set is read from ``/proc/self/status`` after each (``VmRSS``, split into ``RssAnon`` - heap,
   arenas, ONNX Runtime's buffers - and ``RssFile`` - shared libraries and mapped model files). The order is the
   order a transcription needs them; the optional parts come after.
2. **The daemon**, a real subprocess with the live pipeline on a microphone (``--device``) or a paced file of
   room noise: RSS at rest, after the first transcription of a 10-s clip (the model's first run maps and touches
   what room noise never needs), then after ``--uploads`` in all, at rest again. Growth past the first upload is
   what a leak would show; the step at the first one is warm-up.
3. **The desktop app**, offscreen: RSS once the model is loaded and the window has settled.

Figures are printed, not asserted. Peak RSS of the CLI itself is `edge-asr bench FILES` (whole processes).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .common import MIB, Column, demo_clip, proc_memory, shared_speech, table

SETTLE_S = 5.0  # s a shell is left alone before its resting RSS is read (a fixed measuring window)
START_TIMEOUT_S = 300.0  # s (a first run builds the model)
DEFAULT_UPLOADS = 500

# The child reads /proc itself instead of importing edge_asr.bench.common: its first row is the bare interpreter.
_STAGES = r'''
import json, sys, time
def mem():
    d = {}
    for line in open("/proc/self/status"):
        k, v = line.split(":", 1)
        if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            d[k] = int(v.split()[0]) / 1024
    return d
rows, last = [], mem()
def stage(name, what):
    global last
    t = time.perf_counter(); out = what(); took = time.perf_counter() - t
    m = mem()
    rows.append({"part": name, "rss": m["VmRSS"] - last["VmRSS"], "anon": m["RssAnon"] - last["RssAnon"],
                 "file": m["RssFile"] - last["RssFile"], "hwm": m["VmHWM"], "seconds": took})
    last = m
    return out
rows.append({"part": "interpreter", "rss": last["VmRSS"], "anon": last["RssAnon"], "file": last["RssFile"],
             "hwm": last["VmHWM"], "seconds": 0.0})
from edge_asr.memory import tune_allocator
tune_allocator()
jfk, long_clip = sys.argv[1], sys.argv[2]
stage("numpy", lambda: __import__("numpy"))
stage("soundfile (libsndfile)", lambda: __import__("soundfile"))
stage("soxr", lambda: __import__("soxr"))
ort = stage("onnxruntime", lambda: __import__("onnxruntime"))
stage("edge_asr (transcription modules)", lambda: __import__("edge_asr.transcribe") and __import__("edge_asr.factory"))
from edge_asr.loading import ort_files
from edge_asr.engine.ort_backend import OrtRuntime, provider_options
from edge_asr.export.build import ensure_model
from edge_asr.options import EngineOptions
from edge_asr.tokenizer import load_tokenizer
built = ensure_model("tiny.en", verify=False)
enc, dec, optimized = ort_files(built)
o = EngineOptions()
cpu = ["CPUExecutionProvider"]
rt = OrtRuntime.__new__(OrtRuntime)  # one session at a time, made as OrtRuntime makes its two
rt._provider_options = provider_options(cpu, enc.parent)
d = stage("decoder session", lambda: rt._session(ort, dec, o.decoder_threads, o.low_memory, cpu, False, optimized))
e = stage("encoder session", lambda: rt._session(ort, enc, o.threads, o.low_memory, cpu, False, optimized))
stage("tokenizer (token table)", lambda: load_tokenizer(built.tokenizer, built.dims.n_vocab, built.dims.num_languages,
                                                        table_dir=built.directory))
del d, e
from edge_asr.factory import load_transcriber
tr = load_transcriber(o)  # the same sessions again, for transcribing (the first pair is freed)
last = mem()
stage("transcribing jfk.flac (11 s)", lambda: list(tr.transcribe(jfk)[0]))
stage("transcribing 30-s windows", lambda: list(tr.transcribe(long_clip)[0]))
stage("PyAV (FFmpeg; only for what libsndfile cannot read)", lambda: __import__("av"))
def vad():
    from edge_asr.live.vad import SileroModel
    import numpy as np
    m = SileroModel(); m(np.zeros(512, np.float32)); return m
stage("Silero VAD (live)", vad)
stage("tokenizers + tokenizer.json (only for prompts)", lambda: load_tokenizer(built.tokenizer, built.dims.n_vocab,
                                                                               built.dims.num_languages).encode(" a"))
stage("FastAPI + uvicorn (daemon)", lambda: __import__("edge_asr.daemon.app"))
def qt():
    import os
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication
    return QApplication.instance() or QApplication([])
stage("Qt: PySide6 QtWidgets + QApplication (GUI)", qt)
print(json.dumps(rows))
'''


def component_rows(jfk: Path, long_clip: Path) -> list[dict[str, Any]]:
    out = subprocess.run([sys.executable, "-c", _STAGES, str(jfk), str(long_clip)], capture_output=True, text=True,
                         timeout=START_TIMEOUT_S, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"the component run failed: {out.stderr.strip()[-800:]}")
    rows: list[dict[str, Any]] = json.loads(out.stdout.strip().splitlines()[-1])
    return rows


def daemon_rss(uploads: int, device: str | None) -> dict[str, Any]:
    """RSS of a real daemon at rest with the live pipeline on, then after ``uploads`` uploads, at rest again."""
    from .daemon import Daemon, noise, speech_wav, upload, wav_bytes

    with tempfile.TemporaryDirectory(prefix="edge-asr-bench-memory-") as tmp:
        extra = ["--journal-dir", str(Path(tmp) / "journal")]
        if device:
            extra += ["--device", device]
        else:
            room = Path(tmp) / "room.wav"
            room.write_bytes(wav_bytes(noise(60.0)))
            extra += ["--set", f"live.file={room}"]
        daemon = Daemon(extra)
        try:
            time.sleep(SETTLE_S)  # a fixed window at rest, not a wait for a condition
            idle = proc_memory(daemon.proc.pid)
            clip = speech_wav(10.0)
            codes = [upload(daemon.url, clip)[0]]
            time.sleep(SETTLE_S)
            warm = proc_memory(daemon.proc.pid)
            codes += [upload(daemon.url, clip)[0] for _ in range(uploads - 1)]
            time.sleep(SETTLE_S)
            after = proc_memory(daemon.proc.pid)
        finally:
            daemon.stop()
    return {"daemon_idle_mb": idle["VmRSS"], "daemon_after_uploads_mb": after["VmRSS"], "uploads": uploads,
            "uploads_ok": codes.count(200), "daemon_peak_mb": after["VmHWM"],
            "daemon_growth_percent": 100.0 * (after["VmRSS"] - idle["VmRSS"]) / idle["VmRSS"],
            "daemon_warm_mb": warm["VmRSS"], "daemon_warm_file_mb": warm["RssFile"] - idle["RssFile"],
            "daemon_growth_after_first_percent": 100.0 * (after["VmRSS"] - warm["VmRSS"]) / warm["VmRSS"]}


def gui_rss() -> dict[str, Any]:
    """RSS of the desktop app (offscreen) once its model is loaded and it has settled."""
    from ..gui.constants import MODEL_MARK

    with tempfile.TemporaryDirectory(prefix="edge-asr-bench-memory-gui-") as tmp:
        env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
        proc = subprocess.Popen([sys.executable, "-m", "edge_asr", "gui", "--print-ready", "--settings",
                                 str(Path(tmp) / "s.ini")], env=env, stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            for line in proc.stdout:  # ends when the app exits
                if line.startswith(MODEL_MARK):
                    break
            time.sleep(SETTLE_S)
            st = proc_memory(proc.pid)
        finally:
            proc.terminate()
            proc.wait(30)
    return {"gui_idle_mb": st["VmRSS"], "gui_peak_mb": st["VmHWM"]}


REPORT_COLUMNS = (Column("part", 54), Column("RSS MiB", 7, "+.1f"), Column("anon", 6, "+.1f"),
                  Column("file", 6, "+.1f"), Column("peak", 6, ".1f"), Column("s", 6, ".2f"))


def report(rows: list[dict[str, Any]]) -> list[str]:
    return table(REPORT_COLUMNS, ([r["part"], r["rss"], r["anon"], r["file"], r["hwm"], r["seconds"]] for r in rows))


def _both(mib: float) -> str:
    """The figures are MiB (/proc reports kB); the issue's targets are MB."""
    return f"{mib:.1f} MiB = {mib * MIB / 1e6:.1f} MB"


def _default_clips() -> tuple[Path, Path]:
    jfk = demo_clip()
    wild = shared_speech("en-wild")
    longer = sorted(wild.glob("*earnings*")) if wild else []
    return jfk, (longer[0] if longer else jfk)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="edge-asr bench memory", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--uploads", type=int, default=DEFAULT_UPLOADS, help="uploads to the daemon (default: 500)")
    p.add_argument("--device", default=None, help="the daemon's microphone (default: a paced file of room noise)")
    p.add_argument("--long-clip", type=Path, default=None, help="audio with 30-s windows (default: an en-wild call)")
    p.add_argument("--no-daemon", action="store_true")
    p.add_argument("--no-gui", action="store_true")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    if a.uploads < 1:
        p.error("--uploads must be at least 1")
    jfk, long_clip = _default_clips()
    rows = component_rows(jfk, a.long_clip or long_clip)
    print("resident memory by component in MiB (one fresh process, VmRSS/RssAnon/RssFile deltas; peak = VmHWM after)")
    print("\n".join(report(rows)))
    result: dict[str, Any] = {"components": rows}
    if not a.no_daemon:
        result.update(daemon_rss(a.uploads, a.device))
        print(f"daemon, live pipeline on ({a.device or 'paced room-noise file'}): at rest "
              f"{_both(result['daemon_idle_mb'])}; after {a.uploads} uploads ({result['uploads_ok']} ok) "
              f"{_both(result['daemon_after_uploads_mb'])} ({result['daemon_growth_percent']:+.1f} %), "
              f"peak {_both(result['daemon_peak_mb'])}   targets <= 160 MB, within 10 %")
        print(f"  after the first upload {_both(result['daemon_warm_mb'])} (the model's first run; "
              f"{result['daemon_warm_file_mb']:+.1f} MiB of it file pages); the {a.uploads - 1} after it "
              f"{result['daemon_growth_after_first_percent']:+.1f} %")
    if not a.no_gui:
        try:
            result.update(gui_rss())
            print(f"desktop app (offscreen), model loaded, at rest: {_both(result['gui_idle_mb'])} "
                  f"(peak {_both(result['gui_peak_mb'])})   target <= 220 MB")
        except (ImportError, OSError, subprocess.SubprocessError) as exc:
            print(f"desktop app: not measured ({exc})")
    if a.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
