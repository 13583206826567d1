"""The report layer: estimates, tables, claims, and the book's one verdict policy.

Every scorecard of the book is built here, so "reproduced" means the same thing on
every page (``book/verdicts.md`` explains the policy to readers):

1. **Independent replicates.** A claim is judged on ``n`` independent replicates
   (training seeds; never repeated evaluations of one run, never the points of one
   curve). With fewer than :data:`MIN_SEEDS` the verdict is ``"not tested"``.
2. **One interval per claim.** The claim is turned into an *effect* and a *region*
   the effect must lie in: ``A > B`` is ``A - B > m`` (``m`` a minimum effect, 0 unless
   declared), ``A ≈ B`` is ``|A - B| <= margin``, ``A > c`` is ``A - c > m``, a positive
   correlation is ``r > 0``. Runs paired by seed give the paired difference
   :math:`d_i = a_i - b_i` and its Student-t interval; unpaired runs give Welch's
   interval of :math:`\\bar a - \\bar b`; correlations Fisher's z interval.
3. **The verdict.** ``"reproduced"`` when the whole 95% interval of the effect lies in
   the region; ``"partly"`` when only the estimate does; ``"not reproduced"`` when the
   estimate does not. Equivalence ("no difference") claims use the 90% interval,
   which is the two one-sided tests (TOST) at level 0.05 (Schuirmann 1987).
4. **The paper's number.** Where a paper gives a number and our scale matches
   (:func:`paper_check`), the claim is reproduced when the number lies in our 95%
   interval widened by the declared tolerance; at another scale it is
   ``"not tested at this scale"``.
5. **Deterministic quantities** (a closed form, a solver with no randomness) have no
   seed variation: runs that give identical results count once, and the quantity is
   checked exactly against declared bounds (:func:`deterministic`).

Verdicts are computed by these functions, never typed.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ._checks import check_bool, check_number, check_positive_int

__all__ = [
    "BENCHMARK",
    "CONFIDENCE",
    "MIN_SEEDS",
    "POLICY_PAGE",
    "VERDICTS",
    "Claim",
    "Estimate",
    "Finding",
    "correlated",
    "deterministic",
    "equivalent",
    "estimate",
    "format_mean_ci",
    "greater",
    "less",
    "mean_ci",
    "mean_ci_table",
    "paired_columns",
    "paper_check",
    "scorecard",
    "summarize",
    "where",
    "where_benchmark",
]

CONFIDENCE = 0.95
"""Confidence of every interval in the book (equivalence tests: ``1 - 2 (1 - CONFIDENCE) / 2``, i.e. 0.90)."""
MIN_SEEDS = 3
"""Fewest independent replicates a verdict other than "not tested" needs."""
VERDICTS = ("reproduced", "partly", "not reproduced", "not tested", "not tested at this scale")
BENCHMARK = "benchmark"
"""First field of a claim's ``where`` when its evidence is a recorded benchmark
(``benchmarks/results``), not a profile's runs: the same in every profile's scorecard."""
POLICY_PAGE = "verdicts.md"
"""The book page that explains the policy; every scorecard links to it."""


# --------------------------------------------------------------------------- estimates


def _values(name: str, values: Iterable[float]) -> np.ndarray:
    if isinstance(values, str | bytes | Mapping) or not isinstance(values, Iterable):
        raise TypeError(f"Expected `{name}` to be a sequence of numbers, got {type(values).__name__}")
    items = list(values)
    if not all(isinstance(v, numbers.Real) and not isinstance(v, bool | np.bool_) for v in items):
        raise TypeError(f"Expected `{name}` to be a sequence of numbers, got {items!r:.80}")
    x = np.asarray(items, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"Expected `{name}` to be a non-empty 1-D sequence of numbers, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"Expected finite values in `{name}`, got {x.tolist()}")
    return x


def _check_confidence(confidence: float) -> None:
    check_number("confidence", confidence, low=0, high=1, low_inclusive=False, high_inclusive=False)


def _digits(digits: int) -> int:
    return check_positive_int("digits", digits, minimum=0)


def _frame(frame: Any, *columns: tuple[str, Any]) -> pd.DataFrame:
    """``frame`` if it is a DataFrame holding every named column; raises naming the argument."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"Expected `frame` to be a pandas DataFrame, got {type(frame).__name__}")
    for arg, names in columns:
        for name in names if isinstance(names, list | tuple) else [names]:
            if not isinstance(name, str) or name not in frame.columns:
                raise ValueError(
                    f"Expected `{arg}` to name columns of `frame`, got {name!r}; it has {list(frame.columns)}"
                )
    if frame.empty:
        raise ValueError("Expected `frame` with at least one row, got an empty frame")
    return frame


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
    x = _values("values", values)
    if x.size == 1:
        return float(x[0]), float("nan")
    half = stats.t.ppf((1 + confidence) / 2, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size)
    return float(x.mean()), float(half)


