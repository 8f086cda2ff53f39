"""Shared fixtures: where ../shared lives, and skips with a reason when it does not."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("EDGE_ASR_SHARED", ROOT.parent / "shared"))


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip the test with a reason when it is absent (a user's machine)."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
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
    from edge_asr.engine import load_transcriber
    from edge_asr.options import EngineOptions

    return load_transcriber(EngineOptions(threads=2))


@pytest.fixture(scope="session")
def shared():
    """shared_path as a fixture: shared("speech", "en-dev", "jfk.flac"), skipping when ../shared is absent."""
    return shared_path
