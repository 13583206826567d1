"""Typed experiments, grids and chapters: validation, parameter derivation, plans."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest
from pydantic import TypeAdapter

from c2f_utils import identity
from c2f_utils.experiments import (
    Chapter,
    Experiment,
    Grid,
    ParamInfo,
    check_value,
    param,
    parse_text,
    plural,
    type_adapter,
)

SCALE = {"ce": 1.0, "ls": 0.5}  # a module constant the run reads: part of its key


@dataclass(frozen=True)
class Toy(Experiment):
    name: ClassVar[str] = "test.toy"
    component_fields: ClassVar[dict[str, dict[str, tuple[str, ...]]]] = {"loss": {"ls": ("losses.smoothing",)}}
    seed: int = param("seed", ge=0)
    lr: float = param("learning rate", gt=0, le=1)
    loss: str = param("loss", choices=("ce", "ls"))
    widths: tuple[int, ...] = param("hidden widths", ge=1)
    pair: tuple[float, ...] = param("a range", length=2)
    device: str = param("device", device=True)
    verbose: bool = param("print", default=False)

    def run(self) -> dict[str, float]:
        return {"score": SCALE[self.loss] * self.lr * (self.seed + 1)}


@dataclass(frozen=True)
class Student(Experiment):
    name: ClassVar[str] = "test.student"
    uses: ClassVar[tuple[str, ...]] = ("train", "losses.fierce")
    teacher: Toy = param("the teacher run")
    seed: int = param("seed", ge=0)

    def run(self) -> dict[str, float]:
        return {"score": self.teacher.cached().metrics["score"] + self.seed}


def toy(**changes) -> Toy:
    base = {"seed": 0, "lr": 0.1, "loss": "ce", "widths": [8, 4], "pair": (0, 1), "device": "cpu"}
    return Toy(**{**base, **changes})


def test_values_are_validated_and_normalised() -> None:
    t = toy(lr=1, seed=np.int64(3), widths=np.array([2, 3]))
    assert t.lr == 1.0 and isinstance(t.lr, float) and t.seed == 3 and type(t.seed) is int
    assert t.widths == (2, 3) and t.pair == (0.0, 1.0)
    assert t.params() == {
        "seed": 3,
        "lr": 1.0,
        "loss": "ce",
        "widths": [2, 3],
        "pair": [0.0, 1.0],
        "device": "cpu",
        "verbose": False,
    }


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        ({"seed": -1}, ValueError, r"`seed` in \[0"),
        ({"seed": 1.5}, TypeError, "`seed`"),
        ({"seed": True}, TypeError, "`seed`"),
        ({"lr": 0.0}, ValueError, r"`lr` in \(0"),
        ({"lr": float("nan")}, ValueError, "`lr`"),
        ({"lr": "0.1"}, TypeError, "`lr`"),
        ({"loss": "mse"}, ValueError, "`loss`.*'mse'"),
        ({"widths": [4, 0]}, ValueError, r"`widths\[1\]`"),
        ({"widths": "8"}, TypeError, "`widths`"),
        ({"pair": (0, 1, 2)}, ValueError, "`pair`.*2 elements"),
        ({"device": "gpu"}, ValueError, "`device`.*'gpu'"),
        ({"verbose": "no"}, TypeError, "`verbose`"),
    ],
)
def test_bad_values_name_the_field(changes: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        toy(**changes)


@pytest.mark.parametrize("device", ["cpu", "cuda", "cuda:1", "mps", "auto"])
def test_device_strings(device: str) -> None:
    assert toy(device=device).device == device


def test_command_line_parsing() -> None:
    assert parse_text("x", "0,1,2", tuple[int, ...]) == [0, 1, 2]
    assert parse_text("x", "[0.5, 1]", tuple[float, ...]) == [0.5, 1]
    assert parse_text("x", "off", bool) is False
    with pytest.raises(TypeError, match="`x`"):
        parse_text("x", "maybe", bool)
    with pytest.raises(TypeError, match="`x`"):
        parse_text("x", "three", int)


def test_fields_are_validated_by_pydantic_strictly() -> None:
    """Each declared field is one pydantic adapter; strict, so a value is never converted into another
    one of the run's key (a bool is not an integer, 0 is not False, a string is not a number)."""
    flag = ParamInfo("a flag", choices=(False, True))
    assert isinstance(type_adapter(bool, flag), TypeAdapter) and type_adapter(bool, flag) is type_adapter(bool, flag)
    assert check_value("flag", np.bool_(True), bool, flag) is True
    with pytest.raises(TypeError, match="`flag` to be true or false, got 0"):
        check_value("flag", 0, bool, flag)
    count = ParamInfo("a count", choices=(1, 2))
    with pytest.raises(TypeError, match="`count` to be an integer, got True"):
        check_value("count", True, int, count)
    with pytest.raises(ValueError, match=r"`count` to be one of \[1, 2\], got 3"):
        check_value("count", 3, int, count)
    rates = ParamInfo("rates", gt=0)
    assert check_value("rates", range(1, 3), tuple[float, ...], rates) == (1.0, 2.0)
    with pytest.raises(TypeError, match=r"`rates\[1\]` to be a number, got '2'"):
        check_value("rates", [1, "2"], tuple[float, ...], rates)
    with pytest.raises(TypeError, match="`rates` to be a list of float"):
        check_value("rates", {1.0, 2.0}, tuple[float, ...], rates)
    with pytest.raises(TypeError, match="`teacher` to be a Toy, got 3"):
        check_value("teacher", 3, Toy, ParamInfo("the teacher run"))


