"""Power: how many seeds would decide an inconclusive claim at the effect and spread observed."""

from __future__ import annotations

import math

import numpy as np

from .._checks import check_number
from ._inputs import check_margin
from .policy import CONFIDENCE, MAX_SEEDS, MIN_SEEDS, POWER, TOST_CONFIDENCE

__all__ = ["seeds_to_decide", "seeds_to_decide_r"]


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

    Returns the smallest :math:`n \ge` :data:`~c2f_utils.report.MIN_SEEDS` reaching ``power``, or None beyond
    :data:`~c2f_utils.report.MAX_SEEDS` (also for an effect on the boundary: no finite number decides it).

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
    margin = check_margin(margin)
    power = check_number("power", power, low=0, high=1, low_inclusive=False, high_inclusive=False)
    if margin is not None and abs(effect) < margin:
        near, far = margin - abs(effect), margin + abs(effect)

        def chance(n: int, crit: float) -> float:
            return max(0.0, float(stats.nct.sf(crit, n - 1, near * math.sqrt(n) / spread))
                       + float(stats.nct.sf(crit, n - 1, far * math.sqrt(n) / spread)) - 1.0)  # fmt: skip

        level = TOST_CONFIDENCE
    else:
        distance = abs(effect - boundary) if margin is None else abs(effect) - margin
        level = CONFIDENCE if margin is None else TOST_CONFIDENCE

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
    (Cohen 1988, ch. 3), at least 4 and :data:`~c2f_utils.report.MIN_SEEDS`; None beyond
    :data:`~c2f_utils.report.MAX_SEEDS`.
    """
    from scipy import stats

    r = check_number("r", r, low=-1, high=1, low_inclusive=False, high_inclusive=False)
    power = check_number("power", power, low=0, high=1, low_inclusive=False, high_inclusive=False)
    if r == 0:
        return None
    z = float(stats.norm.ppf((1 + CONFIDENCE) / 2) + stats.norm.ppf(power))
    n = max(4, MIN_SEEDS, math.ceil((z / math.atanh(abs(r))) ** 2) + 3)
    return n if n <= MAX_SEEDS else None


def effect_spread(a: np.ndarray, b: np.ndarray | None, value: float | None, paired: bool) -> float:
    """Standard deviation of one seed's effect: of the paired (or constant) differences; for
    unpaired samples, of the difference of one draw from each (``sqrt(var_a + var_b)``)."""
    if b is None:
        return float(np.std(a - value, ddof=1))
    if paired:
        return float(np.std(a - b, ddof=1))
    return float(math.sqrt(a.var(ddof=1) + b.var(ddof=1)))
