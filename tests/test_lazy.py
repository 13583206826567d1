"""Lazy modules, and `--list` / `--plan` without torch (issue 16, item 4)."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

from c2f_utils import constants
from c2f_utils._lazy import LazyModule, lazy_module
from c2f_utils.experiments import _library_closure, _modules_read, _package_layout

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "torchvision", "ot", "sklearn", "scipy", "matplotlib")


def _imports_after(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; which heavy modules it imported, and its stdout."""
    probe = f"import sys, json\n{code}\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=300, check=True
    ).stdout
    return {"heavy": json.loads(out.strip().splitlines()[-1]), "stdout": out}


def test_lazy_module_imports_on_first_attribute_read_only() -> None:
    result = _imports_after(
        "from c2f_utils._lazy import lazy_module\n"
        "nn = lazy_module('torch.nn')\n"
        "before = 'torch' in sys.modules\n"
        "layer = nn.Linear(2, 3)\n"
        "print(before, type(layer).__module__, nn.__name__)"
    )
    assert result["stdout"].splitlines()[0] == "False torch.nn.modules.linear torch.nn"
    assert "torch" in result["heavy"]


def test_lazy_module_is_a_module_named_as_the_real_one_and_reads_its_attributes() -> None:
    m = lazy_module("json")
    assert isinstance(m, types.ModuleType) and isinstance(m, LazyModule)
    assert m.__name__ == "json"
    assert m.dumps is importlib.import_module("json").dumps
    assert "dumps" in dir(m)
    with pytest.raises(AttributeError):
        m.__wrapped__  # noqa: B018 - dunders are not forwarded (copy/pickle/inspect probing)
    with pytest.raises(AttributeError, match="no_such_name"):
        m.no_such_name  # noqa: B018


@pytest.mark.parametrize("bad", ["", "a..b", "1abc", None, 3, "torch nn"])
def test_lazy_module_refuses_a_name_that_is_not_a_dotted_module_name(bad) -> None:
    with pytest.raises(ValueError, match="`name`"):
        lazy_module(bad)


def test_lazy_module_of_a_missing_module_fails_on_first_use_naming_it() -> None:
    m = lazy_module("c2f_no_such_module")
    with pytest.raises(ModuleNotFoundError, match="c2f_no_such_module"):
        m.anything  # noqa: B018


def test_list_and_plan_import_no_torch_pot_or_sklearn() -> None:
    """Every chapter, every profile it implements: its parameters listed and its runs planned
    (their keys hashed) without importing the numerical libraries."""
    code = (
        "import contextlib, io\n"
        "from c2f_utils import run, chapters\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert run.main(['--list']) == 0\n"
        "    for name in sorted(chapters.load_all()):\n"
        "        for profile in chapters.get(name).profiles:\n"
        "            assert run.main([name, '--plan', '--profile', profile]) == 0\n"
    )
    assert _imports_after(code)["heavy"] == []


def test_static_package_layout_matches_the_imported_packages() -> None:
    """Each name a package's ``__init__`` exports, read from its source, comes from a module
    that the statically resolved submodule's closure covers: the fingerprint hashes its code."""
    for package in ("c2f_utils.data", "c2f_utils.losses", "c2f_utils.probes"):
        exports, imported, own = _package_layout(package)
        module = importlib.import_module(package)
        assert not own and exports
        for name, origin in exports.items():
            value = getattr(module, name)
            where = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", None)
            if isinstance(where, str) and where.startswith("c2f_utils."):  # constants carry no module
                assert where in _library_closure({origin}), (package, name, where, origin)
        for sub in imported:
            assert isinstance(getattr(module, sub.rpartition(".")[2]), types.ModuleType)
    assert _package_layout("c2f_utils.train") is None


def test_modules_read_resolves_names_to_their_submodules() -> None:
    assert _modules_read("c2f_utils.probes", {"linear_probe", "features", "x"}) == {
        "c2f_utils.probes.__init__",
        "c2f_utils.probes.linear",
    }
    assert "c2f_utils.data.core" in _modules_read("c2f_utils.data", {"core"})
    assert "c2f_utils.data.real" in _modules_read("c2f_utils.data", set())  # registrations always count
    assert _modules_read("c2f_utils.train", {"fit"}) == {"c2f_utils.train"}


def test_declaration_constants_are_the_library_s_own() -> None:
    from c2f_utils.data import real
    from c2f_utils.losses import smoothing

    assert real.CIFAR10_NAMES is constants.CIFAR10_NAMES
    assert real.CIFAR10_CLASSES is constants.CIFAR10_CLASSES
    assert smoothing.LLS_ABLATIONS is constants.LLS_ABLATIONS
    tree = ast.parse((REPO / "c2f_utils" / "constants.py").read_text())
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom) and n.module != "__future__"]


def test_chapter_modules_import_only_the_light_layers_at_import() -> None:
    """The computing layers are bound with ``lazy_module``; a top-level import of them would import torch."""
    light = {"experiments", "runs", "report", "evidence", "_checks", "_lazy", "constants", "paths", None}
    for path in (REPO / "c2f_utils" / "chapters").glob("*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Import):
                assert not [a.name for a in node.names if a.name.split(".")[0] in HEAVY], (path.name, ast.unparse(node))
            elif isinstance(node, ast.ImportFrom):
                assert (node.module or "").split(".")[0] not in HEAVY, (path.name, ast.unparse(node))
                if node.level == 2:
                    assert node.module in light, (path.name, ast.unparse(node))
                    if node.module is None:  # from .. import report, evidence, paths
                        assert {a.name for a in node.names} <= light, (path.name, ast.unparse(node))


def test_the_first_read_binds_the_real_module_in_the_package_s_modules() -> None:
    """After the first read, a chapter module's `torch` is torch itself: no cost per read in a training step."""
    result = _imports_after(
        "import torch\n"
        "from c2f_utils.chapters import setting\n"
        "from c2f_utils import _checks\n"
        "before = (type(setting.torch).__name__, type(_checks.torch).__name__)\n"
        "setting.torch.zeros(1)\n"
        "_checks.check_tensor('x', torch.zeros(1), ndim=1)\n"
        "print(before, setting.torch is torch, _checks.torch is torch)"
    )
    assert result["stdout"].splitlines()[0] == "('LazyModule', 'LazyModule') True True"


def test_a_lazy_module_reads_attributes_live() -> None:
    """A patched attribute of the real module is seen through the lazy one (no copy is taken)."""
    real = importlib.import_module("json")
    m = lazy_module("json")
    assert m.dumps is real.dumps
    original = real.dumps
    try:
        real.dumps = len
        assert m.dumps is len
    finally:
        real.dumps = original
    assert m.__version__ == real.__version__  # a dunder of the real module, once imported
