"""The verdict policy against SciPy's t tests, and the table helpers."""

from __future__ import annotations

import math
from types import SimpleNamespace

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
    p_greater = stats.ttest_1samp(d, 0, alternative="greater").pvalue
    p_less = stats.ttest_1samp(d, 0, alternative="less").pvalue
    if min(abs(p_greater - 0.025), abs(p_less - 0.025)) < 1e-9:  # on the boundary
        return
    expected = "reproduced" if p_greater < 0.025 else "contradicted" if p_less < 0.025 else "inconclusive"
    assert finding.verdict == expected


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
    if min(abs(ci.low), abs(ci.high)) < 1e-9:
        return
    assert finding.verdict == ("reproduced" if ci.high < 0 else "contradicted" if ci.low > 0 else "inconclusive")


def _tost_by_hand(d: np.ndarray, margin: float) -> tuple[float, float]:
    """p-values of the two one-sided t tests H0: mean <= -margin and H0: mean >= margin, from the t law."""
    se = d.std(ddof=1) / math.sqrt(d.size)
    with np.errstate(divide="ignore", invalid="ignore"):  # hypothesis finds samples whose spread rounds to 0
        p_low = 1 - stats.t.cdf((d.mean() + margin) / se, d.size - 1)
        p_high = stats.t.cdf((d.mean() - margin) / se, d.size - 1)
    return float(p_low), float(p_high)


@settings(max_examples=60, deadline=None)
@given(samples, st.floats(0.05, 5))
def test_equivalence_is_two_one_sided_tests(d: list[float], margin: float) -> None:
    d = np.asarray(d)
    if np.ptp(d) == 0:
        return
    finding = report.equivalent(d, value=0.0, margin=margin, paired=False)
    p_low, p_high = _tost_by_hand(d, margin)
    assert p_low == pytest.approx(stats.ttest_1samp(d, -margin, alternative="greater").pvalue)
    # beyond the margin: the one-sided tests that the mean exceeds +margin (or is below -margin)
    p_above = stats.ttest_1samp(d, margin, alternative="greater").pvalue
    p_below = stats.ttest_1samp(d, -margin, alternative="less").pvalue
    if min(abs(p - 0.05) for p in (p_low, p_high, p_above, p_below)) < 1e-9:  # on the boundary
        return
    if max(p_low, p_high) < 0.05:
        assert finding.verdict == "reproduced"
    elif min(p_above, p_below) < 0.05:
        assert finding.verdict == "contradicted"
    else:
        assert finding.verdict == "inconclusive"


def test_too_few_seeds_is_never_reproduced() -> None:
    for finding in (
        report.greater([0.9, 0.95], value=0.1, paired=False),
        report.greater([0.9], [0.1], paired=True),
        report.equivalent([0.5, 0.5], value=0.5, margin=0.1, paired=False),
        report.greater([0.9, 0.95, 0.97], value=0.1, paired=False, seeds=[0, 0, 1]),  # two distinct seeds
    ):
        assert finding.verdict == "not tested" and "fewer than 3" in finding.reason
    assert report.greater([0.9, 0.95, 0.97], value=0.1, paired=False, seeds=[0, 1, 2]).verdict == "reproduced"
    with pytest.raises(ValueError, match="one seed per value"):
        report.greater([0.9, 0.95, 0.97], value=0.1, paired=False, seeds=[0, 1])


