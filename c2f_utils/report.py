"""The report layer: estimates, tables, claims, validity, and the book's one verdict policy.

Every scorecard of the book is built here, so a verdict means the same thing on every
page (``book/verdicts.md`` explains the policy to readers). There are four words,
:data:`VERDICTS`:

- ``"reproduced"``: the whole interval of the effect lies on the paper's side, beyond the
  minimum effect declared with the claim (0 unless declared);
- ``"contradicted"``: the whole interval lies on the other side (below the declared
  minimum effect), or an equivalence test shows there is no effect of the claimed size
  (the interval lies inside ``±margin``, a margin declared with the claim);
- ``"inconclusive"``: anything else (the interval straddles zero or the minimum effect);
- ``"not tested"``: with its reason (too few valid runs, not this scale, no data).

1. **Only runs that worked.** Each chapter declares what a working run is, as named
   :class:`Check` s over a run's record (its metrics, history and arrays):
   :func:`valid_runs` keeps the runs that pass and names the others with the reason.
   Verdicts are computed on valid runs only; each scorecard row lists the runs it
   excluded (:class:`Claim` ``validity``).
2. **Independent replicates.** A claim is judged on ``n`` *distinct seeds* (never
   repeated evaluations of one run, never the points of one curve, never two runs of
   one seed counted twice). With fewer than :data:`MIN_SEEDS` the verdict is
   ``"not tested"`` and the reason says how many runs were invalid.
3. **One interval per claim.** The claim is turned into an *effect*: ``A > B`` is
   ``mean(A - B)`` (paired by seed: Student's t interval of the differences; unpaired:
   Welch's interval), ``A > c`` is ``mean(A) - c``, a correlation is Pearson's r
   (Fisher's z interval). Directional claims use the 95% interval; "no difference"
   claims (:func:`equivalent`) the 90% interval, i.e. two one-sided tests (TOST) at level
   0.05 (Schuirmann 1987), against a margin declared with the claim.
4. **The paper's number** (:func:`paper_check`): at the paper's scale the claim is an
   equivalence with the paper's value within a declared tolerance; at another scale it
   is ``"not tested"`` (reason: not the paper's scale).
5. **Deterministic quantities** (a closed form, a solver with no randomness) have no
   seed variation: checked once, exactly, against declared bounds (:func:`deterministic`).

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
    "MAX_SEEDS",
    "MIN_SEEDS",
    "NOT_THIS_SCALE",
    "POLICY_PAGE",
    "POWER",
    "VERDICTS",
    "Check",
    "Claim",
    "Estimate",
    "Finding",
    "Validity",
    "above_majority",
    "at_least",
    "at_most",
    "compare",
    "correlated",
    "deterministic",
    "equivalent",
    "estimate",
    "final",
    "format_mean_ci",
    "greater",
    "judge",
    "less",
    "mean_ci",
    "mean_ci_table",
    "not_tested",
    "paired_columns",
    "paper_check",
    "power_note",
    "scorecard",
    "seeds_to_decide",
    "seeds_to_decide_r",
    "spread",
    "summarize",
    "valid_runs",
    "what_holds",
    "where",
    "where_benchmark",
]

CONFIDENCE = 0.95
"""Confidence of every interval in the book (equivalence tests: ``1 - 2 (1 - CONFIDENCE) / 2``, i.e. 0.90)."""
MIN_SEEDS = 3
"""Fewest distinct valid seeds a verdict other than "not tested" needs."""
VERDICTS = ("reproduced", "contradicted", "inconclusive", "not tested")
"""The four verdict words, the same on every page (``book/verdicts.md``)."""
POWER = 0.8
"""Probability of a decision that :func:`seeds_to_decide` plans for (the usual 80%)."""
MAX_SEEDS = 100
"""Most seeds :func:`seeds_to_decide` reports; a claim needing more is "more than 100 seeds"."""
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
    """Mean, CI half-width (``<metric>_ci``) and count (``<metric>_n``) of each metric per group
    (one row per seed), and ``n``, the fewest values any metric of the group has.

    ``by`` and ``metrics`` must name columns of ``frame``. A group whose key is missing
    (None, NaN) is a group of its own, never dropped; a missing value of a metric is left out
    of its mean, interval and count.
    """
    by = _names("by", by)
    metrics = _names("metrics", metrics, allow_str=False)
    _frame(frame, ("by", by), ("metrics", metrics))
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
    """The outcome of one test: verdict, effect estimate and interval, how it was tested.

    ``reason`` says why a claim is ``"not tested"`` (required then, empty otherwise).
    ``seeds_needed`` (an inconclusive difference, tie or correlation only) is the number of
    seeds that would decide the claim with probability :data:`POWER` if the effect and the
    spread were what these seeds show (:func:`seeds_to_decide`); None when the claim is
    decided, not tested, or more than :data:`MAX_SEEDS` would be needed.
    """

    verdict: str
    effect: Estimate | None
    test: str
    ours: str
    reason: str = ""
    seeds_needed: int | None = None

    def __post_init__(self) -> None:
        if self.seeds_needed is not None and (
            isinstance(self.seeds_needed, bool) or not isinstance(self.seeds_needed, int) or self.seeds_needed < 1
        ):
            raise ValueError(f"Expected `seeds_needed` to be a positive integer or None, got {self.seeds_needed!r}")
        if self.verdict not in VERDICTS:
            raise ValueError(f"Expected `verdict` in {list(VERDICTS)}, got {self.verdict!r}")
        if not isinstance(self.reason, str):
            raise TypeError(f"Expected `reason` to be a string, got {self.reason!r}")
        if (self.verdict == "not tested") != bool(self.reason):
            raise ValueError(f"Expected a `reason` exactly when the verdict is 'not tested', got {self.reason!r}")

    @property
    def label(self) -> str:
        """The verdict, with its reason when not tested: ``"not tested (this scale)"``."""
        return f"{self.verdict} ({self.reason})" if self.reason else self.verdict


def not_tested(reason: str, test: str = "—", ours: str = "—") -> Finding:
    """A ``"not tested"`` :class:`Finding` with its ``reason`` (no data, this scale, not run...)."""
    if not isinstance(reason, str) or not reason:
        raise ValueError(f"Expected `reason` to be a non-empty string, got {reason!r}")
    return Finding("not tested", None, test, ours, reason)


def _too_few(n: int) -> str:
    return f"{n} valid seed{'s' * (n != 1)}, fewer than {MIN_SEEDS}"


def _distinct(seeds: Iterable[int] | None, n: int) -> int:
    """Number of distinct seeds behind ``n`` values (``n`` when the seeds are not given)."""
    if seeds is None:
        return n
    if isinstance(seeds, str | bytes) or not isinstance(seeds, Iterable):
        raise TypeError(f"Expected `seeds` to be a sequence of seeds, got {seeds!r}")
    seeds = list(seeds)
    if len(seeds) != n:
        raise ValueError(f"Expected one seed per value in `seeds`, got {len(seeds)} for {n} values")
    return len(set(seeds))


def _verdict(effect: Estimate, seeds: int, *, above: float, sign: int = 1) -> tuple[str, str]:
    """The policy for a claim "``sign`` * effect > ``above``" on ``seeds`` distinct seeds."""
    if seeds < MIN_SEEDS:
        return "not tested", _too_few(seeds)
    low, high = sorted((sign * effect.low, sign * effect.high))
    if not (math.isfinite(low) and math.isfinite(high)):
        return "not tested", "no interval (constant values)"
    if low > above:
        return "reproduced", ""
    if high < above:
        return "contradicted", ""
    return "inconclusive", ""


def _negligible(effect: Estimate, margin: float | None) -> bool:
    """Whether the (90%) interval lies inside ``±margin``: no effect of the claimed size."""
    return margin is not None and -margin <= effect.low and effect.high <= margin


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


def seeds_to_decide(
    effect: float, spread: float, *, boundary: float = 0.0, margin: float | None = None, power: float = POWER
) -> int | None:
    r"""Fewest seeds that would decide a claim with probability ``power``, if the per-seed
    effect had mean ``effect`` and standard deviation ``spread``: a power calculation.

    A directional claim (no ``margin``) is decided when the 95% t interval of the mean
    effect excludes ``boundary`` (the claim's minimum effect, signed) on the effect's side.
    With :math:`\delta = |\mathrm{effect} - \mathrm{boundary}|` and :math:`\sigma` the
    spread, :math:`n` seeds decide with probability

    .. math:: P\bigl(T'_{n-1}(\delta \sqrt{n} / \sigma) > t_{1-\alpha/2,\,n-1}\bigr),

    :math:`T'_\nu(\lambda)` the noncentral t distribution (``scipy.stats.nct``), α = 0.05.
    A tie (``margin``) inside the margin is decided when both one-sided tests at level α
    reject (TOST), with probability at least
    :math:`P(T'(\delta_+) > t_{1-\alpha}) + P(T'(\delta_-) > t_{1-\alpha}) - 1`,
    :math:`\delta_\pm = (\mathrm{margin} \pm \mathrm{effect}) \sqrt{n} / \sigma` (the usual
    lower bound); outside the margin, when the 90% interval lies wholly beyond it.

    Returns the smallest :math:`n \ge` :data:`MIN_SEEDS` reaching ``power``, or None beyond
    :data:`MAX_SEEDS` (also for an effect on the boundary: no finite number decides it).

    References
    ----------
    Cohen, J. (1988). *Statistical Power Analysis for the Behavioral Sciences*, ch. 2;
    Schuirmann, D. J. (1987). A comparison of the two one-sided tests procedure. *J.
    Pharmacokinet. Biopharm.* 15, 657-680.
    """
    from scipy import stats

    effect = check_number("effect", effect)
    spread = check_number("spread", spread, low=0)
    boundary = check_number("boundary", boundary)
    margin = _margin(margin)
    power = check_number("power", power, low=0, high=1, low_inclusive=False, high_inclusive=False)
    if margin is not None and abs(effect) < margin:
        near, far = margin - abs(effect), margin + abs(effect)

        def chance(n: int, crit: float) -> float:
            return max(0.0, float(stats.nct.sf(crit, n - 1, near * math.sqrt(n) / spread))
                       + float(stats.nct.sf(crit, n - 1, far * math.sqrt(n) / spread)) - 1.0)  # fmt: skip

        level = _TOST
    else:
        distance = abs(effect - boundary) if margin is None else abs(effect) - margin
        level = CONFIDENCE if margin is None else _TOST

        def chance(n: int, crit: float) -> float:
            return float(stats.nct.sf(crit, n - 1, distance * math.sqrt(n) / spread))

        if distance == 0:
            return None
    if spread == 0:
        return MIN_SEEDS
    for n in range(MIN_SEEDS, MAX_SEEDS + 1):
        if chance(n, float(stats.t.ppf((1 + level) / 2, n - 1))) >= power:
            return n
    return None


def seeds_to_decide_r(r: float, *, power: float = POWER) -> int | None:
    r"""Fewest independent runs whose Fisher z 95% interval of Pearson's r would exclude 0 with
    probability ``power`` if the correlation were ``r``:
    :math:`n = \lceil ((z_{1-\alpha/2} + z_{\mathrm{power}}) / \operatorname{artanh} |r|)^2 \rceil + 3`
    (Cohen 1988, ch. 3), at least 4 and :data:`MIN_SEEDS`; None beyond :data:`MAX_SEEDS`.
    """
    from scipy import stats

    r = check_number("r", r, low=-1, high=1, low_inclusive=False, high_inclusive=False)
    power = check_number("power", power, low=0, high=1, low_inclusive=False, high_inclusive=False)
    if r == 0:
        return None
    z = float(stats.norm.ppf((1 + CONFIDENCE) / 2) + stats.norm.ppf(power))
    n = max(4, MIN_SEEDS, math.ceil((z / math.atanh(abs(r))) ** 2) + 3)
    return n if n <= MAX_SEEDS else None


def _spread(a: np.ndarray, b: np.ndarray | None, value: float | None, paired: bool) -> float:
    """Standard deviation of one seed's effect: of the paired (or constant) differences; for
    unpaired samples, of the difference of one draw from each (``sqrt(var_a + var_b)``)."""
    if b is None:
        return float(np.std(a - value, ddof=1))
    if paired:
        return float(np.std(a - b, ddof=1))
    return float(math.sqrt(a.var(ddof=1) + b.var(ddof=1)))


def _operands(
    a: Iterable[float], b: Iterable[float] | None, value: float | None
) -> tuple[np.ndarray, np.ndarray | None, float | None]:
    x = _values("a", a)
    if (b is None) == (value is None):
        raise ValueError("Expected exactly one of `b` (a second sample) and `value` (a constant)")
    if value is not None:
        value = check_number("value", value)
    return x, (None if b is None else _values("b", b)), (None if value is None else float(value))


def _margin(margin: float | None) -> float | None:
    return None if margin is None else check_number("margin", margin, low=0, low_inclusive=False)


def greater(
    a: Iterable[float],
    b: Iterable[float] | None = None,
    *,
    value: float | None = None,
    paired: bool,
    min_effect: float = 0.0,
    margin: float | None = None,
    seeds: Iterable[int] | None = None,
    digits: int = 3,
) -> Finding:
    """Claim "A > B" (or "A > value"): the effect ``mean(A) - mean(B)`` must exceed ``min_effect``.

    ``paired`` says whether the i-th values of ``a`` and ``b`` come from the same seed
    (ignored against a constant ``value``). Contradicted when the whole 95% interval lies
    below ``min_effect``, or when a ``margin`` is declared and the 90% interval lies inside
    ``±margin`` (no effect of the claimed size). ``seeds`` (one per value of ``a``) makes
    the replicate count the number of distinct seeds.
    """
    return _directional(
        a, b, value=value, paired=paired, min_effect=min_effect, margin=margin, seeds=seeds, digits=digits, sign=1
    )


def less(a: Iterable[float], b: Iterable[float] | None = None, **options: Any) -> Finding:
    """Claim "A < B" (or "A < value"): the effect ``mean(A) - mean(B)`` must be below ``-min_effect``.

    Takes the options of :func:`greater` (``value``, ``paired``, ``min_effect``, ``margin``, ``seeds``, ``digits``).
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
    margin: float | None = None,
    seeds: Iterable[int] | None = None,
    digits: int = 3,
) -> Finding:
    x, y, c = _operands(a, b, value)
    min_effect = check_number("min_effect", min_effect, low=0)
    margin = _margin(margin)
    paired = check_bool("paired", paired)
    digits = _digits(digits)
    n = _distinct(seeds, x.size)
    effect = _difference(x, y, c, paired, CONFIDENCE)
    kind = "constant" if y is None else ("paired" if paired else "Welch")
    test = f"{kind} difference {'>' if sign > 0 else '<'} {sign * min_effect + 0.0:g}, 95% t interval"
    verdict, reason = _verdict(effect, n, above=min_effect, sign=sign)
    if margin is not None:
        test += f"; no effect if the 90% interval is within ±{margin:g}"
        if verdict == "inconclusive" and _negligible(_difference(x, y, c, paired, _TOST), margin):
            verdict = "contradicted"
    needed = None
    if verdict == "inconclusive":
        needed = seeds_to_decide(effect.mean, _spread(x, y, c, paired), boundary=sign * min_effect)
    return Finding(verdict, effect, test, _ours(x, y, c, effect, digits), reason, needed)


_TOST = 1 - 2 * (1 - CONFIDENCE)
"""Confidence of the interval of two one-sided tests at level ``1 - CONFIDENCE`` (0.90)."""


def equivalent(
    a: Iterable[float],
    b: Iterable[float] | None = None,
    *,
    value: float | None = None,
    margin: float,
    paired: bool,
    seeds: Iterable[int] | None = None,
    digits: int = 3,
) -> Finding:
    """Claim "no difference between A and B" (or A and ``value``) within ``±margin``.

    Two one-sided tests at level 0.05: reproduced when the 90% interval of the difference
    lies in ``[-margin, margin]``, contradicted when it lies wholly outside (the
    difference exceeds the margin), inconclusive otherwise. The margin is declared with
    the claim, before looking.
    """
    x, y, c = _operands(a, b, value)
    margin = check_number("margin", margin, low=0, low_inclusive=False)
    paired = check_bool("paired", paired)
    digits = _digits(digits)
    n = _distinct(seeds, x.size)
    effect = _difference(x, y, c, paired, _TOST)
    kind = "constant" if y is None else ("paired" if paired else "Welch")
    test = f"{kind} difference within ±{margin:g} (TOST, 90% t interval)"
    if n < MIN_SEEDS:
        verdict, reason = "not tested", _too_few(n)
    elif not (math.isfinite(effect.low) and math.isfinite(effect.high)):
        verdict, reason = "not tested", "no interval (constant values)"
    elif _negligible(effect, margin):
        verdict, reason = "reproduced", ""
    elif effect.low > margin or effect.high < -margin:
        verdict, reason = "contradicted", ""
    else:
        verdict, reason = "inconclusive", ""
    needed = (
        seeds_to_decide(effect.mean, _spread(x, y, c, paired), margin=margin) if verdict == "inconclusive" else None
    )
    return Finding(verdict, effect, test, _ours(x, y, c, effect, digits), reason, needed)


def correlated(
    x: Iterable[float],
    y: Iterable[float],
    *,
    sign: int = 1,
    margin: float | None = None,
    seeds: Iterable[int] | None = None,
    digits: int = 2,
) -> Finding:
    """Claim "x and y are positively (``sign=1``) or negatively (``-1``) correlated".

    Pearson's r over independent runs (never the probe points of one training curve) with
    Fisher's z 95% interval; it needs at least 4 points and :data:`MIN_SEEDS` distinct
    ``seeds`` (one per point; points of one seed from different criteria count once).
    Contradicted when the whole interval has the other sign, or when a ``margin`` is
    declared and the interval lies inside ``±margin``.
    """
    from scipy import stats

    u, v = _values("x", x), _values("y", y)
    digits = _digits(digits)
    margin = _margin(margin)
    if u.size != v.size:
        raise ValueError(f"Expected `x` and `y` of equal length, got {u.size} and {v.size}")
    if sign not in (1, -1):
        raise ValueError(f"Expected `sign` in [1, -1], got {sign!r}")
    n = _distinct(seeds, u.size)
    test = "Pearson r, Fisher z 95% interval"
    if u.size < 4 or n < MIN_SEEDS or np.ptp(u) == 0 or np.ptp(v) == 0:
        constant = u.size >= 2 and (np.ptp(u) == 0 or np.ptp(v) == 0)
        r = math.nan if u.size < 2 or constant else float(np.corrcoef(u, v)[0, 1])
        effect = Estimate(r, math.nan, math.nan, int(u.size))
        reason = (
            "a constant variable: r undefined"
            if constant
            else (_too_few(n) if n < MIN_SEEDS else f"{u.size} points, fewer than 4")
        )
        return Finding("not tested", effect, test, f"r = {r:.{digits}f} (n={u.size})", reason)
    res = stats.pearsonr(u, v)
    ci = res.confidence_interval(CONFIDENCE)
    effect = Estimate(float(res.statistic), float(ci.low), float(ci.high), int(u.size))
    ours = f"r = {effect.mean:.{digits}f} [{effect.low:.{digits}f}, {effect.high:.{digits}f}] (n={u.size})"
    verdict, reason = _verdict(effect, n, above=0.0, sign=sign)
    if verdict == "inconclusive" and _negligible(effect, margin):
        verdict = "contradicted"
    needed = seeds_to_decide_r(effect.mean) if verdict == "inconclusive" and abs(effect.mean) < 1 else None
    return Finding(verdict, effect, test, ours, reason, needed)


def deterministic(
    value: float, *, at_least: float | None = None, at_most: float | None = None, digits: int = 3
) -> Finding:
    """Claim about a quantity with no seed variation (a closed form, a deterministic solver).

    Seeds that give identical results are one replicate, not several: such a claim is
    checked once, exactly, against ``[at_least, at_most]`` (numerical tolerance goes
    into the bounds, declared with the claim): ``"reproduced"`` inside, else
    ``"contradicted"``.
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
    verdict = "reproduced" if low <= value <= high else "contradicted"
    bounds = " and ".join(
        t for t in (f">= {low:g}" * (at_least is not None), f"<= {high:g}" * (at_most is not None)) if t
    )
    return Finding(verdict, Estimate(value, value, value, 1), f"deterministic, {bounds}", f"{value:.{digits}g}")


NOT_THIS_SCALE = "not the paper's scale"
"""Reason of a :func:`paper_check` away from the paper's data, architecture and schedule."""


def paper_check(
    values: Iterable[float], paper: float, *, tolerance: float, scale_matches: bool, digits: int = 3
) -> Finding:
    """Claim "we obtain the paper's number": our mean equals ``paper`` within ``tolerance``.

    At the paper's scale (``scale_matches``: our data, architecture and schedule are the
    paper's) this is :func:`equivalent` against the constant ``paper`` with margin
    ``tolerance`` (a zero tolerance admits only an exact match); at another scale the
    verdict is ``"not tested"`` (:data:`NOT_THIS_SCALE`): a stand-in can test a direction,
    not a number.
    """
    x = _values("values", values)
    paper = check_number("paper", paper)
    tolerance = check_number("tolerance", tolerance, low=0)
    scale_matches = check_bool("scale_matches", scale_matches)
    digits = _digits(digits)
    est = estimate(x)
    test = f"paper's number within ±{tolerance:g} of ours (TOST, 90% t interval)"
    if not scale_matches:
        return Finding("not tested", est, test, est.format(digits), NOT_THIS_SCALE)
    if tolerance == 0:
        exact = bool(np.all(x == paper))
        if x.size < MIN_SEEDS:
            return Finding("not tested", est, test, est.format(digits), _too_few(int(x.size)))
        return Finding("reproduced" if exact else "inconclusive", est, test, est.format(digits))
    found = equivalent(x, value=paper, margin=tolerance, paired=False, digits=digits)
    return Finding(found.verdict, est, test, est.format(digits), found.reason, found.seeds_needed)


def _ours(x: np.ndarray, y: np.ndarray | None, c: float | None, effect: Estimate, digits: int) -> str:
    first = estimate(x).format(digits)
    second = f"{c:.{digits}g}" if y is None else estimate(y).format(digits)
    low, high = effect.low, effect.high
    interval = "" if not math.isfinite(low) else f" [{low:.{digits}f}, {high:.{digits}f}]"
    return f"{first} vs {second}; difference {effect.mean:+.{digits}f}{interval}"


def judge(test: Any, a: Iterable[float], b: Iterable[float] | None = None, **options: Any) -> Finding:
    """``test(a, b, **options)``, or ``"not tested"`` when ``a`` or ``b`` is empty (every run invalid)."""
    if test not in (greater, less, equivalent, correlated, paper_check):
        raise ValueError(f"Expected `test` in [greater, less, equivalent, correlated, paper_check], got {test!r}")
    sizes = [len(list(v)) for v in (a, b) if v is not None and not isinstance(v, str | bytes)]
    if 0 in sizes:
        scale = test is paper_check and options.get("scale_matches") is False
        return not_tested(NOT_THIS_SCALE if scale else _too_few(0))
    return test(a, b, **options) if b is not None else test(a, **options)


def compare(
    test: Any,
    frame: pd.DataFrame,
    column: str,
    by: str,
    a: Any,
    b: Any,
    *,
    on: str = "seed",
    scale: float = 1.0,
    **options: Any,
) -> Finding:
    """``test(A, B, paired=True, **options)`` on ``column`` of the rows ``by == a`` and ``by == b``
    aligned on ``on`` (the seeds both have), scaled by ``scale``.

    ``frame`` holds the valid runs only: a group with no valid run, or no shared seed,
    gives ``"not tested"`` instead of an error.
    """
    if test not in (greater, less, equivalent):
        raise ValueError(f"Expected `test` in [greater, less, equivalent], got {test!r}")
    check_number("scale", scale, low=0, high=1e6, low_inclusive=False)  # a unit change (x100: percent)
    if isinstance(frame, pd.DataFrame) and frame.empty:  # every run of the claim invalid
        return not_tested(_too_few(0))
    _frame(frame, ("column", column), ("by", by), ("on", on))
    if not ((frame[by] == a).any() and (frame[by] == b).any()):
        return not_tested(_too_few(0))
    left = frame[frame[by] == a].set_index(on)[column]
    right = frame[frame[by] == b].set_index(on)[column]
    common = left.index.intersection(right.index)
    if common.empty:
        return not_tested(_too_few(0))
    x, y = paired_columns(frame[frame[by].isin([a, b])], column, by, a, b, on)
    return test(scale * x, scale * y, paired=True, **options)


# --------------------------------------------------------------------------- validity


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


# --------------------------------------------------------------------------- scorecards


@dataclass(frozen=True)
class Claim:
    """One scorecard row: a claim, the paper's number (a labelled reference), and our finding.

    ``where`` names the profile, data and seeds the finding comes from; ``validity`` the
    runs the claim draws on, valid or excluded (None: no run can fail, e.g. a closed form).
    """

    claim: str
    finding: Finding
    where: str
    paper: str = "—"
    validity: Validity | None = None

    def __post_init__(self) -> None:
        for name in ("claim", "where", "paper"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"Expected `{name}` to be a non-empty string, got {getattr(self, name)!r}")
        if not isinstance(self.finding, Finding):
            raise TypeError(f"Expected `finding` to be a Finding, got {self.finding!r}")
        if self.validity is not None and not isinstance(self.validity, Validity):
            raise TypeError(f"Expected `validity` to be a Validity or None, got {self.validity!r:.80}")

    @property
    def reason(self) -> str:
        """Why the claim is not tested: the finding's reason, led by the invalid runs where some were excluded."""
        f, v = self.finding, self.validity
        if f.verdict != "not tested":
            return ""
        if v is not None and v.excluded and f.reason.endswith(f"fewer than {MIN_SEEDS}"):
            return f"{len(v.excluded)} of {v.total} runs invalid (required: {v.checks_failed()}); {f.reason}"
        return f.reason


def _to_decide(finding: Finding) -> str:
    """The scorecard's power note: ``"decided"``, the seeds an inconclusive claim would need, or ``"—"``."""
    if finding.verdict in ("reproduced", "contradicted"):
        return "decided"
    if finding.verdict == "not tested":
        return "—"
    n = finding.effect.n if finding.effect is not None else 0
    if finding.seeds_needed is None:
        return f"more than {MAX_SEEDS} (at the observed effect and spread)"
    return f"about {finding.seeds_needed} (now {n})"


def scorecard(claims: Sequence[Claim]) -> pd.DataFrame:
    """The scorecard table, one row per claim: claim, paper (reference), ours, where, test, verdict,
    the reason of a "not tested", the seeds that would decide an inconclusive claim at the
    observed effect and spread (:func:`seeds_to_decide`, :data:`POWER`), the valid runs and
    the runs excluded as invalid (and why)."""
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
            "why not tested": c.reason,
            "seeds to decide": _to_decide(c.finding),
            "valid runs": "—" if c.validity is None else c.validity.counts(),
            "excluded runs (why)": "—" if c.validity is None else c.validity.summary(),
        }
        for c in claims
    ]
    return pd.DataFrame(rows).set_index("claim")


