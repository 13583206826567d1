"""Chapter parameter specs: profiles, overrides, types, command-line parsing."""

from __future__ import annotations

import pytest

from c2f_utils import chapters
from c2f_utils.chapters import Param, setting


def test_profile_fills_defaults_and_explicit_values_override() -> None:
    quick = setting.SPEC.resolve("quick")
    paper = setting.SPEC.resolve("paper")
    assert quick["dataset"] == "digits" and paper["dataset"] == "mnist"
    assert quick["profile"] == "quick"
    got = setting.SPEC.resolve("paper", epochs=3, seeds=[7], dataset=None)
    assert got["epochs"] == 3 and got["seeds"] == [7] and got["dataset"] == "mnist"


def test_unknown_parameter_and_profile_are_errors() -> None:
    with pytest.raises(KeyError, match="epoch"):
        setting.SPEC.resolve("quick", epoch=3)
    with pytest.raises(ValueError, match="profile"):
        setting.SPEC.resolve("fast")


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("epochs", "3", TypeError),
        ("epochs", 2.5, TypeError),
        ("epochs", True, TypeError),
        ("seeds", 3, TypeError),
        ("seeds", [0, "1"], TypeError),
        ("dataset", "imagenet", ValueError),
    ],
)
def test_wrong_types_are_errors(name: str, value, error: type) -> None:
    with pytest.raises(error, match=name):
        setting.SPEC.resolve("quick", **{name: value})


def test_ints_are_accepted_as_floats() -> None:
    assert setting.SPEC.resolve("quick", lr=1)["lr"] == 1.0


@pytest.mark.parametrize(
    ("ptype", "text", "expected"),
    [
        ("int", "3", 3),
        ("float", "0.5", 0.5),
        ("bool", "true", True),
        ("bool", "0", False),
        ("str", "x", "x"),
        ("list[int]", "0,1,2", [0, 1, 2]),
        ("list[int]", "[3, 4]", [3, 4]),
        ("list[float]", "0.1, 1", [0.1, 1.0]),
    ],
)
def test_command_line_parsing(ptype: str, text: str, expected) -> None:
    assert Param(ptype, None, None, "").parse("p", text) == expected


@pytest.mark.parametrize(("ptype", "text"), [("int", "three"), ("float", "x"), ("bool", "maybe"), ("list[int]", "1,a")])
def test_command_line_parsing_errors_name_the_parameter(ptype: str, text: str) -> None:
    with pytest.raises(TypeError, match="`p`"):
        Param(ptype, None, None, "").parse("p", text)


def test_registry_and_sources_exist() -> None:
    spec = chapters.get("setting")
    assert spec is setting.SPEC and spec.source_path().is_file()
    with pytest.raises(KeyError, match="nope"):
        chapters.get("nope")
    with pytest.raises(ValueError, match="type"):
        Param("complex", 0, 0, "")


@pytest.mark.parametrize("name", sorted(chapters.load_all()))
def test_every_chapter_is_in_the_toc_and_declares_exactly_its_spec(name: str) -> None:
    import jupytext
    import yaml

    spec = chapters.get(name)
    toc = yaml.safe_load((spec.source_path().parent.parent / "_toc.yml").read_text())
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    assert f"book/{spec.source.removesuffix('.md')}" in files
    nb = jupytext.read(spec.source_path())
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1
    names = {line.split("=")[0].strip() for line in cells[0].source.splitlines() if "=" in line}
    assert names == {"profile", *spec.params}
    assert 'profile = "quick"' in cells[0].source
