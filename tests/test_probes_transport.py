"""Plan traces and layer read-outs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from c2f_utils.models import MLP, cifar_resnet
from c2f_utils.probes import (
    layer_representations,
    ot_plan_analysis,
    ot_plan_trace,
    permutation_probe,
    permute_features,
)


def test_trace_is_one_for_identical_and_near_zero_for_permuted() -> None:
    a = torch.randn(50, 20, generator=torch.Generator().manual_seed(0))
    assert ot_plan_trace(a, a) == pytest.approx(1.0, abs=1e-12)
    derangement = torch.roll(torch.arange(20), 1)
    assert ot_plan_trace(a, a[:, derangement]) == pytest.approx(0.0, abs=1e-12)
    half = torch.arange(20)
    half[:10] = torch.roll(half[:10], 1)  # 10 neurons keep their place
    assert ot_plan_trace(a, a[:, half]) == pytest.approx(0.5, abs=1e-12)


def test_analysis_recovers_the_permutation_and_accepts_numpy() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(40, 12))
    perm = rng.permutation(12)
    res = ot_plan_analysis(a, a[:, perm])
    np.testing.assert_array_equal(perm[res.match], np.arange(12))
    assert res.cost == pytest.approx(0.0, abs=1e-6)
    assert res.plan.sum() == pytest.approx(1.0)
    rect = ot_plan_analysis(a, a[:, :5])
    assert rect.trace is None and rect.plan.shape == (12, 5)


def test_trace_errors() -> None:
    a = torch.randn(10, 4)
    with pytest.raises(ValueError, match="same number of neurons"):
        ot_plan_trace(a, torch.randn(10, 5))
    with pytest.raises(ValueError, match="batch sizes"):
        ot_plan_trace(a, torch.randn(9, 4))
    with pytest.raises(TypeError, match="`b`"):
        ot_plan_trace(a, [1.0])


def test_layer_representations_dense_and_conv() -> None:
    torch.manual_seed(0)
    mlp = MLP(6, 3, hidden=(5,), feature_dim=4).train()
    x = torch.randn(7, 6)
    reps = layer_representations(mlp, x, ["body.1", "body.3"], batch_size=3)
    torch.testing.assert_close(reps["body.3"], mlp(x).features)
    assert reps["body.1"].shape == (7, 5) and mlp.training
    net = cifar_resnet(8, 10)
    maps = layer_representations(net, torch.rand(2, 3, 8, 8), ["stages.0"])
    assert maps["stages.0"].shape == (2 * 8 * 8, 16)
    with pytest.raises(ValueError, match="unknown"):
        layer_representations(mlp, x, ["nope"])
    with pytest.raises(ValueError, match="layers"):
        layer_representations(mlp, x, "body.1")


def _tanh_mlp() -> MLP:
    torch.manual_seed(0)
    return MLP(6, 3, hidden=(8,), feature_dim=5, activation="tanh")


def test_permute_features_keeps_the_function_and_permutes_the_features() -> None:
    model, x = _tanh_mlp(), torch.randn(30, 6)
    perm = torch.tensor([2, 0, 1, 4, 3])
    other = permute_features(model, perm)
    torch.testing.assert_close(other(x).logits, model(x).logits, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(other(x).features, model(x).features[:, perm])
    with pytest.raises(ValueError, match="perm"):
        permute_features(model, torch.tensor([0, 0, 1, 2, 3]))


def test_permutation_probe_sees_the_permutation_only_through_omega_i() -> None:
    model, x = _tanh_mlp(), torch.randn(30, 6)
    demo = permutation_probe(model, x, fractions=(0.0, 0.6, 1.0))
    assert demo["neurons moved"].tolist() == pytest.approx([0.0, 0.6, 1.0])  # cyclic shifts leave no neuron in place
    assert demo["trace of the plan"].tolist() == pytest.approx([1.0, 0.4, 0.0], abs=1e-9)
    assert demo["Ω_P"].max() < 1e-5 and demo["Ω_I"].iloc[0] == 0.0 and demo["Ω_I"].iloc[2] > 0.1
    assert demo["permutation recovered"].tolist() == [1.0, 1.0, 1.0]
    assert demo["max |Δ logits|"].max() < 1e-5
    # Ω_U compares every neuron with every other: the same for any order of the neurons
    assert demo["Ω_U"].tolist() == pytest.approx([demo["Ω_U"].iloc[0]] * 3, rel=1e-5)
