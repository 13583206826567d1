"""The package's import graph: layers import downward only, and nothing imports in a circle.

The layers (chapters > framework > library > base, DESIGN.md) are an import-linter contract
in ``pyproject.toml``, checked by ``python3 tasks.py lint`` in CI and here; a cycle
anywhere in the graph (inside a layer too) fails here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

REPO = Path(__file__).resolve().parents[1]


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_cycle_finder_finds_a_cycle_and_only_cycles() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set(), "c": {"b"}}) == []


def test_the_package_imports_nothing_in_a_circle() -> None:
    graph = grimp.build_graph("c2f_utils", include_external_packages=False)
    edges = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    assert "c2f_utils.evidence" in edges["c2f_utils.chapters.ot_transfer"]  # the graph holds function-level imports
    assert _cycles(edges) == []


def test_the_layering_contract_is_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run([str(lint)], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "1 kept, 0 broken" in out.stdout


def test_no_module_imports_a_private_name_of_another() -> None:
    graph = grimp.build_graph("c2f_utils", include_external_packages=False)
    private = []
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            for detail in graph.get_import_details(importer=module, imported=imported):
                text = detail["line_contents"]
                if " import " in text and any(
                    name.strip().startswith("_") and not name.strip().startswith("__")
                    for name in text.split(" import ", 1)[1].replace("(", "").replace(")", "").split(",")
                ):
                    private.append(f"{module}: {text}")
    assert private == []
