"""Chapters as grids of experiments per profile, and their configurations.

A *chapter* (:class:`Chapter`) names its notebook and, per profile (``quick``,
``real``, ``paper``), a :class:`~c2f_utils.experiments.Grid` per experiment group: a base instance and the
fields swept over (seeds, criteria, hyperparameter grids). The chapter's parameters
(the notebook's ``parameters`` cell, the runner's ``-p`` names, ``--list``) are
derived from these declarations by one rule, :meth:`Chapter.parameters`:

- a field swept in a grid becomes a list parameter named by the plural of the field
  (``seed`` -> ``seeds``), a fixed field a scalar parameter named by the field;
- unless the field is one of the chapter's ``shared`` names, the name is
  ``EXPERIMENT.FIELD``: the grid's group, a dot and the field (``age.epochs`` sets
  ``epochs`` of every grid of group ``age``; ``unmix.lams`` sweeps ``lam``), the one name
  of the parameter in the runner (``-p unmix.lams 0.3,1``), in a notebook's ``overrides``
  and in :attr:`Config.values`;
- fields listed in a grid's ``fixed`` are not parameters: the profile fixes them.

The names of the earlier rule (``age_epochs``, ``unmix_lams``) are read as deprecated
aliases (:attr:`Chapter.aliases`), with a ``FutureWarning`` naming the new name; the
manifests of committed runs, which record them, are read through :meth:`Chapter.canonical`.

:meth:`Chapter.configure` applies a profile and overrides and returns a
:class:`Config`; :meth:`Config.plan` lists every run the chapter executes, in order,
before any of them runs (``python -m c2f_utils.run CHAPTER --plan``). A notebook's
globals are read by :meth:`Chapter.from_namespace` (:mod:`c2f_utils.experiments.notebook`).
"""

from __future__ import annotations

import dataclasses
import difflib
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .experiment import Experiment, Grid
from .notebook import declared_globals
from .parameters import Parameter, field_default, fields_of, plural

__all__ = ["PROFILES", "SMOKE_BATCH_SIZE", "Chapter", "Config"]

PROFILES = ("quick", "real", "paper")
"""Profiles a chapter may implement (see ``book/running.md``)."""


