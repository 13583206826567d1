"""Validity: what a working run is (named checks over its record) and which runs pass them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._checks import check_number

__all__ = ["Check", "Validity", "above_majority", "at_least", "at_most", "final", "spread", "valid_runs"]


@dataclass(frozen=True)
class Check:
    """One rule of what a working run is: ``rule(run)`` returns why ``run`` did not work, or None.

    ``run`` is a run record (:class:`~c2f_utils.runs.RunResult`: ``params``, ``metrics``,
    ``history``, ``arrays``). Build checks with :func:`at_least`, :func:`at_most` and
    :func:`spread`, or give any rule; ``name`` says what it checks ("trains above the
    majority class").
    """

    name: str
    rule: Any

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"Expected `name` to be a non-empty string, got {self.name!r}")
        if not callable(self.rule):
            raise TypeError(f"Expected `rule` to be callable, got {self.rule!r}")

    def __call__(self, run: Any) -> str | None:
        return self.rule(run)


def final(run: Any, key: str) -> float:
    """A run's final value of ``key``: its metric, else the last recorded value of its history column."""
    _key("key", key)
    if key in run.metrics:
        return float(run.metrics[key])
    history = getattr(run, "history", None)
    if history is not None and key in history.columns and history[key].notna().any():
        return float(history[key].dropna().iloc[-1])
    raise ValueError(
        f"Expected `key` to name a metric or history column of run {getattr(run, 'name', '?')}, got {key!r}"
    )


def _key(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"Expected `{name}` to be a non-empty string, got {value!r}")
    return value


def _bound(key: str, bound: Any, label: str, sign: int) -> Check:
    _key("key", key)
    if not callable(bound):
        bound = check_number("bound", bound)

    def rule(run: Any) -> str | None:
        limit = float(bound(run) if callable(bound) else bound)
        value = final(run, key)
        ok = value >= limit if sign > 0 else value <= limit
        return None if ok else f"{label} {value:.3g} {'<' if sign > 0 else '>'} {limit:.3g}"

    return Check(f"{label} {'>=' if sign > 0 else '<='} {bound if not callable(bound) else 'its bound'}", rule)


def at_least(key: str, bound: float | Any, label: str | None = None) -> Check:
    """A run works when its final ``key`` (:func:`final`) is at least ``bound`` (a number, or a
    function of the run: a teacher's accuracy, a majority rate)."""
    return _bound(key, bound, label or key, 1)


def at_most(key: str, bound: float | Any, label: str | None = None) -> Check:
    """A run works when its final ``key`` is at most ``bound`` (a number or a function of the run)."""
    return _bound(key, bound, label or key, -1)


def above_majority(key: str, majority: float | Any, margin: float = 0.05) -> Check:
    """A run works when its accuracy ``key`` exceeds the ``majority``-class rate by ``margin``:
    a network that predicts one class everywhere has not trained. ``majority`` is a rate
    or a function of the run (the rate of the labels it was trained on)."""
    _key("key", key)
    margin = check_number("margin", margin, low=0)
    if callable(majority):
        check = at_least(key, lambda run: majority(run) + margin, key.replace("_", " "))
        return Check(f"{key} above the majority class + {margin:g}", check.rule)
    majority = check_number("majority", majority, low=0, high=1)
    check = at_least(key, majority + margin, key.replace("_", " "))
    return Check(f"{key} above the majority class ({majority:.3g}) + {margin:g}", check.rule)


def spread(array: str, minimum: float = 1e-6) -> Check:
    """A run works when its recorded ``array`` (a feature) is not constant: standard deviation > ``minimum``."""

    _key("array", array)
    minimum = check_number("minimum", minimum, low=0)

    def rule(run: Any) -> str | None:
        values = np.asarray(run.arrays[array], dtype=float)
        std = float(values.std())
        return None if std > minimum else f"constant {array} (std {std:.1g})"

    return Check(f"{array} has spread (std > {minimum:g})", rule)


@dataclass(frozen=True)
class Validity:
    """Runs, the ``(check name, reason)`` of every check each failed (empty: valid), and their labels."""

    runs: tuple[Any, ...]
    failures: tuple[tuple[tuple[str, str], ...], ...]
    labels: tuple[str, ...]

    @property
    def valid(self) -> list[Any]:
        """The runs that passed every check."""
        return [r for r, failed in zip(self.runs, self.failures, strict=True) if not failed]

    @property
    def excluded(self) -> list[tuple[str, str]]:
        """``(label, reason)`` of every run that failed a check (its first failure)."""
        return [(lab, failed[0][1]) for lab, failed in zip(self.labels, self.failures, strict=True) if failed]

    @property
    def total(self) -> int:
        """Number of runs checked."""
        return len(self.runs)

    def where(self, **params: Any) -> Validity:
        """The runs whose parameters match: ``where(criterion=("ce", "fierce"))`` or ``where(alpha=0.0)``."""
        keep = [
            i
            for i, r in enumerate(self.runs)
            if all(r.params.get(k) in (v if isinstance(v, tuple | list | set) else (v,)) for k, v in params.items())
        ]
        return Validity(*(tuple(part[i] for i in keep) for part in (self.runs, self.failures, self.labels)))

    def __add__(self, other: Validity) -> Validity:
        return Validity(self.runs + other.runs, self.failures + other.failures, self.labels + other.labels)

    def counts(self) -> str:
        """``"8 of 9"`` valid runs."""
        return f"{self.total - len(self.excluded)} of {self.total}"

    def checks_failed(self) -> str:
        """The names of the checks the excluded runs failed, in order of first failure."""
        names = dict.fromkeys(name for failed in self.failures for name, _ in failed)
        return "; ".join(names)

    def summary(self) -> str:
        """The excluded runs grouped by reason: ``"ce seed 0, ce seed 1 (train acc 0.51 < 0.56)"``, or ``"none"``."""
        if not self.excluded:
            return "none"
        groups: dict[str, list[str]] = {}
        for label, why in self.excluded:
            groups.setdefault(why, []).append(label)
        return "; ".join(f"{', '.join(labels)} ({why})" for why, labels in groups.items())


def _default_label(run: Any) -> str:
    seed = run.params.get("seed")
    return f"{run.name} seed {seed}" if seed is not None else str(run.name)


def valid_runs(runs: Iterable[Any], checks: Sequence[Check], label: Any = None) -> Validity:
    """Check every run: a run is valid when no check returns a reason.

    ``label(run)`` names a run in the scorecard (default: experiment name and seed).
    Validity is computed from the records, never typed.
    """
    if isinstance(runs, str | bytes) or not isinstance(runs, Iterable):
        raise TypeError(f"Expected `runs` to be a sequence of run records, got {runs!r:.80}")
    runs = tuple(runs)
    if isinstance(checks, Check) or not isinstance(checks, Sequence) or not all(isinstance(c, Check) for c in checks):
        raise TypeError(f"Expected `checks` to be a sequence of Check, got {checks!r:.80}")
    label = _default_label if label is None else label
    if not callable(label):
        raise TypeError(f"Expected `label` to be callable, got {label!r}")
    failures = tuple(tuple((c.name, why) for c, why in ((c, c(r)) for c in checks) if why) for r in runs)
    return Validity(runs, failures, tuple(str(label(r)) for r in runs))
