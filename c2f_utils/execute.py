"""Execute one chapter's notebook with papermill (what ``python -m c2f_utils.run CHAPTER`` does last).

The chapter's MyST Markdown source is converted to a notebook with jupytext and executed with
papermill in a kernel of the current interpreter, its ``parameters`` cell overridden by the given
values; the executed notebook and a results JSON (the chapter's reported results, its parameters
and provenance) are written to the output folder. :func:`configure` validates every value against
the chapter's :class:`~c2f_utils.experiments.Chapter` before a kernel starts; :func:`check_data`
lists the files a configuration's runs would read and lack. The command line is
:mod:`c2f_utils.run`.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import chapters
from .experiments import Config, Experiment
from .progress import PROGRESS_ENV
from .runs import RESULTS_ENV, provenance

__all__ = [
    "KERNEL_NAME",
    "RUN_EXTRA",
    "MissingExtraError",
    "check_data",
    "configure",
    "notebook_tools",
    "output_folder",
    "overrides_tag",
    "run_chapter",
]

_PATH_ENVS = ("C2F_DATA_DIR", "C2F_CACHE_DIR")


def run_chapter(
    name: str,
    parameters: dict[str, Any] | None = None,
    *,
    profile: str = "quick",
    out: str | os.PathLike[str] | None = None,
    book_dir: str | os.PathLike[str] | None = None,
    kernel_name: str | None = None,
    log_output: bool = False,
) -> Path:
    """Execute chapter ``name`` and return the path of its results JSON.

    Parameters
    ----------
    name : str
        A registered chapter (``python -m c2f_utils.run --list``).
    parameters : dict, optional
        Values for the chapter's parameters; validated before execution.
    profile : {"quick", "real", "paper"}
        Profile that fills the parameters not given (one the chapter implements).
    out : path, optional
        Output folder (default ``c2f_runs/<chapter>-<profile>``, and ``-<8 hex digits>`` naming
        the set of ``parameters`` when some are given: another set never overwrites it).
    book_dir : path, optional
        Folder holding the chapter sources (default: ``book`` in the working directory).
    kernel_name : str, optional
        Jupyter kernel to execute with (default: the interpreter running this function, through a
        temporary kernel spec, so that a user-level ``python3`` kernel of another environment
        never runs the chapter without ``c2f_utils``).
    log_output : bool
        Stream the notebook's output to this process's log.
    """
    jupytext, papermill = notebook_tools(kernel_name is None)
    chapter = chapters.get(name)
    parameters = chapter.canonical(dict(parameters or {}))
    config = configure(name, profile, parameters)  # raises on any wrong value before any work
    # what papermill injects: the notebook's parameters cell holds `profile` and an `overrides` dict
    given = {"profile": config.profile, "overrides": {k: config.values[k] for k in parameters if k != "profile"}}
    source = chapter.source_path(Path(book_dir) if book_dir else Path("book"))
    if not source.is_file():
        raise FileNotFoundError(f"Chapter source {source} not found (use --book-dir to point at book/)")
    out_dir = output_folder(out, name, profile, parameters)
    notebook = jupytext.read(source)
    if not any("parameters" in c.get("metadata", {}).get("tags", []) for c in notebook.cells):
        raise ValueError(f"Chapter {name!r} ({source}) has no cell tagged 'parameters'")
    executed = out_dir / f"{name}.ipynb"
    results_path = out_dir / f"{name}.results.json"
    # A previous run's results must not sit beside a notebook this run leaves unfinished (Ctrl-C, an error).
    results_path.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        input_nb = Path(tmp) / f"{name}.input.ipynb"
        jupytext.write(notebook, input_nb)
        reported = Path(tmp) / "reported.json"
        previous = os.environ.get(RESULTS_ENV)
        os.environ[RESULTS_ENV] = str(reported)
        # In the kernel, progress as plain lines (the executed notebook and papermill's log show
        # them; a widget would show nowhere), unless the caller chose otherwise.
        progress_given = os.environ.get(PROGRESS_ENV)
        os.environ.setdefault(PROGRESS_ENV, "log")
        # The kernel runs in the chapter's folder: relative data/cache folders must not move with it.
        relative = {k: os.environ[k] for k in _PATH_ENVS if os.environ.get(k) and not Path(os.environ[k]).is_absolute()}
        os.environ.update({k: str(Path(v).expanduser().resolve()) for k, v in relative.items()})
        jupyter_path = os.environ.get("JUPYTER_PATH")
        if kernel_name is None:
            kernel_name = _current_interpreter_kernel(Path(tmp))
            os.environ["JUPYTER_PATH"] = os.pathsep.join(p for p in (tmp, jupyter_path) if p)
        start = time.perf_counter()
        try:
            papermill.execute_notebook(
                str(input_nb),
                str(executed),
                parameters=given,
                kernel_name=kernel_name,
                cwd=str(source.parent),
                progress_bar=sys.stderr.isatty() and not log_output,  # the cells, on a terminal
                log_output=log_output,
            )
        finally:
            if jupyter_path is None:
                os.environ.pop("JUPYTER_PATH", None)
            else:
                os.environ["JUPYTER_PATH"] = jupyter_path
            if progress_given is None:
                os.environ.pop(PROGRESS_ENV, None)
            os.environ.update(relative)
            if previous is None:
                os.environ.pop(RESULTS_ENV, None)
            else:
                os.environ[RESULTS_ENV] = previous
        wall = time.perf_counter() - start
        results = json.loads(reported.read_text()) if reported.is_file() else {}
    payload = {
        "chapter": name,
        "profile": profile,
        "given_parameters": given,
        "results": results,
        "executed_notebook": str(executed),
        "provenance": {**provenance(), "wall_time_s": round(wall, 2)},
    }
    tmp_results = results_path.with_suffix(".json.tmp")
    tmp_results.write_text(json.dumps(payload, indent=1, default=str))
    os.replace(tmp_results, results_path)
    return results_path


RUN_EXTRA = "pip install 'c2f-utils[run]'"
"""How to install what running a chapter as a notebook needs (from a clone: ``pip install -e '.[run]'``)."""


class MissingExtraError(ImportError):
    """A package of an optional extra that a command needs is not installed; the message says how to get it."""


def notebook_tools(own_kernel: bool) -> tuple[Any, Any]:
    """``(jupytext, papermill)``, or a :class:`MissingExtraError` naming the ``run`` extra. With
    ``own_kernel`` (the current interpreter as the kernel) ipykernel must be importable here too."""
    import importlib

    needed = ("jupytext", "papermill", *(("ipykernel",) if own_kernel else ()))
    missing = []
    for module in needed:
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise MissingExtraError(
            f"Running a chapter as a notebook needs the `run` extra ({', '.join(missing)} missing): {RUN_EXTRA} "
            "(from a clone: pip install -e '.[run]'). --plan, --list, --check-data and --only need none of it."
        )
    return importlib.import_module("jupytext"), importlib.import_module("papermill")


KERNEL_NAME = "c2f-current-python"
"""Name of the temporary kernel spec through which :func:`run_chapter` runs the current interpreter."""


def _current_interpreter_kernel(folder: Path) -> str:
    """Write a kernel spec for ``sys.executable`` under ``folder/kernels`` and return its name."""
    spec = folder / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel = {"argv": argv, "display_name": f"Python ({sys.executable})", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel))
    return KERNEL_NAME


def overrides_tag(parameters: dict[str, Any] | None) -> str:
    """Eight hex digits naming a set of parameter overrides (empty for none): the SHA-256 of
    their canonical JSON, so that the same set always lands in the same output folder."""
    import hashlib

    if not parameters:
        return ""
    blob = json.dumps(parameters, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:8]


def output_folder(
    out: str | os.PathLike[str] | None, name: str, profile: str, parameters: dict[str, Any] | None = None
) -> Path:
    """The output folder ``out`` (default ``c2f_runs/<name>-<profile>[-<overrides tag>]``), created and
    checked writable before any work; a ValueError naming ``out`` otherwise (a file, a read-only folder)."""
    if out is not None and not isinstance(out, str | os.PathLike):
        raise TypeError(f"Expected `out` to be a folder path, got {out!r}")
    tag = overrides_tag(parameters)
    folder = Path(out) if out else Path("c2f_runs") / (f"{name}-{profile}" + (f"-{tag}" if tag else ""))
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"Expected `out` to be a folder that can be created, got {str(folder)!r} ({exc})") from None
    try:  # a real write: permissions, a read-only mount, a full disk (os.access says yes to root)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as exc:
        raise ValueError(f"Expected `out` to be a writable folder, got {str(folder)!r} ({exc})") from None
    return folder


def configure(name: str, profile: str = "quick", parameters: dict[str, Any] | None = None) -> Config:
    """Chapter ``name`` configured for ``profile`` and ``parameters``, every value validated.

    ``parameters`` may hold ``profile`` too (as papermill's ``-p profile paper`` does). A list
    given twice the same value (``seeds`` 0,0,0) is refused (by the chapter's parameters): the
    statistics assume independent runs, and a repeated seed is the same run counted again.
    """
    chapter = chapters.get(name)
    parameters = dict(parameters or {})
    profile = parameters.pop("profile", profile)
    return chapter.configure(profile, parameters)


def check_data(config: Config) -> list[str]:
    """Every problem with the files the runs of ``config`` read, each reported once: their
    registered datasets (:func:`c2f_utils.data.check_files`) and what each run checks itself
    (:meth:`~c2f_utils.experiments.Experiment.check_data`: weights, a folder of your own)."""
    from . import data

    problems: list[str] = []
    seen: set[tuple[str, tuple[str, ...]]] = set()
    for _, exp in config.plan():
        needs = (type(exp).__name__, tuple(exp.data_needs()))
        if needs in seen and type(exp).check_data is Experiment.check_data:
            continue  # the files a run needs follow from its class and datasets
        seen.add(needs)
        problems += [p for p in data.check_files(exp.data_needs()) + exp.check_data() if p not in problems]
    return problems
