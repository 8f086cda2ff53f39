"""What this machine's installed runtimes offer, found without loading a backend: ONNX Runtime's execution
providers, a LiteRT interpreter's version, and the error for a ``--device`` none of them provides.

Below the backends and the selection, which all ask it; it imports neither.
"""

from __future__ import annotations

import importlib.util
from importlib import metadata

from ..errors import BackendUnavailableError

# Short device names -> ONNX Runtime execution providers.
ORT_DEVICES = {
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "trt": "TensorrtExecutionProvider",
    "qnn": "QNNExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "acl": "ACLExecutionProvider",
    "armnn": "ArmNNExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
    "dml": "DmlExecutionProvider",
    "rocm": "ROCMExecutionProvider",
    "migraphx": "MIGraphXExecutionProvider",
    "xnnpack": "XnnpackExecutionProvider",
}
CPU_DEVICES = ("auto", "cpu")
LITERT_DEVICES = ("xnnpack",)
DEVICE_HINTS = {
    "CUDAExecutionProvider": "pip install onnxruntime-gpu (Jetson: NVIDIA's onnxruntime-gpu wheel for its JetPack)",
    "TensorrtExecutionProvider": "pip install onnxruntime-gpu with TensorRT (Jetson: JetPack's TensorRT and "
    "NVIDIA's onnxruntime-gpu wheel)",
    "QNNExecutionProvider": "pip install onnxruntime-qnn (Snapdragon/Qualcomm boards)",
    "XnnpackExecutionProvider": "LiteRT runs XNNPACK: pip install ai-edge-litert, then --backend litert",
}
# Accelerators worth trying before the CPU, best first (Jetson: TensorRT/CUDA; Qualcomm: QNN; Arm boards: ACL).
ACCELERATED_PROVIDERS = (
    "TensorrtExecutionProvider",
    "CUDAExecutionProvider",
    "QNNExecutionProvider",
    "CoreMLExecutionProvider",
    "ACLExecutionProvider",
    "ArmNNExecutionProvider",
)
CPU_PROVIDER = "CPUExecutionProvider"


def ort_providers() -> list[str] | None:
    """ONNX Runtime's available providers, or None when it is not installed."""
    try:
        import onnxruntime
    except ImportError:
        return None
    return list(onnxruntime.get_available_providers())


def ort_version() -> str | None:
    try:
        return metadata.version("onnxruntime") if ort_providers() is not None else None
    except metadata.PackageNotFoundError:  # onnxruntime-gpu / -qnn carry other distribution names
        import onnxruntime

        return str(onnxruntime.__version__)


LITERT_RUNTIMES = (("ai_edge_litert", "ai-edge-litert"), ("tflite_runtime", "tflite-runtime"))  # (module, dist)


def litert_installed() -> str | None:
    """'ai-edge-litert 2.3.0' when a LiteRT runtime is installed, found without importing it: importing LiteRT costs
    ~8 MiB of RSS that a run on ONNX Runtime would carry to its end. (litert_version() also checks it imports.)"""
    return next((_labelled(dist) for module, dist in LITERT_RUNTIMES if _found(module)), None)


def litert_schema_installed() -> bool:
    """The TFLite schema the LiteRT builder writes with is installed (found, not imported; see tflite_writer)."""
    return _found("flatbuffers") and (_found("ai_edge_litert") or _found("tflite"))


def _found(module: str) -> bool:
    """An installed top-level module or package, found without importing it. A directory left behind by an
    uninstall (no ``__init__.py``: a namespace package to the import system) does not count."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return False
    return spec is not None and spec.origin is not None


def litert_version() -> str | None:
    """'ai-edge-litert 2.3.0' (or tflite-runtime's) when a LiteRT interpreter is importable, else None."""
    for module, dist in LITERT_RUNTIMES:
        try:
            __import__(f"{module}.interpreter")
        except ImportError:
            continue
        return _labelled(dist)
    return None


def _labelled(dist: str) -> str:
    """'ai-edge-litert 2.3.0': the distribution and its version, when its metadata has one."""
    try:
        return f"{dist} {metadata.version(dist)}"
    except metadata.PackageNotFoundError:
        return dist


def available_summary() -> str:
    providers = ort_providers()
    ort = f"onnxruntime with {', '.join(providers)}" if providers is not None else "onnxruntime not installed"
    lit = litert_version()
    return f"{ort}; {lit + ' with XNNPACK (--device cpu/xnnpack)' if lit else 'LiteRT not installed'}"


def device_unavailable(device: str, detail: str = "") -> BackendUnavailableError:
    """The error for a device nothing installed here provides: the device itself, what there is, how to add it."""
    provider = ORT_DEVICES.get(device.lower(), device)
    hint = DEVICE_HINTS.get(provider, "`edge-asr doctor` lists what this machine has")
    detail = f" ({detail})" if detail else ""
    return BackendUnavailableError(
        f"device {device!r} is not available here{detail}. Installed: {available_summary()}. To add it: {hint}"
    )
