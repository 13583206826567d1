"""Experiments as declared, typed, cached runs; chapters as grids of them.

An *experiment* is a frozen dataclass whose fields are exactly the arguments of one
run (with types, bounds and choices, declared once with :func:`param`) and whose
:meth:`Experiment.run` computes it. An instance is validated when it is made, so a
wrong value fails before anything trains, with a message naming the field and the
value. :meth:`Experiment.cached` runs it through :func:`c2f_utils.runs.cached_run`
under a key that depends on the experiment's name and declared ``version``, its
parameters, the declared versions of the components it uses (:meth:`Experiment.components`)
and the numerical libraries' versions, and on nothing else (:mod:`c2f_utils.identity`).

A *chapter* (:class:`Chapter`) names its notebook and, per profile (``quick``,
``real``, ``paper``), a :class:`Grid` per experiment group: a base instance and the
fields swept over (seeds, criteria, hyperparameter grids). The chapter's parameters
(the notebook's ``parameters`` cell, the runner's ``-p`` names, ``--list``) are
derived from these declarations by one rule, :meth:`Chapter.parameters`:

- a field swept in a grid becomes a list parameter named by the plural of the field
  (``seed`` -> ``seeds``), a fixed field a scalar parameter named by the field;
- unless the field is one of the chapter's ``shared`` names, the name is prefixed by
  the grid's group (``age_epochs`` sets ``epochs`` of every grid of group ``age``);
- fields listed in a grid's ``fixed`` are not parameters: the profile fixes them.

:meth:`Chapter.configure` applies a profile and overrides and returns a
:class:`Config`; :meth:`Config.plan` lists every run the chapter executes, in order,
before any of them runs (``python -m c2f_utils.run CHAPTER --plan``).

Why frozen dataclasses rather than pydantic models: they are in the standard library
(nothing to pin for readers), immutable and hashable (an experiment is a value: a
cache key, a plan entry), copied with validation by :func:`dataclasses.replace`, and
their fields are plain annotations that the parameter derivation reads directly; the
validation they need (types, bounds, choices, device strings) is the library's own, with
its messages naming the field and the value.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import itertools
import json
import math
import re
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

__all__ = [
    "PROFILES",
    "Chapter",
    "Config",
    "Experiment",
    "Grid",
    "ParamInfo",
    "Parameter",
    "check_value",
    "param",
    "parse_text",
    "plural",
]

PROFILES = ("quick", "real", "paper")
"""Profiles a chapter may implement (see ``book/running.md``)."""

_PACKAGE = __name__.rpartition(".")[0]
_DEVICE = re.compile(r"^(cpu|auto|mps|cuda(:\d+)?)$")
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
_PLURALS = {"criterion": "criteria", "analysis": "analyses", "index": "indices"}


# --------------------------------------------------------------------------- fields


@dataclass(frozen=True)
class ParamInfo:
    """Bounds, choices and help of one experiment field (``dataclasses.Field.metadata['c2f']``)."""

    help: str
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    choices: tuple[Any, ...] | None = None
    device: bool = False
    length: int | None = None
    omit_default: bool = False

    def describe(self) -> str:
        """``"in [0, 1)"``, ``"one of ['a', 'b']"``, ``"cpu, cuda[:N], mps or auto"`` or ``""``."""
        if self.choices is not None:
            return f"one of {list(self.choices)}"
        if self.device:
            return "cpu, cuda[:N], mps or auto"
        low = f"[{self.ge}" if self.ge is not None else (f"({self.gt}" if self.gt is not None else "")
        high = f"{self.le}]" if self.le is not None else (f"{self.lt})" if self.lt is not None else "")
        if not low and not high:
            return ""
        return f"in {low or '(-inf'}, {high or 'inf)'}"


def param(
    help: str,
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    choices: Sequence[Any] | None = None,
    device: bool = False,
    length: int | None = None,
    default: Any = dataclasses.MISSING,
    omit_default: bool = False,
) -> Any:
    """Declare an experiment field with its bounds (``ge``/``gt``/``le``/``lt``), ``choices``
    or ``device=True`` (``cpu``, ``cuda``, ``cuda:N``, ``mps``, ``auto``) and a ``help`` line.

    For tuple fields the bounds and choices apply to every element and ``length`` fixes
    the number of elements.

    ``omit_default=True`` (with a ``default``) leaves the field out of
    :meth:`Experiment.params`, and so out of the run's key, while it holds its default.
    It is the way to add a field to an experiment whose runs are recorded: when the
    default reproduces what the experiment computed before the field existed, the
    recorded runs keep their keys, and only a run that sets the field gets a new one.
    """
    if not isinstance(omit_default, bool):
        raise TypeError(f"Expected `omit_default` to be true or false, got {omit_default!r}")
    if omit_default and default is dataclasses.MISSING:
        raise ValueError(f"Expected a `default` with omit_default=True (field {help!r}), got none")
    info = ParamInfo(
        help, ge, gt, le, lt, tuple(choices) if choices is not None else None, device, length, omit_default
    )
    return field(default=default, metadata={"c2f": info})


def _element_type(annotation: Any) -> tuple[type, bool]:
    """``(int, True)`` for ``tuple[int, ...]``, ``(float, False)`` for ``float``."""
    if typing.get_origin(annotation) is tuple:
        return typing.get_args(annotation)[0], True
    return annotation, False


def _type_name(annotation: Any) -> str:
    base, many = _element_type(annotation)
    return f"list[{base.__name__}]" if many else base.__name__


def _check_scalar(name: str, value: Any, base: type, info: ParamInfo) -> Any:
    """Return ``value`` coerced to ``base`` (numpy scalars, ints as floats) or raise."""
    if isinstance(value, np.generic):
        value = value.item()
    if base is bool:
        if not isinstance(value, bool):
            raise TypeError(f"Expected `{name}` to be true or false, got {value!r}")
    elif base is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"Expected `{name}` to be an integer, got {value!r}")
    elif base is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"Expected `{name}` to be a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"Expected `{name}` to be a finite number, got {value!r}")
    elif base is str:
        if not isinstance(value, str):
            raise TypeError(f"Expected `{name}` to be a string, got {value!r}")
    else:  # a nested experiment
        if not isinstance(value, base):
            raise TypeError(f"Expected `{name}` to be a {base.__name__}, got {value!r}")
        return value
    if info.choices is not None and value not in info.choices:
        raise ValueError(f"Expected `{name}` to be one of {list(info.choices)}, got {value!r}")
    if info.device and not _DEVICE.match(value):
        raise ValueError(f"Expected `{name}` to be 'cpu', 'cuda', 'cuda:N', 'mps' or 'auto', got {value!r}")
    bad = (
        (info.ge is not None and value < info.ge)
        or (info.gt is not None and value <= info.gt)
        or (info.le is not None and value > info.le)
        or (info.lt is not None and value >= info.lt)
    )
    if bad:
        raise ValueError(f"Expected `{name}` {info.describe()}, got {value!r}")
    return value


def check_value(name: str, value: Any, annotation: Any, info: ParamInfo) -> Any:
    """Validate ``value`` for a field of type ``annotation``; tuples accept any sequence."""
    base, many = _element_type(annotation)
    if not many:
        return _check_scalar(name, value, base, info)
    if isinstance(value, str | bytes) or not isinstance(value, Sequence | np.ndarray):
        raise TypeError(f"Expected `{name}` to be a list of {base.__name__}, got {value!r}")
    items = tuple(_check_scalar(f"{name}[{i}]", v, base, info) for i, v in enumerate(value))
    if info.length is not None and len(items) != info.length:
        raise ValueError(f"Expected `{name}` to have {info.length} elements, got {value!r}")
    return items


def parse_text(name: str, text: str, annotation: Any) -> Any:
    """Parse a command-line value: ``"3"``, ``"0.1"``, ``"true"``, ``"0,1,2"`` or ``"[0, 1, 2]"``."""
    base, many = _element_type(annotation)
    if many:
        text = text.strip()
        try:
            parts = json.loads(text) if text.startswith("[") else [p.strip() for p in text.split(",") if p.strip()]
        except json.JSONDecodeError:
            raise ValueError(f"Expected `{name}` as 0,1,2 or [0, 1, 2], got {text!r}") from None
        return [parse_text(name, str(p), base) if not isinstance(p, bool | int | float) else p for p in parts]
    try:
        if base is int:
            return int(text)
        if base is float:
            return float(text)
    except ValueError:
        kind = "an integer" if base is int else "a number"
        raise TypeError(f"Expected `{name}` to be {kind}, got {text!r}") from None
    if base is bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise TypeError(f"Expected `{name}` to be true or false, got {text!r}")
    return text


def _fields(cls: type) -> dict[str, tuple[Any, ParamInfo]]:
    """Field name -> (resolved type, :class:`ParamInfo`) of an experiment class."""
    hints = typing.get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        info = f.metadata.get("c2f")
        if info is None:
            raise TypeError(f"Field `{f.name}` of {cls.__name__} must be declared with c2f_utils.experiments.param")
        out[f.name] = (hints[f.name], info)
    return out


def _field_default(cls: type, name: str) -> Any:
    """The declared default of field ``name`` of an experiment class (a tuple as the list a parameter holds)."""
    default = next(f.default for f in dataclasses.fields(cls) if f.name == name)
    return list(default) if isinstance(default, tuple) else default


# --------------------------------------------------------------------------- experiments


@dataclass(frozen=True)
class Experiment:
    """Base of every experiment: a frozen dataclass of one run's arguments.

    Subclasses set ``name`` (the cache folder, ``"chapter.experiment"``), declare their
    fields with :func:`param` and implement :meth:`run`. Values are validated (and
    sequences turned into tuples) when an instance is made.

    What a run declares, for its key (:meth:`declaration`), is set by class variables:
    ``version`` (1; bump it when what :meth:`run` computes from its components changes: it
    re-keys the class's runs), ``uses`` (the components every run of the class uses, names
    of :data:`c2f_utils.identity.COMPONENTS`) and ``component_fields`` (field -> value -> the
    components that value selects, ``{"model": {"resnet18": ("models.resnet",)}}``).
    """

    name: ClassVar[str] = ""
    version: ClassVar[int] = 1
    uses: ClassVar[tuple[str, ...]] = ()
    component_fields: ClassVar[Mapping[str, Mapping[Any, tuple[str, ...]]]] = {}

    def __post_init__(self) -> None:
        if not self.name:
            raise TypeError(f"{type(self).__name__} must set the class variable `name`")
        for fname, (annotation, info) in _fields(type(self)).items():
            object.__setattr__(self, fname, check_value(fname, getattr(self, fname), annotation, info))

    def run(self) -> Any:
        """Compute the run; returns a :class:`~c2f_utils.runs.RunOutput` or a dict of metrics."""
        raise NotImplementedError(f"{type(self).__name__} does not implement run()")

    def params(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict (nested experiments as ``{"name", "params"}``); a field
        declared with ``param(..., omit_default=True)`` is left out while it holds its default."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.metadata["c2f"].omit_default and value == f.default:
                continue
            if isinstance(value, Experiment):
                value = {"experiment": value.name, "params": value.params()}
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    def replace(self, **changes: Any) -> Experiment:
        """A validated copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def requires(self) -> list[Experiment]:
        """Runs this run reads (a teacher, a pretrained source); planned before it."""
        return [v for f in dataclasses.fields(self) if isinstance(v := getattr(self, f.name), Experiment)]

    def components(self) -> tuple[str, ...]:
        """The components this run uses (:data:`c2f_utils.identity.COMPONENTS`), sorted.

        The class's ``uses``; for each field named in ``component_fields``, the components
        its value selects (a criterion's loss, a model's architecture); ``data.<name>`` for
        the value of every field whose name ends in ``dataset``, when it names a declared
        dataset; and the components of the runs it requires.
        """
        from .identity import COMPONENTS

        out = set(self.uses)
        for fname, table in self.component_fields.items():
            out.update(table.get(getattr(self, fname), ()))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("dataset") and isinstance(value, str) and f"data.{value}" in COMPONENTS:
                out.add(f"data.{value}")
        for dep in self.requires():
            out.update(dep.components())
        return tuple(sorted(out))

    def declaration(self) -> dict[str, Any]:
        """What the run declares beyond its name and parameters (:func:`c2f_utils.identity.declaration`)."""
        from .identity import declaration

        requires = [{"experiment": dep.name, **dep.declaration()} for dep in self.requires()]
        return declaration(self.version, self.components(), requires)

    def key(self) -> str:
        """The run's cache key: name, parameters and :meth:`declaration` (:func:`c2f_utils.identity.run_key`)."""
        from .identity import run_key

        return run_key(self.name, self.params(), self.declaration())

    def source_files(self) -> list[Path]:
        """The source files whose code a run may execute: the experiment's module and the library's
        computing layers (for the provenance's :func:`~c2f_utils.identity.source_fingerprint`)."""
        package = Path(__file__).resolve().parent
        files = {Path(inspect.getfile(type(self))).resolve()}
        for layer in ("train.py", "models.py", "weights.py", "_checks.py"):
            files.add(package / layer)
        for family in ("data", "losses", "probes"):
            files.update((package / family).glob("*.py"))
        return sorted(files)

    def cached(self, *, cache_dir: str | None = None, force: bool = False):
        """The run's :class:`~c2f_utils.runs.RunResult`, computed or read from the cache."""
        from .identity import source_fingerprint
        from .runs import cached_run

        return cached_run(
            self.name,
            lambda **_: self.run(),
            self.params(),
            cache_dir=cache_dir,
            force=force,
            declared=self.declaration(),
            source=source_fingerprint(self.source_files()),
        )

    def data_needs(self) -> list[str]:
        """The datasets this run reads: the values of its ``dataset`` fields. The runner checks the
        files of those that are registered and not embedded (``--check-data``)."""
        names = [getattr(self, f.name) for f in dataclasses.fields(self) if f.name.endswith("dataset")]
        return [n for n in names if isinstance(n, str)]

    def check_data(self) -> list[str]:
        """Problems with files this run reads besides its registered datasets (weights, a folder of
        the user's); empty by default."""
        return []

    def is_cached(self, cache_dir: str | None = None) -> bool:
        """Whether a finished entry for this run is on disk (its checksums are checked on read)."""
        from .runs import entry_path

        return (entry_path(self.name, self.key(), cache_dir) / "record.json").is_file()


