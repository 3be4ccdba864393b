"""The library's import graph has no cycle, lazy (function-level) imports included.

A cycle hidden by a local import still ties two modules together; so every
``import`` counts, wherever it stands, except those under ``if TYPE_CHECKING:``.
Importing ``a.b.c`` also runs ``a/b/__init__.py``: an edge to the package is
added when the importer lives outside that package (inside it, the package's own
``__init__`` importing its submodules is how packages are built).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "box2mask"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, name: str, modules: set[str]) -> set[str]:
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    class Visitor(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            if "TYPE_CHECKING" in ast.unparse(node.test):
                for child in node.orelse:
                    self.visit(child)
                return
            self.generic_visit(node)

        def visit_Import(self, node: ast.Import) -> None:
            found.update(a.name for a in node.names)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{a.name}" for a in node.names)

    Visitor().visit(ast.parse(path.read_text(encoding="utf-8")))
    edges = set()
    for target in found:
        if target not in modules or target == name:
            continue
        edges.add(target)
        parts = target.split(".")
        for k in range(2, len(parts)):  # the packages whose __init__ runs on the way
            package = ".".join(parts[:k])
            if package in modules and not (name == package or name.startswith(package + ".")):
                edges.add(package)
    return edges


def import_graph() -> dict[str, set[str]]:
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    modules = set(paths)
    return {name: imports_of(path, name, modules) for name, path in paths.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_library_has_no_import_cycle():
    graph = import_graph()
    assert len(graph) > 50 and "box2mask.model.predictor" in graph
    cycle = find_cycle(graph)
    assert cycle is None, " -> ".join(cycle)


def test_the_checker_sees_cycles_hidden_in_functions(tmp_path):
    graph = {"box2mask.a": {"box2mask.b"}, "box2mask.b": set()}
    assert find_cycle(graph) is None
    graph["box2mask.b"].add("box2mask.a")
    assert find_cycle(graph) == ["box2mask.a", "box2mask.b", "box2mask.a"]
    path = tmp_path / "mod.py"
    path.write_text("def f():\n    from box2mask.errors import Box2MaskError\n"
                    "if TYPE_CHECKING:\n    from box2mask.frames import read_rgb\n"
                    "from box2mask.methods.base import FrameMask\n")
    modules = {"box2mask.errors", "box2mask.frames", "box2mask.methods", "box2mask.methods.base", "box2mask.mod"}
    # the lazy import counts, the TYPE_CHECKING one does not, and methods/__init__ runs on the way to base
    assert imports_of(path, "box2mask.mod", modules) == {"box2mask.errors", "box2mask.methods",
                                                          "box2mask.methods.base"}
