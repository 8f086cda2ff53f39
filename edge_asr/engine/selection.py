"""Which runtime and device: `--backend auto` picks one and says why; an unavailable `--device` is reported as
itself, with what this machine does have, whichever runtime was asked.

Auto, in order: an ONNX Runtime accelerator provider (TensorRT, CUDA, QNN...) when one is installed; else the
faster CPU runtime as last measured here by `edge-asr doctor`; else LiteRT on Arm (ONNX Runtime's PyPI build has
no XNNPACK there) and ONNX Runtime elsewhere; always only among the runtimes that are installed.
"""

from __future__ import annotations

import json
import logging
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from ..errors import BackendUnavailableError
from ..options import EngineOptions

log = logging.getLogger(__name__)

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
ARM_MACHINES = ("aarch64", "arm64", "armv7l", "armv8l")
MEASUREMENT_FILE = ".backend-benchmark.json"  # in the model cache root
DEVICE_HINTS = {
    "CUDAExecutionProvider": "pip install onnxruntime-gpu (Jetson: NVIDIA's onnxruntime-gpu wheel for its JetPack)",
    "TensorrtExecutionProvider": "pip install onnxruntime-gpu with TensorRT (Jetson: JetPack's TensorRT and "
    "NVIDIA's onnxruntime-gpu wheel)",
    "QNNExecutionProvider": "pip install onnxruntime-qnn (Snapdragon/Qualcomm boards)",
    "XnnpackExecutionProvider": "LiteRT runs XNNPACK: pip install ai-edge-litert, then --backend litert",
}


@dataclass(frozen=True)
class Choice:
    backend: str  # "onnxruntime" | "litert"
    reason: str


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


def litert_version() -> str | None:
    from .litert_backend import runtime_version

    return runtime_version()


def can_build_litert() -> bool:
    try:
        from ..export.tflite_writer import schema

        schema()
    except BackendUnavailableError:
        return False
    return True


def is_arm(machine: str | None = None) -> bool:
    return (machine or platform.machine()).lower() in ARM_MACHINES


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


def measurement_path(cache_dir: str | None = None) -> Path:
    """In the model cache (so a test session's cache has its own)."""
    from ..export.build import cache_root

    return cache_root(cache_dir) / MEASUREMENT_FILE


def measurement_key(threads: int) -> str:
    return (
        f"{platform.machine()}|{platform.processor() or _cpu_model()}|ort {ort_version()}|{litert_version()}|{threads}"
    )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def read_measurement(threads: int, cache_dir: str | None = None) -> dict[str, Any] | None:
    try:
        data = json.loads(measurement_path(cache_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    entry = data.get(measurement_key(threads)) if isinstance(data, dict) else None
    return entry if isinstance(entry, dict) and "seconds" in entry else None


def save_measurement(threads: int, seconds: dict[str, float], when: str, cache_dir: str | None = None) -> None:
    path = measurement_path(cache_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        data = data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        data = {}
    data[measurement_key(threads)] = {"seconds": seconds, "when": when}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def choose_backend(opts: EngineOptions) -> Choice:
    device = opts.device.lower()
    if opts.backend == "onnxruntime":
        return Choice("onnxruntime", "--backend onnxruntime")
    if opts.quantization == "static":
        return Choice("onnxruntime", "--quant static: the QDQ build runs on onnxruntime")
    if opts.backend == "litert":
        return Choice("litert", "--backend litert")
    providers = ort_providers()
    litert = litert_version() is not None and can_build_litert()
    if device in LITERT_DEVICES and litert:
        return Choice("litert", f"--device {device}: LiteRT's XNNPACK delegate")
    if device not in CPU_DEVICES:
        wanted = ORT_DEVICES.get(device, device)
        if providers is None or not any(p.lower() == wanted.lower() for p in providers):
            raise device_unavailable(device, f"no installed runtime has {wanted}")
        return Choice("onnxruntime", f"--device {device}: onnxruntime's {wanted}")
    if providers is None and not litert:
        raise BackendUnavailableError(
            "no inference runtime is installed: pip install onnxruntime (or ai-edge-litert for LiteRT)"
        )
    if providers is None:
        return Choice("litert", "onnxruntime is not installed")
    if device == "auto":
        from .ort_backend import ACCELERATED_PROVIDERS

        accel = [p for p in ACCELERATED_PROVIDERS if p in providers]
        if accel:
            return Choice("onnxruntime", f"onnxruntime has the {accel[0]} accelerator")
    if not litert:
        return Choice("onnxruntime", "LiteRT is not installed (pip install ai-edge-litert)")
    measured = read_measurement(opts.threads, opts.cache_dir)
    if measured:
        s = measured["seconds"]
        if "onnxruntime" in s and "litert" in s:
            best = min(("onnxruntime", "litert"), key=lambda k: s[k])
            other = "litert" if best == "onnxruntime" else "onnxruntime"
            return Choice(
                best,
                f"measured {s[other] / s[best]:.2f}x faster than {other} here by `edge-asr doctor` "
                f"({measured.get('when', '?')}, {opts.threads} threads)",
            )
    if is_arm():
        return Choice(
            "litert",
            f"{platform.machine()}: onnxruntime's CPU build has no XNNPACK/ACL here, LiteRT "
            "runs XNNPACK's NEON int8 kernels (run `edge-asr doctor` to measure)",
        )
    return Choice(
        "onnxruntime", f"{platform.machine()}: onnxruntime by default off Arm (run `edge-asr doctor` to measure both)"
    )
