"""The verdict policy against SciPy's t tests, and the table helpers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from c2f_utils import report

samples = st.lists(st.floats(-10, 10, allow_nan=False), min_size=3, max_size=8)


def test_mean_ci_matches_scipy() -> None:
    x = np.random.default_rng(0).normal(size=7)
    mean, half = report.mean_ci(x)
    lo, hi = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    assert mean == pytest.approx(x.mean()) and half == pytest.approx((hi - lo) / 2)
    assert math.isnan(report.mean_ci([1.0])[1])
    with pytest.raises(ValueError, match="confidence"):
        report.mean_ci(x, confidence=1.5)
    with pytest.raises(ValueError, match="finite"):
        report.mean_ci([1.0, float("nan")])


@settings(max_examples=60, deadline=None)
@given(samples, st.integers(0, 2**31 - 1))
def test_paired_greater_is_scipys_one_sample_interval_of_the_differences(a: list[float], seed: int) -> None:
    b = np.asarray(a) - np.random.default_rng(seed).normal(0.5, 1.0, len(a))
    finding = report.greater(a, b, paired=True)
    d = np.asarray(a) - b
    if np.ptp(d) == 0:
        return
    ci = stats.ttest_1samp(d, 0).confidence_interval(0.95)
    assert finding.effect.low == pytest.approx(ci.low) and finding.effect.high == pytest.approx(ci.high)
    significant = stats.ttest_1samp(d, 0, alternative="greater").pvalue < 0.025
    assert (finding.verdict == "reproduced") == significant
    assert (finding.verdict == "not reproduced") == (d.mean() <= 0)


@settings(max_examples=60, deadline=None)
@given(samples, samples)
def test_unpaired_uses_welchs_interval(a: list[float], b: list[float]) -> None:
    if np.ptp(a) == 0 and np.ptp(b) == 0:
        return
    finding = report.less(a, b, paired=False)
    ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert finding.effect.low == pytest.approx(ci.low, abs=1e-9) and finding.effect.high == pytest.approx(
        ci.high, abs=1e-9
    )
    assert (finding.verdict == "reproduced") == (ci.high < 0)


@settings(max_examples=60, deadline=None)
@given(samples, st.floats(0.05, 5))
def test_equivalence_is_two_one_sided_tests(d: list[float], margin: float) -> None:
    d = np.asarray(d)
    if np.ptp(d) == 0:
        return
    finding = report.equivalent(d, value=0.0, margin=margin, paired=False)
    p_low = stats.ttest_1samp(d, -margin, alternative="greater").pvalue
    p_high = stats.ttest_1samp(d, margin, alternative="less").pvalue
    tost = max(p_low, p_high) < 0.05
    if abs(max(p_low, p_high) - 0.05) > 1e-9:  # off the boundary
        assert (finding.verdict == "reproduced") == tost


def test_too_few_seeds_is_never_reproduced() -> None:
    assert report.greater([0.9, 0.95], value=0.1, paired=False).verdict == "not tested"
    assert report.greater([0.9], [0.1], paired=True).verdict == "not tested"
    assert report.equivalent([0.5, 0.5], value=0.5, margin=0.1, paired=False).verdict == "not tested"


def test_direction_and_minimum_effect() -> None:
    a, b = [0.80, 0.82, 0.81], [0.70, 0.71, 0.72]
    assert report.greater(a, b, paired=True).verdict == "reproduced"
    assert report.less(a, b, paired=True).verdict == "not reproduced"
    assert report.greater(a, b, paired=True, min_effect=0.2).verdict == "not reproduced"
    assert report.greater([0.80, 0.60, 0.95], [0.70, 0.71, 0.72], paired=True).verdict == "partly"
    with pytest.raises(ValueError, match="min_effect"):
        report.greater(a, b, paired=True, min_effect=-1)
    with pytest.raises(ValueError, match="exactly one"):
        report.greater(a, paired=True)
    with pytest.raises(ValueError, match="equal size"):
        report.greater(a, b[:2], paired=True)


def test_correlation_uses_fisher_interval_and_needs_independent_points() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=12)
    y = x + rng.normal(scale=0.3, size=12)
    finding = report.correlated(x, y)
    ci = stats.pearsonr(x, y).confidence_interval(0.95)
    assert finding.verdict == "reproduced" and finding.effect.low == pytest.approx(ci.low)
    assert report.correlated(x, y, sign=-1).verdict == "not reproduced"
    assert report.correlated([1, 2, 3], [1, 2, 4]).verdict == "not tested"


def test_paper_check_and_deterministic() -> None:
    ours = [0.70, 0.72, 0.71]
    assert report.paper_check(ours, 0.71, tolerance=0.0, scale_matches=True).verdict == "reproduced"
    assert report.paper_check(ours, 0.80, tolerance=0.05, scale_matches=True).verdict == "not reproduced"
    assert report.paper_check(ours, 0.80, tolerance=0.05, scale_matches=False).verdict == "not tested at this scale"
    assert report.deterministic(1e-9, at_most=1e-6).verdict == "reproduced"
    assert report.deterministic(0.5, at_least=0.6).verdict == "not reproduced"
    with pytest.raises(ValueError, match="at_least"):
        report.deterministic(0.5)


def test_tables_and_scorecard() -> None:
    frame = pd.DataFrame({"method": ["a", "a", "b", "b"], "seed": [0, 1, 0, 1], "acc": [0.5, 0.7, 0.9, 0.9]})
    summary = report.summarize(frame, "method", ["acc"]).set_index("method")
    assert summary.loc["a", "acc"] == pytest.approx(0.6) and summary.loc["b", "acc_ci"] == 0.0
    table = report.mean_ci_table(frame, "method", {"acc": "accuracy (%)"}, scale=100, digits=1, order=["b", "a"])
    assert table.index.tolist() == ["b", "a"] and table.loc["a", "accuracy (%)"] == "60.0 ± 127.1"
    assert table["seeds"].tolist() == [2, 2]
    left, right = report.paired_columns(frame, "acc", "method", "a", "b")
    assert left.tolist() == [0.5, 0.7] and right.tolist() == [0.9, 0.9]
    card = report.scorecard(
        [report.Claim("a beats b", report.greater(left, right, paired=True), report.where("quick", "toy", [0, 1]))]
    )
    assert card.loc["a beats b", "verdict"] == "not tested"
    assert card.loc["a beats b", "profile, data, seeds"] == "quick; toy; seeds 0,1"
    assert report.where("paper", "mnist", range(5)) == "paper; mnist; seeds 0-4"
    bench = report.where_benchmark("criteria_step", "cpu", "15 rounds")
    assert bench == "benchmark; criteria_step on cpu; 15 rounds" and bench.split(";")[0] == report.BENCHMARK
    with pytest.raises(ValueError, match=r"`device`.*''"):
        report.where_benchmark("criteria_step", "", "15 rounds")
    with pytest.raises(ValueError, match="claim"):
        report.Claim("", report.deterministic(1.0, at_least=0), "w")
