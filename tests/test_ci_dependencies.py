"""In CI (CI=true) every optional thing a test skips without must be there, so a skip cannot hide a lost extra.

On a user's machine a test whose extra (PySide6, grpc, LiteRT...) or tool (sox, PulseAudio, Xvfb) is missing skips
with a reason. CI installs all of them (tests/run.sh: apt packages and `.[test]`); if one went missing there, its
tests would skip and CI would still pass. Here that is a failure. The modules are read from the tests'
``importorskip`` calls, so a new one is covered without editing this file.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
IN_CI = os.environ.get("CI") == "true"
# Tools tests/run.sh installs (apt) whose absence makes tests skip: sox/espeak-ng/ffmpeg make test audio, PulseAudio
# is the virtual microphone (tests/live/vmic.py), xvfb-run the GUI stage.
TOOLS = ("sox", "espeak-ng", "ffmpeg", "pulseaudio", "xvfb-run")
IMPORTORSKIP = re.compile(r"importorskip\(\s*[\"']([A-Za-z0-9_.]+)[\"']")


def skipped_modules() -> set[str]:
    found: set[str] = set()
    for path in TESTS.rglob("*.py"):
        if path != Path(__file__).resolve():
            found.update(IMPORTORSKIP.findall(path.read_text(encoding="utf-8")))
    return found


def test_the_scan_finds_the_optional_modules() -> None:
    found = skipped_modules()
    assert {"PySide6", "grpc", "sounddevice"} <= found, found  # the scan itself works
    assert not any(m == "edge_asr" or m.startswith("edge_asr.") for m in found), "our own modules are imported"


@pytest.mark.parametrize("module", sorted(skipped_modules()))
def test_optional_module_is_installed_in_ci(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        message = f"{module} is not installed, so the tests that need it skip"
        if IN_CI:
            pytest.fail(f"{message}; CI installs every extra (.[test]), so this is a failure")
        pytest.skip(message)


@pytest.mark.parametrize("tool", TOOLS)
def test_tool_is_installed_in_ci(tool: str) -> None:
    if shutil.which(tool) is None:
        message = f"{tool} is not installed, so the tests that need it skip"
        if IN_CI:
            pytest.fail(f"{message}; tests/run.sh installs it in CI, so this is a failure")
        pytest.skip(message)