def format_mean_ci(mean: float, half: float, digits: int = 3) -> str:
    """``"0.912 ± 0.010"``; just the mean when the interval is undefined (one seed, ``half`` NaN)."""
    mean = check_number("mean", mean)
    digits = _digits(digits)
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
    x = _values("values", values)
    mean, half = mean_ci(x, confidence)
    return Estimate(mean, mean - half, mean + half, int(x.size))


def summarize(
    frame: pd.DataFrame, by: str | list[str], metrics: list[str], confidence: float = CONFIDENCE
) -> pd.DataFrame:
    """Mean, CI half-width (``<metric>_ci``) and count ``n`` of each metric per group (one row per seed).

    ``by`` and ``metrics`` must name columns of ``frame``.
    """
    by = _names("by", by)
    metrics = _names("metrics", metrics, allow_str=False)
    _frame(frame, ("by", by), ("metrics", metrics))
    rows = []
    for key, group in frame.groupby(by, sort=False):
        row = dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True))
        for m in metrics:
            mean, half = mean_ci(group[m].dropna(), confidence)
            row[m], row[f"{m}_ci"] = mean, half
        row["n"] = len(group)
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
    digits = _digits(digits)
    if not isinstance(columns, Mapping) or not columns:
        raise TypeError(f"Expected `columns` to be a non-empty mapping of column -> label, got {columns!r:.80}")
    _frame(frame, ("by", _names("by", by)), ("columns", list(columns)))
    if order is not None and (isinstance(order, str | bytes) or not isinstance(order, Sequence)):
        raise TypeError(f"Expected `order` to be a sequence of group names, got {order!r}")
    scaled = frame.assign(**{c: frame[c] * scale for c in columns if c in frame})
    summary = summarize(scaled, by, list(columns))
    table = pd.DataFrame(
        {
            label: [format_mean_ci(r[c], r[f"{c}_ci"], digits) for _, r in summary.iterrows()]
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
    _frame(frame, ("column", column), ("by", by), ("on", on))
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


# --------------------------------------------------------------------------- the verdict policy


@dataclass(frozen=True)
class Finding:
    """The outcome of one test: effect estimate, interval, verdict, and how it was tested."""

    verdict: str
    effect: Estimate | None
    test: str
    ours: str

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"Expected `verdict` in {list(VERDICTS)}, got {self.verdict!r}")


def _region_verdict(effect: Estimate, inside: Any) -> str:
    """The policy's step 3 for a region given as a predicate on numbers."""
    if effect.n < MIN_SEEDS:
        return "not tested"
    if inside(effect.low) and inside(effect.high) and inside(effect.mean):
        return "reproduced"
    return "partly" if inside(effect.mean) else "not reproduced"


def _difference(a: np.ndarray, b: np.ndarray | None, value: float | None, paired: bool, confidence: float) -> Estimate:
    """Interval of ``mean(a) - mean(b)`` (paired or Welch), or of ``mean(a) - value``."""
    from scipy import stats

    if b is None:
        return estimate(a - value, confidence)
    if paired:
        if a.size != b.size:
            raise ValueError(f"Expected `a` and `b` of equal size when `paired`, got {a.size} and {b.size}")
        return estimate(a - b, confidence)
    n = min(a.size, b.size)
    mean = float(a.mean() - b.mean())
    if n < 2:
        return Estimate(mean, math.nan, math.nan, n)
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = math.sqrt(va + vb)
    if se == 0:
        return Estimate(mean, mean, mean, n)
    ra, rb = va / (va + vb), vb / (va + vb)  # Welch-Satterthwaite, in ratios: no underflow for tiny variances
    dof = 1.0 / (ra**2 / (a.size - 1) + rb**2 / (b.size - 1))
    half = float(stats.t.ppf((1 + confidence) / 2, dof) * se)
    return Estimate(mean, mean - half, mean + half, n)


def _operands(
    a: Iterable[float], b: Iterable[float] | None, value: float | None
) -> tuple[np.ndarray, np.ndarray | None, float | None]:
    x = _values("a", a)
    if (b is None) == (value is None):
        raise ValueError("Expected exactly one of `b` (a second sample) and `value` (a constant)")
    if value is not None:
        value = check_number("value", value)
    return x, (None if b is None else _values("b", b)), (None if value is None else float(value))


def greater(
    a: Iterable[float],
    b: Iterable[float] | None = None,
    *,
    value: float | None = None,
    paired: bool,
    min_effect: float = 0.0,
    digits: int = 3,
) -> Finding:
    """Claim "A > B" (or "A > value"): the effect ``mean(A) - mean(B)`` must exceed ``min_effect``.

    ``paired`` says whether the i-th values of ``a`` and ``b`` come from the same seed
    (ignored against a constant ``value``).
    """
    return _directional(a, b, value=value, paired=paired, min_effect=min_effect, digits=digits, sign=1)


def less(a: Iterable[float], b: Iterable[float] | None = None, **options: Any) -> Finding:
    """Claim "A < B" (or "A < value"): the effect ``mean(A) - mean(B)`` must be below ``-min_effect``.

    Takes the options of :func:`greater` (``value``, ``paired``, ``min_effect``, ``digits``).
    """
    return _directional(a, b, sign=-1, **options)


def _directional(
    a: Iterable[float],
    b: Iterable[float] | None,
    *,
    sign: int,
    paired: bool,
    value: float | None = None,
    min_effect: float = 0.0,
    digits: int = 3,
) -> Finding:
    x, y, c = _operands(a, b, value)
    min_effect = check_number("min_effect", min_effect, low=0)
    paired = check_bool("paired", paired)
    digits = _digits(digits)
    effect = _difference(x, y, c, paired, CONFIDENCE)
    kind = "constant" if y is None else ("paired" if paired else "Welch")
    test = f"{kind} difference {'>' if sign > 0 else '<'} {sign * min_effect + 0.0:g}, 95% t interval"
    verdict = _region_verdict(effect, lambda v: sign * v > min_effect)
    return Finding(verdict, effect, test, _ours(x, y, c, effect, digits))


def equivalent(
    a: Iterable[float],
    b: Iterable[float] | None = None,
    *,
    value: float | None = None,
    margin: float,
    paired: bool,
    digits: int = 3,
) -> Finding:
    """Claim "no difference between A and B" (or A and ``value``) within ``±margin``.

    Two one-sided tests at level 0.05: the 90% interval of the difference must lie in
    ``[-margin, margin]``. The margin is declared with the claim, before looking.
    """
    x, y, c = _operands(a, b, value)
    margin = check_number("margin", margin, low=0, low_inclusive=False)
    paired = check_bool("paired", paired)
    digits = _digits(digits)
    effect = _difference(x, y, c, paired, 1 - 2 * (1 - CONFIDENCE))
    kind = "constant" if y is None else ("paired" if paired else "Welch")
    test = f"{kind} difference within ±{margin:g} (TOST, 90% t interval)"
    return Finding(_region_verdict(effect, lambda v: abs(v) <= margin), effect, test, _ours(x, y, c, effect, digits))


def correlated(x: Iterable[float], y: Iterable[float], *, sign: int = 1, digits: int = 2) -> Finding:
    """Claim "x and y are positively (``sign=1``) or negatively (``-1``) correlated".

    Pearson's r over independent points (one per seed or per independent run, never
    the probe points of one training curve) with Fisher's z interval; ``n`` must reach
    :data:`MIN_SEEDS` and at least 4 for an interval.
    """
    from scipy import stats

    u, v = _values("x", x), _values("y", y)
    digits = _digits(digits)
    if u.size != v.size:
        raise ValueError(f"Expected `x` and `y` of equal length, got {u.size} and {v.size}")
    if sign not in (1, -1):
        raise ValueError(f"Expected `sign` in [1, -1], got {sign!r}")
    if u.size < 4 or np.ptp(u) == 0 or np.ptp(v) == 0:
        r = math.nan if u.size < 2 or np.ptp(u) == 0 or np.ptp(v) == 0 else float(np.corrcoef(u, v)[0, 1])
        effect = Estimate(r, math.nan, math.nan, int(u.size))
        return Finding("not tested", effect, "Pearson r, Fisher z 95% interval", f"r = {r:.{digits}f} (n={u.size})")
    res = stats.pearsonr(u, v)
    ci = res.confidence_interval(CONFIDENCE)
    effect = Estimate(float(res.statistic), float(ci.low), float(ci.high), int(u.size))
    ours = f"r = {effect.mean:.{digits}f} [{effect.low:.{digits}f}, {effect.high:.{digits}f}] (n={u.size})"
    return Finding(_region_verdict(effect, lambda r: sign * r > 0), effect, "Pearson r, Fisher z 95% interval", ours)


def deterministic(
    value: float, *, at_least: float | None = None, at_most: float | None = None, digits: int = 3
) -> Finding:
    """Claim about a quantity with no seed variation (a closed form, a deterministic solver).

    Seeds that give identical results are one replicate, not several: such a claim is
    checked once, exactly, against ``[at_least, at_most]`` (numerical tolerance goes
    into the bounds, declared with the claim): ``"reproduced"`` inside, else
    ``"not reproduced"``.
    """
    value = check_number("value", value)
    digits = _digits(digits)
    if at_least is None and at_most is None:
        raise ValueError("Expected at least one of `at_least` and `at_most`")
    low = -math.inf if at_least is None else check_number("at_least", at_least)
    high = math.inf if at_most is None else check_number("at_most", at_most)
    if low > high:
        raise ValueError(f"Expected `at_least` <= `at_most`, got {at_least!r} > {at_most!r}")
    value = float(value)
    verdict = "reproduced" if low <= value <= high else "not reproduced"
    bounds = " and ".join(
        t for t in (f">= {low:g}" * (at_least is not None), f"<= {high:g}" * (at_most is not None)) if t
    )
    return Finding(verdict, Estimate(value, value, value, 1), f"deterministic, {bounds}", f"{value:.{digits}g}")


def paper_check(
    values: Iterable[float], paper: float, *, tolerance: float, scale_matches: bool, digits: int = 3
) -> Finding:
    """Claim "we obtain the paper's number": ``paper`` in our 95% interval widened by ``tolerance``.

    ``scale_matches`` says whether our data, architecture and schedule are the paper's;
    when they are not, the verdict is ``"not tested at this scale"``.
    """
    x = _values("values", values)
    paper = check_number("paper", paper)
    tolerance = check_number("tolerance", tolerance, low=0)
    scale_matches = check_bool("scale_matches", scale_matches)
    digits = _digits(digits)
    est = estimate(x)
    test = f"paper's number within our 95% interval ± {tolerance:g}"
    if not scale_matches:
        return Finding("not tested at this scale", est, test, est.format(digits))
    if est.n < MIN_SEEDS:
        return Finding("not tested", est, test, est.format(digits))
    inside = est.low - tolerance <= paper <= est.high + tolerance
    return Finding("reproduced" if inside else "not reproduced", est, test, est.format(digits))


def _ours(x: np.ndarray, y: np.ndarray | None, c: float | None, effect: Estimate, digits: int) -> str:
    first = estimate(x).format(digits)
    second = f"{c:.{digits}g}" if y is None else estimate(y).format(digits)
    low, high = effect.low, effect.high
    interval = "" if not math.isfinite(low) else f" [{low:.{digits}f}, {high:.{digits}f}]"
    return f"{first} vs {second}; difference {effect.mean:+.{digits}f}{interval}"


# --------------------------------------------------------------------------- scorecards


@dataclass(frozen=True)
class Claim:
    """One scorecard row: a claim, the paper's number (a labelled reference), and our finding.

    ``where`` names the profile, data and seeds the finding comes from.
    """

    claim: str
    finding: Finding
    where: str
    paper: str = "—"

    def __post_init__(self) -> None:
        for name in ("claim", "where", "paper"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"Expected `{name}` to be a non-empty string, got {getattr(self, name)!r}")
        if not isinstance(self.finding, Finding):
            raise TypeError(f"Expected `finding` to be a Finding, got {self.finding!r}")


def scorecard(claims: Sequence[Claim]) -> pd.DataFrame:
    """The scorecard table: claim, paper (reference), ours, where, test, verdict; one row per claim."""
    if isinstance(claims, str | bytes) or not isinstance(claims, Sequence):
        raise TypeError(f"Expected `claims` to be a sequence of Claim, got {claims!r:.80}")
    if not claims:
        raise ValueError("Expected `claims` with at least one Claim, got none")
    bad = [c for c in claims if not isinstance(c, Claim)]
    if bad:
        raise TypeError(f"Expected `claims` to hold Claim objects, got {bad[0]!r:.80}")
    rows = [
        {
            "claim": c.claim,
            "paper (reference)": c.paper,
            "ours": c.finding.ours,
            "profile, data, seeds": c.where,
            "test": c.finding.test,
            "verdict": c.finding.verdict,
        }
        for c in claims
    ]
    return pd.DataFrame(rows).set_index("claim")


def where(profile: str, data: str, seeds: Sequence[int]) -> str:
    """``"quick; digits; seeds 0-2"`` for a :class:`Claim`."""
    for label, value in (("profile", profile), ("data", data)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"Expected `{label}` to be a non-empty string, got {value!r}")
    if isinstance(seeds, str | bytes) or not isinstance(seeds, Iterable):
        raise TypeError(f"Expected `seeds` to be a sequence of seeds, got {seeds!r}")
    seeds = [check_positive_int("seeds", v, minimum=0) for v in seeds]
    if seeds and seeds == list(range(seeds[0], seeds[0] + len(seeds))) and len(seeds) > 2:
        text = f"{seeds[0]}-{seeds[-1]}"
    else:
        text = ",".join(map(str, seeds))
    return f"{profile}; {data}; seeds {text}"


def where_benchmark(name: str, device: str, detail: str) -> str:
    """``"benchmark; criteria_step on NVIDIA H100; 50 rounds"`` for a :class:`Claim` whose
    evidence is a recorded benchmark (:func:`c2f_utils.evidence.benchmark_records`)."""
    for label, value in (("name", name), ("device", device), ("detail", detail)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"Expected `{label}` to be a non-empty string, got {value!r}")
    return f"{BENCHMARK}; {name} on {device}; {detail}"