def test_plural() -> None:
    assert [plural(w) for w in ("seed", "criterion", "alpha", "loss")] == ["seeds", "criteria", "alphas", "losses"]


def test_grid_runs_are_the_product_in_order() -> None:
    grid = Grid(toy(), sweep={"seed": (0, 1), "loss": ("ce", "ls")})
    assert [(r.seed, r.loss) for r in grid.runs()] == [(0, "ce"), (0, "ls"), (1, "ce"), (1, "ls")]
    with pytest.raises(ValueError, match="`lr`"):
        Grid(toy(), sweep={"lr": (0.1, -1.0)})
    with pytest.raises(ValueError, match="nope"):
        Grid(toy(), sweep={"nope": (1,)})
    assert Grid(toy(), sweep={"seed": ()}).runs() == []  # an experiment a profile skips


def _chapter(**quick_changes) -> Chapter:
    return Chapter(
        "toy",
        "toy.md",
        "Toy",
        profiles={
            "quick": {
                "a": Grid(toy(**quick_changes), sweep={"seed": (0, 1, 2)}, group="a", fixed=("pair", "verbose")),
                "b": Grid(toy(lr=0.5), sweep={"seed": (0, 1, 2), "loss": ("ce", "ls")}, group="b", fixed=("pair",)),
            },
            "paper": {
                "a": Grid(toy(lr=0.2), sweep={"seed": (0,)}, group="a", fixed=("pair", "verbose")),
                "b": Grid(toy(lr=0.2), sweep={"seed": (0,), "loss": ("ce",)}, group="b", fixed=("pair",)),
            },
        },
        shared=("seed", "device"),
    )


def test_parameters_are_derived_from_the_grids() -> None:
    chapter = _chapter()
    assert set(chapter.parameters) == {
        "seeds",
        "device",
        "a.lr",
        "a.loss",
        "a.widths",
        "b.lr",
        "b.losses",
        "b.widths",
        "b.verbose",
    }
    assert chapter.parameters["seeds"].targets == (("a", "seed"), ("b", "seed"))
    assert chapter.parameters["a.lr"].values == {"quick": 0.1, "paper": 0.2}
    assert chapter.parameters["b.losses"].type_name == "list[str]"
    lines = "\n".join(chapter.describe())
    assert "a.lr (float; in (0, 1]; quick=0.1, paper=0.2)" in lines and "one of ['ce', 'ls']" in lines