SMOKE_BATCH_SIZE = 16
"""The largest mini-batch of a smoke run (:meth:`Chapter.smoke_values`)."""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


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
        self.aliases: dict[str, str] = {}
        """Deprecated name (``unmix_lams``) -> parameter (``unmix.lams``)."""
        self.parameters = self._derive_parameters()

    def __repr__(self) -> str:
        return f"Chapter({self.name!r}, profiles={list(self.profiles)}, parameters={list(self.parameters)})"

    def _param_name(self, grid: Grid, fname: str, sep: str = ".") -> str:
        """``group.field`` (``plural(field)`` when swept); ``sep="_"``: the former name (``group_fields``)."""
        shared = fname in self.shared and fname not in grid.own
        if grid.group is None or shared or (grid.own_only and fname not in grid.own):
            return plural(fname) if fname in grid.sweep else fname
        if sep == "_":
            base = f"{grid.group}_{fname}"
            return plural(base) if fname in grid.sweep else base
        return f"{grid.group}{sep}{plural(fname) if fname in grid.sweep else fname}"

    def _derive_parameters(self) -> dict[str, Parameter]:
        found: dict[str, dict[str, Any]] = {}
        for profile, grids in self.profiles.items():
            for gid, grid in grids.items():
                for fname, (annotation, info) in fields_of(type(grid.base)).items():
                    if fname in grid.fixed or fname in grid.follow:
                        continue
                    swept = fname in grid.sweep
                    pname = self._param_name(grid, fname)
                    if (old := self._param_name(grid, fname, "_")) != pname:
                        self.aliases[old] = pname
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
        if clash := sorted(set(self.aliases) & set(found)):
            raise ValueError(f"Former parameter names {clash} of chapter {self.name!r} are parameters now")
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
        """Raise ``KeyError`` naming every name that is neither a parameter of this chapter nor a
        former name of one, with the closest parameter as a suggestion."""
        unknown = [n for n in names if n not in self.parameters and n not in self.aliases and n != "profile"]
        if unknown:
            known = [*self.parameters, *self.aliases]
            hints = {n: close[0] for n in unknown if (close := difflib.get_close_matches(str(n), known, n=1))}
            hint = "".join(f" (did you mean {self.aliases.get(h, h)!r} for {n!r}?)" for n, h in hints.items())
            raise KeyError(
                f"Unknown parameter(s) {unknown} for chapter {self.name!r}{hint}; "
                f"its parameters are profile, {', '.join(self.parameters)}"
            )

    def canonical(self, values: Mapping[str, Any], *, warn: bool = True) -> dict[str, Any]:
        """``values`` keyed by the parameters' names: a former name (``unmix_lams``) becomes the
        parameter's (``unmix.lams``), with a ``FutureWarning`` unless ``warn`` is false (a
        committed manifest's values); an unknown name raises (:meth:`check_names`)."""
        self.check_names(values)
        out: dict[str, Any] = {}
        for name, value in values.items():
            new = self.aliases.get(name, name)
            if new != name and warn:
                warnings.warn(
                    f"Parameter {name!r} of chapter {self.name!r} is now named {new!r}; the old name will go",
                    FutureWarning,
                    stacklevel=3,
                )
            if new in out:
                raise ValueError(f"Expected parameter {new!r} of chapter {self.name!r} once, got it also as {name!r}")
            out[new] = value
        return out

    def configure(self, profile: str = "quick", overrides: Mapping[str, Any] | None = None, **given: Any) -> Config:
        """The profile's grids with the given (non-``None``) parameters applied, all validated.

        ``overrides`` maps parameter names (``{"unmix.lams": [0.3, 1.0]}``) to values; keywords
        (``seeds=[0, 1]``) set names that are identifiers. Former names are read with a warning.
        """
        self.check_profile(profile)
        if overrides is not None and not isinstance(overrides, Mapping):
            raise TypeError(f"Expected `overrides` as a dict of parameter name -> value, got {overrides!r}")
        both = set(overrides or {}) & set(given)
        if both:
            raise ValueError(f"Expected each parameter once, got {sorted(both)} in `overrides` and as keywords")
        given = self.canonical({**(overrides or {}), **given})
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
        """:meth:`configure` from a notebook's globals after its ``parameters`` cell: ``profile``
        and ``overrides`` (a dict keyed by parameter names, what papermill injects), read with
        :func:`~c2f_utils.experiments.notebook.declared_globals`, which reads no other global
        but the parameters of the former cells (``seeds = None``, ``age_lr = 0.1``: a global
        per parameter, read with a warning when set): the cell can be run any number of times."""
        former = [n for n in [*self.parameters, *self.aliases] if n.isidentifier()]
        given = declared_globals(namespace, ["profile", "overrides", *former], self.name, self.aliases)
        profile, overrides = given.pop("profile", "quick"), given.pop("overrides", None)
        given = {k: v for k, v in given.items() if v is not None}
        if given:
            warnings.warn(
                f"Parameters as globals ({', '.join(given)}) are read for now: set them in the "
                f"`overrides` dict of chapter {self.name!r}'s parameters cell",
                FutureWarning,
                stacklevel=2,
            )
        return self.configure(profile, {**(overrides or {}), **given} if given else overrides)

    def source_path(self, book_dir: str | Path) -> Path:
        """Path of the chapter's MyST Markdown notebook under ``book_dir``."""
        return Path(book_dir) / self.source

    def smoke_values(self, profile: str) -> dict[str, Any]:
        """Parameter values that cut ``profile`` to a smoke run: one seed, one epoch.

        Every parameter named ``seeds`` (or ``*.seeds``) keeps its first value; every other swept numeric
        parameter (strengths, temperatures) keeps its first and last values (the two ends of a
        sweep, where code paths differ: 0 is often "off"); swept choices (criteria, methods)
        are all kept. Every integer parameter whose field is ``epochs`` or ``*_epochs`` becomes 1 (0
        for a warm-up), and every ``batch_size`` (or ``*.batch_size``) at most :data:`SMOKE_BATCH_SIZE`:
        the same steps on fewer images, so that a paper-scale network takes seconds per run on a CPU.
        With ``$C2F_SMOKE`` set, :func:`~c2f_utils.train.fit` also stops each epoch after a
        few batches (``c2f_utils.train.SMOKE_BATCHES``, 2).
        """
        self.check_profile(profile)
        out: dict[str, Any] = {}
        for name, par in self.parameters.items():
            value = par.values.get(profile)
            leaf = name.rpartition(".")[2]
            if leaf == "seeds" and isinstance(value, list) and value:
                out[name] = value[:1]
            elif isinstance(value, list) and len(value) > 2 and all(_is_number(v) for v in value):
                out[name] = [value[0], value[-1]]
            elif (leaf == "epochs" or leaf.endswith("_epochs")) and isinstance(value, int):
                out[name] = 0 if "warmup" in leaf else min(value, 1)
            elif leaf == "batch_size" and isinstance(value, int) and value > SMOKE_BATCH_SIZE:
                out[name] = SMOKE_BATCH_SIZE
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
        if name not in self.values and name in self.chapter.aliases:
            name = next(iter(self.chapter.canonical({name: None})))
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
                if all(field_default(type(grids[gid].base), fname) == value for gid, fname in par.targets):
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
        from ..progress import progress_bar

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
