"""The package list in pyproject.toml must cover every package under edge_asr/, or an install silently lacks it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WHEEL_TIMEOUT_S = 240  # s to build the wheel from a copy of the checkout
# package-dir in pyproject: these top-level folders ship inside the package under another name.
MAPPED = {"models": "edge_asr/models_data", "assets": "edge_asr/assets"}

if sys.version_info < (3, 11):
    pytest.skip("tomllib needs Python 3.11", allow_module_level=True)


def _listed() -> set[str]:
    import tomllib

    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return set(cfg["tool"]["setuptools"]["packages"])


def test_every_package_is_listed() -> None:
    listed = _listed()
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "edge_asr").rglob("__init__.py")}
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
    assert (ROOT / "models" / "registry.json").is_file()


def test_every_data_folder_is_listed() -> None:
    """A folder of data files (no __init__.py) is a namespace package to Python: unlisted, setuptools warns that it
    is 'absent from the packages configuration' and may drop it."""
    folders = {str(f.parent).replace("/", ".") for f in _shipped()}
    assert folders <= _listed(), f"add to [tool.setuptools] packages: {sorted(folders - _listed())}"


def _shipped() -> list[Path]:
    """Where each file the wheel must hold lands in it: everything git tracks under edge_asr/, and the mapped
    folders less their documentation (README, the README's screenshots)."""
    out = subprocess.run(["git", "ls-files", "edge_asr", *MAPPED], cwd=ROOT, capture_output=True, text=True,
                         check=True, timeout=60).stdout
    shipped = []
    for f in (Path(line) for line in out.splitlines() if (ROOT / line).is_file()):
        if f.parts[0] in MAPPED:
            if f.suffix == ".md" or "screenshots" in f.parts:
                continue
            f = Path(MAPPED[f.parts[0]], *f.parts[1:])
        shipped.append(f)
    return shipped


def test_the_wheel_builds_without_warnings_and_ships_every_file(tmp_path: Path) -> None:
    src = tmp_path / "src"  # a clean copy, so the build leaves nothing in the checkout
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".venv", ".cache", "build", "dist", ".git", "*.egg-info",
                                                             "__pycache__", "tests"))
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w",
                        str(tmp_path / "wheel"), str(src)], capture_output=True, text=True, timeout=WHEEL_TIMEOUT_S)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    assert "absent from the `packages` configuration" not in out, out[-3000:]
    assert "Warning" not in out, out[-3000:]
    (wheel,) = (tmp_path / "wheel").glob("edge_asr-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    want = {str(f) for f in _shipped()}
    assert want <= names, f"missing from the wheel: {sorted(want - names)}"
    assert "edge_asr/daemon/proto/edge_asr.proto" in names and "edge_asr/assets/icons/mic.svg" in names
