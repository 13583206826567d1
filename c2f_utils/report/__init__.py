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

One module per role, every name importable from here (``from c2f_utils import report;
report.greater``): :mod:`~c2f_utils.report.policy` (the numbers and words of the policy),
:mod:`~c2f_utils.report.estimates` (means, intervals and their tables),
:mod:`~c2f_utils.report.verdicts` (the tests and their verdicts), :mod:`~c2f_utils.report.power`
(the seeds an inconclusive claim would need), :mod:`~c2f_utils.report.validity` (what a working
run is) and :mod:`~c2f_utils.report.scorecards` (scorecards and the book's table of what holds).
"""

from .estimates import Estimate, estimate, format_mean_ci, mean_ci, mean_ci_table, paired_columns, summarize
from .policy import BENCHMARK, CONFIDENCE, MAX_SEEDS, MIN_SEEDS, NOT_THIS_SCALE, POLICY_PAGE, POWER, VERDICTS
from .power import seeds_to_decide, seeds_to_decide_r
from .scorecards import Claim, power_note, scorecard, what_holds, where, where_benchmark
from .validity import Check, Validity, above_majority, at_least, at_most, final, spread, valid_runs
from .verdicts import (
    Finding,
    compare,
    correlated,
    deterministic,
    equivalent,
    greater,
    judge,
    less,
    not_tested,
    paper_check,
)

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
