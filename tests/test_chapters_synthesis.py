"""The synthesis chapter: its networks and criteria, selection, tables, scorecard and runs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from anatomy import by_hand
from scipy import stats

from c2f_utils.chapters import synthesis as ch


def test_every_criterion_is_built_and_unknown_ones_are_refused() -> None:
    logits, features, y = torch.randn(6, 2, requires_grad=True), torch.randn(6, 8), torch.tensor([0, 1] * 3)
    for criterion in ch.CRITERIA:
        crit = ch.make_criterion(criterion, 0.1, 2, 8, seed=0)
        loss = crit(logits, features, y) if getattr(crit, "needs_features", False) else crit(logits, y)
        assert torch.isfinite(loss)
    ce = ch.make_criterion("ce", 0.0, 2, 8, 0)(logits, y)
    assert torch.equal(ce, torch.nn.functional.cross_entropy(logits, y))
    with pytest.raises(ValueError, match="`criterion`"):
        ch.make_criterion("focal", 0.1, 2, 8, 0)
    with pytest.raises(ValueError, match="`model`"):
        ch.make_model("vit", 2, (64,), 8)


def _rows(values: dict[tuple[str, float], list[float]], metric: str = "val_acc") -> pd.DataFrame:
    return pd.DataFrame(
        {"criterion": c, "strength": s, "seed": seed, metric: v}
        for (c, s), vs in values.items()
        for seed, v in enumerate(vs)
    )


def test_selected_keeps_the_best_mean_validation_strength_and_the_smaller_on_ties() -> None:
    frame = _rows(
        {
            ("ce", 0.0): [0.5, 0.6, 0.7],
            ("ls", 0.1): [0.8, 0.7, 0.9],
            ("ls", 0.3): [0.9, 0.9, 0.7],
            ("fierce", 0.1): [0.6, 0.6, 0.6],
            ("fierce", 0.5): [0.6, 0.6, 0.6],
        }
    )
    sel = ch.selected(frame)
    assert sel.groupby("criterion").strength.first().to_dict() == {"ce": 0.0, "fierce": 0.1, "ls": 0.3}
    assert sel.criterion.tolist() == ["ce"] * 3 + ["ls"] * 3 + ["fierce"] * 3  # the order of CRITERIA
    with pytest.raises(ValueError, match="`frame`"):
        ch.selected(frame.drop(columns="val_acc"))


def _selected_frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for i, criterion in enumerate(ch.CRITERIA):
        for seed in range(3):
            row = {"criterion": criterion, "strength": 0.1, "seed": seed, "val_acc": 0.9}
            for m in ch.MEASUREMENTS:
                row[m] = 0.5 + 0.01 * i + 0.001 * rng.normal()
            rows.append(row)
    frame = pd.DataFrame(rows)
    frame.loc[frame.criterion == "tfkd", "fine_probe_acc"] += 0.1  # clear, consistent lead
    frame.loc[frame.criterion == "ce", "ece"] -= 0.2  # lower is better: CE leads on calibration
    noisy = frame.criterion == "ols"
    frame.loc[noisy, "test_acc"] = [0.9, 0.3, 0.6]  # mean 0.6: leads, but not on every seed
    return frame


def test_summary_marks_only_significant_leads_in_the_right_direction() -> None:
    sel = _selected_frame()
    table = ch.summary_table(sel)
    assert table.shape == (len(ch.CRITERIA), len(ch.MEASUREMENTS))
    probe, ece, acc = (ch.MEASUREMENTS[m][0] for m in ("fine_probe_acc", "ece", "test_acc"))
    assert table[probe].str.endswith("*").tolist() == [c == "tfkd" for c in ch.CRITERIA]
    assert table[ece].str.endswith("*").tolist() == [c == "ce" for c in ch.CRITERIA]
    assert not table[acc].str.endswith("*").any()  # online LS leads on the mean only
    x = sel[sel.criterion == "tfkd"].fine_probe_acc
    assert table.loc["TF-KD_reg (α = 0.1)", probe].startswith(f"{x.mean():.3f}")
    best = ch.best_per_measurement(sel)
    tie = f"tie within ±{ch.TIE_MARGIN:g} (TOST)"
    assert best.loc[probe].tolist() == ["TF-KD_reg", "online LS", "reproduced", "contradicted"]
    assert best.loc[acc, "best"] == "online LS" and best.loc[acc, "lead (paired, 95%)"] == "inconclusive"
    assert best.loc[acc, tie] == "inconclusive"  # a lead not established is not a tie
    even = sel.assign(fine_probe_acc=0.3)
    even.loc[even.criterion == "ols", "fine_probe_acc"] = [0.60, 0.70, 0.65]
    even.loc[even.criterion == "tfkd", "fine_probe_acc"] = [0.601, 0.702, 0.653]  # ahead by 0.001-0.003 only
    row = ch.best_per_measurement(even).loc[probe]
    assert row["best"] == "TF-KD_reg" and row["runner-up"] == "online LS"
    assert row["lead (paired, 95%)"] == "inconclusive" and row[tie] == "reproduced"
    descriptive = [label for label, direction in ch.MEASUREMENTS.values() if direction == 0]
    assert descriptive and not set(descriptive) & set(best.index)
    assert not any(table[label].str.endswith("*").any() for label in descriptive)


def test_rank_correlations_are_spearman_over_criterion_means() -> None:
    sel = _selected_frame()
    table = ch.rank_correlations(sel, ["test_acc", "ece", "separation"])
    means = sel.groupby("criterion")[["test_acc", "ece"]].mean()
    expected = stats.spearmanr(means.test_acc, means.ece).statistic
    assert table.iloc[0, 1] == pytest.approx(expected)
    assert np.allclose(np.diag(table), 1.0)


def test_scorecard_verdicts_follow_the_policy() -> None:
    config = ch.CHAPTER.configure("quick")
    sel = _selected_frame()
    # Kornblith: accuracy and fine probe move in opposite directions across criteria
    sel["fine_probe_acc"] = 1.0 - sel["test_acc"] + 0.001 * sel["seed"]
    sel.loc[sel.criterion == "ls", "separation"] += 0.05
    sel.loc[sel.criterion == "ce", "student_acc"] = sel.loc[sel.criterion == "ls", "student_acc"].to_numpy() - 0.05
    card = ch.scorecard(sel, config)
    verdict = card["verdict"]
    assert verdict.filter(like="higher accuracy give less transferable").item() == "reproduced"
    assert verdict.filter(like="label smoothing tightens").item() == "reproduced"
    assert verdict.filter(like="distils worse").item() == "contradicted"  # CE's students are worse here
    # the runs of a criterion that collapsed are left out: with two valid seeds a pair is not tested
    fewer = sel[~((sel.criterion == "ls") & (sel.seed == 2))]
    assert ch.scorecard(fewer, config)["verdict"].filter(like="label smoothing tightens").item() == "not tested"
    assert all(w.startswith("quick; digits; seeds 0-2") for w in card["profile, data, seeds"])


def test_train_run_splits_out_the_held_out_classes_and_measures_everything() -> None:
    run = ch.CHAPTER.configure("quick").runs("train_fierce")[0].replace(epochs=2)
    parts = run.split()
    assert set(parts["held_out"].fine.unique().tolist()) == {4, 9}
    for name in ("train", "val", "test"):
        assert not set(parts[name].fine.unique().tolist()) & {4, 9}
    assert len(parts["val"]) == pytest.approx(0.2 * (len(parts["train"]) + len(parts["val"])), abs=2)
    out = run.run()
    assert set(out.metrics) == {*ch.MEASUREMENTS, "val_acc", "i_ty", "fewshot_shots"} - {"student_acc"}
    assert all(math.isfinite(v) for v in out.metrics.values())
    assert 0.5 <= out.metrics["fewshot_acc"] <= 1.0 and 0 <= out.metrics["separation"] <= 1
    with pytest.raises(ValueError, match="`held_out`"):
        run.replace(held_out=(4, 42)).split()


def test_distill_follows_its_teacher_and_trains_a_student() -> None:
    config = ch.CHAPTER.configure("quick", epochs=1, seeds=[2], **{"ls.strengths": [0.3]})
    distill = config.runs("distill_ls")[0]
    assert (distill.teacher.criterion, distill.teacher.strength, distill.teacher.seed) == ("ls", 0.3, 2)
    assert distill.requires() == [distill.teacher] and distill.teacher.epochs == 1
    assert 0.0 <= distill.run().metrics["student_acc"] <= 1.0


def test_train_run_is_fit_over_its_five_parts_then_its_measurements() -> None:
    run = ch.CHAPTER.configure("quick").runs("train_ols")[0].replace(epochs=2)  # online LS: a criterion's callback
    out = run.run()
    hand = by_hand(run)
    data, by_hand_result = hand.parts, hand.result
    assert len(hand.callbacks) == 1 and set(hand.recipe.options) == {"val_data", "transform"}
    assert out.history.drop(columns="time_s", errors="ignore").equals(
        by_hand_result.history.drop(columns="time_s", errors="ignore")
    )
    assert run.outcome(data, by_hand_result).metrics == out.metrics


def test_the_criterion_reads_the_network_feature_size_without_spending_a_draw() -> None:
    run = ch.CHAPTER.configure("quick").runs("train_fierce")[0]
    data = run.data()
    torch.manual_seed(0)
    fierce = run.build_criterion(data)
    after = torch.rand(3)
    torch.manual_seed(0)
    assert torch.equal(after, torch.rand(3))
    assert fierce.anchors.shape == (100, run.feature_dim) == (100, run.build_model(data).feature_dim)
