"""`edge-asr doctor`: what a user sees, from a real process on this machine."""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from edge_asr.engine.machine import machine_info, usable_cores

ROOT = Path(__file__).resolve().parent.parent


def _doctor(*args: str, cache: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if cache:
        env["EDGE_ASR_CACHE_DIR"] = cache
    return subprocess.run(
        [sys.executable, "-m", "edge_asr", "doctor", *args], capture_output=True, text=True, env=env, timeout=600
    )


def test_machine_facts_match_the_system() -> None:
    info = machine_info()
    assert info.cores == usable_cores() >= 1
    assert info.memory_total > info.memory_available > 0
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    if " avx2 " in flags:
        assert "AVX2" in info.simd
    if " asimd " in flags:
        assert "NEON" in info.simd
    assert info.temperature  # a reading or the reason there is none


PI5_CPUINFO = "".join(
    f"processor\t: {n}\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp "
    f"asimdhp cpuid asimdrdm lrcpc dcpop asimddp\nCPU implementer\t: 0x41\nCPU architecture: 8\n"
    f"CPU variant\t: 0x4\nCPU part\t: 0xd0b\nCPU revision\t: 1\n\n"
    for n in range(4)
)


def test_an_arm_cpuinfo_names_its_cores_and_features() -> None:
    from edge_asr.engine.machine import ARM_FLAGS, _cpuinfo

    model, flags = _cpuinfo(PI5_CPUINFO)
    assert model == "4x Cortex-A76"
    assert [label for flag, label in ARM_FLAGS.items() if flag in flags][:2] == ["NEON", "dot product (SDOT)"]


def test_doctor_without_benchmark_prints_machine_runtimes_and_auto(transcriber) -> None:
    proc = _doctor("--no-bench")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for label in ("cpu", "simd", "memory", "temperature", "onnxruntime", "LiteRT", "auto picks"):
        assert re.search(rf"^\s*{label}\s", out, re.M), (label, out)
    assert f"{usable_cores()} usable cores" in out and "CPUExecutionProvider" in out
    assert "INFO:" not in proc.stderr  # LiteRT's native log lines are kept off the terminal


def test_doctor_benchmarks_both_runtimes_and_auto_follows(tmp_path: Path, transcriber) -> None:
    pytest.importorskip("ai_edge_litert", reason="LiteRT is not installed (pip install 'edge-asr[litert]')")
    proc = _doctor("--seconds", "1", "--threads", "2", "--json", cache=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    benches = {b["backend"]: b for b in report["benchmark"]}
    assert set(benches) == {"onnxruntime", "litert"}
    for b in benches.values():
        assert not b["error"] and b["demo_s"] and b["encoder_30s_s"] and b["step_ms"]
        assert "ask not what your country can do for you" in b["text"]
    assert benches["litert"]["providers"] == ["XNNPACK"]
    assert Path(report["saved"]).is_file()
    faster = min(benches, key=lambda k: statistics.median(benches[k]["demo_s"]))
    assert report["auto_after"]["backend"] == faster and "measured" in report["auto_after"]["reason"]


def test_doctor_reports_an_unavailable_device_as_itself() -> None:
    proc = _doctor("--no-bench", "--device", "tensorrt")
    assert proc.returncode == 0
    assert re.search(r"auto picks\s+none: device 'tensorrt' is not available", proc.stdout), proc.stdout
