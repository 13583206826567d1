"""Experiments as declared, typed, cached runs, and grids of them.

An *experiment* is a frozen dataclass whose fields are exactly the arguments of one
run (with types, bounds and choices, declared once with :func:`~c2f_utils.experiments.param`) and whose
:meth:`Experiment.run` computes it. An instance is validated when it is made, so a
wrong value fails before anything trains, with a message naming the field and the
value. :meth:`Experiment.cached` runs it through :func:`c2f_utils.runs.cached_run`
under a key that depends on the experiment's name and declared ``version``, its
parameters, the declared versions of the components it uses (:meth:`Experiment.components`)
and the numerical libraries' versions, and on nothing else (:mod:`c2f_utils.identity`).

A :class:`Grid` is a base experiment and the fields it is swept over (seeds, criteria,
hyperparameter grids); a chapter declares one per experiment group and profile
(:class:`~c2f_utils.experiments.Chapter`).
"""

from __future__ import annotations

import dataclasses
import inspect
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from .parameters import check_value, fields_of

__all__ = ["Experiment", "Grid"]


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
        for fname, (annotation, info) in fields_of(type(self)).items():
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
        from ..identity import COMPONENTS

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
        from ..identity import declaration

        requires = [{"experiment": dep.name, **dep.declaration()} for dep in self.requires()]
        return declaration(self.version, self.components(), requires)

    def key(self) -> str:
        """The run's cache key: name, parameters and :meth:`declaration` (:func:`c2f_utils.identity.run_key`)."""
        from ..identity import run_key

        return run_key(self.name, self.params(), self.declaration())

    def source_files(self) -> list[Path]:
        """The source files whose code a run may execute: the experiment's module (every module of
        its chapter's package) and the library's computing layers (for the provenance's
        :func:`~c2f_utils.identity.source_fingerprint`)."""
        package = Path(__file__).resolve().parents[1]
        own = Path(inspect.getfile(type(self))).resolve()
        files = {own}
        if own.parent.parent == package / "chapters":  # a chapter package: every module of it
            files.update(own.parent.glob("*.py"))
        for layer in ("train.py", "models.py", "weights.py", "_checks.py"):
            files.add(package / layer)
        for family in ("data", "losses", "probes"):
            files.update((package / family).glob("*.py"))
        return sorted(files)

    def cached(self, *, cache_dir: str | None = None, force: bool = False):
        """The run's :class:`~c2f_utils.runs.RunResult`, computed or read from the cache."""
        from ..identity import source_fingerprint
        from ..runs import cached_run

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
        from ..runs import entry_path

        return (entry_path(self.name, self.key(), cache_dir) / "record.json").is_file()


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
        ``unmix.seeds``, beside the ``seeds`` of the others).
    own_only : bool
        With a ``group``: only the ``own`` fields take its prefix; the others set the
        unprefixed parameters, shared with the grids that have no group (OT's L2 grid has
        its own strengths, ``l2.alphas``, and the ``lr`` and ``epochs`` of every transfer run).
    """

    base: Experiment
    sweep: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    group: str | None = None
    fixed: tuple[str, ...] = ()
    follow: Mapping[str, str] = field(default_factory=dict)
    own: tuple[str, ...] = ()
    own_only: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.base, Experiment):
            raise TypeError(f"Expected `base` to be an Experiment, got {self.base!r}")
        if not isinstance(self.own_only, bool):
            raise TypeError(f"Expected `own_only` to be a bool, got {self.own_only!r}")
        if self.own_only and (self.group is None or not self.own):
            raise ValueError(
                f"Expected a `group` and `own` fields with own_only=True, got {self.group!r} and {self.own!r}"
            )
        fields = fields_of(type(self.base))
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
