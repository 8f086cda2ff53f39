"""`--backend auto` and `--device`: what is picked and why; an unavailable device is reported as itself, with
what is installed, whichever runtime was asked; ONNX Runtime providers fall back to the CPU."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edge_asr.engine import devices, selection
from edge_asr.engine.ort_backend import CPU_PROVIDER, choose_providers, provider_options
from edge_asr.errors import BackendUnavailableError
from edge_asr.options import EngineOptions

ROOT = Path(__file__).resolve().parent.parent
CPU_ONLY = ["AzureExecutionProvider", CPU_PROVIDER]


@pytest.fixture
def machine(monkeypatch, tmp_path):
    """A fake machine: (providers or None, LiteRT installed?, architecture), with an empty model cache."""

    def set_(providers: list[str] | None = CPU_ONLY, litert: bool = True, arch: str = "x86_64") -> str:
        monkeypatch.setattr(selection, "ort_providers", lambda: providers)
        monkeypatch.setattr(selection, "litert_installed", lambda: "ai-edge-litert 2.3.0" if litert else None)
        monkeypatch.setattr(selection, "litert_schema_installed", lambda: litert)
        # what an unavailable device's message says is installed
        monkeypatch.setattr(devices, "ort_providers", lambda: providers)
        monkeypatch.setattr(devices, "litert_version", lambda: "ai-edge-litert 2.3.0" if litert else None)
        monkeypatch.setattr(selection.platform, "machine", lambda: arch)
        return str(tmp_path)

    return set_


def _choose(cache: str, **kw) -> selection.Choice:
    return selection.choose_backend(EngineOptions(cache_dir=cache, threads=2, **kw))


def test_auto_on_arm_picks_litert_and_says_why(machine) -> None:
    c = _choose(machine(arch="aarch64"))
    assert c.backend == "litert" and "aarch64" in c.reason and "XNNPACK" in c.reason


def test_auto_off_arm_picks_onnxruntime(machine) -> None:
    c = _choose(machine())
    assert c.backend == "onnxruntime" and "x86_64" in c.reason


def test_auto_prefers_an_accelerator_provider(machine) -> None:
    c = _choose(machine(["TensorrtExecutionProvider", "CUDAExecutionProvider", CPU_PROVIDER], arch="aarch64"))
    assert c.backend == "onnxruntime" and "TensorrtExecutionProvider" in c.reason


def test_auto_with_one_runtime_installed(machine) -> None:
    assert _choose(machine(litert=False, arch="aarch64")).backend == "onnxruntime"
    assert _choose(machine(providers=None)).backend == "litert"
    with pytest.raises(BackendUnavailableError, match="no inference runtime"):
        _choose(machine(providers=None, litert=False))


def test_auto_follows_what_doctor_measured(machine) -> None:
    cache = machine()
    selection.save_measurement(2, {"onnxruntime": 0.5, "litert": 0.4}, "today", cache)
    c = _choose(cache)
    assert c.backend == "litert" and "1.25x faster" in c.reason and "doctor" in c.reason
    selection.save_measurement(2, {"onnxruntime": 0.3, "litert": 0.4}, "today", cache)
    assert _choose(cache).backend == "onnxruntime"
    assert _choose(cache, backend="litert").reason == "--backend litert"  # an explicit choice wins


@pytest.mark.parametrize("device", ["cuda", "tensorrt", "qnn", "coreml", "npu"])
def test_unavailable_device_is_reported_as_itself(machine, device: str) -> None:
    cache = machine()
    with pytest.raises(BackendUnavailableError) as exc:
        _choose(cache, device=device)
    msg = str(exc.value)
    assert f"device {device!r} is not available" in msg and CPU_PROVIDER in msg and "XNNPACK" in msg


def test_xnnpack_device_goes_to_litert(machine) -> None:
    assert _choose(machine(), device="xnnpack").backend == "litert"
    with pytest.raises(BackendUnavailableError, match="xnnpack"):
        _choose(machine(litert=False), device="xnnpack")


def test_litert_with_an_accelerator_device_names_the_device() -> None:
    from edge_asr.engine.litert_backend import check_device

    check_device("cpu")
    with pytest.raises(BackendUnavailableError, match=r"device 'cuda' is not available.*LiteRT runs on the CPU"):
        check_device("cuda")


def test_provider_chains() -> None:
    everything = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "QNNExecutionProvider", CPU_PROVIDER]
    assert choose_providers("tensorrt", everything) == [
        "TensorrtExecutionProvider",
        "CUDAExecutionProvider",
        CPU_PROVIDER,
    ]
    assert choose_providers("cuda", everything) == ["CUDAExecutionProvider", CPU_PROVIDER]
    assert choose_providers("QNNExecutionProvider", everything) == ["QNNExecutionProvider", CPU_PROVIDER]
    assert choose_providers("cpu", everything) == [CPU_PROVIDER]
    assert choose_providers("auto", everything)[0] == "TensorrtExecutionProvider"
    with pytest.raises(BackendUnavailableError, match=r"device 'qnn'.*CPUExecutionProvider"):
        choose_providers("qnn", [CPU_PROVIDER])
    opts = provider_options(["TensorrtExecutionProvider", "QNNExecutionProvider", CPU_PROVIDER], Path("/m"))
    assert opts[0]["trt_engine_cache_path"] == "/m/tensorrt" and opts[1]["backend_path"] == "libQnnHtp.so"


def test_a_provider_that_fails_falls_back_to_the_cpu(monkeypatch, caplog, transcriber) -> None:
    """Fault injection: onnxruntime lists CUDA but cannot start it (no GPU); the model still loads on the CPU."""
    import onnxruntime as ort

    from edge_asr.engine.ort_backend import OrtRuntime
    from edge_asr.export.build import ensure_model

    real = ort.InferenceSession

    def session(path, so=None, providers=None, **kw):
        if providers and providers[0] != CPU_PROVIDER:
            raise RuntimeError("CUDA driver version is insufficient")
        return real(path, so, providers=providers)

    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", CPU_PROVIDER])
    monkeypatch.setattr(ort, "InferenceSession", session)
    built = ensure_model("tiny.en")
    with caplog.at_level(logging.WARNING):
        rt = OrtRuntime(built.encoder, built.decoder, EngineOptions(device="cuda", threads=1), 4, 6, 64)
    assert rt.providers == (CPU_PROVIDER,)
    assert "falling back to the CPU" in caplog.text and "CUDAExecutionProvider" in caplog.text


def test_cli_reports_the_device_not_another_backend(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for args in (["--device", "cuda"], ["--device", "cuda", "--backend", "litert"]):
        proc = subprocess.run(
            [sys.executable, "-m", "edge_asr", "transcribe", "--demo", "-q", "-o", str(tmp_path), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert proc.returncode == 2
        assert "device 'cuda' is not available" in proc.stderr and "onnxruntime-gpu" in proc.stderr, proc.stderr


def test_a_directory_left_by_an_uninstall_is_not_an_installed_runtime(tmp_path, monkeypatch) -> None:
    # LiteRT is found, not imported (importing it costs ~8 MiB); an empty folder must not pass for it.
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "leftover_runtime" / "__pycache__").mkdir(parents=True)
    assert not devices._found("leftover_runtime")
    (tmp_path / "leftover_runtime" / "__init__.py").write_text("")
    assert devices._found("leftover_runtime")


def test_the_unavailable_device_message_lists_what_the_machine_has(machine) -> None:
    cache = machine(providers=["CPUExecutionProvider"], litert=False)
    with pytest.raises(BackendUnavailableError) as exc:
        _choose(cache, device="cuda")
    assert "onnxruntime with CPUExecutionProvider; LiteRT not installed" in str(exc.value)


def test_a_litert_that_does_not_load_falls_back_to_onnxruntime_before_building(monkeypatch) -> None:
    from edge_asr.engine import litert_backend
    from edge_asr.export import tflite_build
    from edge_asr.factory import load_transcriber

    monkeypatch.setattr(selection.platform, "machine", lambda: "aarch64")  # where auto picks LiteRT

    def broken() -> None:
        raise BackendUnavailableError("the LiteRT backend needs ai-edge-litert (simulated: it does not load)")

    def no_build(*args: object, **kw: object) -> None:
        raise AssertionError("a LiteRT model was built for a LiteRT that cannot run it")

    monkeypatch.setattr(litert_backend, "import_interpreter", broken)
    monkeypatch.setattr(tflite_build, "ensure_litert_model", no_build)
    tr = load_transcriber(EngineOptions(threads=2, cache_dir=os.environ["EDGE_ASR_CACHE_DIR"]))
    assert "onnxruntime" in tr.name
