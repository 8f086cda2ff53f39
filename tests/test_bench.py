"""The benchmark package (edge_asr.bench): every `edge-asr bench X` is reachable from the command line, the
shared measuring helpers measure what they say, and WER is computed in one place only."""

from __future__ import annotations

import ast
import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge_asr.bench.common import Column, median, percentile, proc_memory, run_process, table
from edge_asr.cli.bench import FRONT_END_BENCHES

ROOT = Path(__file__).resolve().parents[1]
FRONT_ENDS = ("live", "daemon", "soak", "gui", "multilingual", "memory")
HELP_TIMEOUT = 120  # s for `--help` on a busy 2-core machine (imports only)
BALLAST_MIB = 200  # MiB a child touches, so its own peak RSS must show it
GUI_TIMEOUT = 600  # s: two app launches offscreen, a first one may build the model


def _cli(*args: str, timeout: float = HELP_TIMEOUT, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edge_asr", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env={**os.environ, **env})


def test_every_front_end_bench_is_registered_and_listed_in_the_help() -> None:
    assert set(FRONT_END_BENCHES) == set(FRONT_ENDS)
    r = _cli("bench", "--help")
    assert r.returncode == 0, r.stderr
    help_text = " ".join(r.stdout.split())  # argparse wraps lines
    for name in FRONT_ENDS:
        assert name in help_text, name
    for flag in ("--vs", "--backends", "--repeats", "--no-processes"):
        assert flag in help_text, flag


@pytest.mark.parametrize("name", FRONT_ENDS)
def test_each_front_end_bench_answers_help(name: str) -> None:
    r = _cli("bench", name, "--help")
    assert r.returncode == 0, r.stderr
    assert f"usage: edge-asr bench {name}" in r.stdout


def test_the_ggml_converter_answers_help() -> None:
    r = subprocess.run([sys.executable, "-m", "edge_asr.bench.whispercpp", "--help"], capture_output=True,
                       text=True, timeout=HELP_TIMEOUT, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert "python -m edge_asr.bench.whispercpp" in r.stdout


def test_percentile_and_median_match_numpy_and_say_nan_for_nothing() -> None:
    rng = np.random.default_rng(0)
    for n in (1, 2, 7, 100):
        xs = list(rng.standard_normal(n))
        for q in (0, 10, 50, 95, 99, 100):
            assert percentile(xs, q) == pytest.approx(float(np.percentile(xs, q)))
        assert median(xs) == pytest.approx(float(np.median(xs)))
    assert math.isnan(percentile([], 50)) and math.isnan(median([]))


def test_table_aligns_text_left_and_numbers_right() -> None:
    cols = [Column("system", 8), Column("wall s", 7, ".2f"), Column("growth", 7, "+.1f"), Column("note", 0)]
    lines = table(cols, [["edge-asr tiny.en", 1.5, 2.0, "free text"], ["peer", 12.345, -0.5, ""]])
    assert lines == [
        "system    wall s  growth note",
        "edge-asr    1.50    +2.0 free text",
        "peer       12.35    -0.5",
    ]
    assert table([Column("WER %", 6, ".2f")], [["n/a"]])[1] == "   n/a"


def test_run_process_reports_the_childs_own_peak_rss() -> None:
    here = proc_memory()["VmRSS"]
    small = run_process(["print('hi')"])
    ballast = run_process([f"b = bytearray({BALLAST_MIB} * 2**20); b[::4096] = b'x' * len(b[::4096]); print('ok')"])
    assert small.stdout.strip() == "hi" and ballast.stdout.strip() == "ok"
    assert ballast.peak_mib - small.peak_mib >= 0.9 * BALLAST_MIB, (small, ballast)
    assert small.peak_mib < here  # a bare interpreter: its own pages, not those of this (larger) process
    with pytest.raises(RuntimeError, match="exited with 3"):
        run_process(["raise SystemExit(3)"])


def test_the_cold_start_clock_starts_at_the_spawn(tmp_path: Path, jfk_path: Path) -> None:
    """Model ready <= first segment <= the parent's own wall time for the whole process: a child-side clock that
    starts before the spawn (psutil's create_time() was 0.87 s early here) fails this."""
    import soundfile as sf

    from edge_asr.audio import decode_audio
    from edge_asr.bench.files import _COLD_SCRIPT, COLD_START_CLIP
    from edge_asr.constants import SAMPLE_RATE

    five = tmp_path / "five.wav"
    sf.write(five, decode_audio(jfk_path)[: int(COLD_START_CLIP * SAMPLE_RATE)], SAMPLE_RATE)
    run = run_process([_COLD_SCRIPT, "tiny.en", "2", os.environ["EDGE_ASR_CACHE_DIR"], str(five)])
    ready, first, cpu = (float(x) for x in run.stdout.strip().splitlines()[-1].split())
    assert 0 < ready <= first <= run.wall_s, (ready, first, run.wall_s)
    assert cpu > 0


def test_wer_is_computed_in_evaluate_only() -> None:
    """jiwer and Whisper's normalizer are imported by edge_asr/evaluate.py alone: every bench and every test
    scores through edge_asr.evaluate.wer / normalize, so figures and bars agree."""
    scoring = {"jiwer", "whisper_normalizer"}
    offenders = []
    for path in sorted([*(ROOT / "edge_asr").rglob("*.py"), *(ROOT / "tests").rglob("*.py")]):
        if path == ROOT / "edge_asr" / "evaluate.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if any(n.split(".")[0] in scoring for n in names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, offenders


@pytest.mark.skipif(importlib.util.find_spec("PySide6") is None, reason="PySide6 (the gui extra) is not installed")
def test_bench_gui_times_a_real_launch(tmp_path: Path) -> None:
    """`edge-asr bench gui` reads the marks the app prints (edge_asr.gui.constants) from a real offscreen launch."""
    r = _cli("bench", "gui", "--runs", "1", "--platform", "offscreen", timeout=GUI_TIMEOUT, TMPDIR=str(tmp_path))
    assert r.returncode == 0, r.stderr[-2000:]
    assert "run 1: interactive window" in r.stdout and "launch -> model loaded" in r.stdout, r.stdout


def test_bench_memory_measures_every_component(jfk_path: Path) -> None:
    """The per-component run builds the engine's parts one by one through their real APIs (it broke once when a
    session helper changed shape): every stage reports, the two ONNX sessions cost memory."""
    r = _cli("bench", "memory", "--no-daemon", "--no-gui", "--long-clip", str(jfk_path), "--json",
             timeout=GUI_TIMEOUT)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = {row["part"]: row for row in json.loads(r.stdout.strip().splitlines()[-1])["components"]}
    for part in ("interpreter", "onnxruntime", "decoder session", "encoder session", "transcribing jfk.flac (11 s)",
                 "Silero VAD (live)", "FastAPI + uvicorn (daemon)"):
        assert part in rows, (part, list(rows))
    assert rows["decoder session"]["rss"] > 1.0 and rows["encoder session"]["rss"] > 1.0, rows