def power_note(card: pd.DataFrame) -> str:
    """One sentence on what a scorecard's seed counts can decide (the chapter's power note):
    how many claims are decided, and for the inconclusive ones how many seeds the observed
    effect and spread would need (:func:`seeds_to_decide`, at :data:`POWER`), read from the
    card's ``verdict`` and ``seeds to decide`` columns.
    """
    if not isinstance(card, pd.DataFrame) or not {"verdict", "seeds to decide"} <= set(card.columns):
        raise ValueError(
            f"Expected `card` as a scorecard with 'verdict' and 'seeds to decide' columns, got {card!r:.80}"
        )
    verdict, needs = card["verdict"].astype(str), card["seeds to decide"].astype(str)
    tested = int((verdict != "not tested").sum())
    decided = int(verdict.isin(["reproduced", "contradicted"]).sum())
    undecided = needs[verdict == "inconclusive"]
    counts = undecided.str.extract(r"^about (\d+)", expand=False).dropna().astype(int)
    hopeless = int(undecided.str.startswith("more than").sum())
    text = f"{decided} of {tested} tested claims decided"
    if len(undecided):
        parts = []
        if len(counts):
            span = f"{counts.min()}" if counts.min() == counts.max() else f"{counts.min()}-{counts.max()}"
            parts.append(f"{len(counts)} would need about {span} seeds at the observed effect and spread")
        if hopeless:
            parts.append(f"{hopeless} more than {MAX_SEEDS} (no practical seed count decides it)")
        text += f"; of the {len(undecided)} inconclusive, " + ", ".join(parts)
    untested = len(card) - tested
    return text + (f"; {untested} not tested." if untested else ".")


