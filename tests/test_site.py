"""The book's files around the code: notebook copies, the offline-site check, publishing metadata."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


tasks = _load("c2f_tasks", ROOT / "tasks.py")
offline = _load("c2f_offline", ROOT / "book" / "_ext" / "c2f_offline.py")


def test_every_chapter_has_an_up_to_date_notebook_copy() -> None:
    copies = tasks.notebook_copies()
    chapters = {"setting", "fierce", "ls_ib", "lls", "ot_transfer", "synthesis"}
    assert {p.stem for p in copies} == chapters | {"what_holds"}  # the generated summary page is a notebook too
    for path, text in copies.items():
        assert path.is_file(), f"{path.name} is missing: run python3 tasks.py notebooks"
        assert path.read_text() == text, f"{path.name} differs from its .md source: run python3 tasks.py notebooks"


def test_notebook_copies_install_the_package_first_and_hold_the_chapter_cells() -> None:
    import jupytext

    url, branch = tasks.repository()
    for path in tasks.notebook_copies():
        notebook = json.loads(path.read_text())
        first = notebook["cells"][0]
        assert first["metadata"]["tags"] == ["remove-cell"]
        source = "".join(first["source"])
        assert f'"{url}"' in source and f'"{branch}"' in source and 'find_spec("c2f_utils") is None' in source
        compile(source, path.name, "exec")  # plain Python: no IPython magic
        chapter = jupytext.read(path.with_suffix(".md"))
        code = ["".join(c["source"]) for c in notebook["cells"][1:] if c["cell_type"] == "code"]
        assert code == [c.source for c in chapter.cells if c.cell_type == "code"]
        assert all(c.get("outputs", []) == [] for c in notebook["cells"])


def _directives(text: str, kind: str) -> list[str]:
    """The bodies of a Markdown text's ``{kind}`` blocks (after their option lines)."""
    blocks = re.findall(r"^```\{" + kind + r"\}.*?\n(.*?)^```$", text, re.M | re.S)
    return [re.sub(r"^:[\w-]+:.*\n", "", b, flags=re.M).strip() for b in blocks]


def test_notebook_copies_show_exercises_as_headings_and_solutions_folded_or_absent_for_students() -> None:
    copies, student = tasks.notebook_copies(), tasks.notebook_copies(student=True)
    assert {p.name for p in student} == {p.name for p in copies}
    assert all(p.parent == ROOT / "_build" / "student" for p in student)
    total = 0
    for path, text in copies.items():
        source = path.with_suffix(".md").read_text()
        exercises, solutions = _directives(source, "exercise"), _directives(source, "solution")
        total += len(exercises)
        markdown = "\n".join("".join(c["source"]) for c in json.loads(text)["cells"] if c["cell_type"] == "markdown")
        pupil = "\n".join(
            "".join(c["source"])
            for c in json.loads(student[ROOT / "_build" / "student" / path.name])["cells"]
            if c["cell_type"] == "markdown"
        )
        assert "{exercise}" not in markdown and "{solution}" not in markdown, path.name  # Jupyter renders neither
        headings = re.findall(r"^#### Exercise (\d+)$", markdown, re.M)
        assert headings == [str(i + 1) for i in range(len(exercises))], path.name
        assert markdown.count("<details>") == len(solutions), path.name
        for body in exercises:
            assert body in markdown and body in pupil
        for body in solutions:
            assert body in markdown and body not in pupil  # a workshop copy gives nothing away
        assert "<details>" not in pupil
    assert total >= 18  # every chapter's exercises, as the issue counted them


def test_classroom_numbers_across_cells_and_names_the_solution_it_folds() -> None:
    numbers: dict[str, int] = {}
    first = tasks.classroom("```{exercise}\n:label: a\n\nDo A.\n```\n", numbers)
    second = tasks.classroom(
        "Text.\n\n```{exercise}\n:label: b\n\nDo B.\n```\n\n```{solution} a\n:class: dropdown\n\nA is.\n```\n",
        numbers,
    )
    assert first == "#### Exercise 1\n\nDo A."
    assert second == (
        "Text.\n\n#### Exercise 2\n\nDo B.\n\n"
        "<details>\n<summary>Solution to exercise 1</summary>\n\nA is.\n\n</details>"
    )
    assert tasks.classroom("```{solution} a\n\nA is.\n```", {"a": 1}, student=True) == ""


CONFIGURED = sorted(p for p in tasks.notebook_copies() if "from_namespace" in p.read_text())


def _stand_in(path: Path, log: Path, body: str = "") -> None:
    """An executable shell script that appends its name and arguments to ``log``, then runs ``body``."""
    path.write_text(f'#!/bin/sh\necho "$(basename "$0") $*" >> "{log}"\n{body}')
    path.chmod(0o755)


