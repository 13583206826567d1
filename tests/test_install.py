"""What installing c2f-utils brings: core dependencies the library computes with, the rest in extras (issue 29)."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

NOT_CORE = {
    # notebooks and kernels
    "papermill", "jupytext", "nbformat", "nbclient", "ipykernel", "ipywidgets", "ipython", "jupyter-client",
    "jupyterlab", "notebook", "jupyter-book", "jupyter-cache", "myst-nb",
    # tests and lint
    "pytest", "pytest-xdist", "hypothesis", "ruff", "import-linter", "uv",
    # browsers
    "selenium",
    # clusters
    "dask", "distributed", "submitit", "dask-jobqueue", "dask-kubernetes",
}  # fmt: skip
"""Packages that must never be core dependencies: a reader installing the library into a hosted
notebook would get (and upgrade) them for nothing."""

RUN = {"papermill", "jupytext", "nbformat", "ipykernel", "ipywidgets"}
"""The ``run`` extra: what running a chapter as a notebook needs."""

# Blocks every notebook, test, browser and cluster module (a meta-path finder that runs first), then
# imports every module of the package, plans a chapter and asks the runner to execute one.
_BLOCKED = """
import importlib, json, pkgutil, sys
from importlib.abc import MetaPathFinder

BLOCKED = {blocked!r}

class Blocker(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked)", name=name)
        return None

sys.meta_path.insert(0, Blocker())
for module in list(sys.modules):
    if module.partition(".")[0] in BLOCKED:
        del sys.modules[module]

import c2f_utils
imported = sorted(m.name for m in pkgutil.walk_packages(c2f_utils.__path__, "c2f_utils."))
for name in imported:
    importlib.import_module(name)
from c2f_utils import run
plan = run.main(["setting", "--plan"])
notebook = run.main(["setting", "--out", {out!r}])
print(json.dumps({{"imported": imported, "plan": plan, "notebook": notebook,
                  "loaded": sorted(m for m in sys.modules if m.partition(".")[0] in BLOCKED)}}))
"""


def _names(requirements: list[str]) -> set[str]:
    return {canonicalize_name(Requirement(r).name) for r in requirements}


def test_core_dependencies_hold_no_notebook_test_browser_or_cluster_package() -> None:
    core = _names(PROJECT["dependencies"])
    assert {"torch", "numpy", "scipy", "pandas"} <= core  # the list read is the real one
    assert not core & NOT_CORE, f"not core dependencies: {sorted(core & NOT_CORE)}"


def test_the_run_extra_holds_what_a_notebook_run_needs_and_book_and_lab_include_it() -> None:
    extras = {name: _names(reqs) for name, reqs in PROJECT["optional-dependencies"].items()}
    assert extras["run"] == RUN
    assert RUN <= extras["book"] and RUN <= extras["lab"]
    assert {"jupyterlab", "ipywidgets"} <= extras["lab"]
    runs = {r for r in PROJECT["optional-dependencies"]["run"]}
    for extra in ("book", "lab"):  # the same ranges, not a second set that could drift
        assert runs <= set(PROJECT["optional-dependencies"][extra]), extra
    assert {"dev", "cluster"} <= set(extras)


def test_the_installers_name_the_run_extra() -> None:
    tasks = (ROOT / "tasks.py").read_text()
    assert '".[run,book,dev,cluster]"' in tasks and '"--extra", "run"' in tasks
    assert '-e ".[run,lab]"' in (ROOT / "binder" / "postBuild").read_text()
    assert "-e .[run,book,dev]" in (ROOT / "environment.yml").read_text()


def test_the_library_imports_and_plans_without_the_extras_and_the_runner_names_the_run_extra(
    tmp_path: Path,
) -> None:
    blocked = sorted({name.replace("-", "_") for name in NOT_CORE} | {"IPython", "jupyter_client"})
    script = _BLOCKED.format(blocked=blocked, out=str(tmp_path / "out"))
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.splitlines()[-1])
    assert {"c2f_utils.run", "c2f_utils.cli", "c2f_utils.data.folders", "c2f_utils.chapters.fierce"} <= set(
        result["imported"]
    )
    assert result["loaded"] == []
    assert result["plan"] == 0
    assert result["notebook"] == 2
    assert "needs the `run` extra" in done.stderr and "c2f-utils[run]" in done.stderr
    assert "jupytext, papermill, ipykernel missing" in done.stderr
    assert not (tmp_path / "out" / "setting.ipynb").exists()


def test_the_notebooks_install_cell_installs_the_package_alone() -> None:
    """A hosted notebook (Colab) pins its kernel packages: the install cell adds c2f-utils with its
    core dependencies (no extra), so pip has no kernel package to upgrade."""
    sys.path.insert(0, str(ROOT))
    try:
        import tasks
    finally:
        sys.path.remove(str(ROOT))
    cell = tasks.INSTALL_CELL
    install = next(line for line in cell.splitlines() if '"pip", "install"' in line)
    assert install.rstrip().endswith('"-e", "coarse-to-fine"])')  # the clone, no [extra]
    assert not any(name in install for name in (*RUN, "ipywidgets", "[run]", "--upgrade"))
    copies = tasks.notebook_copies()
    assert copies and all(install.strip() in text.replace('\\"', '"') for text in copies.values())
