"""Shared fixtures: where ../shared lives, and what happens when it does not (skip on a user's machine, fail in CI)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("EDGE_ASR_SHARED", ROOT.parent / "shared"))  # EDGE_ASR_SHARED: elsewhere
IN_CI = os.environ.get("CI") == "true"  # CI has ../shared beside its clone: a missing file there is a failure


def shared_path(*parts: str) -> Path:
    """A path under ../shared; when it is absent, skip with a reason (a user's machine) or fail (CI=true)."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        if IN_CI:
            pytest.fail(f"{p} is absent, and in CI (CI=true) ../shared must be there: the speech tests would not run")
        pytest.skip(f"{p} is absent: ../shared (speech clips and Whisper assets) is only in dev checkouts and CI")
    return p


def read_manifest(name: str) -> list[dict[str, str]]:
    path = shared_path("speech", name, "manifest.tsv")
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    for r in rows:
        r["abspath"] = str(path.parent / r["path"])
    return rows


@pytest.fixture(scope="session")
def en_dev() -> list[dict[str, str]]:
    return read_manifest("en-dev")


@pytest.fixture(scope="session")
def jfk_path() -> Path:
    return shared_path("speech", "en-dev", "jfk.flac")


# Built models for the whole test session live in one cache (kept between local runs, fresh in CI); subprocesses
# started by tests inherit it through the environment.
TEST_CACHE = ROOT / ".cache" / "test-models"
os.environ.setdefault("EDGE_ASR_CACHE_DIR", str(TEST_CACHE))
os.environ.setdefault("EDGE_ASR_CONFIG_DIR", str(ROOT / ".cache" / "test-config"))


@pytest.fixture(scope="session")
def transcriber():
    """The real INT8 tiny.en on ONNX Runtime, built on first use."""
    from edge_asr.factory import load_transcriber
    from edge_asr.options import EngineOptions

    return load_transcriber(EngineOptions(threads=2))


@pytest.fixture(scope="session")
def shared():
    """shared_path as a fixture: shared("speech", "en-dev", "jfk.flac"), skipping when ../shared is absent."""
    return shared_path