def test_direction_minimum_effect_and_margin() -> None:
    a, b = [0.80, 0.82, 0.81], [0.70, 0.71, 0.72]
    assert report.greater(a, b, paired=True).verdict == "reproduced"
    assert report.less(a, b, paired=True).verdict == "contradicted"
    # the whole interval [0.075, 0.125] below the declared minimum effect: no effect of the claimed size
    assert report.greater(a, b, paired=True, min_effect=0.2).verdict == "contradicted"
    assert report.greater(a, b, paired=True, min_effect=0.1).verdict == "inconclusive"
    noisy = report.greater([0.80, 0.60, 0.95], [0.70, 0.71, 0.72], paired=True)
    assert noisy.verdict == "inconclusive" and noisy.effect.low < 0 < noisy.effect.high
    # a straddling interval inside a declared margin: equivalence shows no effect of the claimed size
    tiny = report.greater([0.500, 0.502, 0.501, 0.499], [0.501, 0.500, 0.500, 0.501], paired=True, margin=0.01)
    assert tiny.verdict == "contradicted" and "±0.01" in tiny.test
    assert report.greater([0.500, 0.502, 0.501, 0.499], [0.501, 0.500, 0.500, 0.501], paired=True).verdict == (
        "inconclusive"
    )
    with pytest.raises(ValueError, match="min_effect"):
        report.greater(a, b, paired=True, min_effect=-1)
    with pytest.raises(ValueError, match="margin"):
        report.greater(a, b, paired=True, margin=0)
    with pytest.raises(ValueError, match="exactly one"):
        report.greater(a, paired=True)
    with pytest.raises(ValueError, match="equal size"):
        report.greater(a, b[:2], paired=True)


def test_verdicts_are_the_four_words() -> None:
    assert report.VERDICTS == ("reproduced", "contradicted", "inconclusive", "not tested")
    with pytest.raises(ValueError, match="verdict"):
        report.Finding("partly", None, "t", "o")
    with pytest.raises(ValueError, match="reason"):
        report.Finding("not tested", None, "t", "o")
    assert report.not_tested("no data").label == "not tested (no data)"


def test_correlation_uses_fisher_interval_and_needs_independent_points() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=12)
    y = x + rng.normal(scale=0.3, size=12)
    finding = report.correlated(x, y)
    ci = stats.pearsonr(x, y).confidence_interval(0.95)
    assert finding.verdict == "reproduced" and finding.effect.low == pytest.approx(ci.low)
    assert report.correlated(x, y, sign=-1).verdict == "contradicted"
    assert report.correlated([1, 2, 3], [1, 2, 4]).verdict == "not tested"
    # 12 runs from two seeds are not 12 replicates
    two_seeds = report.correlated(x, y, seeds=[0, 1] * 6)
    assert two_seeds.verdict == "not tested" and "2 valid seeds" in two_seeds.reason
    flat = report.correlated(x, np.zeros(12))
    assert flat.verdict == "not tested" and "constant" in flat.reason


def test_paper_check_and_deterministic() -> None:
    ours = [0.70, 0.72, 0.71]
    # 90% interval of the mean: 0.71 ± 0.0169, inside 0.71 ± 0.02; wholly outside 0.80 ± 0.05
    assert report.paper_check(ours, 0.71, tolerance=0.02, scale_matches=True).verdict == "reproduced"
    assert report.paper_check(ours, 0.80, tolerance=0.05, scale_matches=True).verdict == "contradicted"
    assert report.paper_check(ours, 0.72, tolerance=0.005, scale_matches=True).verdict == "inconclusive"
    other = report.paper_check(ours, 0.80, tolerance=0.05, scale_matches=False)
    assert other.verdict == "not tested" and other.reason == report.NOT_THIS_SCALE
    assert report.deterministic(1e-9, at_most=1e-6).verdict == "reproduced"
    assert report.deterministic(0.5, at_least=0.6).verdict == "contradicted"
    with pytest.raises(ValueError, match="at_least"):
        report.deterministic(0.5)


def _run(seed: int, criterion: str, train_acc: float, feature: list[float]) -> SimpleNamespace:
    history = pd.DataFrame({"epoch": [0, 1, 2], "train_acc": [np.nan, 0.3, train_acc]})
    return SimpleNamespace(
        name="toy.train",
        params={"seed": seed, "criterion": criterion},
        metrics={"test_acc": train_acc - 0.01},
        history=history,
        arrays={"feature": np.asarray(feature)},
    )


