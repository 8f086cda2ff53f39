"""What this machine is, for `edge-asr doctor` and backend selection: CPU model, cores, SIMD features that the
int8 kernels use, memory and where a temperature can be read."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path

import psutil

GIB = 1024**3
# /proc/cpuinfo flags that decide which int8/float kernels run, in the words the vendors use.
X86_FLAGS = {
    "sse4_2": "SSE4.2",
    "avx": "AVX",
    "avx2": "AVX2",
    "fma": "FMA",
    "avx512f": "AVX-512F",
    "avx512bw": "AVX-512BW",
    "avx512_vnni": "AVX-512 VNNI",
    "avx_vnni": "AVX-VNNI",
    "amx_int8": "AMX-INT8",
}
ARM_FLAGS = {
    "asimd": "NEON",
    "asimddp": "dot product (SDOT)",
    "i8mm": "I8MM",
    "fphp": "FP16",
    "asimdhp": "FP16 SIMD",
    "sve": "SVE",
    "sve2": "SVE2",
    "sme": "SME",
}
# "CPU part" numbers of Arm Ltd. cores (implementer 0x41), for boards whose /proc/cpuinfo names no model.
ARM_PARTS = {
    0xD03: "Cortex-A53", 0xD04: "Cortex-A35", 0xD05: "Cortex-A55", 0xD07: "Cortex-A57", 0xD08: "Cortex-A72",
    0xD09: "Cortex-A73", 0xD0A: "Cortex-A75", 0xD0B: "Cortex-A76", 0xD0C: "Neoverse-N1", 0xD0D: "Cortex-A77",
    0xD40: "Neoverse-V1", 0xD41: "Cortex-A78", 0xD42: "Cortex-A78AE", 0xD44: "Cortex-X1", 0xD46: "Cortex-A510",
    0xD47: "Cortex-A710", 0xD49: "Neoverse-N2", 0xD4B: "Cortex-A78C", 0xD4D: "Cortex-A715",
}
ARM_IMPLEMENTER = 0x41
THERMAL_ROOT = Path("/sys/class/thermal")
# Linux aarch64 hardware capabilities (asm/hwcap.h): what the kernel (or qemu-user) says this CPU executes.
AT_HWCAP, AT_HWCAP2 = 16, 26
ARM_HWCAP = {"asimd": 1 << 1, "fphp": 1 << 9, "asimdhp": 1 << 10, "asimddp": 1 << 20, "sve": 1 << 22}
ARM_HWCAP2 = {"sve2": 1 << 1, "i8mm": 1 << 13, "sme": 1 << 23}


@dataclass(frozen=True)
class MachineInfo:
    machine: str  # x86_64, aarch64...
    cpu: str
    cores: int  # usable by this process
    simd: tuple[str, ...]
    memory_total: float  # bytes
    memory_available: float
    temperature: str  # "cpu_thermal: 48.2 °C" or why there is none
    system: str


def _cpuinfo(text: str | None = None) -> tuple[str, set[str]]:
    """(CPU model, feature flags) from /proc/cpuinfo (or the given text)."""
    model, flags, parts = "", set[str](), []
    if text is None:
        try:
            text = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return platform.processor() or "unknown", flags
    implementer = 0
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "hardware", "cpu model", "model") and not model and not value.strip().isdigit():
            model = value.strip()
        elif key in ("flags", "features"):
            flags |= set(value.split())
        elif key == "cpu implementer":
            implementer = int(value, 0)
        elif key == "cpu part" and implementer == ARM_IMPLEMENTER:
            parts.append(ARM_PARTS.get(int(value, 0), f"Arm part {value.strip()}"))
    if not model and parts:
        model = " + ".join(f"{parts.count(p)}x {p}" for p in dict.fromkeys(parts))
    if not model:
        model = _device_tree_model() or platform.processor() or "unknown"
    return model, flags


def _arm_hwcaps() -> set[str]:
    """Feature names from getauxval(); /proc/cpuinfo under qemu-user is the host's, the auxiliary vector is not."""
    try:
        import ctypes

        getauxval = ctypes.CDLL(None).getauxval
        getauxval.restype = ctypes.c_ulong
        getauxval.argtypes = [ctypes.c_ulong]
        hw, hw2 = getauxval(AT_HWCAP), getauxval(AT_HWCAP2)
    except (OSError, AttributeError):
        return set()
    return {n for n, bit in ARM_HWCAP.items() if hw & bit} | {n for n, bit in ARM_HWCAP2.items() if hw2 & bit}


def _device_tree_model() -> str:
    # Arm boards name themselves here ("Raspberry Pi 5 Model B Rev 1.0", "NVIDIA Jetson Orin Nano ...").
    try:
        return Path("/proc/device-tree/model").read_text(errors="replace").strip("\x00\n ")
    except OSError:
        return ""


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def temperature_source() -> str:
    """The sensor a temperature would be read from, with its reading, or why there is none."""
    read = getattr(psutil, "sensors_temperatures", None)
    try:
        sensors = read() if read else {}
    except (OSError, RuntimeError):
        sensors = {}
    for name, readings in sorted(sensors.items()):
        values = [t.current for t in readings if t.current]
        if values:
            return f"{name} (psutil): {max(values):.1f} °C"
    try:
        zones = sorted(THERMAL_ROOT.glob("thermal_zone*/temp"))
    except OSError:
        zones = []
    for zone in zones:
        try:
            milli = int(zone.read_text().strip())
            kind = (zone.parent / "type").read_text().strip()
        except (OSError, ValueError):
            continue
        return f"{zone} ({kind}): {milli / 1000:.1f} °C"
    if not THERMAL_ROOT.exists():
        return "none: no /sys/class/thermal (a container or chroot without /sys?)"
    return "none: no thermal zone or hwmon sensor reports a temperature"


def machine_info() -> MachineInfo:
    model, flags = _cpuinfo()
    arm = platform.machine().lower() in ("aarch64", "arm64", "armv7l", "armv8l")
    if arm:
        flags |= _arm_hwcaps()
    table = ARM_FLAGS if arm else X86_FLAGS
    simd = tuple(label for flag, label in table.items() if flag in flags)
    vm = psutil.virtual_memory()
    board = _device_tree_model()
    cpu = f"{model} ({board})" if board and board not in model else model
    return MachineInfo(
        platform.machine(),
        cpu,
        usable_cores(),
        simd,
        float(vm.total),
        float(vm.available),
        temperature_source(),
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}",
    )