# --------------------------------------------------------------------------- grids and chapters


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def plural(name: str) -> str:
    """``seed`` -> ``seeds``, ``criterion`` -> ``criteria``, ``alpha`` -> ``alphas``."""
    return _PLURALS.get(name, name + ("es" if name.endswith(("s", "x")) else "s"))


@dataclass(frozen=True)
class Grid:
    """A base experiment and the fields it is swept over.

    Parameters
    ----------
    base : Experiment
        Values of the fields that are not swept (a swept field's base value is ignored).
    sweep : mapping
        Field -> the values it takes; runs are the product, in the order given. An
        empty sequence gives a grid with no runs (an experiment the profile skips);
        the parameter then accepts an empty list.
    group : str, optional
        Prefix of the chapter parameters that set this grid (grids sharing a group
        share their parameters); ``None``: no prefix.
    fixed : tuple of str
        Fields the profile fixes: not chapter parameters.
    follow : mapping
        Field -> id of another grid of the chapter: the field holds that grid's base
        experiment, overrides included (a student's teacher follows the teacher grid's
        recipe). Not chapter parameters.
    own : tuple of str
        Fields of the chapter's ``shared`` names that this grid does not share: their
        parameter is prefixed by the group all the same (a grid with its own seeds,
        ``unmix_seeds``, beside the ``seeds`` of the others).
    """

    base: Experiment
    sweep: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    group: str | None = None
    fixed: tuple[str, ...] = ()
    follow: Mapping[str, str] = field(default_factory=dict)
    own: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.base, Experiment):
            raise TypeError(f"Expected `base` to be an Experiment, got {self.base!r}")
        fields = _fields(type(self.base))
        for name in [*self.sweep, *self.fixed, *self.follow, *self.own]:
            if name not in fields:
                raise ValueError(
                    f"Expected a field of {type(self.base).__name__} in `sweep`/`fixed`/`follow`, got {name!r}"
                )
        checked = {}
        for name, values in self.sweep.items():
            annotation, info = fields[name]
            checked[name] = tuple(check_value(name, v, annotation, info) for v in values)
        object.__setattr__(self, "sweep", checked)
        object.__setattr__(self, "fixed", tuple(self.fixed))
        object.__setattr__(self, "own", tuple(self.own))
        object.__setattr__(self, "follow", dict(self.follow))

    def runs(self) -> list[Experiment]:
        """Every run of the grid: the base with each combination of the swept values."""
        names = list(self.sweep)
        return [
            self.base.replace(**dict(zip(names, combo, strict=True)))
            for combo in itertools.product(*self.sweep.values())
        ]


