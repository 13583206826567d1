"""Every registered chapter: its notebook, its declared parameters, its plan."""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import pytest
import yaml

from c2f_utils import chapters
from c2f_utils.experiments import PROFILES

ROOT = Path(__file__).resolve().parents[1]
NAMES = sorted(chapters.load_all())


def _parameters_cell(name: str) -> str:
    nb = jupytext.read(chapters.get(name).source_path(ROOT / "book"))
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{name}: expected one cell tagged 'parameters'"
    return cells[0].source


def test_registry() -> None:
    assert "setting" in NAMES
    with pytest.raises(KeyError, match="nope"):
        chapters.get("nope")


@pytest.mark.parametrize("name", NAMES)
def test_chapter_is_in_the_toc_and_its_parameters_cell_declares_exactly_its_parameters(name: str) -> None:
    chapter = chapters.get(name)
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    assert f"book/{chapter.source.removesuffix('.md')}" in files
    source = _parameters_cell(name)
    assigned = {
        line.split("=")[0].strip(): line.split("=", 1)[1].strip() for line in source.splitlines() if "=" in line
    }
    # `profile` and `overrides` (parameter name -> value, what papermill injects): every value comes
    # from the profile unless given
    assert assigned == {"profile": '"quick"', "overrides": "{}"}
    # every EXPERIMENT.FIELD name the chapter's text shows is a parameter: grep leads to its field
    text = chapter.source_path(ROOT / "book").read_text()
    dotted = set(re.findall(r"`-p ([a-z0-9_]+\.[a-z0-9_]+) ", text)) | set(
        re.findall(r'"([a-z0-9_]+\.[a-z0-9_]+)": ', text)
    )
    assert dotted <= set(chapter.parameters)


@pytest.mark.parametrize("name", NAMES)
def test_notebook_configures_from_its_namespace_and_calls_no_private_function(name: str) -> None:
    chapter = chapters.get(name)
    nb = jupytext.read(chapter.source_path(ROOT / "book"))
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert f"{name}.CHAPTER.from_namespace(globals())" in code
    private = [w for w in code.replace("(", " ").replace(")", " ").split() if "._" in w and not w.startswith("#")]
    assert private == []


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("profile", PROFILES)
def test_every_profile_plans_and_validates(name: str, profile: str, tmp_path: Path) -> None:
    chapter = chapters.get(name)
    if profile not in chapter.profiles:
        with pytest.raises(ValueError, match=profile):
            chapter.configure(profile)
        return
    records = chapter.configure(profile).plan_records(cache_dir=str(tmp_path))
    assert records and all(not r["cached"] for r in records)
    assert len({(r["experiment"], r["key"]) for r in records}) == len(records)
