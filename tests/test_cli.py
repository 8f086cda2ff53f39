"""The `edge-asr` command as a user runs it: a real subprocess, real files, real exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from edge_asr.evaluate import normalize
from edge_asr.formats import parse_srt

JFK = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
SR = 16_000  # Hz
SILENCE_MINUTES = 10


def edge_asr(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge_asr", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _sox(*args: str) -> None:
    if shutil.which("sox") is None:
        pytest.skip("sox is not installed (apt install sox)")
    subprocess.run(["sox", *args], check=True, capture_output=True)


def test_demo_writes_valid_subtitles(tmp_path: Path) -> None:
    r = edge_asr("transcribe", "--demo", "--format", "all", "-o", str(tmp_path), "--word-timestamps")
    assert r.returncode == 0, r.stderr
    assert "ask not what your country" in r.stdout
    for fmt in ("txt", "srt", "vtt", "json"):
        assert (tmp_path / f"jfk.{fmt}").is_file()
    assert normalize((tmp_path / "jfk.txt").read_text()) == normalize(JFK)
    for fmt in ("srt", "vtt"):
        cues = parse_srt((tmp_path / f"jfk.{fmt}").read_text())
        assert cues and all(a <= b for a, b, _ in cues)
        assert all(cues[i][1] <= cues[i + 1][0] for i in range(len(cues) - 1))
        assert normalize(" ".join(c[2] for c in cues)) == normalize(JFK)
    assert (tmp_path / "jfk.vtt").read_text().startswith("WEBVTT")
    doc = json.loads((tmp_path / "jfk.json").read_text())
    assert doc["language"] == "en" and doc["segments"][0]["words"]


def test_batch_with_bad_inputs_goes_on(tmp_path: Path, jfk_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "empty.wav").write_bytes(b"")
    (inputs / "notes.wav").write_text("this is a text file, not audio\n" * 20)
    _sox(str(jfk_path), "-r", "8000", "-c", "1", str(inputs / "jfk8k.wav"))
    _sox(str(jfk_path), "-r", "48000", "-c", "2", "-b", "24", str(inputs / "jfk48k24.wav"))
    _sox(str(jfk_path), "-r", "16000", str(inputs / "jfk6ch.wav"), "remix", "1", "2", "1", "2", "1v0.5", "2v0.5")
    silence = inputs / "silence.flac"
    sf.write(silence, np.zeros(SILENCE_MINUTES * 60 * SR, np.int16), SR)
    files = ["empty.wav", "notes.wav", "jfk8k.wav", "jfk48k24.wav", "jfk6ch.wav", "silence.flac"]
    out = tmp_path / "out"
    started = time.monotonic()
    r = edge_asr("transcribe", *[str(inputs / f) for f in files], "-f", "srt", "-o", str(out), "-q")
    elapsed = time.monotonic() - started
    assert r.returncode == 1, r.stderr
    assert "empty.wav" in r.stderr and "notes.wav" in r.stderr and "2 of 6 files failed" in r.stderr
    assert "Traceback" not in r.stderr
    for name in ("jfk8k", "jfk48k24", "jfk6ch"):
        text = " ".join(c[2] for c in parse_srt((out / f"{name}.srt").read_text()))
        assert normalize(text) == normalize(JFK), name
    assert (out / "silence.srt").read_text().strip() == ""
    assert not (out / "empty.srt").exists()
    assert elapsed < 120  # ten minutes of silence are skipped by the gate, not decoded (a sanity bound, not a target)


def test_errors_are_one_line_messages(tmp_path: Path) -> None:
    r = edge_asr("transcribe", str(tmp_path / "missing.wav"), "-q", "-o", str(tmp_path))
    assert r.returncode == 1 and "missing.wav" in r.stderr and "Traceback" not in r.stderr
    r = edge_asr("transcribe", "--demo", "-f", "docx", "-o", str(tmp_path))
    assert r.returncode == 2 and "unknown format" in r.stderr
    r = edge_asr("transcribe", "--demo", "--model", "nope", "-o", str(tmp_path))
    assert r.returncode == 2 and "unknown model 'nope'" in r.stderr
    r = edge_asr("transcribe", "--demo", "--language", "de", "-o", str(tmp_path), "-q")
    assert r.returncode == 1 and "English-only" in r.stderr
    r = edge_asr("transcribe")
    assert r.returncode == 2 and "--demo" in r.stderr


def test_models_commands(tmp_path: Path) -> None:
    r = edge_asr("models", "list")
    assert r.returncode == 0 and "tiny.en" in r.stdout and "edge-asr models import" in r.stdout
    r = edge_asr("models", "build")
    assert r.returncode == 0 and "MiB INT8" in r.stdout, r.stderr
    r = edge_asr("models", "verify")
    assert r.returncode == 0 and "match their checksums" in r.stdout
    r = edge_asr("models", "import", str(tmp_path / "nothing"), "--name", "x")
    assert r.returncode == 2 and "does not exist" in r.stderr


def test_import_then_use_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from edge_asr.export.registry import resolve
    from edge_asr.weights.ct2 import load_ct2
    from tests.fixtures.pt_writer import save_openai_pt

    src = resolve("tiny.en").path
    assert src is not None
    pt = tmp_path / "tiny.en.pt"
    save_openai_pt(load_ct2(src), pt)
    monkeypatch.setenv("EDGE_ASR_CONFIG_DIR", str(tmp_path / "config"))  # children inherit it
    r = edge_asr("models", "import", str(pt), "--name", "mine")
    assert r.returncode == 2 and "--tokenizer" in r.stderr
    r = edge_asr("models", "import", str(pt), "--name", "mine", "--tokenizer", str(src / "tokenizer.json"))
    assert r.returncode == 0, r.stderr
    assert "mine" in edge_asr("models", "list").stdout
    r = edge_asr("transcribe", "--demo", "--model", "mine", "-q", "-o", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert normalize((tmp_path / "jfk.txt").read_text()) == normalize(JFK)


def _table_wer(stdout: str, manifest: str, system: str) -> float:
    """The WER % column of the eval table's row for a manifest's set and a system."""
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0] == manifest and cells[1].startswith(system):
            return float(cells[3])
    raise AssertionError(f"no row for {manifest} / {system} in:\n{stdout}")


def test_eval_prints_wer(shared) -> None:
    manifest = shared("speech", "en-dev", "manifest.tsv")
    r = edge_asr("eval", str(manifest))
    assert r.returncode == 0, r.stderr
    assert _table_wer(r.stdout, "en-dev", "edge-asr tiny.en") < 5.0


def test_help_explains() -> None:
    r = edge_asr("--help")
    assert r.returncode == 0 and "transcribe" in r.stdout and "models" in r.stdout
    r = edge_asr("transcribe", "--help")
    assert "--word-timestamps" in r.stdout and "--output-dir" in r.stdout
