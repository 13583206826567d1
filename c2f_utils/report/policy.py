"""The numbers and words of the book's one verdict policy (``book/verdicts.md``)."""

from __future__ import annotations

__all__ = [
    "BENCHMARK",
    "CONFIDENCE",
    "MAX_SEEDS",
    "MIN_SEEDS",
    "NOT_THIS_SCALE",
    "POLICY_PAGE",
    "POWER",
    "TOST_CONFIDENCE",
    "VERDICTS",
]


CONFIDENCE = 0.95
"""Confidence of every interval in the book (equivalence tests: ``1 - 2 (1 - CONFIDENCE) / 2``, i.e. 0.90)."""

MIN_SEEDS = 3
"""Fewest distinct valid seeds a verdict other than "not tested" needs."""

VERDICTS = ("reproduced", "contradicted", "inconclusive", "not tested")
"""The four verdict words, the same on every page (``book/verdicts.md``)."""

POWER = 0.8
"""Probability of a decision that :func:`~c2f_utils.report.seeds_to_decide` plans for (the usual 80%)."""

MAX_SEEDS = 100
"""Most seeds :func:`~c2f_utils.report.seeds_to_decide` reports; a claim needing more is "more than 100 seeds"."""

BENCHMARK = "benchmark"
"""First field of a claim's ``where`` when its evidence is a recorded benchmark
(``benchmarks/results``), not a profile's runs: the same in every profile's scorecard."""

POLICY_PAGE = "verdicts.md"
"""The book page that explains the policy; every scorecard links to it."""

NOT_THIS_SCALE = "not the paper's scale"
"""Reason of a :func:`~c2f_utils.report.paper_check` away from the paper's data, architecture and schedule."""

TOST_CONFIDENCE = 1 - 2 * (1 - CONFIDENCE)
"""Confidence of the interval of two one-sided tests at level ``1 - CONFIDENCE`` (0.90)."""