def test_validity_is_computed_from_the_records() -> None:
    runs = [
        _run(0, "ce", 0.90, [0.1, 0.5, 0.9]),
        _run(1, "ce", 0.51, [0.2, 0.2, 0.2]),  # never left the majority class, constant feature
        _run(2, "ce", 0.88, [0.0, 1.0, 2.0]),
        _run(0, "ls", 0.89, [0.3, 0.1, 0.4]),
        _run(1, "ls", 0.91, [0.3, 0.1, 0.4]),
        _run(2, "ls", 0.90, [0.3, 0.1, 0.4]),
    ]
    checks = [report.above_majority("train_acc", majority=0.51, margin=0.05), report.spread("feature")]
    validity = report.valid_runs(runs, checks, label=lambda r: f"{r.params['criterion']} seed {r.params['seed']}")
    assert report.final(runs[1], "train_acc") == 0.51 and report.final(runs[1], "test_acc") == 0.50
    assert [r.params["seed"] for r in validity.valid] == [0, 2, 0, 1, 2]
    assert validity.counts() == "5 of 6" and validity.excluded[0][0] == "ce seed 1"
    assert "train acc 0.51 < 0.56" in validity.summary()
    assert validity.where(criterion="ls").summary() == "none" and validity.where(criterion="ls").total == 3
    assert report.valid_runs(runs, [report.at_least("train_acc", lambda r: 0.95)]).counts() == "0 of 6"
    assert report.at_most("test_acc", 0.6)(runs[0]) == "test_acc 0.89 > 0.6"
    with pytest.raises(TypeError, match="checks"):
        report.valid_runs(runs, checks[0])

    frame = pd.DataFrame([{**r.params, **r.metrics} for r in validity.valid])
    finding = report.compare(report.greater, frame, "test_acc", "criterion", "ls", "ce")
    assert finding.verdict == "not tested" and finding.reason == "2 valid seeds, fewer than 3"
    claim = report.Claim("ls beats ce", finding, "quick; toy; seeds 0-2", validity=validity)
    card = report.scorecard([claim])
    why = card.loc["ls beats ce", "why not tested"]
    checks_failed = "train_acc above the majority class (0.51) + 0.05; feature has spread (std > 1e-06)"
    assert why == f"1 of 6 runs invalid (required: {checks_failed}); 2 valid seeds, fewer than 3"
    assert card.loc["ls beats ce", "excluded runs (why)"] == "ce seed 1 (train acc 0.51 < 0.56)"
    assert card.loc["ls beats ce", "valid runs"] == "5 of 6"
    assert report.compare(report.greater, frame.iloc[:0], "test_acc", "criterion", "ls", "ce").verdict == "not tested"
    full = report.compare(report.less, frame, "test_acc", "criterion", "ce", "ls", scale=100)
    assert full.effect.n == 2 and full.verdict == "not tested"


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
    assert card.loc["a beats b", "why not tested"] == "2 valid seeds, fewer than 3"
    assert card.loc["a beats b", "excluded runs (why)"] == "—"
    assert card.loc["a beats b", "profile, data, seeds"] == "quick; toy; seeds 0,1"
    assert report.where("paper", "mnist", range(5)) == "paper; mnist; seeds 0-4"
    bench = report.where_benchmark("criteria_step", "cpu", "15 rounds")
    assert bench == "benchmark; criteria_step on cpu; 15 rounds" and bench.split(";")[0] == report.BENCHMARK
    with pytest.raises(ValueError, match=r"`device`.*''"):
        report.where_benchmark("criteria_step", "", "15 rounds")
    with pytest.raises(ValueError, match="claim"):
        report.Claim("", report.deterministic(1.0, at_least=0), "w")


