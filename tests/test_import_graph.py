"""Imports run one way — definitions/model → engine/ingest → queries/pipeline → workspace →
cli/report/api/web — and no module imports itself back through others (lazy imports included)."""

from __future__ import annotations

import ast
from collections import defaultdict
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "carevalue"

LAYER = {
    "__init__": 0, "model": 0, "definitions": 0, "backends": 0,
    "engine": 1, "ingest": 1, "synth": 1,
    "queries": 2, "pipeline": 2, "planted_truth": 2, "interop": 2,
    "workspace": 3,
    "cli": 4, "report": 4, "api": 4, "web": 4,
}


def _module(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node except those under ``if TYPE_CHECKING:`` (annotations only, never executed)."""
    out, todo = [], [tree]
    while todo:
        node = todo.pop()
        out.append(node)
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", "")) == "TYPE_CHECKING":
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))
    return out


def _imports() -> dict[str, set[str]]:
    modules = {_module(p) for p in SRC.rglob("*.py")}
    edges: dict[str, set[str]] = defaultdict(set)
    for path in SRC.rglob("*.py"):
        src = _module(path)
        for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                if name.startswith("carevalue") and name in modules and name != src:
                    edges[src].add(name)
    return edges


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_package_has_a_layer() -> None:
    packages = {_package(_module(p)) for p in SRC.rglob("*.py")}
    assert packages <= set(LAYER), f"give these a layer here: {sorted(packages - set(LAYER))}"


def test_imports_run_one_way() -> None:
    upward = sorted(f"{a} -> {b}" for a, bs in _imports().items() for b in bs
                    if LAYER[_package(a)] < LAYER[_package(b)])
    assert not upward, "imports that run back up:\n" + "\n".join(upward)


def test_no_import_circles() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for a, bs in _imports().items():
        # importing carevalue.x.y runs package x first: a package and its children are not a circle
        graph[a] |= {b for b in bs if not a.startswith(b + ".") and not b.startswith(a + ".")}
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as e:
        raise AssertionError(f"import circle: {' -> '.join(e.args[1])}") from None
