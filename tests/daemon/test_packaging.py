"""The systemd unit: it verifies with systemd-analyze and keeps the promised hardening and service integration."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edge_asr.daemon.config import GRACEFUL_TIMEOUT
from edge_asr.daemon.service import WATCHDOG_FRACTION

pytestmark = pytest.mark.timeout(60)

UNIT = Path(__file__).resolve().parents[2] / "packaging" / "systemd" / "edge-asr.service"


def _unit() -> configparser.ConfigParser:
    p = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    p.optionxform = str  # type: ignore[assignment,method-assign]
    p.read(UNIT)
    return p


def test_unit_verifies_with_systemd_analyze(tmp_path: Path) -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed")
    # verify checks that ExecStart exists: point it at this interpreter instead of the installed entry point.
    unit = tmp_path / "edge-asr.service"
    unit.write_text(UNIT.read_text().replace("/usr/local/bin/edge-asr daemon", f"{sys.executable} -m edge_asr daemon"))
    r = subprocess.run([tool, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "edge-asr.service" not in r.stderr, r.stderr  # no warnings about our unit


def test_unit_has_the_hardening_and_notify_settings() -> None:
    s = _unit()["Service"]
    expected = {
        "Type": "notify", "DynamicUser": "yes", "SupplementaryGroups": "audio", "StateDirectory": "edge-asr",
        "ProtectSystem": "strict", "PrivateTmp": "yes", "NoNewPrivileges": "yes", "CapabilityBoundingSet": "",
        "ExecReload": "/bin/kill -HUP $MAINPID",
    }
    for key, value in expected.items():
        assert s.get(key) == value, key
    assert "daemon" in s["ExecStart"]
    watchdog = float(s["WatchdogSec"].rstrip("s"))
    assert watchdog * WATCHDOG_FRACTION >= 1.0  # pings come often enough and not absurdly often
    assert float(s["TimeoutStopSec"].rstrip("s")) > GRACEFUL_TIMEOUT  # in-flight requests get their time
