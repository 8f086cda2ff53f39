"""Every module of edge_asr imports on its own, nothing imports in a circle, and the layers hold.

1. Each module is imported in a fresh interpreter of its own (a subprocess per module), so a module that only works
   because another one happened to be imported first, or an import cycle that breaks at import time, fails here.
2. A static import graph, read from the source with ``ast``. Every import statement is an edge, labelled by where it
   sits: at import time (module or class level), lazy (inside a function) or typing (under ``if TYPE_CHECKING:``).
   ``from X import name`` is an edge to X and, when ``X.name`` is a module, to that module too; relative imports are
   resolved. Then:
   - the import-time graph has no cycle at all;
   - the graph with lazy imports added (a cycle hidden behind a lazy import is still a cycle) has none either,
     except the ones listed in KNOWN_LAZY_CYCLES, exactly (a new one, or one that grows, shrinks or goes, fails);
   - typing-only edges (a window's parts naming the window's class for mypy) are left out of the cycle checks, as
     they never run, but are in the layer checks: core modules (everything but the shells and the benchmarks)
     import neither a shell (edge_asr.cli, .gui, .daemon) nor a UI or server framework (Qt, FastAPI/Starlette/
     uvicorn, gRPC, Wyoming); the desktop app and the daemon import neither the CLI nor each other; benchmarks
     may import anything (they drive the shells as a user would), and only the CLI (`edge-asr bench`) and other
     benchmarks import one.
"""

from __future__ import annotations

import ast
import functools
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "edge_asr"
SHELLS = ("edge_asr.cli", "edge_asr.gui", "edge_asr.daemon")
# Top-level packages of the UI and server frameworks the core must not import.
FRAMEWORKS = ("PySide6", "shiboken6", "fastapi", "starlette", "uvicorn", "grpc", "grpc_tools", "wyoming")
# Modules that belong to a shell although they sit outside its package, and why.
SHELL_OUTSIDE_ITS_PACKAGE = {
    "edge_asr.__main__": "edge_asr.cli",  # `python -m edge_asr` is the CLI
}
# Benchmarks whose names do not say so, and why.
BENCH_BY_ROLE = {
    "edge_asr.daemon.soak": "the daemon's soak test (`edge-asr bench soak`), moving into edge_asr.bench",
}
# Cycles through lazy (function-level) imports that are there on purpose, each with why it is not broken yet.
# Import cycles through lazy imports, each with why it is there. None today: the factory (edge_asr.factory) sits
# above engine/, transcribe and routing, and passes itself to the router as its loader.
KNOWN_LAZY_CYCLES: dict[frozenset[str], str] = {}
# Modules that may not import in a fresh interpreter of the test environment, with the reason. None today: every
# optional dependency is in the test extra, so a module that needs one must import.
EXPECTED_IMPORT_FAILURES: dict[str, str] = {}
IMPORT_TIMEOUT = 120.0  # s for one module (onnxruntime, Qt and FastAPI load in a few seconds on a busy board)

