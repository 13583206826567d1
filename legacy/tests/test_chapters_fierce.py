"""The FIERCE chapter's experiment code: data choice, criteria, tiny runs, scorecard verdicts."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from c2f_utils.chapters import fierce
from c2f_utils.losses import FIERCELoss


def test_data_for_replaces_only_the_named_experiment():
    assert [fierce.data_for(e, "embedded") for e in ("age", "unmixing", "fewshot")] == [
        "synthetic_sizes",
        "synthetic_unmixing",
        "digits",
    ]
    assert fierce.data_for("unmixing", "samson") == "samson"
    assert fierce.data_for("age", "samson") == "synthetic_sizes"
    assert [fierce.data_for(e, "real") for e in ("age", "unmixing", "fewshot")] == ["utkface", "samson", "cifar_fs"]
    with pytest.raises(ValueError, match="experiment"):
        fierce.data_for("segmentation", "real")


def test_make_criterion_kinds():
    assert isinstance(fierce.make_criterion("ce", 4), nn.CrossEntropyLoss)
    assert fierce.make_criterion("ls", 4, smoothing=0.4).label_smoothing == 0.4
    crit = fierce.make_criterion("fierce", 4, lam=0.3, n_anchors=7, seed=1)
    assert isinstance(crit, FIERCELoss) and crit.anchors.shape == (7, 4) and crit.lam == 0.3
    same = fierce.make_criterion("fierce", 4, lam=0.3, n_anchors=7, seed=1)
    assert torch.equal(crit.anchors, same.anchors)
    with pytest.raises(ValueError, match="kind"):
        fierce.make_criterion("focal", 4)


def test_transfer_mse_separates_informative_from_random_features():
    rng = np.random.default_rng(0)
    abund = torch.as_tensor(rng.dirichlet(np.ones(3), 600), dtype=torch.float32)
    informative = torch.log(abund + 1e-3)  # a softmax-linear head recovers abundances from log-abundances
    noise = torch.as_tensor(rng.normal(size=(600, 3)), dtype=torch.float32)
    good = fierce.transfer_mse(informative[:400], abund[:400], informative[400:], abund[400:], 40, 0)
    bad = fierce.transfer_mse(noise[:400], abund[:400], noise[400:], abund[400:], 40, 0)
    assert good[1] < 0.01 < bad[1]


def test_tiny_runs_produce_finite_metrics():
    age = fierce.age_run(
        "synthetic_sizes", "fierce", 0, "mlp", 16, 2, 1e-3, 64, 0.3, 0.1, 20, [-1.0, 1.0], 0.05, "bits", 1, "cpu"
    )
    assert {"mse_test_final", "mse_class_mean", "corr_entropy_mse"} <= set(age.metrics)
    assert math.isfinite(age.metrics["mse_test_final"]) and age.metrics["mse_test_final"] >= 0
    assert list(age.history.epoch) == [0, 1, 2] and "entropy_anchor" in age.history
    unmix = fierce.unmixing_run(
        "synthetic_unmixing", "ls", 0, 2, 1e-3, 200, 1.0, 0.4, 20, "dot", "uniform", "bits", 1, 2, "cpu"
    )
    assert all(math.isfinite(v) for v in unmix.metrics.values())
    assert unmix.arrays["test_probs"].shape[1] == 4
    assert np.allclose(unmix.arrays["test_probs"].sum(1), 1, atol=1e-5)
    fs = fierce.fewshot_run("digits", "ce", 0, 1, 0.05, 64, 1.5, 0.1, 20, "bits", 50, "cpu")
    assert 0.2 <= fs.metrics["acc_1shot"] <= 1 and fs.metrics["acc_5shot"] >= fs.metrics["acc_1shot"] - 0.05


def _metrics(col: str, values: dict[str, list[float]]) -> pd.DataFrame:
    return pd.DataFrame([{"criterion": c, "seed": s, col: v} for c, vs in values.items() for s, v in enumerate(vs)])


def test_interval_verdicts():
    assert fierce._interval_verdict((1.0, 0.1), (2.0, 0.1)) == "reproduced"
    assert fierce._interval_verdict((1.0, 0.6), (2.0, 0.6)).startswith("partly")
    assert fierce._interval_verdict((2.0, 0.1), (1.0, 0.1)) == "not reproduced"


def test_two_phase_rise_uses_the_mean_curve_best_epoch():
    rows = []
    for seed in range(3):
        for epoch, mse in ((0, 5.0), (1, 1.0 + 0.01 * seed), (2, 2.0), (3, 3.0 + 0.1 * seed)):
            rows.append({"criterion": "ce", "seed": seed, "epoch": epoch, "mse_test": mse})
    rise, half = fierce._two_phase_rise(pd.DataFrame(rows), "ce")
    assert rise == pytest.approx(2.0 + 0.09 * 1)  # mean over seeds of (3 + 0.1 s) - (1 + 0.01 s)
    assert half > 0


def test_scorecard_reads_the_runs():
    P = {**fierce.SPEC.resolve("quick"), "seeds": [0, 1, 2]}
    age = pd.concat(
        [
            _metrics("mse_test_final", {"ce": [3.0, 3.1, 2.9], "ls": [3.5, 3.6, 3.4], "fierce": [1.0, 1.1, 0.9]}),
        ]
    )
    age["corr_entropy_mse"] = [-0.9, -0.8, -0.85] * 3
    hist = pd.DataFrame(
        [
            {"criterion": c, "seed": s, "epoch": e, "mse_test": m + (e == 2) * (c == "ce")}
            for c in ("ce", "fierce")
            for s in range(3)
            for e, m in ((1, 1.0 + 0.01 * s), (2, 1.0))
        ]
    )
    unmix = _metrics("transfer_mse_test", {"ce": [0.2] * 3, "ls": [0.1] * 3, "fierce": [0.01, 0.02, 0.015]})
    unmix["raw_mse_test"] = [0.2, 0.21, 0.19, 0.05, 0.06, 0.055, 0.3, 0.31, 0.29]
    fs = _metrics("acc_1shot", {"ce": [0.5, 0.51, 0.49], "ls": [0.6, 0.61, 0.59], "fierce": [0.55, 0.56, 0.54]})
    corr = pd.DataFrame({"criterion": ["ce"] * 3, "seed": [0, 1, 2], "correlation": [0.9, 0.85, 0.88]})
    card = fierce.scorecard(age, hist, unmix, fs, corr, P)
    verdict = card["verdict"]
    assert verdict["Fig. 1: FIERCE ends with a lower fine MSE than CE"] == "reproduced"
    assert verdict["Fig. 1: feature entropy and fine MSE are negatively correlated (CE)"] == "reproduced"
    assert verdict["Fig. 1: with CE the fine MSE passes a minimum, then rises (two phases)"] == "reproduced"
    assert verdict["Table 1: FIERCE transfer MSE < LS"] == "reproduced"
    assert verdict["Table 1: LS raw MSE < CE raw MSE"] == "reproduced"
    assert verdict["Table 1: FIERCE raw MSE < CE raw MSE"] == "not reproduced"
    assert verdict["Table 2: FIERCE 1-shot accuracy > CE"] == "reproduced"
    assert verdict["Table 2: FIERCE 1-shot accuracy > LS"] == "not reproduced"
    assert verdict["App. A.4: the anchor estimate follows the feature entropy (CE training)"].startswith("reproduced")
    assert card["data"].str.contains("quick profile, 3 seeds").all()


def test_benchmark_table_reads_result_files(tmp_path):
    import json

    record = {
        "median_step_s": {"ce": 0.1, "fierce": 0.105},
        "overhead_ratio": 1.05,
        "batch": [64, 3, 32, 32],
        "steps": 5,
        "provenance": {"device": "cpu (test)", "git_commit": "0123456789ab", "finished_at": "now"},
    }
    (tmp_path / "fierce_step_cpu.json").write_text(json.dumps(record))
    table = fierce.benchmark_table(str(tmp_path))
    assert table.loc[0, "FIERCE / CE"] == 1.05 and table.loc[0, "commit"] == "01234567"
    assert fierce.benchmark_table(str(tmp_path / "none")).empty
