"""Nothing is sent anywhere: a run of the CLI or the daemon leaves no onnxruntime telemetry (device id, event
database) behind, in a fresh home directory (issue 11, defect 10)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from edge_asr.export.build import cache_root

pytestmark = pytest.mark.timeout(300)

ROOT = Path(__file__).resolve().parents[1]
TRACE = Path(".cache") / "Microsoft"  # where onnxruntime keeps its device id and events, under $HOME
BARE_SESSION = """
import numpy as np, onnxruntime as ort
from onnx import TensorProto, helper
g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                      [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
m.ir_version = 8
ort.InferenceSession(m.SerializeToString()).run(None, {"x": np.ones(1, np.float32)})
"""


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("ORT_DISABLE_TELEMETRY", "XDG_CACHE_HOME") and not k.startswith("EDGE_ASR_")}
    env.update(HOME=str(home), PYTHONPATH=str(ROOT), EDGE_ASR_CACHE_DIR=str(cache_root()),
               XDG_CONFIG_HOME=str(home / "config"), XDG_STATE_HOME=str(home / "state"), PYTHONUNBUFFERED="1")
    return env


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A fresh home where a bare onnxruntime session does leave its trace (else this test could not fail)."""
    control = tmp_path / "control"
    control.mkdir()
    subprocess.run([sys.executable, "-c", BARE_SESSION], env=_env(control), check=True, timeout=120)
    if not (control / TRACE).exists():
        pytest.skip("this onnxruntime writes no telemetry files: nothing to check")
    home = tmp_path / "home"
    home.mkdir()
    return home


def test_the_cli_leaves_no_onnxruntime_telemetry(home: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "edge_asr", "transcribe", "--demo", "-q", "-o", str(home / "out")],
                       env=_env(home), capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr
    assert (home / "out" / "jfk.txt").is_file()
    assert not (home / TRACE).exists(), sorted(str(p) for p in (home / TRACE).rglob("*"))


def test_the_daemon_leaves_no_onnxruntime_telemetry(home: Path, jfk_path: Path) -> None:
    import re

    proc = subprocess.Popen([sys.executable, "-m", "edge_asr.daemon", "--port", "0", "--no-live"], env=_env(home),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        url = ""
        for line in proc.stdout:
            m = re.search(r"listening on (http://[\d.:]+)", line)
            url = m.group(1) if m else url
            if "ready in" in line:
                break
        with jfk_path.open("rb") as f:
            r = httpx.post(f"{url}/v1/audio/transcriptions", files={"file": ("jfk.flac", f)}, timeout=120)
        assert r.status_code == 200, r.text
    finally:
        proc.terminate()
        proc.wait(60)
    assert proc.returncode == 0
    assert not (home / TRACE).exists(), sorted(str(p) for p in (home / TRACE).rglob("*"))
