"""Estimates: a mean and its confidence interval over seeds, and the tables that show them."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._checks import check_number
from ._inputs import check_digits, check_frame, check_sample
from .policy import CONFIDENCE

__all__ = ["Estimate", "estimate", "format_mean_ci", "mean_ci", "mean_ci_table", "paired_columns", "summarize"]


def _check_confidence(confidence: float) -> None:
    check_number("confidence", confidence, low=0, high=1, low_inclusive=False, high_inclusive=False)


def _names(arg: str, names: Any, *, allow_str: bool = True) -> list[str]:
    """Column names as a list: a string (where ``allow_str``) or a non-empty sequence of strings."""
    if isinstance(names, str) and allow_str:
        return [names]
    if isinstance(names, str | bytes) or not isinstance(names, Sequence) or not names:
        raise TypeError(
            f"Expected `{arg}` to be {'a column name or ' * allow_str}a list of column names, got {names!r}"
        )
    return list(names)


def mean_ci(values: Iterable[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Mean and half-width of the Student-t confidence interval of the mean.

    :math:`\\bar x \\pm t_{(1+c)/2,\\,n-1}\\, s / \\sqrt n` with ``s`` the sample
    standard deviation; the half-width is NaN for a single value.
    """
    from scipy import stats

    _check_confidence(confidence)
    x = check_sample("values", values)
    if x.size == 1:
        return float(x[0]), float("nan")
    half = stats.t.ppf((1 + confidence) / 2, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size)
    return float(x.mean()), float(half)


def format_mean_ci(mean: float, half: float, digits: int = 3) -> str:
    """``"0.912 ± 0.010"``; just the mean when the interval is undefined (one seed, ``half`` NaN)."""
    mean = check_number("mean", mean)
    digits = check_digits(digits)
    if isinstance(half, bool) or not isinstance(half, numbers.Real) or (math.isfinite(half) and half < 0):
        raise ValueError(f"Expected `half` to be a number >= 0 (or NaN: no interval), got {half!r}")
    if not math.isfinite(half):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {half:.{digits}f}"


@dataclass(frozen=True)
class Estimate:
    """A mean with its confidence interval ``[low, high]`` over ``n`` replicates."""

    mean: float
    low: float
    high: float
    n: int

    def format(self, digits: int = 3) -> str:
        """``"0.912 ± 0.010 (n=3)"``."""
        half = (self.high - self.low) / 2
        return f"{format_mean_ci(self.mean, half, digits)} (n={self.n})"

    def __str__(self) -> str:
        return self.format()


def estimate(values: Iterable[float], confidence: float = CONFIDENCE) -> Estimate:
    """:class:`Estimate` of the mean of ``values`` (Student-t interval; NaN bounds for one value)."""
    x = check_sample("values", values)
    mean, half = mean_ci(x, confidence)
    return Estimate(mean, mean - half, mean + half, int(x.size))


def summarize(
    frame: pd.DataFrame, by: str | list[str], metrics: list[str], confidence: float = CONFIDENCE
) -> pd.DataFrame:
    """Mean, CI half-width (``<metric>_ci``) and count (``<metric>_n``) of each metric per group
    (one row per seed), and ``n``, the fewest values any metric of the group has.

    ``by`` and ``metrics`` must name columns of ``frame``. A group whose key is missing
    (None, NaN) is a group of its own, never dropped; a missing value of a metric is left out
    of its mean, interval and count.
    """
    by = _names("by", by)
    metrics = _names("metrics", metrics, allow_str=False)
    check_frame(frame, ("by", by), ("metrics", metrics))
    rows = []
    for key, group in frame.groupby(by, sort=False, dropna=False):
        row = dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True))
        for m in metrics:
            values = group[m].dropna()
            mean, half = mean_ci(values, confidence) if len(values) else (math.nan, math.nan)
            row[m], row[f"{m}_ci"], row[f"{m}_n"] = mean, half, len(values)
        row["n"] = min(row[f"{m}_n"] for m in metrics)
        rows.append(row)
    return pd.DataFrame(rows)


def mean_ci_table(
    frame: pd.DataFrame,
    by: str | list[str],
    columns: Mapping[str, str],
    *,
    digits: int = 3,
    scale: float = 1.0,
    order: Sequence[Any] | None = None,
) -> pd.DataFrame:
    """A display table: ``mean ± 95% CI`` of each metric per group, with the number of seeds.

    Parameters
    ----------
    frame : DataFrame
        One row per run (seed).
    by : str or list of str
        Grouping column(s): the table's index.
    columns : mapping
        Metric column -> its label in the table.
    digits, scale : int, float
        Decimal places, and a factor applied first (100 for percentages).
    order : sequence, optional
        Order of the groups (single ``by`` column): it must list every group of the table;
        listed groups the frame does not have are skipped.
    """
    check_number("scale", scale, low=0, low_inclusive=False)
    digits = check_digits(digits)
    if not isinstance(columns, Mapping) or not columns:
        raise TypeError(f"Expected `columns` to be a non-empty mapping of column -> label, got {columns!r:.80}")
    check_frame(frame, ("by", _names("by", by)), ("columns", list(columns)))
    if order is not None and (isinstance(order, str | bytes) or not isinstance(order, Sequence)):
        raise TypeError(f"Expected `order` to be a sequence of group names, got {order!r}")
    scaled = frame.assign(**{c: frame[c] * scale for c in columns if c in frame})
    summary = summarize(scaled, by, list(columns))
    table = pd.DataFrame(
        {
            label: [format_mean_ci(r[c], r[f"{c}_ci"], digits) if r[f"{c}_n"] else "—" for _, r in summary.iterrows()]
            for c, label in columns.items()
        }
    )
    keys = [by] if isinstance(by, str) else list(by)
    table.index = pd.MultiIndex.from_frame(summary[keys]) if len(keys) > 1 else pd.Index(summary[keys[0]])
    table["seeds"] = summary["n"].to_numpy()
    if order is not None:  # groups a profile did not run are skipped; every group it ran must be placed
        missing = [g for g in table.index if g not in list(order)]
        if missing:
            raise ValueError(f"Expected `order` to list every group of the table, got {list(order)}; missing {missing}")
        table = table.loc[[o for o in order if o in table.index]]
    return table


def paired_columns(
    frame: pd.DataFrame, column: str, by: str, a: Any, b: Any, on: str = "seed"
) -> tuple[np.ndarray, np.ndarray]:
    """Values of ``column`` for ``by == a`` and ``by == b``, aligned on ``on`` (the seeds both have)."""
    check_frame(frame, ("column", column), ("by", by), ("on", on))
    for arg, group in (("a", a), ("b", b)):
        if not (frame[by] == group).any():
            raise ValueError(f"Expected `{arg}` to be a value of column {by!r}, got {group!r}")
    left = frame[frame[by] == a].set_index(on)[column]
    right = frame[frame[by] == b].set_index(on)[column]
    if left.index.has_duplicates or right.index.has_duplicates:
        raise ValueError(f"Expected one row per {on!r} for {by}={a!r} and {by}={b!r}; group the frame first")
    common = left.index.intersection(right.index)
    if common.empty:
        raise ValueError(f"No {on!r} shared by {by}={a!r} and {by}={b!r}")
    return left.loc[common].to_numpy(float), right.loc[common].to_numpy(float)
