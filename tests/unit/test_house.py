"""The house's shape, checked mechanically: no import cycles, no oversized modules.

Cycles are counted over *every* import statement, including imports inside functions (lazy)
and under ``if TYPE_CHECKING:``: a cycle hidden by laziness is still two modules that cannot be
understood, tested or moved apart. Edges go to the module named and to its parent packages,
since importing ``a.b.c`` runs ``a/__init__.py`` and ``a/b/__init__.py`` first.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "gui", "sandbox")
MAX_MODULE_LINES = 600
MAX_MAIN_LINES = 150


def module_name(path: Path) -> str:
    """The dotted name of a source file of the repository."""
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def our_modules() -> dict[str, Path]:
    """Every module of main.py and the three packages, by dotted name."""
    modules = {"main": REPO / "main.py"}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            modules[module_name(path)] = path
    return modules


def _resolve(current: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module of a ``from ... import`` (relative forms included)."""
    if not node.level:
        return node.module or ""
    base = current.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports_of(name: str, path: Path, known: set[str]) -> Iterator[str]:
    """Every module of ours that ``name`` imports, anywhere in the file, parents included."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    targets: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = _resolve(name, path.name == "__init__.py", node)
            targets.append(module)
            targets.extend(f"{module}.{alias.name}" for alias in node.names)
    for target in targets:
        parts = target.split(".")
        for end in range(1, len(parts) + 1):
            candidate = ".".join(parts[:end])
            if candidate in known and candidate != name:
                yield candidate


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules of ours it imports."""
    modules = our_modules()
    known = set(modules)
    return {name: set(imports_of(name, path, known)) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
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


def test_the_cycle_finder_finds_a_lazy_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_imports_are_read_from_functions_and_type_checking_blocks(tmp_path: Path) -> None:
    source = tmp_path / "mod.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from core.x import Y\n"
        "def f() -> None:\n    import core.z.w\n",
        encoding="utf-8",
    )
    known = {"core", "core.x", "core.z", "core.z.w"}
    assert set(imports_of("core.mod", source, known)) == known


def test_there_are_no_import_cycles_lazy_and_type_checking_imports_included() -> None:
    graph = import_graph()
    assert len(graph) > 50, "the scan found too few modules to mean anything"
    assert cycles(graph) == []


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_is_over_600_lines(package: str) -> None:
    sizes = {
        str(path.relative_to(REPO)): len(path.read_text(encoding="utf-8").splitlines())
        for path in (REPO / package).rglob("*.py")
    }
    assert sizes
    assert {path: n for path, n in sizes.items() if n > MAX_MODULE_LINES} == {}


def test_main_is_a_composition_root() -> None:
    lines = len((REPO / "main.py").read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MAIN_LINES
