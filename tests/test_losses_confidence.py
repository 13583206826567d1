"""Confidence penalty: value against an independent formula, limits, saturation, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.special import softmax
from scipy.stats import entropy as scipy_entropy

from c2f_utils.losses import ConfidencePenalty
from c2f_utils.probes import info_plane


@pytest.mark.parametrize("beta", [0.0, 0.1, 0.7, 2.0])
def test_value_matches_cross_entropy_minus_scipy_entropy(beta: float) -> None:
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(16, 5, generator=gen, dtype=torch.float64) * 3
    target = torch.randint(0, 5, (16,), generator=gen)
    probs = softmax(logits.numpy(), axis=1)
    ce = -np.mean(np.log(probs[np.arange(16), target.numpy()]))
    want = ce - beta * np.mean([scipy_entropy(p) for p in probs])
    loss = ConfidencePenalty(beta)
    assert float(loss(logits, target)) == pytest.approx(want, abs=1e-12)
    assert loss.last_entropy == pytest.approx(np.mean([scipy_entropy(p) for p in probs]), abs=1e-12)
    if beta == 0:
        assert float(loss(logits, target)) == pytest.approx(float(F.cross_entropy(logits, target)), abs=1e-12)


def test_saturated_logits_give_finite_loss_and_gradient() -> None:
    logits = torch.tensor([[1e4, -1e4, 0.0], [0.0, 0.0, 0.0]], requires_grad=True)
    loss = ConfidencePenalty(0.5)(logits, torch.tensor([0, 2]))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()


def test_optimum_depends_on_the_label_only_so_it_lies_on_the_ib_line() -> None:
    labels = torch.tensor([0, 0, 1, 2, 2, 2, 3, 1])
    logits = torch.zeros(8, 4, requires_grad=True)
    opt = torch.optim.Adam([logits], lr=0.05)
    crit = ConfidencePenalty(0.5)
    for _ in range(1500):
        opt.zero_grad()
        crit(logits, labels).backward()
        opt.step()
    probs = torch.softmax(logits.detach(), 1).double()
    # Rows with the same label converge to the same distribution (a function of y alone).
    assert torch.allclose(probs[0], probs[1], atol=1e-4) and torch.allclose(probs[3], probs[5], atol=1e-4)
    point = info_plane(probs, labels)
    assert point.i_xt == pytest.approx(point.i_ty, abs=1e-4)
    assert 0 < point.i_xt < info_plane(torch.eye(4, dtype=torch.float64)[labels], labels).i_xt


@pytest.mark.parametrize(
    ("logits", "target", "match"),
    [
        (torch.zeros(3), torch.tensor([0, 1, 2]), "logits"),
        (torch.zeros(3, 2), torch.tensor([0, 1]), "target"),
        (torch.zeros(2, 2), torch.tensor([0.0, 1.0]), "target"),
        (torch.zeros(2, 2), torch.tensor([0, 2]), "target"),
    ],
)
def test_invalid_inputs(logits: torch.Tensor, target: torch.Tensor, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        ConfidencePenalty(0.1)(logits, target)


def test_invalid_beta() -> None:
    with pytest.raises(ValueError, match="beta"):
        ConfidencePenalty(-0.1)
    assert "beta=0.3" in repr(ConfidencePenalty(0.3))