def test_a_grid_can_own_a_shared_field_under_its_group_s_name() -> None:
    grids = {
        "a": Grid(toy(), sweep={"seed": (0, 1, 2)}, group="a", fixed=("pair", "verbose")),
        "b": Grid(toy(), sweep={"seed": (0, 1, 2, 3, 4)}, group="b", fixed=("pair", "verbose"), own=("seed",)),
    }
    chapter = Chapter("toy", "toy.md", "Toy", profiles={"quick": grids}, shared=("seed", "device"))
    assert chapter.parameters["seeds"].targets == (("a", "seed"),)
    assert chapter.parameters["b.seeds"].values == {"quick": [0, 1, 2, 3, 4]}
    config = chapter.configure("quick", {"b.seeds": [7, 8]})
    assert [r.seed for r in config.runs("a")] == [0, 1, 2] and [r.seed for r in config.runs("b")] == [7, 8]
    assert chapter.smoke_values("quick")["b.seeds"] == [0] and chapter.smoke_values("quick")["seeds"] == [0]
    with pytest.raises(ValueError, match="nope"):
        Grid(toy(), own=("nope",))


def test_own_only_prefixes_only_the_grid_s_own_fields() -> None:
    """OT's L2 grid: its own strengths beside the widths every run shares."""
    grids = {
        "all": Grid(toy(), sweep={"lr": (0.1, 0.2)}, fixed=("pair", "verbose")),
        "l2": Grid(
            toy(loss="ls"), {"lr": (0.01,)}, "l2", fixed=("loss", "pair", "verbose"), own=("lr",), own_only=True
        ),
    }
    chapter = Chapter("toy", "toy.md", "Toy", profiles={"quick": grids}, shared=("seed", "device"))
    assert chapter.parameters["widths"].targets == (("all", "widths"), ("l2", "widths"))
    assert chapter.parameters["l2.lrs"].targets == (("l2", "lr"),)
    assert chapter.parameters["lrs"].targets == (("all", "lr"),)
    config = chapter.configure("quick", {"widths": [3], "l2.lrs": [0.5]})
    assert {r.widths for r in config.runs("all") + config.runs("l2")} == {(3,)}
    assert [r.lr for r in config.runs("l2")] == [0.5] and [r.lr for r in config.runs("all")] == [0.1, 0.2]
    with pytest.raises(ValueError, match="own_only"):
        Grid(toy(), own_only=True)
    with pytest.raises(TypeError, match="own_only"):
        Grid(toy(), group="g", own=("seed",), own_only=1)


def test_shared_parameter_with_two_values_in_one_profile_is_an_error() -> None:
    with pytest.raises(ValueError, match="device"):
        _chapter(device="cuda")


def test_configure_applies_overrides_to_every_target() -> None:
    config = _chapter().configure("quick", {"a.lr": 0.3, "b.losses": ["ls"]}, seeds=[5, 6], device="cuda:0")
    a, b = config.runs("a"), config.runs("b")
    assert [r.seed for r in a] == [5, 6] and {r.lr for r in a} == {0.3}
    assert [(r.seed, r.loss) for r in b] == [(5, "ls"), (6, "ls")] and {r.lr for r in b} == {0.5}
    assert {r.device for r in a + b} == {"cuda:0"}
    assert config["seeds"] == [5, 6] and config["a.lr"] == 0.3 and config.values["profile"] == "quick"


