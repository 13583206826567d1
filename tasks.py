#!/usr/bin/env python3
"""Project tasks that need nothing but Python >= 3.11 and the package index.

    python3 tasks.py test [PYTEST ARGS...]   run the test suite
    python3 tasks.py book                    build the book into _build/html (executes every chapter)
    python3 tasks.py lint                    ruff check and the import-layer contract (import-linter)
    python3 tasks.py digests                 regenerate the behaviour digests (tests/digests) after a version bump
    python3 tasks.py api                     regenerate the API reference pages (book/api/*.md)
    python3 tasks.py notebooks [--student]   regenerate the chapters' notebook copies (book/*.ipynb;
                                             --student: without solutions, in _build/student/)
    python3 tasks.py lab                     open the chapters as notebooks in JupyterLab
    python3 tasks.py env                     only create/update the virtual environment
    python3 tasks.py lock [--upgrade]        regenerate requirements-lock.txt from pyproject.toml (uv)

Each task creates the virtual environment ``.venv`` next to this file if it is missing
and installs the package with the exact versions of ``requirements-lock.txt`` (within the
ranges of ``pyproject.toml``), reinstalling when either file changes, then runs inside it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
LOCK = ROOT / "requirements-lock.txt"
# The lock covers every extra and every platform (uv's universal resolution, markers per platform).
LOCK_COMMAND = [
    "pip", "compile", "pyproject.toml",
    "--extra", "run", "--extra", "book", "--extra", "dev", "--extra", "cluster", "--extra", "lab",
    "--universal", "--python-version", "3.11.5", "-c", LOCK.name, "-o", LOCK.name,
]  # fmt: skip
VENV = Path(os.environ.get("C2F_VENV", ROOT / ".venv"))
STAMP = VENV / ".c2f-install-stamp"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


def _say(msg: str) -> None:
    print(f"[tasks] {msg}", flush=True)


def _run(cmd: list[str], **kwargs) -> int:
    _say(" ".join(str(c) for c in cmd))
    return subprocess.call([str(c) for c in cmd], cwd=ROOT, **kwargs)


def ensure_env() -> None:
    """Create ``.venv`` and install the pinned dependencies when needed."""
    if sys.version_info < (3, 11):  # noqa: UP036 - this script must run, and explain, on older Pythons
        sys.exit(f"Python >= 3.11 is required, this is {sys.version.split()[0]}")
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + LOCK.read_bytes()).hexdigest()
    if PYTHON.exists() and STAMP.exists() and STAMP.read_text().strip() == wanted:
        return
    start = time.perf_counter()
    if not PYTHON.exists():
        _say(f"creating virtual environment {VENV}")
        subprocess.check_call([sys.executable, "-m", "venv", str(VENV)])
    subprocess.check_call([str(PYTHON), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    _say("installing c2f-utils with the locked dependencies (first time: a few minutes, ~5 GB for PyTorch)")
    code = _run([PYTHON, "-m", "pip", "install", "--quiet", "-e", ".[run,book,dev,cluster]", "-c", LOCK.name])
    if code:
        sys.exit(f"pip install failed with exit status {code}")
    STAMP.write_text(wanted)
    _say(f"environment ready in {time.perf_counter() - start:.0f} s")


def task_test(args: list[str]) -> int:
    ensure_env()
    # Two workers, handed two tests at a time, so that the slow tests, which run first
    # (tests/conftest.py), are shared between them rather than queued on one.
    workers = ["-n", "2", "--maxschedchunk=2"] if not any(a.startswith("-n") for a in args) else []
    # Two pytest workers with PyTorch's default threads each oversubscribe the cores (about
    # tenfold slower on two); one thread per worker unless the caller chose otherwise.
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    return _run([PYTHON, "-m", "pytest", *workers, *args], env=env)


def task_digests(args: list[str]) -> int:
    """Recompute the behaviour digests that guard the declared versions (``tests/digests``): every
    component's outputs on fixed inputs, then every profile's ``--smoke`` metrics. Run it after
    bumping a version in ``c2f_utils/identity.py`` (or an experiment's ``version``), and commit."""
    ensure_env()
    # Every run of the paper profiles' plans (the tests check one per grid, C2F_SMOKE_EVERY_RUN=1 all).
    env = {**os.environ, "OMP_NUM_THREADS": "1", "C2F_UPDATE_DIGESTS": "1", "C2F_SMOKE_EVERY_RUN": "1"}
    tests = ["tests/test_profiles_smoke.py", "tests/test_chapters_ot_transfer.py"]
    which = "runs_under_smoke or paper_profile_runs_end_to_end"  # OT transfer's paper profile: its own test
    smoke = [PYTHON, "-m", "pytest", "-n", "2", "-q", *tests, "-k", which, *args]
    return _run([PYTHON, "tests/behaviour.py", "--update"], env=env) or _run(smoke, env=env)


def task_lint(args: list[str]) -> int:
    """ruff, then the layering contract of the package (import-linter, ``[tool.importlinter]`` in pyproject.toml)."""
    ensure_env()
    return _run([BIN / "ruff", "check", ".", *args]) or _run([BIN / "lint-imports"])


JUPYTER_CACHE = ROOT / "_build" / ".jupyter_cache"
PAGE_FINGERPRINTS = ROOT / "_build" / ".c2f-page-fingerprints.json"


def page_fingerprint(source: Path) -> str:
    """SHA-256 of what a chapter's page depends on besides its own cells: every module of
    ``c2f_utils`` except the other chapters' modules, and the chapter's committed results. A
    page that is no chapter's (the "What holds" summary) depends on every chapter and result."""
    package, chapter = ROOT / "c2f_utils", source.stem
    chapters = package / "chapters"
    own = (chapters / f"{chapter}.py").is_file() or (chapters / chapter / "__init__.py").is_file()

    def others(path: Path) -> bool:  # a module of another chapter (a module or a package of chapters/)
        rel = path.relative_to(chapters).parts if path.is_relative_to(chapters) else ()
        return (len(rel) > 1 and rel[0] != chapter) or (
            len(rel) == 1 and rel[0] not in ("__init__.py", f"{chapter}.py")
        )

    files = [p for p in package.rglob("*.py") if not own or not others(p)]
    results = ROOT / "results" / chapter if own else ROOT / "results"
    files += [p for p in results.rglob("*") if p.is_file()]
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def forget_changed_pages() -> tuple[dict[str, str], list[str]]:
    """Drop from the execution cache every chapter whose :func:`page_fingerprint` changed since
    the last build: jupyter-cache keys a page on its code cells only, so a change in the
    library would otherwise publish the old outputs. Returns the new fingerprints and the
    chapters that will be executed again."""
    import json

    new = {p.stem: page_fingerprint(p) for p in chapter_sources()}
    old = json.loads(PAGE_FINGERPRINTS.read_text()) if PAGE_FINGERPRINTS.is_file() else {}
    changed = sorted(name for name, value in new.items() if old.get(name) != value)
    if changed and JUPYTER_CACHE.is_dir():
        forget = (
            "import sys; from pathlib import Path; from jupyter_cache import get_cache\n"
            "cache = get_cache(sys.argv[1])\n"
            "for record in cache.list_cache_records():\n"
            "    if record.uri and Path(record.uri).stem in sys.argv[2:]:\n"
            "        cache.remove_cache(record.pk)\n"
        )
        subprocess.check_call([str(PYTHON), "-c", forget, str(JUPYTER_CACHE), *changed])
        _say(f"code or committed results changed since the last build; executing again: {', '.join(changed)}")
    return new, changed


def task_book(args: list[str]) -> int:
    import json

    ensure_env()
    reports = ROOT / "_build" / "html" / "reports"
    if reports.exists():
        shutil.rmtree(reports)
    fingerprints, _ = forget_changed_pages()
    # No progress bars on the pages (widgets would be saved as page outputs); "log" or "on" to see them.
    env = {**os.environ, "C2F_PROGRESS": os.environ.get("C2F_PROGRESS", "off")}
    code = _run([BIN / "jupyter-book", "build", ".", "--keep-going", *args], env=env)
    failed = sorted(reports.glob("**/*.err.log")) if reports.exists() else []
    if failed:
        for log in failed:
            _say(f"notebook execution failed: {log}")
            print(log.read_text()[-4000:])
        return 1
    unresolved = unresolved_python_references(ROOT / "_build" / "html")
    if unresolved:
        for page, target in unresolved:
            _say(f"unresolved Python reference in {page}: {target}")
        return 1
    external = external_site_assets(ROOT / "_build" / "html")
    if external:
        for page, urls in external.items():
            _say(f"{page} loads from another host (the site must work offline): {', '.join(urls)}")
        return 1
    if code == 0:
        PAGE_FINGERPRINTS.write_text(json.dumps(fingerprints, indent=1))
        _say(f"book built: {ROOT / '_build' / 'html' / 'index.html'}")
    return code


def external_site_assets(html: Path) -> dict[str, list[str]]:
    """Pages that load a script, stylesheet, image or font from another host
    (``book/_ext/c2f_offline.py``): the site must render without a network."""
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    try:
        from c2f_offline import external_assets
    finally:
        sys.path.pop(0)
    return external_assets(html)


def unresolved_python_references(html: Path) -> list[tuple[str, str]]:
    """``(page, target)`` of every Python reference the build could not resolve: any in a
    chapter, and those naming ``c2f_utils`` objects in the API pages (recorded by
    ``book/_ext/c2f_xref.py``)."""
    import json

    record = html / "unresolved-python-references.json"
    if not record.is_file():
        return [("(the whole site)", f"{record} is missing: was the c2f_xref extension loaded?")]
    return [tuple(x) for x in json.loads(record.read_text())]


API_PAGES = {
    "experiments": (
        "Experiments, runs and reports",
        [
            "experiments",
            "identity",
            "provenance",
            "runs",
            "checkpoints",
            "evidence",
            "report",
            "sweep",
            "run",
            "execute",
            "cli",
            "train",
            "augment",
            "progress",
            "plots",
            "paths",
            "constants",
        ],
    ),
    "data": ("Data", "data"),
    "models": ("Models", ["models", "weights"]),
    "losses": ("Losses", "losses"),
    "probes": ("Probes", "probes"),
    "chapters": ("Chapters", "chapters"),
}


API_INTRO = """\
# API reference

<!-- generated by `python3 tasks.py api`; edit tasks.py, not this file -->

The package `c2f_utils` holds every line of code the chapters run. These pages are generated
from its docstrings (Sphinx autodoc), which give each function's arguments, the mathematics it
implements and the paper and equation it comes from.

| page | modules |
|---|---|
"""


def _automodule(module: str, members: bool) -> str:
    # Chapter experiments derive from private recipe bases: their fields show in the signature.
    inheritance = "" if module.startswith("chapters") else "   :show-inheritance:\n"
    options = f"   :members:\n{inheritance}" if members else ""
    return f"```{{eval-rst}}\n.. automodule:: c2f_utils.{module}\n{options}```\n"


def _submodules(package: str) -> list[str]:
    """The public modules and subpackages of ``c2f_utils.<package>`` (dotted), sorted; none when it is a module."""
    folder = ROOT / "c2f_utils" / package.replace(".", "/")
    names = [p.stem for p in folder.glob("*.py") if not p.stem.startswith("_")]
    names += [p.parent.name for p in folder.glob("*/__init__.py") if not p.parent.name.startswith("_")]
    return sorted(names)


def _sections(module: str, depth: int) -> list[str]:
    """``module``'s section (its docstring, or its members when it has no submodules), then one
    section per submodule, recursively (a chapter package: its ``experiments`` and ``report``)."""
    subs = _submodules(module)
    out = [f"{'#' * depth} `c2f_utils.{module}`\n\n{_automodule(module, not subs)}"]
    for sub in subs:
        out += _sections(f"{module}.{sub}", min(depth + 1, 4))
    return out


def api_pages() -> dict[Path, str]:
    """The API reference pages, one per area, and their index ``book/api.md``. Every object is
    documented once, in the module that defines it; references to a re-exported name (``c2f_utils.probes.linear_probe``)
    are resolved to it by ``book/_ext/c2f_xref.py``."""
    pages = {}
    for page, (title, modules) in API_PAGES.items():
        text = f"# {title}\n\n<!-- generated by `python3 tasks.py api`; edit tasks.py, not this file -->\n\n"
        if isinstance(modules, list):  # each package of the list: its docstring, then each of its modules
            text += "\n".join(section for m in modules for section in _sections(m, 2))
        else:
            text += _automodule(modules, not _submodules(modules))
            for sub in _submodules(modules):
                text += "\n" + "\n".join(_sections(f"{modules}.{sub}", 2))
        pages[ROOT / "book" / "api" / f"{page}.md"] = text
    rows = []
    for page, (title, modules) in API_PAGES.items():
        if isinstance(modules, list):
            names = ", ".join(f"`{m}` ({', '.join(subs)})" if (subs := _submodules(m)) else f"`{m}`" for m in modules)
        else:
            names = f"`{modules}` ({', '.join(_submodules(modules))})"
        rows.append(f"| [{title}](api/{page}.md) | {names} |")
    pages[ROOT / "book" / "api.md"] = API_INTRO + "\n".join(rows) + "\n"
    return pages


def task_api(args: list[str]) -> int:
    for path, text in api_pages().items():
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
        _say(f"wrote {path.relative_to(ROOT)}")
    return 0


def repository() -> tuple[str, str]:
    """``(url, branch)`` of the book's repository. The one place they are set is the
    ``repository:`` section of ``_config.yml`` (the site's buttons read it there); the
    notebooks' install cell and ``CITATION.cff`` are checked against it by the tests."""
    import re

    match = re.search(r"^repository:\n  url: (\S+)\n  branch: (\S+)$", (ROOT / "_config.yml").read_text(), re.M)
    if match is None:
        raise SystemExit("_config.yml has no `repository:` section with `url:` and `branch:` lines")
    return match.group(1), match.group(2)


def chapter_sources() -> list[Path]:
    """The chapters written as notebooks: ``book/*.md`` files with a Jupyter kernel in their header."""
    return sorted(p for p in (ROOT / "book").glob("*.md") if "\nkernelspec:" in p.read_text().split("\n---", 1)[0])


INSTALL_CELL = """\
# Colab and other hosted notebooks: get the book and install c2f_utils when it is missing.
# (Not part of the book's pages; where c2f_utils is installed, nothing happens.)
# The package alone: this kernel already runs the notebook, so neither the `run` extra nor any
# kernel package (ipykernel, ipywidgets, nbformat) is installed, and the host's pinned ones stay.
import importlib.util
import os
import subprocess
import sys

if importlib.util.find_spec("c2f_utils") is None:
    subprocess.check_call(["git", "clone", "--quiet", "--depth", "1", "-b", "{branch}", "{url}", "coarse-to-fine"])
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", "-e", "coarse-to-fine"])
    sys.path.insert(0, os.path.abspath("coarse-to-fine"))  # importable without restarting the kernel
"""


_EXERCISE = re.compile(r"^```\{(exercise|solution)\}[^\n]*\n((?::[\w-]+:[^\n]*\n)*)\n?(.*?)^```[ \t]*$", re.M | re.S)


def classroom(markdown: str, numbers: dict[str, int], *, student: bool = False) -> str:
    """A chapter's Markdown cell as a notebook shows it: each ``{exercise}`` block becomes a
    heading "Exercise N" with its text, each ``{solution}`` a collapsed ``<details>`` block
    ("Solution to exercise N"), or nothing in a ``student`` copy. ``numbers`` maps the
    exercises' labels to their numbers and is filled as exercises are met (one dict per
    chapter, so that numbering runs across cells). Jupyter renders neither directive: left
    as they are, the solutions would sit in plain view under their exercises."""

    def replace(match: re.Match[str]) -> str:
        kind, options, body = match.group(1), match.group(2), match.group(3).strip("\n")
        label = re.search(r"^:label:\s*(\S+)", options, re.M)
        if kind == "exercise":
            number = numbers[label.group(1) if label else f"#{len(numbers)}"] = len(numbers) + 1
            return f"#### Exercise {number}\n\n{body}"
        target = match.group(0).split("\n", 1)[0].removeprefix("```{solution}").strip()
        if student:
            return ""
        title = f"Solution to exercise {numbers[target]}" if target in numbers else "Solution"
        return f"<details>\n<summary>{title}</summary>\n\n{body}\n\n</details>"

    return re.sub(r"\n{3,}", "\n\n", _EXERCISE.sub(replace, markdown)).strip("\n")


def notebook_copies(*, student: bool = False) -> dict[Path, str]:
    """``book/<chapter>.ipynb`` for every chapter, as jupytext writes it from the ``.md``
    source (no outputs), with a first cell that installs ``c2f_utils`` where it is missing
    (tagged ``remove-cell``) and the exercises as numbered headings with collapsed solutions
    (:func:`classroom`). The launch buttons of the site open these copies: Colab cannot read
    a MyST Markdown notebook. ``student``: copies without the solutions, for a workshop, at
    ``_build/student/<chapter>.ipynb``."""
    import jupytext
    import nbformat

    url, branch = repository()
    copies = {}
    for source in chapter_sources():
        notebook = jupytext.read(source)
        numbers: dict[str, int] = {}
        for cell in notebook.cells:
            if cell.cell_type == "markdown" and "```{" in cell.source:
                cell.source = classroom(cell.source, numbers, student=student)
        notebook.cells = [c for c in notebook.cells if c.cell_type != "markdown" or c.source.strip()]
        install = nbformat.v4.new_code_cell(INSTALL_CELL.format(url=url, branch=branch).rstrip("\n"))
        install.metadata["tags"] = ["remove-cell"]
        notebook.cells.insert(0, install)
        for i, cell in enumerate(notebook.cells):
            cell.id = f"{source.stem}-{i}"  # stable ids: regenerating changes nothing
        notebook.metadata.pop("jupytext", None)
        target = ROOT / "_build" / "student" / f"{source.stem}.ipynb" if student else source.with_suffix(".ipynb")
        copies[target] = jupytext.writes(notebook, fmt="ipynb")
    return copies


def task_notebooks(args: list[str]) -> int:
    ensure_env()
    if Path(sys.prefix).resolve() != VENV.resolve():  # jupytext is in the environment
        return _run([PYTHON, __file__, "notebooks", *args])
    for path, text in notebook_copies(student="--student" in args).items():
        if not path.is_file() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            _say(f"wrote {path.relative_to(ROOT)}")
    return 0


LAB_OVERRIDES = {
    "@jupyterlab/docmanager-extension:plugin": {
        "defaultViewers": {"markdown": "Jupytext Notebook", "myst": "Jupytext Notebook"}
    }
}


def task_lab(args: list[str]) -> int:
    """JupyterLab (the ``lab`` extra) on ``book/``: a chapter's ``.md`` source opens as a
    notebook (jupytext's viewer is made the default for Markdown in this environment's
    JupyterLab settings), and saving it writes the ``.md`` back."""
    import json

    ensure_env()
    if not (BIN / "jupyter-lab").exists():
        code = _run([PYTHON, "-m", "pip", "install", "--quiet", "-e", ".[run,book,dev,cluster,lab]", "-c", LOCK.name])
        if code:
            return code
    overrides = VENV / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    overrides.parent.mkdir(parents=True, exist_ok=True)
    overrides.write_text(json.dumps(LAB_OVERRIDES, indent=2))
    return _run([BIN / "jupyter-lab", "--notebook-dir", ROOT / "book", *args])


def task_lock(args: list[str]) -> int:
    """Regenerate ``requirements-lock.txt`` with uv: the versions stay as locked unless
    ``--upgrade`` (everything) or ``--upgrade-package NAME`` is given; the environment
    follows at the next task. Changing torch, numpy, scikit-learn or POT changes every run's
    cache key (:func:`c2f_utils.experiments.library_versions`): re-record the real profiles."""
    ensure_env()
    return _run([BIN / "uv", *LOCK_COMMAND, *args])


def main(argv: list[str]) -> int:
    tasks = {
        "test": task_test,
        "book": task_book,
        "lint": task_lint,
        "digests": task_digests,
        "api": task_api,
        "notebooks": task_notebooks,
        "lab": task_lab,
        "lock": task_lock,
        "env": lambda _: ensure_env() or 0,
    }
    if not argv or argv[0] not in tasks:
        print(__doc__)
        return 2
    return tasks[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