def test_what_holds_lists_every_claim_per_paper_and_profile() -> None:
    def card(profile: str, verdicts: dict[str, report.Finding]) -> pd.DataFrame:
        where = report.where(profile, "toy", [0, 1, 2])
        return report.scorecard([report.Claim(c, f, where) for c, f in verdicts.items()])

    up = report.greater([0.80, 0.82, 0.81], [0.70, 0.71, 0.72], paired=True)
    flat = report.greater([0.80, 0.60, 0.95], [0.70, 0.71, 0.72], paired=True)
    cards = {
        "one": {"real": card("real", {"a beats b": up, "c beats d": flat}), "paper": card("paper", {"a beats b": up})},
        "two": {"real": card("real", {"scale": report.not_tested(report.NOT_THIS_SCALE)})},
    }
    holds = report.what_holds(cards, {"one": "Paper One"}, {"two": "<a href='two.html'>two</a>"})
    assert holds.index.tolist() == [("Paper One", "a beats b"), ("Paper One", "c beats d"), ("two", "scale")]
    assert holds.loc[("Paper One", "a beats b"), "real: effect [interval]"] == "+0.100 [0.075, 0.125]"
    assert holds.loc[("Paper One", "c beats d"), "paper: verdict"] == "—"  # a claim the profile does not make
    assert holds.loc[("two", "scale"), "real: verdict"] == "not tested (not the paper's scale)"
    assert holds.loc[("two", "scale"), "chapter"].startswith("<a href")
    with pytest.raises(TypeError, match="cards"):
        report.what_holds({})


def test_summarize_keeps_groups_without_a_key_and_counts_only_values() -> None:
    frame = pd.DataFrame(
        {"method": ["a", "a", "a", None, None], "acc": [0.5, 0.7, np.nan, 0.2, 0.4], "loss": [1.0, 2.0, 3.0, 4.0, 5.0]}
    )
    out = report.summarize(frame, "method", ["acc", "loss"])
    assert len(out) == 2 and out["method"].isna().tolist() == [False, True]  # the None group is kept
    a = out.iloc[0]
    assert a["acc"] == pytest.approx(0.6) and a["acc_n"] == 2 and a["loss_n"] == 3 and a["n"] == 2
    low, high = stats.t.interval(0.95, 1, loc=0.6, scale=stats.sem([0.5, 0.7]))
    assert a["acc_ci"] == pytest.approx((high - low) / 2)
    table = report.mean_ci_table(frame.assign(acc=[np.nan] * 5), "method", {"acc": "accuracy"})
    assert table["accuracy"].tolist() == ["—", "—"] and table["seeds"].tolist() == [0, 0]


# --------------------------------------------------------------------------- power: seeds to decide


def _simulated_power(n: int, effect: float, spread: float, *, margin: float | None, draws: int = 20_000) -> float:
    """Share of simulated n-seed experiments (normal per-seed effects) whose interval decides the claim:
    the 95% t interval excludes 0 on the effect's side, or (``margin``) the 90% interval lies inside ±margin."""
    from scipy import stats

    rng = np.random.default_rng(n)
    x = rng.normal(effect, spread, size=(draws, n))
    mean, se = x.mean(1), x.std(1, ddof=1) / np.sqrt(n)
    if margin is None:
        half = stats.t.ppf(0.975, n - 1) * se
        return float(np.mean(np.sign(effect) * mean - half > 0))
    half = stats.t.ppf(0.95, n - 1) * se
    return float(np.mean((mean - half > -margin) & (mean + half < margin)))


@pytest.mark.parametrize(
    ("effect", "spread", "margin"),
    [(0.02, 0.03, None), (-0.5, 1.0, None), (0.01, 0.004, None), (0.0, 0.01, 0.02), (0.005, 0.01, 0.02)],
)
def test_seeds_to_decide_matches_simulated_t_intervals(effect: float, spread: float, margin: float | None) -> None:
    n = report.seeds_to_decide(effect, spread, margin=margin)
    assert n is not None
    assert _simulated_power(n, effect, spread, margin=margin) >= report.POWER - 0.015
    if n > report.MIN_SEEDS:  # the seed before is not enough
        assert _simulated_power(n - 1, effect, spread, margin=margin) < report.POWER + 0.015


