"""The one-way flow of docs/ARCHITECTURE.md, read from the source: read -> grade -> analyse -> figures -> tables (the
registry declares the figures) -> write -> report -> run; the Dask engine beside grading and the public doors
(ctcae_engine.api) above both. Imports inside functions count: a lazy import is still a dependency."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pandas as pd

import ctcae_engine as ce

ROOT = Path(ce.__file__).parent
STAGES = ["read", "grade", "analyse", "figures", "tables", "write", "report", "run"]
"""Each stage may import the ones before it, never the ones after."""


def _imports() -> dict[str, set[str]]:
    graph = {}
    for path in ROOT.rglob("*.py"):
        module = ".".join(("ctcae_engine", *path.relative_to(ROOT).with_suffix("").parts)).removesuffix(".__init__")
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
        graph[module] = {name for name in found if name.startswith("ctcae_engine.")}
    return {module: {name for name in names if name in graph} for module, names in graph.items()}


def _stage(module: str) -> str:
    return (module.split(".") + [""])[1]


def test_no_module_imports_a_later_stage():
    order = {stage: i for i, stage in enumerate(STAGES)}
    backwards = sorted(
        (module, name) for module, names in _imports().items() for name in names
        if _stage(module) in order and _stage(name) in order and order[_stage(name)] > order[_stage(module)]
    )
    assert backwards == []


def test_grading_is_pure_pandas_and_the_dask_engine_sits_beside_it():
    graph = _imports()
    grading = {module for module in graph if _stage(module) == "grade"}
    assert not any(name.startswith(("ctcae_engine.dask", "ctcae_engine.api")) for m in grading for name in graph[m])
    for path in (ROOT / "grade").glob("*.py"):
        assert "import dask" not in path.read_text()


def test_there_is_no_import_cycle():
    graph = _imports()
    state: dict[str, int] = {}
    cycles = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for name in sorted(graph[module]):
            if state.get(name) == 1:
                cycles.append([*path[path.index(name):], name] if name in path else [module, name])
            elif name not in state:
                visit(name, [*path, name])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    package_inits = [c for c in cycles if not all(m == c[0] or m.startswith(c[0] + ".") for m in c)]
    assert package_inits == []


def test_the_accessor_shows_the_real_signatures():
    frame = pd.DataFrame()
    for name in ("grade_labs", "grade_vitals", "grade_ecg"):
        door = inspect.signature(getattr(ce, name))
        method = inspect.signature(getattr(frame.ctcae, name))
        assert list(method.parameters) == list(door.parameters)[1:]
        assert "first_dose" in method.parameters and "kwargs" not in method.parameters
        assert getattr(frame.ctcae, name).__doc__ == getattr(ce, name).__doc__