@dataclass(frozen=True)
class Parameter:
    """A chapter parameter: which grid fields it sets, its type, bounds and profile values."""

    name: str
    annotation: Any
    info: ParamInfo
    targets: tuple[tuple[str, str], ...]  # (grid id, field)
    values: Mapping[str, Any]  # profile -> value

    @property
    def type_name(self) -> str:
        """``"int"``, ``"list[float]"``... as ``--list`` shows it."""
        return _type_name(self.annotation)

    def check(self, value: Any) -> Any:
        """Return ``value`` validated (and normalised) for this parameter, else raise naming it."""
        out = check_value(self.name, value, self.annotation, self.info)
        if isinstance(out, tuple) and not out and [] not in self.values.values():
            raise ValueError(f"Expected at least one value for `{self.name}`, got {value!r}")
        if isinstance(out, tuple) and len(set(out)) != len(out):  # `seeds 0,0,0`: one run counted three times
            repeated = sorted({repr(v) for i, v in enumerate(out) if v in out[:i]})
            raise ValueError(
                f"Expected distinct values in `{self.name}`, got {list(out)} ({', '.join(repeated)} repeated)"
            )
        return out

    def parse(self, text: str) -> Any:
        """Parse and validate a command-line value (``"3"``, ``"0,1,2"``, ``"true"``)."""
        return self.check(parse_text(self.name, text, self.annotation))