def test_seeds_to_decide_against_the_normal_formula_and_limits() -> None:
    from scipy import stats

    # Large n: the noncentral t tends to the normal, n ~ ((z_a/2 + z_power) sigma / delta)^2 (Cohen 1988, ch. 2).
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    n = report.seeds_to_decide(0.2, 0.5)
    assert abs(n - (z * 0.5 / 0.2) ** 2) <= 3
    assert report.seeds_to_decide(0.2, 0.5, boundary=0.2) is None  # on the boundary: no number decides
    assert report.seeds_to_decide(0.001, 1.0) is None  # beyond MAX_SEEDS
    assert report.seeds_to_decide(0.1, 0.0) == report.MIN_SEEDS
    assert report.seeds_to_decide(0.2, 0.5, power=0.9) > n


def test_seeds_to_decide_r_matches_fisher_formula_and_simulation() -> None:
    from scipy import stats

    n = report.seeds_to_decide_r(0.5)
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    assert n == int(np.ceil((z / np.arctanh(0.5)) ** 2)) + 3
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(2000):
        u = rng.normal(size=n)
        v = 0.5 * u + np.sqrt(1 - 0.25) * rng.normal(size=n)
        hits += stats.pearsonr(u, v).confidence_interval(0.95).low > 0
    assert hits / 2000 >= report.POWER - 0.03
    assert report.seeds_to_decide_r(0.0) is None
    assert report.seeds_to_decide_r(-0.5) == n


def test_inconclusive_findings_carry_the_seeds_that_would_decide_them() -> None:
    a = [0.50, 0.53, 0.48, 0.52]
    b = [0.49, 0.51, 0.50, 0.50]
    found = report.greater(a, b, paired=True)
    assert found.verdict == "inconclusive"
    diff = np.subtract(a, b)
    assert found.seeds_needed == report.seeds_to_decide(diff.mean(), diff.std(ddof=1))
    decided = report.greater([0.9, 0.91, 0.92], [0.5, 0.52, 0.51], paired=True)
    assert decided.verdict == "reproduced" and decided.seeds_needed is None
    card = report.scorecard(
        [
            report.Claim("a > b", found, report.where("real", "x", [0, 1, 2, 3])),
            report.Claim("c > d", decided, report.where("real", "x", [0, 1, 2])),
            report.Claim("e", report.not_tested("no data"), report.where("real", "x", [0])),
        ]
    )
    assert card["seeds to decide"].tolist() == [f"about {found.seeds_needed} (now 4)", "decided", "—"]
    tie = report.equivalent([0.5, 0.51, 0.49], [0.5, 0.5, 0.52], margin=0.03, paired=True)
    assert tie.verdict == "inconclusive" and tie.seeds_needed is not None
    r = report.correlated([1, 2, 3, 4, 5], [2, 1, 4, 3, 5])
    assert r.verdict == "inconclusive" and r.seeds_needed == report.seeds_to_decide_r(0.8)


def test_power_note_counts_decided_and_the_seeds_inconclusive_claims_need() -> None:
    claims = [
        report.Claim(
            "a", report.judge(report.greater, [1.0, 1.1, 0.9], value=0.0, paired=False, digits=2), "p; d; seeds 0-2"
        ),
        report.Claim(
            "b", report.judge(report.greater, [0.5, -0.1, 0.4], value=0.0, paired=False, digits=2), "p; d; seeds 0-2"
        ),
        report.Claim(
            "c", report.judge(report.greater, [0.01, -0.5, 0.5], value=0.0, paired=False, digits=2), "p; d; seeds 0-2"
        ),
        report.Claim("d", report.not_tested("no data"), "p; d; seeds 0-2"),
    ]
    card = report.scorecard(claims)
    needed = report.seeds_to_decide(float(np.mean([0.5, -0.1, 0.4])), float(np.std([0.5, -0.1, 0.4], ddof=1)))
    assert card.loc["b", "seeds to decide"] == f"about {needed} (now 3)"
    assert card.loc["c", "seeds to decide"].startswith("more than")
    assert report.power_note(card) == (
        f"1 of 3 tested claims decided; of the 2 inconclusive, 1 would need about {needed} seeds at the observed "
        f"effect and spread, 1 more than {report.MAX_SEEDS} (no practical seed count decides it); 1 not tested."
    )
    with pytest.raises(ValueError, match="card"):
        report.power_note(card.drop(columns="verdict"))
