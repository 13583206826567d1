"""The package's import graph: layers import downward only, and nothing imports in a circle.

The layers (chapters > framework > library > base, DESIGN.md) are an import-linter contract
in ``pyproject.toml``, checked by ``python3 tasks.py lint`` in CI and here; a cycle
anywhere in the graph (inside a layer too) fails here.
"""

from __future__ import annotations

import ast
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
    # the graph holds function-level imports
    assert "c2f_utils.evidence" in edges["c2f_utils.chapters.ot_transfer.verdicts"]
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


def _type_checking_names(tree: ast.Module) -> set[str]:
    """Names a module imports only under ``if TYPE_CHECKING:`` (for annotations)."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for imp in node.body:
                if isinstance(imp, ast.Import | ast.ImportFrom):
                    names |= {a.asname or a.name.split(".")[0] for a in imp.names}
    return names


def _runtime_uses(fn: ast.AST, names: set[str]) -> set[str]:
    """``names`` that ``fn`` reads outside annotations and does not import itself."""
    annotations: set[int] = set()
    imported: set[str] = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            args = node.args
            for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
                if arg is not None and arg.annotation is not None:
                    annotations |= {id(x) for x in ast.walk(arg.annotation)}
            if node.returns is not None:
                annotations |= {id(x) for x in ast.walk(node.returns)}
        elif isinstance(node, ast.AnnAssign):
            annotations |= {id(x) for x in ast.walk(node.annotation)}
        elif isinstance(node, ast.Import | ast.ImportFrom):
            imported |= {a.asname or a.name.split(".")[0] for a in node.names}
    used = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and n.id in names and id(n) not in annotations}
    return used - imported


def test_names_imported_for_annotations_only_are_imported_where_they_run() -> None:
    """With the computing layers imported inside functions, a module keeps their names under
    ``TYPE_CHECKING`` for its annotations; ruff then sees them as defined everywhere. A function
    that uses one at run time must import it itself (or fail with a NameError, on a rare path)."""
    found = []
    for path in sorted((REPO / "c2f_utils").rglob("*.py")):
        tree = ast.parse(path.read_text())
        names = _type_checking_names(tree)
        if not names:
            continue
        for node in tree.body:
            members = node.body if isinstance(node, ast.ClassDef) else [node]
            for fn in members:
                if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef) and (missing := _runtime_uses(fn, names)):
                    found.append(f"{path.relative_to(REPO)}: {fn.name} uses {sorted(missing)}")
    assert found == []
