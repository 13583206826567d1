"""The LLS chapter's experiment code: criteria, augmentation, tiny cached runs, paired statistics, verdicts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from c2f_utils.chapters import lls
from c2f_utils.losses import LLS_ABLATIONS, LLSLoss, OnlineLabelSmoothing, TFKDReg

TINY = {**lls.SPEC.resolve("quick"), "epochs": 2, "seeds": [0], "tsne_samples": 100}


def test_make_criterion_covers_every_method_and_ablation_row() -> None:
    assert isinstance(lls.make_criterion("OLS", 10, 0.1, 0.0)[0], OnlineLabelSmoothing)
    assert lls.make_criterion("OLS", 10, 0.1, 0.0)[1]  # the per-epoch callback
    assert isinstance(lls.make_criterion("TF-KD_reg", 10, 0.1, 0.0)[0], TFKDReg)
    assert lls.make_criterion("LS", 10, 0.3, 0.0)[0].label_smoothing == 0.3
    for row, terms in LLS_ABLATIONS.items():
        crit = lls.make_criterion(row, 10, 0.1, 5e-4)[0]
        assert isinstance(crit, LLSLoss) and crit.terms == terms and crit.q_weight_decay == 5e-4
    with pytest.raises(ValueError, match="method"):
        lls.make_criterion("mixup", 10, 0.1, 0.0)
    with pytest.raises(ValueError, match="model"):
        lls.make_model("vgg", 10, (3, 32, 32))


def test_augmentation_only_for_cifar() -> None:
    assert lls._augmentation("digits") is None


def test_tiny_runs_store_what_the_chapter_reads() -> None:
    params = lls._run_params(TINY, method="LLS", seed=0)
    out = lls.train_run(**params)
    arrays = out.arrays
    assert arrays["q_logits"].shape == (10, 10) and arrays["confusion"].shape == (10, 10)
    np.testing.assert_allclose(arrays["confusion"].sum(1), 1.0)
    np.testing.assert_allclose(arrays["soft_confusion"].sum(1), 1.0, rtol=1e-5)
    assert arrays["centres"].shape == (10, 32) and len(arrays["test_features"]) == 100
    assert any(k.startswith("state/") for k in arrays) and 0 <= out.metrics["test_acc"] <= 1
    st = lls.distill_run(params, "mlp_small", "LLS-ST", 0)
    kd = lls.distill_run(params, "mlp_small", "KD LLS", 0)
    assert 0 <= st.metrics["test_acc"] <= 1 and 0 <= kd.metrics["test_acc"] <= 1
    with pytest.raises(ValueError, match="kind"):
        lls.distill_run(params, "mlp_small", "KD OLS", 0)


def test_overhead_run_counts_the_q_parameters() -> None:
    m = lls.overhead_run("digits", "mlp", 0.1, 1, 512, 0.1, "cpu", 0).metrics
    assert m["params_LLS"] - m["params_LS"] == 100
    assert m["epoch_s_LS"] > 0 and m["epoch_s_LLS"] > 0


def test_paired_difference_and_verdicts() -> None:
    frame = pd.DataFrame(
        {"seed": [0, 1, 2] * 2, "method": ["A"] * 3 + ["B"] * 3, "test_acc": [0.90, 0.80, 0.85, 0.89, 0.79, 0.84]}
    )
    mean, half = lls.paired_difference(frame, "test_acc", "A", "B")
    assert mean == pytest.approx(0.01) and half == pytest.approx(0.0, abs=1e-12)  # unpaired CIs would overlap
    assert lls._verdict_positive(0.01, 0.0) == "reproduced"
    assert lls._verdict_positive(0.01, 0.02).startswith("partly")
    assert lls._verdict_positive(-0.01, 0.005) == "not reproduced"
    assert "one seed" in lls._verdict_positive(0.01, float("nan"))


def test_model_outputs_features_for_every_name() -> None:
    grey, colour = (1, 8, 8), (3, 32, 32)
    for name, shape in [("mlp", grey), ("mlp_small", grey), ("lenet", colour), ("resnet20", colour)]:
        net = lls.make_model(name, 10, shape)
        out = net(torch.rand(2, *shape))
        assert out.logits.shape == (2, 10) and isinstance(net, nn.Module)
