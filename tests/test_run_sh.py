"""tests/run.sh runs every stage and reports each one, whatever the stage before it did.

The script runs in a copy of the checkout's layout where the venv's python, ruff and mypy, dpkg-query and xvfb-run
are stand-ins that log their arguments and fail on request (fault injection): the real ones would run the suite.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUN_TIMEOUT_S = 60  # s: the script with stand-ins for every tool

FAKE_TOOL = """#!/usr/bin/env bash
# Logs its arguments; exits with the code FAIL_<STAGE> names for the stage these arguments belong to.
echo "$(basename "$0") $*" >> "$LOG"
case "$*" in
  *"-m pip"*) exit 0 ;;
  *"tests/gui"*) exit "${FAIL_GUI:-0}" ;;
  *"-m slow"*) exit "${FAIL_SLOW:-0}" ;;
  *"-m pytest"*) exit "${FAIL_PYTEST:-0}" ;;
  *"check edge_asr"*) exit "${FAIL_RUFF:-0}" ;;
  *"edge_asr tests"*) exit "${FAIL_MYPY:-0}" ;;
esac
"""
FAKE_DPKG_QUERY = """#!/usr/bin/env bash
echo "install ok installed"
"""
FAKE_XVFB_RUN = """#!/usr/bin/env bash
echo "xvfb-run $*" >> "$LOG"
shift  # -a
exec "$@"
"""


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    (tmp_path / "tests").mkdir()
    shutil.copy(ROOT / "tests" / "run.sh", tmp_path / "tests" / "run.sh")
    bins = {tmp_path / ".venv" / "bin" / n: FAKE_TOOL for n in ("python", "ruff", "mypy")}
    bins[tmp_path / "fakebin" / "dpkg-query"] = FAKE_DPKG_QUERY
    bins[tmp_path / "fakebin" / "xvfb-run"] = FAKE_XVFB_RUN
    for path, text in bins.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(0o755)
    return tmp_path


def _run(sandbox: Path, fail: dict[str, int] | None = None,
         extra_env: dict[str, str] | None = None) -> tuple[int, str, list[str]]:
    log = sandbox / "calls.log"
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "EDGE_ASR_PACKAGING", "EDGE_ASR_CI_DEADLINE")}
    env.update(PATH=f"{sandbox / 'fakebin'}:{env['PATH']}", LOG=str(log), **(extra_env or {}))
    env.update({f"FAIL_{k.upper()}": str(v) for k, v in (fail or {}).items()})
    proc = subprocess.run(["bash", str(sandbox / "tests" / "run.sh")], cwd=sandbox, env=env, capture_output=True,
                          text=True, timeout=RUN_TIMEOUT_S, check=False)
    return proc.returncode, proc.stdout + proc.stderr, log.read_text().splitlines()


def _summary(out: str) -> list[str]:
    return [ln.strip() for ln in out.split("== summary\n", 1)[1].splitlines()]


def test_all_stages_pass(sandbox: Path) -> None:
    rc, out, calls = _run(sandbox)
    assert rc == 0, out
    assert _summary(out) == ["ruff: passed", "mypy: passed", "pytest: passed", "pytest slow tier: passed",
                             "pytest tests/gui on Xvfb: passed"]
    assert any("-m not slow" in c for c in calls) and any(c.endswith("-m slow") for c in calls)
    assert "mypy edge_asr tests" in calls
    assert any(c.startswith("xvfb-run -a env QT_QPA_PLATFORM=xcb") for c in calls)


def test_the_xvfb_stage_runs_when_the_first_pytest_stage_fails(sandbox: Path) -> None:
    rc, out, calls = _run(sandbox, {"pytest": 1})
    assert rc == 1, out
    assert _summary(out) == ["ruff: passed", "mypy: passed", "pytest: FAILED (exit 1)", "pytest slow tier: passed",
                             "pytest tests/gui on Xvfb: passed"]
    assert any("-m pytest -q -p no:cacheprovider tests/gui" in c for c in calls)


@pytest.mark.parametrize(("fail", "line"), [({"gui": 2}, "pytest tests/gui on Xvfb: FAILED (exit 2)"),
                                            ({"mypy": 1}, "mypy: FAILED (exit 1)"),
                                            ({"slow": 3}, "pytest slow tier: FAILED (exit 3)"),
                                            ({"ruff": 1}, "ruff: FAILED (exit 1)")])
def test_any_failed_stage_fails_the_run_after_the_others_ran(sandbox: Path, fail: dict[str, int], line: str) -> None:
    rc, out, _ = _run(sandbox, fail)
    assert rc == 1, out
    summary = _summary(out)
    assert line in summary and len(summary) == 5, summary
    assert sum("FAILED" in s for s in summary) == 1, summary


def test_the_installers_stage_that_no_longer_fits_ci_s_budget_says_so(sandbox: Path) -> None:
    deadline = str(int(time.time()) + 120)  # 2 min left: the installers need ~25
    rc, out, calls = _run(sandbox, extra_env={"EDGE_ASR_PACKAGING": "1", "EDGE_ASR_CI_DEADLINE": deadline})
    assert rc == 0, out
    summary = _summary(out)
    assert summary[-1].startswith("packaging: NOT RUN (") and "left of CI's budget" in summary[-1], summary
    assert not any("packaging/" in c for c in calls)