@pytest.mark.parametrize(
    ("profile", "given", "error", "match"),
    [
        ("quick", {"a.lr": 2.0}, ValueError, "`a.lr`"),
        ("quick", {"seeds": []}, ValueError, "`seeds`"),
        ("quick", {"seeds": [0, -1]}, ValueError, r"`seeds\[1\]`"),
        ("quick", {"lr": 0.1}, KeyError, "Unknown parameter.*'lr'"),
        ("real", {}, ValueError, "profile.*'real'"),
        ("fast", {}, ValueError, "profile.*'fast'"),
    ],
)
def test_configure_rejects_bad_values(profile: str, given: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        _chapter().configure(profile, **given)


def test_from_namespace_reads_profile_and_overrides_and_rejects_names_the_chapter_lacks() -> None:
    import math

    chapter = _chapter()
    namespace = {"profile": "paper", "overrides": {"a.lr": 0.4}, "math": math, "In": [], "_": 1, "f": print}
    config = chapter.from_namespace(namespace)
    assert config.profile == "paper" and config["a.lr"] == 0.4 and config["seeds"] == [0]
    with pytest.raises(KeyError, match=r"'a\.lrr'.*did you mean 'a\.lr'"):
        chapter.from_namespace({**namespace, "overrides": {"a.lrr": 0.4}})
    with pytest.raises(KeyError, match=r"'a_lrr' \(did you mean 'a\.lr'\?\)"):  # a former global, misspelt
        chapter.from_namespace({**namespace, "a_lrr": 0.4})
    with pytest.raises(TypeError, match="`overrides`"):
        chapter.from_namespace({**namespace, "overrides": [("a.lr", 0.4)]})


def test_from_namespace_can_run_again_after_later_cells_made_globals() -> None:
    """The configuration cell run a second time (after editing a parameter) sees `config`, figures and
    an install cell's leftovers among the globals: it reads the parameters only."""
    chapter = _chapter()
    namespace = {"profile": "quick", "overrides": {"a.lr": 0.4}, "clone": ["git", "clone"], "table": [1, 2]}
    namespace["config"] = chapter.from_namespace(namespace)
    namespace["overrides"] = {"a.lr": 0.3}
    again = chapter.from_namespace(namespace)
    assert again["a.lr"] == 0.3 and again.profile == "quick"


def test_former_names_are_read_with_a_warning_naming_the_new_one() -> None:
    """`a_lr` (group, underscore, field) was the name before `a.lr`: configurations, notebooks of the
    former kind (a global per parameter) and committed manifests still read it."""
    chapter = _chapter()
    assert chapter.aliases["a_lr"] == "a.lr" and chapter.aliases["b_losses"] == "b.losses"
    assert "seeds" not in chapter.aliases  # a shared name did not change
    with pytest.warns(FutureWarning, match="'a_lr' of chapter 'toy' is now named 'a.lr'"):
        config = chapter.configure("quick", a_lr=0.3)
    assert config["a.lr"] == 0.3 and "a_lr" not in config.values
    with pytest.warns(FutureWarning, match="'a.lr'"):
        assert config["a_lr"] == 0.3
    with pytest.warns(FutureWarning) as caught:
        legacy = chapter.from_namespace({"profile": "quick", "seeds": None, "a_lr": 0.3, "b_widths": None})
    assert [str(w.message).split(" ")[:3] for w in caught] == [
        ["Parameters", "as", "globals"],
        ["Parameter", "'a_lr'", "of"],
    ]
    assert legacy.values == config.values
    assert chapter.canonical({"b_losses": ["ls"], "seeds": [0]}, warn=False) == {"b.losses": ["ls"], "seeds": [0]}
    with pytest.raises(ValueError, match=r"'a\.lr' of chapter 'toy' once"):
        chapter.canonical({"a_lr": 0.3, "a.lr": 0.3}, warn=False)
    with pytest.raises(KeyError, match=r"Unknown parameter\(s\) \['a\.lrate'\].*did you mean 'a\.lr'"):
        chapter.configure("quick", {"a.lrate": 0.3})


def test_plan_lists_required_runs_first_once(tmp_path) -> None:
    teacher = toy(seed=1)
    chapter = Chapter(
        "students",
        "s.md",
        "S",
        profiles={"quick": {"s": Grid(Student(teacher, 0), sweep={"seed": (0, 1)}, fixed=("teacher",))}},
    )
    config = chapter.configure()
    plan = config.plan()
    assert [type(e).__name__ for _, e in plan] == ["Toy", "Student", "Student"]
    records = config.plan_records(cache_dir=str(tmp_path))
    assert not any(r["cached"] for r in records)
    assert records[1]["params"]["teacher"] == {"experiment": "test.toy", "params": teacher.params()}
    result = config.runs("s")[1].cached(cache_dir=str(tmp_path))
    assert result.metrics["score"] == pytest.approx(0.1 * 2 + 1)
    assert [r["cached"] for r in config.plan_records(cache_dir=str(tmp_path))] == [False, False, True]


def test_key_depends_on_parameters_and_experiment() -> None:
    assert toy().key() == toy().key()
    assert toy().key() != toy(seed=1).key()
    assert toy(widths=[8, 4]).key() == toy(widths=(8, 4)).key()


def test_a_run_declares_its_components_and_those_of_the_runs_it_requires() -> None:
    assert Toy.version == 1 and toy().components() == ()
    assert toy(loss="ls").components() == ("losses.smoothing",)  # selected by the field's value
    assert Student(toy(loss="ls"), 0).components() == ("losses.fierce", "losses.smoothing", "train")
    student = Student(toy(), 0)
    assert student.components() == ("losses.fierce", "train")
    declared = student.declaration()
    assert declared["components"] == {"losses.fierce": identity.COMPONENTS["losses.fierce"], "train": 1}
    assert declared["requires"] == [{"experiment": "test.toy", **toy().declaration()}]


def test_a_followed_field_takes_the_other_grids_base_with_overrides() -> None:
    chapter = Chapter(
        "follow",
        "f.md",
        "F",
        profiles={
            "quick": {
                "teachers": Grid(toy(), sweep={"seed": (0, 1)}, group="t"),
                "students": Grid(Student(toy(), 0), sweep={"seed": (0, 1)}, follow={"teacher": "teachers"}),
            }
        },
    )
    assert "teacher" not in chapter.parameters
    students = chapter.configure("quick", {"t.lr": 0.7}).runs("students")
    assert {s.teacher.lr for s in students} == {0.7}
    with pytest.raises(ValueError, match="follow"):
        Chapter("bad", "b.md", "B", {"quick": {"s": Grid(Student(toy(), 0), follow={"teacher": "nope"})}})


def test_a_swept_parameter_refuses_repeated_values_on_every_path() -> None:
    chapter = _chapter()
    with pytest.raises(ValueError, match=r"distinct values in `seeds`, got \[0, 0, 0\] \(0 repeated\)"):
        chapter.configure("quick", seeds=[0, 0, 0])
    with pytest.raises(ValueError, match="distinct values in `seeds`"):
        chapter.from_namespace({"profile": "quick", "overrides": {"seeds": [1, 1]}})


@dataclass(frozen=True)
class ToyWithTags(Toy):
    """:class:`Toy` with fields added after its runs were recorded, omitted from the key at their defaults."""

    tag: str = param("a label", default="", omit_default=True)
    sizes: tuple[int, ...] = param("sizes", default=(1, 2), omit_default=True)
    strict: bool = param("check harder", default=False, omit_default=True)


def test_a_field_at_its_omitted_default_leaves_params_and_key_as_before() -> None:
    before = toy()
    after = ToyWithTags(**{f: getattr(before, f) for f in before.params()})
    assert after.params() == before.params()
    assert identity.run_key(Toy.name, after.params(), after.declaration()) == before.key()
    changed = after.replace(tag="mine", sizes=[3], strict=True)
    assert changed.params() == {**before.params(), "tag": "mine", "sizes": [3], "strict": True}
    assert changed.key() != after.key()
    assert after.replace(sizes=[1, 2]).params() == before.params()  # a list equal to the default is the default
    # a field not declared omit_default stays in params at its default, as every field did before
    assert toy().params()["verbose"] is False


def test_omit_default_needs_a_default() -> None:
    with pytest.raises(ValueError, match="Expected a `default` with omit_default=True"):
        param("no default", omit_default=True)
    with pytest.raises(TypeError, match="`omit_default` to be true or false"):
        param("flag", default=0, omit_default="yes")


def test_a_chapter_declares_no_parameter_at_an_omitted_default() -> None:
    """A committed manifest records what a profile declares: a parameter added later with
    omit_default is not part of it while it holds its default, as it is not part of a key."""
    base = ToyWithTags(**{f: getattr(toy(), f) for f in toy().params()})
    grid = Grid(base, {"seed": [0, 1]}, group="t", fixed=("pair", "device"))
    chapter = Chapter("tags", "tags.md", "Tags", {"quick": {"t": grid}})
    config = chapter.configure("quick")
    assert config["t.tag"] == "" and config["t.sizes"] == [1, 2]
    declared = config.declared_values()
    assert {"t.tag", "t.sizes", "t.strict"}.isdisjoint(declared) and declared["t.lr"] == 0.1
    assert set(config.values) - set(declared) == {"t.tag", "t.sizes", "t.strict"}
    changed = chapter.configure("quick", {"t.tag": "x", "t.sizes": [3]}).declared_values()
    assert changed["t.tag"] == "x" and changed["t.sizes"] == [3] and "t.strict" not in changed
    assert "t.verbose" in declared  # a field without omit_default is declared at its default
