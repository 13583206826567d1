"""Knowledge distillation with a temperature against a direct numpy computation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import log_softmax

from c2f_utils.losses import TemperatureKD


@pytest.mark.parametrize("tau", [1.0, 4.0, 10.0])
def test_matches_numpy_kl(tau: float) -> None:
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(6, 5, generator=g, dtype=torch.float64), torch.randn(6, 5, generator=g, dtype=torch.float64)
    lp, lq = log_softmax(t.numpy() / tau, axis=1), log_softmax(s.numpy() / tau, axis=1)
    kl = float((np.exp(lp) * (lp - lq)).sum(1).mean())
    assert float(TemperatureKD(tau, t2_scaling=False)(s, t)) == pytest.approx(kl, rel=1e-10)
    assert float(TemperatureKD(tau)(s, t)) == pytest.approx(kl * tau**2, rel=1e-10)


def test_zero_for_equal_logits_and_finite_when_saturated() -> None:
    s = torch.tensor([[1000.0, -1000.0, 0.0]], requires_grad=True)
    assert float(TemperatureKD(1.0)(s, s.detach()).detach()) == pytest.approx(0.0, abs=1e-6)
    value = TemperatureKD(1.0)(s, torch.tensor([[-1000.0, 1000.0, 0.0]]))
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(s.grad).all() and float(value) > 100


def test_teacher_gets_no_gradient_and_errors() -> None:
    s, t = torch.randn(4, 3, requires_grad=True), torch.randn(4, 3, requires_grad=True)
    TemperatureKD(4.0)(s, t).backward()
    assert t.grad is None and s.grad is not None
    with pytest.raises(ValueError, match="temperature"):
        TemperatureKD(0.0)
    with pytest.raises(ValueError, match="same shape"):
        TemperatureKD()(s, t[:, :2])
    with pytest.raises(ValueError, match="student_logits"):
        TemperatureKD()(s[0], t)
    with pytest.raises(TypeError, match="t2_scaling"):
        TemperatureKD(2.0, t2_scaling=1)