class Chapter:
    """A chapter: its notebook source, and its experiment grids per profile.

    Parameters
    ----------
    name, source, title : str
        Runner name, MyST source under ``book/``, title.
    profiles : mapping
        Profile -> grid id -> :class:`Grid`. Every profile has the same grid ids.
    shared : tuple of str
        Fields whose parameter is not prefixed by the group (``seed``, ``device``...).
    """

    def __init__(
        self,
        name: str,
        source: str,
        title: str,
        profiles: Mapping[str, Mapping[str, Grid]],
        shared: Sequence[str] = ("seed", "device"),
    ) -> None:
        if not profiles or "quick" not in profiles:
            raise ValueError(f"Expected a 'quick' profile in `profiles`, got {list(profiles)}")
        for p in profiles:
            if p not in PROFILES:
                raise ValueError(f"Expected profiles among {list(PROFILES)}, got {p!r}")
        ids = [list(g) for g in profiles.values()]
        if any(i != ids[0] for i in ids):
            raise ValueError(f"Expected every profile of {name!r} to declare the same grids, got {ids}")
        for grids in profiles.values():
            for gid, grid in grids.items():
                for other in grid.follow.values():
                    if other not in grids or other == gid:
                        raise ValueError(f"Expected `follow` of grid {gid!r} to name another grid, got {other!r}")
        self.name, self.source, self.title = name, source, title
        self.profiles = {p: dict(g) for p, g in profiles.items()}
        self.shared = tuple(shared)
        self.parameters = self._derive_parameters()

    def __repr__(self) -> str:
        return f"Chapter({self.name!r}, profiles={list(self.profiles)}, parameters={list(self.parameters)})"

    def _param_name(self, grid: Grid, fname: str) -> str:
        shared = fname in self.shared and fname not in grid.own
        base = fname if (grid.group is None or shared) else f"{grid.group}_{fname}"
        return plural(base) if fname in grid.sweep else base

    def _derive_parameters(self) -> dict[str, Parameter]:
        found: dict[str, dict[str, Any]] = {}
        for profile, grids in self.profiles.items():
            for gid, grid in grids.items():
                for fname, (annotation, info) in _fields(type(grid.base)).items():
                    if fname in grid.fixed or fname in grid.follow:
                        continue
                    swept = fname in grid.sweep
                    pname = self._param_name(grid, fname)
                    value = list(grid.sweep[fname]) if swept else getattr(grid.base, fname)
                    if isinstance(value, Experiment):
                        raise TypeError(f"Field `{fname}` of grid {gid!r} holds an experiment: list it in `fixed`")
                    value = list(value) if isinstance(value, tuple) else value
                    ann = tuple[annotation, ...] if swept else annotation
                    entry = found.setdefault(pname, {"ann": ann, "info": info, "targets": [], "values": {}})
                    if entry["ann"] != ann or entry["info"] != info:
                        raise TypeError(f"Parameter {pname!r} of chapter {self.name!r} is declared twice differently")
                    if (gid, fname) not in entry["targets"]:
                        entry["targets"].append((gid, fname))
                    if entry["values"].setdefault(profile, value) != value:
                        raise ValueError(
                            f"Parameter {pname!r} of chapter {self.name!r} has two values in profile {profile!r}: "
                            f"{entry['values'][profile]!r} and {value!r} (give the grids different groups)"
                        )
        return {
            n: Parameter(n, e["ann"], e["info"], tuple(e["targets"]), e["values"]) for n, e in sorted(found.items())
        }

    def check_profile(self, profile: Any) -> str:
        """Return ``profile`` if this chapter implements it, else raise naming the profiles it has."""
        if profile not in self.profiles:
            raise ValueError(
                f"Expected `profile` to be one of {list(self.profiles)} for chapter {self.name!r}, got {profile!r}"
            )
        return profile

    def check_names(self, names: Sequence[str] | Mapping[str, Any]) -> None:
        """Raise ``KeyError`` naming every name that is not a parameter of this chapter."""
        unknown = [n for n in names if n not in self.parameters and n != "profile"]
        if unknown:
            raise KeyError(
                f"Unknown parameter(s) {unknown} for chapter {self.name!r}; "
                f"its parameters are profile, {', '.join(self.parameters)}"
            )

    def configure(self, profile: str = "quick", **given: Any) -> Config:
        """The profile's grids with the given (non-``None``) parameters applied, all validated."""
        self.check_profile(profile)
        self.check_names(given)
        values = {n: p.values.get(profile) for n, p in self.parameters.items()}
        grids = dict(self.profiles[profile])
        changes: dict[str, dict[str, Any]] = {}  # base fields per grid, applied at once (fields checked together)
        for pname, value in given.items():
            if value is None:
                continue
            par = self.parameters[pname]
            value = par.check(value)
            values[pname] = list(value) if isinstance(value, tuple) else value
            for gid, fname in par.targets:
                grid = grids[gid]
                if fname in grid.sweep:
                    grids[gid] = dataclasses.replace(grid, sweep={**grid.sweep, fname: value})
                else:
                    changes.setdefault(gid, {})[fname] = value
        for gid, fields in changes.items():
            grids[gid] = dataclasses.replace(grids[gid], base=grids[gid].base.replace(**fields))
        for gid, grid in grids.items():
            if grid.follow:
                followed = {fname: grids[other].base for fname, other in grid.follow.items()}
                grids[gid] = dataclasses.replace(grid, base=grid.base.replace(**followed))
        return Config(self, profile, grids, {"profile": profile, **values})

    def from_namespace(self, namespace: Mapping[str, Any]) -> Config:
        """:meth:`configure` from a notebook's globals after its ``parameters`` cell.

        Only the chapter's parameters (and ``profile``) are read, so the cell can be run again
        after later cells made globals of their own (``config``, a figure, an install cell's
        leftovers). A global whose name is one letter or two away from a parameter's
        (``a_lrr`` for ``a_lr``: a misspelt name injected by papermill) is an error that
        suggests the parameter, as it is in the runner.
        """
        names = [*self.parameters, "profile"]
        candidates = [
            k
            for k, v in namespace.items()
            if not k.startswith("_")
            and k not in names
            and not isinstance(v, types.ModuleType | type)
            and not callable(v)
        ]
        misspelt = {k: close[0] for k in candidates if (close := difflib.get_close_matches(k, names, n=1, cutoff=0.85))}
        if misspelt:
            hints = ", ".join(f"{k!r} (did you mean {v!r}?)" for k, v in misspelt.items())
            raise KeyError(f"Unknown parameter(s) {hints} for chapter {self.name!r}")
        given = {k: namespace[k] for k in self.parameters if k in namespace}
        return self.configure(namespace.get("profile", "quick"), **given)

    def source_path(self, book_dir: str | Path) -> Path:
        """Path of the chapter's MyST Markdown notebook under ``book_dir``."""
        return Path(book_dir) / self.source

    def smoke_values(self, profile: str) -> dict[str, Any]:
        """Parameter values that cut ``profile`` to a smoke run: one seed, one epoch.

        Every parameter named ``seeds`` (or ``*_seeds``) keeps its first value; every other swept numeric
        parameter (strengths, temperatures) keeps its first and last values (the two ends of a
        sweep, where code paths differ: 0 is often "off"); swept choices (criteria, methods)
        are all kept. Every integer parameter named ``epochs`` or ``*_epochs`` becomes 1 (0
        for a warm-up).
        With ``$C2F_SMOKE`` set, :func:`~c2f_utils.train.fit` also stops each epoch after a
        few batches (``c2f_utils.train.SMOKE_BATCHES``, 2).
        """
        self.check_profile(profile)
        out: dict[str, Any] = {}
        for name, par in self.parameters.items():
            value = par.values.get(profile)
            if (name == "seeds" or name.endswith("_seeds")) and isinstance(value, list) and value:
                out[name] = value[:1]
            elif isinstance(value, list) and len(value) > 2 and all(_is_number(v) for v in value):
                out[name] = [value[0], value[-1]]
            elif (name == "epochs" or name.endswith("_epochs")) and isinstance(value, int):
                out[name] = 0 if "warmup" in name else min(value, 1)
        return out

    def describe(self) -> Iterator[str]:
        """Lines for ``--list``: every parameter with type, bounds or choices and profile values."""
        yield f"{self.name}: {self.title} (book/{self.source}); profiles: {', '.join(self.profiles)}"
        for p in self.parameters.values():
            allowed = p.info.describe()
            values = ", ".join(f"{k}={v!r}" for k, v in p.values.items())
            yield f"  {p.name} ({p.type_name}{'; ' + allowed if allowed else ''}; {values}): {p.info.help}"