pytestmark = pytest.mark.timeout(900)


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the package on disk, by dotted name (a package by its own name, from __init__.py)."""
    found = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def is_bench(module: str) -> bool:
    """A benchmark module: edge_asr.bench (the package) and its modules, edge_asr.bench_*, any .../bench.py,
    .../bench_*.py, .../*_bench.py, and those in BENCH_BY_ROLE."""
    parts = module.split(".")
    return (module in BENCH_BY_ROLE or parts[1:2] == ["bench"] or parts[-1] == "bench" or parts[-1].startswith("bench_")
            or parts[-1].endswith("_bench"))


def shell_of(module: str) -> str | None:
    """The shell a (non-benchmark) module belongs to, or None for the core."""
    if module in SHELL_OUTSIDE_ITS_PACKAGE:
        return SHELL_OUTSIDE_ITS_PACKAGE[module]
    return next((s for s in SHELLS if module == s or module.startswith(s + ".")), None)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute name a (possibly relative) ``from ... import`` names."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base.pop()  # the module's package
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


IMPORT_TIME, LAZY, TYPING = "import time", "lazy", "typing"  # where an import statement sits


def _import_statements(tree: ast.AST) -> Iterator[tuple[ast.Import | ast.ImportFrom, str]]:
    """Every import statement with where it sits: run at import time (module or class level), lazy (inside a
    function), or typing (under ``if TYPE_CHECKING:``, never run)."""

    def walk(node: ast.AST, where: str) -> Iterator[tuple[ast.Import | ast.ImportFrom, str]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                yield child, where
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                yield from walk(child, TYPING if where == TYPING else LAZY)
            elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for stmt in child.body:
                    yield from walk_one(stmt, TYPING)
                for stmt in child.orelse:
                    yield from walk_one(stmt, where)
            else:
                yield from walk(child, where)

    def walk_one(stmt: ast.AST, where: str) -> Iterator[tuple[ast.Import | ast.ImportFrom, str]]:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            yield stmt, where
        else:
            yield from walk(stmt, where)

    yield from walk(tree, IMPORT_TIME)


def imports_of(module: str, path: Path, modules: Iterable[str], kinds: Iterable[str] = (IMPORT_TIME, LAZY, TYPING),
               ) -> set[str]:
    """What a module's import statements of the given kinds name: edge_asr modules by their full name (resolved
    from relative imports), other packages as written."""
    known, wanted = set(modules), set(kinds)
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    for node, where in _import_statements(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if where not in wanted:
            continue
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        else:
            target = _resolve(module, is_package, node)
            out.add(target)
            out.update(f"{target}.{alias.name}" for alias in node.names if f"{target}.{alias.name}" in known)
    out.discard(module)
    return out


@functools.cache
def import_graph(root: Path = ROOT, kinds: tuple[str, ...] = (IMPORT_TIME, LAZY, TYPING)) -> dict[str, set[str]]:
    """edge_asr module -> everything its import statements of those kinds name (cached: do not modify it)."""
    files = module_files(root)
    return {m: imports_of(m, p, files, kinds) for m, p in files.items()}


def internal_edges(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    return {m: {t for t in targets if t in graph} for m, targets in graph.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm, iteratively)."""
    edges = internal_edges(graph)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def layering_violations(graph: dict[str, set[str]]) -> list[str]:
    """Each import that crosses a layer the wrong way, as 'importer -> imported (rule)'."""
    bad = []
    for module, targets in sorted(graph.items()):
        if is_bench(module):
            continue
        own_shell = shell_of(module)
        for target in sorted(targets):
            top = target.split(".")[0]
            if target in graph:
                if is_bench(target):
                    if own_shell != "edge_asr.cli":
                        bad.append(f"{module} -> {target} (only the CLI and benchmarks import benchmarks)")
                    continue
                other_shell = shell_of(target)
                if other_shell is None or other_shell == own_shell:
                    continue
                if own_shell is None:
                    bad.append(f"{module} -> {target} (the core imports no shell)")
                elif own_shell != "edge_asr.cli":
                    bad.append(f"{module} -> {target} (a shell imports the core, not another shell)")
            elif top in FRAMEWORKS and own_shell is None:
                bad.append(f"{module} -> {target} (the core imports no UI or server framework)")
    return bad


# -- 1. each module in a fresh interpreter ---------------------------------------------------------------------------
_IMPORT_ONE = "import importlib, sys; importlib.import_module(sys.argv[1])"


def _import_alone(module: str) -> tuple[str, int, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-c", _IMPORT_ONE, module], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=IMPORT_TIMEOUT)
    return module, proc.returncode, (proc.stderr or proc.stdout).strip()


def test_every_module_imports_in_a_fresh_interpreter() -> None:
    modules = sorted(module_files())
    assert len(modules) > 100 and "edge_asr.transcribe" in modules and "edge_asr.gui.app" in modules
    assert not set(EXPECTED_IMPORT_FAILURES) - set(modules), "an expected failure names a module that is gone"
    # One interpreter per module, two at a time (the imports are CPU-bound; this machine has 2 cores).
    with ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1))) as pool:
        results = list(pool.map(_import_alone, modules))
    failed = {m: err.splitlines()[-1] if err else f"exit status {rc}" for m, rc, err in results if rc != 0}
    unexpected = {m: why for m, why in failed.items() if m not in EXPECTED_IMPORT_FAILURES}
    assert not unexpected, "modules that do not import on their own:\n" + "\n".join(
        f"  {m}: {why}" for m, why in sorted(unexpected.items()))
    now_fine = set(EXPECTED_IMPORT_FAILURES) - set(failed)
    assert not now_fine, f"these import now; drop them from EXPECTED_IMPORT_FAILURES: {sorted(now_fine)}"


# -- 2. the static import graph -------------------------------------------------------------------------------------
def test_the_import_graph_is_read_from_every_kind_of_import_statement() -> None:
    def graph(*kinds: str) -> dict[str, set[str]]:
        return import_graph(kinds=kinds)

    at_import, lazy, typing = graph(IMPORT_TIME), graph(LAZY), graph(TYPING)
    # Relative, at import time: `from ..app_setup import human_error, setup_logging` in a subpackage.
    assert "edge_asr.app_setup" in at_import["edge_asr.cli.main"]
    # `from . import bench, ...`: the package and each named submodule.
    assert {"edge_asr.cli", "edge_asr.cli.transcribe", "edge_asr.cli.gui"} <= at_import["edge_asr.cli.main"]
    # Inside a function: `from .app import ...` in gui.launch.run is lazy, not at import time.
    assert "edge_asr.gui.app" in lazy["edge_asr.gui.launch"]
    assert "edge_asr.gui.app" not in at_import["edge_asr.gui.launch"]
    # Under `if TYPE_CHECKING:`: the window's parts name the window for mypy only.
    assert "edge_asr.gui.main_window" in typing["edge_asr.gui.document"]
    assert "edge_asr.gui.main_window" not in at_import["edge_asr.gui.document"] | lazy["edge_asr.gui.document"]
    # Third-party names are kept as written, so the framework rule can see them.
    assert any(t.startswith("PySide6") for t in at_import["edge_asr.gui.app"])
    assert "numpy" in at_import["edge_asr.features"]


def test_nothing_imports_in_a_circle_at_import_time() -> None:
    found = cycles(import_graph(kinds=(IMPORT_TIME,)))
    assert not found, "import cycles (each line is a group of modules that import one another):\n" + "\n".join(
        "  " + " <-> ".join(c) for c in found)


def test_lazy_imports_make_no_cycle_but_the_known_one() -> None:
    found = {frozenset(c) for c in cycles(import_graph(kinds=(IMPORT_TIME, LAZY)))}
    new = found - set(KNOWN_LAZY_CYCLES)
    assert not new, "import cycles through lazy imports (each line a group of modules that import one another):\n" + (
        "\n".join("  " + " <-> ".join(sorted(c)) for c in new))
    changed = set(KNOWN_LAZY_CYCLES) - found
    assert not changed, "a known cycle changed or is gone; update KNOWN_LAZY_CYCLES:\n" + "\n".join(
        "  " + " <-> ".join(sorted(c)) for c in changed)


def test_the_layers_hold() -> None:
    bad = layering_violations(import_graph())
    assert not bad, "imports across layers:\n" + "\n".join(f"  {b}" for b in bad)


# -- the checks themselves fail when they should ---------------------------------------------------------------------
def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_a_cycle_behind_a_lazy_import_is_found_and_a_typing_only_one_is_not(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "edge_asr/__init__.py": "",
        "edge_asr/live/__init__.py": "",
        # The shape live/sources.py and live/capture.py had: a lazy re-export back into the module importing it.
        "edge_asr/live/sources.py": "def __getattr__(name):\n    from . import capture\n    return capture.MicSource\n",
        "edge_asr/live/capture.py": "from .sources import BLOCK\n",
        "edge_asr/gui/__init__.py": "",
        "edge_asr/gui/window.py": "from .part import Part\n",
        "edge_asr/gui/part.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .window import Window\n",
    })
    assert cycles(import_graph(root, kinds=(IMPORT_TIME,))) == []
    assert cycles(import_graph(root, kinds=(IMPORT_TIME, LAZY))) == [["edge_asr.live.capture", "edge_asr.live.sources"]]
    assert cycles(import_graph(root)) == [["edge_asr.gui.part", "edge_asr.gui.window"],
                                          ["edge_asr.live.capture", "edge_asr.live.sources"]]


def test_a_core_module_importing_a_shell_or_qt_and_shells_importing_each_other_are_found(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "edge_asr/__init__.py": "",
        "edge_asr/__main__.py": "from .cli.main import main\n",
        "edge_asr/errors.py": "",
        "edge_asr/export.py": "def clip():\n    from .cli.transcribe import demo_clip\n",
        "edge_asr/monitor.py": "from PySide6.QtCore import QTimer\n",
        "edge_asr/cli/__init__.py": "",
        "edge_asr/cli/main.py": "from ..gui import launch\nfrom ..daemon.launch import run\n",
        "edge_asr/cli/transcribe.py": "from ..errors import *\n",
        "edge_asr/gui/__init__.py": "",
        "edge_asr/gui/launch.py": "from ..cli.main import main\nimport fastapi\n",
        "edge_asr/gui/bench.py": "from ..cli import main\nfrom ..daemon import launch\n",
        "edge_asr/daemon/__init__.py": "",
        "edge_asr/daemon/launch.py": "import edge_asr.gui.launch\n",
        "edge_asr/bench/__init__.py": "from ..cli import main\n",
    })
    assert layering_violations(import_graph(root)) == [
        "edge_asr.daemon.launch -> edge_asr.gui.launch (a shell imports the core, not another shell)",
        "edge_asr.export -> edge_asr.cli.transcribe (the core imports no shell)",
        "edge_asr.gui.launch -> edge_asr.cli.main (a shell imports the core, not another shell)",
        "edge_asr.monitor -> PySide6.QtCore (the core imports no UI or server framework)",
    ]  # the CLI may import the shells it launches; a shell may use its own framework; benchmarks may import all
