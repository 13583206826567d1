"""The OT-transfer chapter's experiment code: model surgery, selection, paired verdicts."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from c2f_utils.chapters import ot_transfer as ch
from c2f_utils.models import MLP


def _mlp() -> MLP:
    torch.manual_seed(0)
    return MLP(6, 3, hidden=(8,), feature_dim=5, activation="tanh")


def test_permute_features_keeps_the_function_and_the_demo_sees_it() -> None:
    model, x = _mlp(), torch.randn(30, 6)
    perm = torch.tensor([2, 0, 1, 4, 3])
    other = ch.permute_features(model, perm)
    torch.testing.assert_close(other(x).logits, model(x).logits, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(other(x).features, model(x).features[:, perm])
    demo = ch.permutation_demo(model, x, fractions=(0.0, 1.0))
    assert demo["trace of the plan"].tolist() == pytest.approx([1.0, 0.0], abs=1e-9)
    assert demo["Ω_P"].max() < 1e-5 and demo["Ω_I"].iloc[1] > 0.1
    assert demo["permutation recovered"].tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="perm"):
        ch.permute_features(model, torch.tensor([0, 0, 1, 2, 3]))


def _frame(values: dict[str, list[float]], alphas=(0.1, 1.0)) -> pd.DataFrame:
    rows = []
    for method, accs in values.items():
        for alpha in alphas:
            for seed, acc in enumerate(accs):
                # alpha 1.0 is the better one on validation for every method
                good = alpha == 1.0
                rows.append(
                    {
                        "method": method,
                        "alpha": alpha,
                        "seed": seed,
                        "val_acc": 0.9 if good else 0.5,
                        "test_acc": acc if good else 0.0,
                        **{f"trace_{layer}": 0.5 for layer in ch.LAYERS},
                    }
                )
    return pd.DataFrame(rows)


def test_select_best_and_paired_difference() -> None:
    frame = _frame({"l2sp": [0.70, 0.80, 0.75], "omega_p": [0.72, 0.82, 0.77]})
    sel = ch.select_best(frame)
    assert set(sel.alpha) == {1.0} and len(sel) == 6
    mean, half = ch.paired_difference(sel, "omega_p", "l2sp")
    assert mean == pytest.approx(2.0) and half == pytest.approx(0.0, abs=1e-9)  # a constant paired gap
    with pytest.raises(ValueError, match="common seeds"):
        ch.paired_difference(sel[sel.seed < 1].assign(seed=lambda f: f.seed + (f.method == "l2sp")), "omega_p", "l2sp")


def test_verdicts() -> None:
    assert ch._verdict(1.0, 0.5) == "reproduced"
    assert ch._verdict(0.3, 0.5) == "partly (interval includes 0)"
    assert ch._verdict(-0.3, 0.1) == "not reproduced"
    assert "one seed" in ch._verdict(0.3, float("nan"))


def test_paper_profile_says_it_is_not_implemented() -> None:
    with pytest.raises(NotImplementedError, match="paper profile"):
        ch.transfer_runs(ch.SPEC.resolve("paper"))


def test_finetune_tiny_run_records_traces() -> None:
    out = ch.finetune("digits", "omega_p", 0.1, 0, 3, 1, 2, 0.02, 5, 0.01, "cpu")
    assert 0.0 <= out.metrics["test_acc"] <= 1.0
    assert all(0.0 <= out.metrics[f"trace_{layer}"] <= 1.0 for layer in ch.LAYERS)
    assert out.history.plan_trace.notna().sum() == 2  # one mean trace per epoch
    with pytest.raises(ValueError, match="method"):
        ch.finetune("digits", "l1", 0.1, 0, 3, 1, 1, 0.02, 5, 0.01, "cpu")
