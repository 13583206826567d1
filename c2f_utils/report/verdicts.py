"""The verdict policy: a claim's test over seeds, its effect and interval, and its verdict.

Every claim of the book is judged by these functions (:func:`greater`, :func:`less`,
:func:`equivalent`, :func:`correlated`, :func:`deterministic`, :func:`paper_check`), whose
verdict is one of :data:`~c2f_utils.report.policy.VERDICTS`, computed, never typed."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._checks import check_bool, check_number
from ._inputs import check_digits, check_frame, check_margin, check_sample
from .estimates import Estimate, estimate, paired_columns
from .policy import CONFIDENCE, MIN_SEEDS, NOT_THIS_SCALE, TOST_CONFIDENCE, VERDICTS
from .power import effect_spread, seeds_to_decide, seeds_to_decide_r

__all__ = [
    "Finding",
    "compare",
    "correlated",
    "deterministic",
    "equivalent",
    "greater",
    "judge",
    "less",
    "not_tested",
    "paper_check",
]


@dataclass(frozen=True)
class Finding:
    """The outcome of one test: verdict, effect estimate and interval, how it was tested.

    ``reason`` says why a claim is ``"not tested"`` (required then, empty otherwise).
    ``seeds_needed`` (an inconclusive difference, tie or correlation only) is the number of
    seeds that would decide the claim with probability :data:`~c2f_utils.report.POWER` if the effect and the
    spread were what these seeds show (:func:`~c2f_utils.report.seeds_to_decide`); None when the claim is
    decided, not tested, or more than :data:`~c2f_utils.report.MAX_SEEDS` would be needed.
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


def _operands(
    a: Iterable[float], b: Iterable[float] | None, value: float | None
) -> tuple[np.ndarray, np.ndarray | None, float | None]:
    x = check_sample("a", a)
    if (b is None) == (value is None):
        raise ValueError("Expected exactly one of `b` (a second sample) and `value` (a constant)")
    if value is not None:
        value = check_number("value", value)
    return x, (None if b is None else check_sample("b", b)), (None if value is None else float(value))


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
    margin = check_margin(margin)
    paired = check_bool("paired", paired)
    digits = check_digits(digits)
    n = _distinct(seeds, x.size)
    effect = _difference(x, y, c, paired, CONFIDENCE)
    kind = "constant" if y is None else ("paired" if paired else "Welch")
    test = f"{kind} difference {'>' if sign > 0 else '<'} {sign * min_effect + 0.0:g}, 95% t interval"
    verdict, reason = _verdict(effect, n, above=min_effect, sign=sign)
    if margin is not None:
        test += f"; no effect if the 90% interval is within ±{margin:g}"
        if verdict == "inconclusive" and _negligible(_difference(x, y, c, paired, TOST_CONFIDENCE), margin):
            verdict = "contradicted"
    needed = None
    if verdict == "inconclusive":
        needed = seeds_to_decide(effect.mean, effect_spread(x, y, c, paired), boundary=sign * min_effect)
    return Finding(verdict, effect, test, _ours(x, y, c, effect, digits), reason, needed)


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
    digits = check_digits(digits)
    n = _distinct(seeds, x.size)
    effect = _difference(x, y, c, paired, TOST_CONFIDENCE)
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
        seeds_to_decide(effect.mean, effect_spread(x, y, c, paired), margin=margin)
        if verdict == "inconclusive"
        else None
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
    Fisher's z 95% interval; it needs at least 4 points and :data:`~c2f_utils.report.MIN_SEEDS` distinct
    ``seeds`` (one per point; points of one seed from different criteria count once).
    Contradicted when the whole interval has the other sign, or when a ``margin`` is
    declared and the interval lies inside ``±margin``.
    """
    from scipy import stats

    u, v = check_sample("x", x), check_sample("y", y)
    digits = check_digits(digits)
    margin = check_margin(margin)
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
    digits = check_digits(digits)
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


def paper_check(
    values: Iterable[float], paper: float, *, tolerance: float, scale_matches: bool, digits: int = 3
) -> Finding:
    """Claim "we obtain the paper's number": our mean equals ``paper`` within ``tolerance``.

    At the paper's scale (``scale_matches``: our data, architecture and schedule are the
    paper's) this is :func:`equivalent` against the constant ``paper`` with margin
    ``tolerance`` (a zero tolerance admits only an exact match); at another scale the
    verdict is ``"not tested"`` (:data:`~c2f_utils.report.NOT_THIS_SCALE`): a stand-in can test a direction,
    not a number.
    """
    x = check_sample("values", values)
    paper = check_number("paper", paper)
    tolerance = check_number("tolerance", tolerance, low=0)
    scale_matches = check_bool("scale_matches", scale_matches)
    digits = check_digits(digits)
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
    check_frame(frame, ("column", column), ("by", by), ("on", on))
    if not ((frame[by] == a).any() and (frame[by] == b).any()):
        return not_tested(_too_few(0))
    left = frame[frame[by] == a].set_index(on)[column]
    right = frame[frame[by] == b].set_index(on)[column]
    common = left.index.intersection(right.index)
    if common.empty:
        return not_tested(_too_few(0))
    x, y = paired_columns(frame[frame[by].isin([a, b])], column, by, a, b, on)
    return test(scale * x, scale * y, paired=True, **options)