def where(profile: str, data: str, seeds: Sequence[int]) -> str:
    """``"quick; digits; seeds 0-2"`` for a :class:`Claim`."""
    for label, value in (("profile", profile), ("data", data)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"Expected `{label}` to be a non-empty string, got {value!r}")
    if isinstance(seeds, str | bytes) or not isinstance(seeds, Iterable):
        raise TypeError(f"Expected `seeds` to be a sequence of seeds, got {seeds!r}")
    seeds = [check_positive_int("seeds", v, minimum=0) for v in seeds]
    if len(set(seeds)) != len(seeds):  # one run counted twice would pass for two independent ones
        raise ValueError(f"Expected distinct `seeds`, got {seeds}")
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


# --------------------------------------------------------------------------- what holds


def _effect(ours: str) -> str:
    """The effect and its interval out of a scorecard's ``ours`` text (its ``difference`` part when there is one)."""
    marker = "; difference "
    return ours.split(marker, 1)[1] if marker in ours else ours


def what_holds(
    cards: Mapping[str, Mapping[str, pd.DataFrame]],
    titles: Mapping[str, str] | None = None,
    links: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Every claim of the book, one row per (paper, claim): per profile its verdict (with the
    reason of a "not tested"), our effect with its interval, and the valid runs.

    ``cards`` maps a chapter to its scorecards per profile (:func:`scorecard` tables);
    ``titles`` names a chapter's paper (default: the chapter), ``links`` its page (a
    ``chapter`` column is added with the link). A claim a profile does not make is ``—``.
    """
    if not isinstance(cards, Mapping) or not cards:
        raise TypeError(
            f"Expected `cards` to be a non-empty mapping chapter -> profile -> scorecard, got {cards!r:.80}"
        )
    titles, links = dict(titles or {}), dict(links or {})
    rows: dict[tuple[str, str], dict[str, str]] = {}
    profiles: list[str] = []
    for chapter, per_profile in cards.items():
        for profile, card in per_profile.items():
            _frame(card.reset_index(), ("cards", ["claim", "ours", "verdict"]))
            profiles += [profile] * (profile not in profiles)
            for claim, row in card.iterrows():
                key = (titles.get(chapter, chapter), str(claim))
                entry = rows.setdefault(key, {"chapter": links.get(chapter, chapter)})
                why = row.get("why not tested", "")
                entry[f"{profile}: verdict"] = row["verdict"] + (f" ({why})" if isinstance(why, str) and why else "")
                entry[f"{profile}: effect [interval]"] = _effect(str(row["ours"]))
                entry[f"{profile}: valid runs"] = str(row.get("valid runs", "—"))
    columns = ["chapter"] + [f"{p}: {c}" for p in profiles for c in ("verdict", "effect [interval]", "valid runs")]
    table = pd.DataFrame.from_dict(rows, orient="index").reindex(columns=columns).fillna("—")
    table.index = pd.MultiIndex.from_tuples(list(rows), names=["paper", "claim"])
    return table
