"""A missing ../shared skips the speech tests on a user's machine but fails them in CI (CI=true)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPEECH_TEST = "tests/test_audio.py::test_other_output_rate"  # reads ../shared/speech/en-dev/jfk.flac
RUN_TIMEOUT_S = 120  # s: one test's collection and a fixture that gives up at once


def _env(tmp_path: Path, ci: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["EDGE_ASR_SHARED"] = str(tmp_path / "no-shared-here")
    env["PYTHONPATH"] = str(ROOT)
    if ci:
        env["CI"] = "true"
    return env


@pytest.mark.parametrize("ci", [False, True])
def test_missing_shared_skips_locally_and_fails_in_ci(tmp_path: Path, ci: bool) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", SPEECH_TEST],
        cwd=ROOT, env=_env(tmp_path, ci), capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False,
    )
    out = proc.stdout + proc.stderr
    missing = str(tmp_path / "no-shared-here" / "speech" / "en-dev" / "jfk.flac")
    assert missing in out, out[-3000:]
    if ci:
        assert proc.returncode == 1 and "1 error" in out and "CI=true" in out, out[-3000:]
    else:
        assert proc.returncode == 0 and "1 skipped" in out, out[-3000:]


@pytest.mark.parametrize("ci", [False, True])
def test_arm64_tier_fails_without_shared_in_ci(tmp_path: Path, ci: bool) -> None:
    """tests/arm64/run.sh reads the same EDGE_ASR_SHARED; it stops before any work when shared/ is absent."""
    proc = subprocess.run(
        ["bash", str(ROOT / "tests" / "arm64" / "run.sh")],
        cwd=ROOT, env=_env(tmp_path, ci), capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False,
    )
    if ci:
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "FAIL" in proc.stdout and "arm64: 0 passed, 1 failed" in proc.stdout, proc.stdout
    else:
        assert proc.returncode == 0 and "1 skipped" in proc.stdout, proc.stdout