@dataclass(frozen=True)
class Config:
    """A chapter configured for one profile and overrides: its grids and parameter values."""

    chapter: Chapter
    profile: str
    grids: Mapping[str, Grid]
    values: Mapping[str, Any]
    store: Path | None = None
    """Folder of committed runs (:func:`c2f_utils.evidence.committed`): ``results`` then
    reads them only, and never computes."""
    reader: Any = None
    """With ``store``: what reads the committed runs, an object with ``grid(config, gid)`` and
    ``one(config, experiment)`` returning RunResults (injected by :mod:`c2f_utils.evidence`,
    which this module does not import)."""

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def declared_values(self) -> dict[str, Any]:
        """:attr:`values` without the parameters that hold the default of fields declared with
        ``param(..., omit_default=True)``: what the profile declares, as a committed manifest
        records it. Like :meth:`Experiment.params`, so that adding such a field to a chapter
        changes neither its runs' keys nor its recorded declaration."""
        out = {}
        for name, value in self.values.items():
            par = self.chapter.parameters.get(name)
            if par is not None and par.info.omit_default:
                grids = self.chapter.profiles[self.profile]
                if all(_field_default(type(grids[gid].base), fname) == value for gid, fname in par.targets):
                    continue
            out[name] = value
        return out

    def grid(self, gid: str) -> Grid:
        """The grid ``gid`` (raises naming the chapter's grids if there is none)."""
        if gid not in self.grids:
            raise KeyError(f"Expected a grid of chapter {self.chapter.name!r} among {list(self.grids)}, got {gid!r}")
        return self.grids[gid]

    def runs(self, gid: str) -> list[Experiment]:
        """The runs of grid ``gid``, in order."""
        return self.grid(gid).runs()

    def only(self, names: Sequence[str]) -> Config:
        """This configuration narrowed to some of its grids: each of ``names`` is a grid id
        (``age``) or an experiment name (``fierce.age``, every grid of that experiment). The
        runs those grids require (teachers, sources) stay in :meth:`plan`. Unknown names raise
        a ValueError that lists the chapter's grids and experiments."""
        if isinstance(names, str) or not isinstance(names, Sequence) or not names:
            raise ValueError(f"Expected `names` as a non-empty list of grid or experiment names, got {names!r}")
        experiments = {gid: grid.base.name for gid, grid in self.grids.items()}
        known = sorted({*experiments, *experiments.values()})
        unknown = [n for n in names if n not in known]
        if unknown:
            hints = [difflib.get_close_matches(str(n), known, n=1) for n in unknown]
            hint = "".join(f" (did you mean {h[0]!r}?)" for h in hints if h)
            raise ValueError(
                f"Expected `only` among the grids and experiments of {self.chapter.name!r} {known}, got {unknown}{hint}"
            )
        kept = {gid: g for gid, g in self.grids.items() if gid in names or experiments[gid] in names}
        return dataclasses.replace(self, grids=kept)

    def results(self, gid: str, progress: bool | None = None):
        """Run (or read from the cache) every run of grid ``gid``; returns their RunResults.

        ``progress``: show a bar over the runs (default: :func:`c2f_utils.progress.progress_mode`).
        """
        from .progress import progress_bar

        if self.store is not None:
            return self._reader().grid(self, gid)
        runs = self.runs(gid)
        bar = progress_bar(runs, desc=f"{self.chapter.name}.{gid}", unit="run", enabled=progress)
        return [r.cached() for r in bar]

    def result(self, exp: Experiment):
        """One run's result (a grid's run or one it requires), computed or cached, or committed
        (read only) when the configuration reads committed runs."""
        if self.store is not None:
            return self._reader().one(self, exp)
        return exp.cached()

    def _reader(self) -> Any:
        if self.reader is None:
            raise ValueError(f"Expected a `reader` of the committed runs in {self.store} (see evidence.committed)")
        return self.reader

    def plan(self) -> list[tuple[str, Experiment]]:
        """Every run the chapter executes, as ``(grid id, experiment)``, required runs first, no repeats."""
        out: list[tuple[str, Experiment]] = []
        seen: set[str] = set()

        def add(gid: str, exp: Experiment) -> None:
            for dep in exp.requires():
                add(gid, dep)
            key = f"{exp.name}/{exp.key()}"
            if key not in seen:
                seen.add(key)
                out.append((gid, exp))

        for gid, grid in self.grids.items():
            for exp in grid.runs():
                add(gid, exp)
        return out

    def plan_records(self, cache_dir: str | None = None) -> list[dict[str, Any]]:
        """:meth:`plan` as JSON-ready records (what ``--plan`` prints, one per line)."""
        return [
            {
                "chapter": self.chapter.name,
                "profile": self.profile,
                "grid": gid,
                "experiment": exp.name,
                "params": exp.params(),
                "key": exp.key(),
                "cached": exp.is_cached(cache_dir),
            }
            for gid, exp in self.plan()
        ]