@pytest.mark.parametrize("path", CONFIGURED, ids=lambda p: p.stem)
def test_a_fresh_runtime_installs_then_runs_the_configuration_cell_twice(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Colab or Binder runtime without c2f_utils: the install cell takes its missing-package branch
    with stand-ins for git and pip first on PATH (shell scripts that record their arguments; git
    makes the clone's folder), then the parameters cell and the configuration cell run, and the
    configuration cell runs again, as a reader does after editing a parameter. Nothing the
    install cell leaves behind reaches the configuration."""
    cells = json.loads(path.read_text())["cells"]
    install = "".join(next(c for c in cells if c["cell_type"] == "code")["source"])
    bin_dir, log = tmp_path / "bin", tmp_path / "commands.txt"
    bin_dir.mkdir()
    _stand_in(bin_dir / "git", log, 'for last; do :; done\nmkdir -p "$last"\n')  # the clone's folder
    _stand_in(bin_dir / "pip", log)
    # the cell runs pip as `sys.executable -m pip`: an interpreter that hands `-m pip` to the pip on PATH
    interpreter = bin_dir / "python"
    interpreter.write_text('#!/bin/sh\n[ "$1" = -m ] && [ "$2" = pip ] && shift 2 && exec pip "$@"\nexit 1\n')
    interpreter.chmod(0o755)
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "c2f_utils" else find_spec(name, *a)
    )
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setattr(sys, "executable", str(interpreter))
    monkeypatch.setattr(sys, "path", list(sys.path))  # the cell's sys.path.insert is undone with the rest
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__main__"}
    exec(install, namespace)  # the install cell, missing-package branch
    url, branch = tasks.repository()
    assert log.read_text().splitlines() == [
        f"git clone --quiet --depth 1 -b {branch} {url} coarse-to-fine",
        "pip install --quiet -e coarse-to-fine",
    ]
    assert sys.path[0] == str(tmp_path / "coarse-to-fine") and (tmp_path / "coarse-to-fine").is_dir()
    monkeypatch.undo()
    params = next(i for i, c in enumerate(cells) if "parameters" in c["metadata"].get("tags", []))
    configure = next(i for i, c in enumerate(cells) if "from_namespace" in "".join(c["source"]))
    assert params < configure
    for cell in cells[params : configure + 1]:
        if cell["cell_type"] == "code":
            exec("".join(cell["source"]), namespace)
    first = namespace["config"]
    exec("".join(cells[configure]["source"]), namespace)  # again, with `config` (and the rest) now global
    assert namespace["config"].values == first.values


def test_repository_url_agrees_everywhere() -> None:
    url, _ = tasks.repository()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["urls"]["Source"] == url
    citation = (ROOT / "CITATION.cff").read_text()
    assert re.search(r'^repository-code: "(.+)"$', citation, re.M).group(1) == url
    owner, name = url.removeprefix("https://github.com/").split("/")
    site = f"https://{owner}.github.io/{name}/"  # GitHub Pages of the repository
    assert re.search(r"^  baseurl: (\S+)$", (ROOT / "_config.yml").read_text(), re.M).group(1) == site
    assert re.search(r'^url: "(.+)"$', citation, re.M).group(1) == site


def test_both_licences_are_files_and_in_the_citation() -> None:
    citation = (ROOT / "CITATION.cff").read_text()
    assert re.findall(r"^  - ([\w.-]+)  #", citation.split("\nlicense:\n", 1)[1], re.M)[:2] == ["MIT", "CC-BY-4.0"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    text = (ROOT / "LICENSE-text.md").read_text()
    assert "Creative Commons Attribution 4.0 International" in text and "CC BY 4.0" in text


def test_api_pages_are_generated_from_tasks() -> None:
    for path, text in tasks.api_pages().items():
        assert path.read_text() == text, f"{path.relative_to(ROOT)} is out of date: run python3 tasks.py api"
    index = (ROOT / "book" / "api.md").read_text()
    modules = [p.stem for p in (ROOT / "c2f_utils").glob("*.py") if not p.stem.startswith("_")]
    assert [m for m in modules if f"`{m}`" not in index] == []  # every public module has a page


def test_references_to_re_exported_names_resolve_where_they_are_documented() -> None:
    """The API pages document an object once, in the module that defines it; a chapter's reference
    to its re-exported name resolves there, data (a constant of a package) included."""
    xref = _load("c2f_xref", ROOT / "book" / "_ext" / "c2f_xref.py")
    assert xref.canonical("c2f_utils.report.VERDICTS", None) == "c2f_utils.report.policy.VERDICTS"
    assert xref.canonical("~c2f_utils.report.greater", None) == "c2f_utils.report.verdicts.greater"
    assert xref.canonical("c2f_utils.experiments.Chapter", None) == "c2f_utils.experiments.configuration.Chapter"
    assert xref.canonical("c2f_utils.runs.RESULTS_ENV", None) == "c2f_utils.runs.RESULTS_ENV"  # a module's own
    # a type alias imported into another module's signatures: documented where it is defined
    alias = xref.canonical("Regularizer", "c2f_utils.chapters.ot_transfer.compression")
    assert alias == "c2f_utils.chapters.ot_transfer.penalties.Regularizer"


def test_citation_lists_the_five_papers_and_the_package_version() -> None:
    citation = (ROOT / "CITATION.cff").read_text()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert re.search(r"^version: (\S+)$", citation, re.M).group(1) == pyproject["project"]["version"]
    for title in (
        "Preserving Fine-Grain Feature Information in Classification via Entropic Regularization",
        "Label Smoothing is a Pragmatic Information Bottleneck",
        "LLS: Regulating Neural Network Training via Learnable Label Smoothing",
        "Representation Transfer by Optimal Transport",
        "Régularisation entropique",
    ):
        assert title in citation


def _locked() -> dict[str, list[str]]:
    """Package -> locked versions (one per platform marker) in requirements-lock.txt."""
    from packaging.utils import canonicalize_name

    pins: dict[str, list[str]] = {}
    for line in (ROOT / "requirements-lock.txt").read_text().splitlines():
        if line and not line.startswith((" ", "#", "-")):
            name, version = line.split(";")[0].strip().split("==")
            pins.setdefault(canonicalize_name(name), []).append(version)
    return pins


def test_lock_pins_every_dependency_within_its_range() -> None:
    """pyproject.toml holds ranges, the lock one exact version of each package (per platform) inside them."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [*project["dependencies"], *(d for extra in project["optional-dependencies"].values() for d in extra)]
    locked = _locked()
    for text in declared:
        req = Requirement(text)
        assert not any(s.operator == "==" for s in req.specifier) or req.name == "ruff", f"{text}: a range, not a pin"
        versions = locked.get(canonicalize_name(req.name))
        assert versions, f"{req.name} is declared in pyproject.toml but not locked"
        assert all(req.specifier.contains(v, prereleases=True) for v in versions), f"{text}: locked {versions}"
    assert "requirements-lock.txt" in (ROOT / "tasks.py").read_text()


def test_binder_installs_the_locked_cpu_torch() -> None:
    post = (ROOT / "binder" / "postBuild").read_text()
    locked = _locked()
    assert locked["torch"] and locked["torchvision"]
    assert "/whl/cpu" in post and '"$(locked torch)" "$(locked torchvision)"' in post
    assert "-c requirements-lock.txt" in post


def _site(tmp_path: Path, pages: dict[str, str]) -> Path:
    for name, text in pages.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def test_external_assets_finds_what_a_page_loads_from_another_host(tmp_path: Path) -> None:
    site = _site(
        tmp_path,
        {
            "a.html": '<script defer src="https://cdn.example/x.js"></script><img src="local.png">'
            '<link rel="stylesheet" href="//fonts.example/f.css"><link rel="canonical" href="https://site/a.html">'
            '<a href="https://doi.org/10.1">paper</a><iframe src="http://video.example/v"></iframe>',
            "sub/b.html": '<script src="../_static/mathjax/tex-svg-full.js"></script>',
            "_static/s.css": "body { background: url('https://img.example/bg.png') } .x { src: url(fonts/a.woff2) }",
        },
    )
    assert offline.external_assets(site) == {
        "a.html": ["//fonts.example/f.css", "http://video.example/v", "https://cdn.example/x.js"],
        "_static/s.css": ["https://img.example/bg.png"],
    }


def test_external_assets_needs_a_built_site(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="html_dir"):
        offline.external_assets(tmp_path / "nothing")


def test_mathjax_is_installed_for_the_offline_site() -> None:
    folder = offline.mathjax_source()
    assert (folder / "es5" / offline.MATHJAX_FILE).stat().st_size > 1_000_000


def _mini_book(root: Path) -> None:
    for rel, text in {
        "c2f_utils/train.py": "x = 1\n",
        "c2f_utils/chapters/__init__.py": "",
        "c2f_utils/chapters/alpha.py": "a = 1\n",
        "c2f_utils/chapters/beta.py": "b = 1\n",
        "results/alpha/real/manifest.json": "{}",
    }.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    for name in ("alpha", "beta"):
        (root / "book").mkdir(exist_ok=True)
        (root / "book" / f"{name}.md").write_text("---\nkernelspec:\n  name: python3\n---\n\n# page\n")


def test_page_fingerprint_follows_the_library_its_chapter_and_its_results(tmp_path: Path, monkeypatch) -> None:
    _mini_book(tmp_path)
    monkeypatch.setattr(tasks, "ROOT", tmp_path)
    alpha, beta = tmp_path / "book" / "alpha.md", tmp_path / "book" / "beta.md"
    before = {p: tasks.page_fingerprint(p) for p in (alpha, beta)}
    (tmp_path / "c2f_utils" / "chapters" / "beta.py").write_text("b = 2\n")
    assert tasks.page_fingerprint(alpha) == before[alpha] and tasks.page_fingerprint(beta) != before[beta]
    (tmp_path / "results" / "alpha" / "real" / "manifest.json").write_text('{"runs": []}')
    assert tasks.page_fingerprint(alpha) != before[alpha]
    before = {p: tasks.page_fingerprint(p) for p in (alpha, beta)}
    (tmp_path / "c2f_utils" / "train.py").write_text("x = 2\n")
    assert all(tasks.page_fingerprint(p) != before[p] for p in (alpha, beta))


def test_page_fingerprint_of_a_chapter_package_follows_its_modules_only(tmp_path: Path, monkeypatch) -> None:
    _mini_book(tmp_path)
    for name in ("alpha", "beta"):  # chapters as packages: experiments + report
        (tmp_path / "c2f_utils" / "chapters" / f"{name}.py").unlink()
        for module in ("__init__", "experiments", "report"):
            path = tmp_path / "c2f_utils" / "chapters" / name / f"{module}.py"
            path.parent.mkdir(exist_ok=True)
            path.write_text(f"{module} = 1\n")
    monkeypatch.setattr(tasks, "ROOT", tmp_path)
    alpha, beta = tmp_path / "book" / "alpha.md", tmp_path / "book" / "beta.md"
    before = {p: tasks.page_fingerprint(p) for p in (alpha, beta)}
    (tmp_path / "c2f_utils" / "chapters" / "beta" / "report.py").write_text("report = 2\n")
    assert tasks.page_fingerprint(alpha) == before[alpha] and tasks.page_fingerprint(beta) != before[beta]
    before = {p: tasks.page_fingerprint(p) for p in (alpha, beta)}
    (tmp_path / "c2f_utils" / "chapters" / "__init__.py").write_text("registry = 1\n")
    assert all(tasks.page_fingerprint(p) != before[p] for p in (alpha, beta))
    before = {p: tasks.page_fingerprint(p) for p in (alpha, beta)}
    (tmp_path / "results" / "beta" / "real").mkdir(parents=True)
    (tmp_path / "results" / "beta" / "real" / "manifest.json").write_text("{}")
    assert tasks.page_fingerprint(alpha) == before[alpha] and tasks.page_fingerprint(beta) != before[beta]


def test_a_changed_chapter_leaves_the_execution_cache(tmp_path: Path, monkeypatch) -> None:
    import nbformat
    from jupyter_cache import get_cache

    _mini_book(tmp_path)
    monkeypatch.setattr(tasks, "ROOT", tmp_path)
    monkeypatch.setattr(tasks, "JUPYTER_CACHE", tmp_path / "_build" / ".jupyter_cache")
    monkeypatch.setattr(tasks, "PAGE_FINGERPRINTS", tmp_path / "_build" / ".c2f-page-fingerprints.json")
    monkeypatch.setattr(tasks, "PYTHON", Path(sys.executable))
    cache = get_cache(tasks.JUPYTER_CACHE)
    for name in ("alpha", "beta"):
        path = tmp_path / f"{name}.ipynb"
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"'{name}'")]), path)
        cache.cache_notebook_file(path, uri=str(tmp_path / "book" / f"{name}.md"), check_validity=False)
    fingerprints, changed = tasks.forget_changed_pages()  # no record of a previous build: both run again
    assert changed == ["alpha", "beta"] and cache.list_cache_records() == []
    for name in ("alpha", "beta"):
        uri = str(tmp_path / "book" / f"{name}.md")
        cache.cache_notebook_file(tmp_path / f"{name}.ipynb", uri=uri, check_validity=False)
    tasks.PAGE_FINGERPRINTS.write_text(json.dumps(fingerprints))
    assert tasks.forget_changed_pages()[1] == [] and len(cache.list_cache_records()) == 2
    (tmp_path / "c2f_utils" / "chapters" / "beta.py").write_text("b = 3\n")
    assert tasks.forget_changed_pages()[1] == ["beta"]
    assert [Path(r.uri).stem for r in cache.list_cache_records()] == ["alpha"]
