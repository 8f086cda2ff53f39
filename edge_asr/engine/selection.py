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
from pathlib import Path
from typing import Any

from ..errors import BackendUnavailableError
from ..options import EngineOptions
from .devices import (
    ACCELERATED_PROVIDERS,
    CPU_DEVICES,
    LITERT_DEVICES,
    ORT_DEVICES,
    device_unavailable,
    litert_installed,
    litert_schema_installed,
    ort_providers,
    ort_version,
)

log = logging.getLogger(__name__)

ARM_MACHINES = ("aarch64", "arm64", "armv7l", "armv8l")
MEASUREMENT_FILE = ".backend-benchmark.json"  # in the model cache root


@dataclass(frozen=True)
class Choice:
    backend: str  # "onnxruntime" | "litert"
    reason: str


def can_build_litert() -> bool:
    try:
        from ..export.tflite_writer import schema

        schema()
    except BackendUnavailableError:
        return False
    return True


def is_arm(machine: str | None = None) -> bool:
    return (machine or platform.machine()).lower() in ARM_MACHINES


def measurement_path(cache_dir: str | None = None) -> Path:
    """In the model cache (so a test session's cache has its own)."""
    from ..export.build import cache_root

    return cache_root(cache_dir) / MEASUREMENT_FILE


def measurement_key(threads: int) -> str:
    cpu = platform.processor() or _cpu_model()
    return f"{platform.machine()}|{cpu}|ort {ort_version()}|{litert_installed()}|{threads}"


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
    # Found, not imported (nor its schema): on the usual ONNX Runtime path, LiteRT is never loaded.
    litert = litert_installed() is not None and litert_schema_installed()
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
