"""Knowledge distillation (LLS Eq. 6, OT-transfer Eq. 7) and the LLS substitute teacher against hand computations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.special import log_softmax

from c2f_utils.losses import KDLoss, LLSLoss, SubstituteTeacherLoss, kd_loss, teacher_objective
from c2f_utils.models import MLP, ModelOutput
from c2f_utils.train import fit


def _np_softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


@pytest.mark.parametrize(("temperature", "beta"), [(1.0, 0.0), (4.0, 0.0), (2.0, 0.3)])
def test_kd_loss_matches_eq6_by_hand(temperature: float, beta: float) -> None:
    rng = np.random.default_rng(0)
    s, t = rng.normal(size=(5, 4)) * 2, rng.normal(size=(5, 4)) * 2
    y = np.array([0, 1, 2, 3, 1])
    soft = -(_np_softmax(t / temperature) * np.log(_np_softmax(s / temperature))).sum(1).mean()
    hard = -np.log(_np_softmax(s)[np.arange(5), y]).mean()
    expected = beta * hard + (1 - beta) * soft
    got = kd_loss(torch.tensor(s), torch.tensor(t), torch.tensor(y), temperature=temperature, beta=beta)
    np.testing.assert_allclose(float(got), expected, rtol=1e-6)
    module = KDLoss(temperature, beta)
    np.testing.assert_allclose(float(module(torch.tensor(s), torch.tensor(t), torch.tensor(y))), expected, rtol=1e-6)


def test_kd_loss_teacher_is_detached_and_minimised_by_the_teacher() -> None:
    t = torch.randn(3, 5, requires_grad=True)
    s = t.detach().clone().requires_grad_(True)
    loss = kd_loss(s, t)
    loss.backward()
    assert t.grad is None
    torch.testing.assert_close(s.grad, torch.zeros_like(s), atol=1e-7, rtol=0)  # H(t, s) is minimal at s = t
    entropy = -(torch.softmax(t, 1) * torch.log_softmax(t, 1)).sum(1).mean()
    torch.testing.assert_close(loss, entropy.detach())


def test_kd_loss_invalid_arguments() -> None:
    s = torch.randn(2, 3)
    with pytest.raises(ValueError, match="temperature"):
        kd_loss(s, s, temperature=0.0)
    with pytest.raises(ValueError, match="beta"):
        kd_loss(s, s, beta=1.5)
    with pytest.raises(ValueError, match="teacher_logits"):
        kd_loss(s, torch.randn(2, 4))
    with pytest.raises(ValueError, match="target"):
        kd_loss(s, s, beta=0.5)


@pytest.mark.parametrize("tau", [1.0, 4.0, 10.0])
def test_kl_divergence_matches_numpy_eq7(tau: float) -> None:
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(6, 5, generator=g, dtype=torch.float64), torch.randn(6, 5, generator=g, dtype=torch.float64)
    lp, lq = log_softmax(t.numpy() / tau, axis=1), log_softmax(s.numpy() / tau, axis=1)
    kl = float((np.exp(lp) * (lp - lq)).sum(1).mean())
    assert float(kd_loss(s, t, temperature=tau, divergence="kl")) == pytest.approx(kl, rel=1e-10)
    scaled = KDLoss(tau, divergence="kl", t2_scaling=True)(s, t)
    assert float(scaled) == pytest.approx(kl * tau**2, rel=1e-10)
    entropy = float(-(np.exp(lp) * lp).sum(1).mean())  # KL = H(g, f) - H(g): same gradient, other value
    cross = float(kd_loss(s, t, temperature=tau))
    assert cross - entropy == pytest.approx(kl, rel=1e-5)


def test_kl_divergence_keeps_the_ot_chapter_formula_bit_for_bit() -> None:
    g = torch.Generator().manual_seed(1)
    s, t = torch.randn(64, 10, generator=g, requires_grad=True), torch.randn(64, 10, generator=g)
    tau, alpha = 4.0, 0.7
    value = alpha * KDLoss(tau, divergence="kl", t2_scaling=True)(s, t)
    (grad,) = torch.autograd.grad(value, s)
    formula = F.kl_div(F.log_softmax(s / tau, 1), F.log_softmax(t / tau, 1), reduction="batchmean", log_target=True)
    (expected_grad,) = torch.autograd.grad(alpha * (formula * tau**2), s)
    assert torch.equal(value, alpha * (formula * tau**2)) and torch.equal(grad, expected_grad)


def test_kl_divergence_is_zero_for_equal_logits_and_finite_when_saturated() -> None:
    s = torch.tensor([[1000.0, -1000.0, 0.0]], requires_grad=True)
    assert float(kd_loss(s, s.detach(), divergence="kl").detach()) == pytest.approx(0.0, abs=1e-6)
    t = torch.tensor([[-1000.0, 1000.0, 0.0]], requires_grad=True)
    value = kd_loss(s, t, divergence="kl", t2_scaling=True)
    value.backward()
    assert torch.isfinite(value.detach()) and torch.isfinite(s.grad).all() and float(value.detach()) > 100
    assert t.grad is None  # the teacher gets no gradient
    with pytest.raises(ValueError, match="divergence"):
        KDLoss(divergence="js")
    with pytest.raises(TypeError, match="t2_scaling"):
        kd_loss(s, s, t2_scaling=1)


def test_teacher_objective_runs_the_frozen_teacher_on_each_batch() -> None:
    torch.manual_seed(0)
    teacher = MLP(4, 3, hidden=(), feature_dim=6)
    criterion, regularizer = teacher_objective(teacher, temperature=2.0, beta=0.25)
    assert not any(p.requires_grad for p in teacher.parameters()) and not teacher.training
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    student = MLP(4, 3, hidden=(5,), feature_dim=6)
    out = student(x)
    total = criterion(out.logits, y) + regularizer(x, out)
    expected = kd_loss(out.logits, teacher(x).logits, y, temperature=2.0, beta=0.25)
    torch.testing.assert_close(total, expected)
    zero_ce, _ = teacher_objective(teacher, beta=0.0)
    assert float(zero_ce(out.logits.detach(), y)) == 0.0
    before = [p.clone() for p in teacher.parameters()]
    fit(student, (x, y), criterion, epochs=2, batch_size=4, lr=0.1, regularizer=regularizer, device="cpu")
    assert all(torch.equal(a, b) for a, b in zip(before, teacher.parameters(), strict=True))
    with pytest.raises(TypeError, match="teacher"):
        teacher_objective(lambda x: ModelOutput(x, x))  # type: ignore[arg-type]


def test_substitute_teacher_with_zero_q_is_label_smoothing() -> None:
    logits, y = torch.randn(6, 4), torch.tensor([0, 1, 2, 3, 3, 0])
    st = SubstituteTeacherLoss(torch.zeros(4, 4), alpha=0.2)
    torch.testing.assert_close(st(logits, y), F.cross_entropy(logits, y, label_smoothing=0.2))
    assert "q_logits" in st.state_dict() and not list(st.parameters())


def test_substitute_teacher_copies_a_trained_lls_and_matches_a_hand_target() -> None:
    lls = LLSLoss(3, 0.3)
    with torch.no_grad():
        lls.q_logits.copy_(torch.tensor([[0.0, 2.0, -1.0], [1.0, 0.0, 0.0], [0.5, 0.5, -3.0]]))
    st = SubstituteTeacherLoss.from_lls(lls)
    y = torch.tensor([0, 2])
    torch.testing.assert_close(st.targets(y), lls.targets(y))
    q = np.exp([[0.0, 2.0, -1.0], [0.5, 0.5, -3.0]])
    q /= q.sum(1, keepdims=True)
    target = 0.7 * np.eye(3)[[0, 2]] + 0.3 * q
    logits = torch.tensor([[1.0, 0.0, 0.5], [0.0, 0.0, 2.0]])
    expected = -(target * np.log(_np_softmax(logits.numpy()))).sum(1).mean()
    np.testing.assert_allclose(float(st(logits, y)), expected, rtol=1e-6)
    with torch.no_grad():  # the substitute keeps its own copy
        lls.q_logits.zero_()
    assert not torch.allclose(st.q_logits, lls.q_logits)


def test_substitute_teacher_invalid_arguments() -> None:
    with pytest.raises(ValueError, match="q_logits"):
        SubstituteTeacherLoss(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="q_logits"):
        SubstituteTeacherLoss(torch.full((3, 3), float("nan")))
    with pytest.raises(ValueError, match="alpha"):
        SubstituteTeacherLoss(torch.zeros(3, 3), alpha=-0.1)
    with pytest.raises(TypeError, match="teacher_loss"):
        SubstituteTeacherLoss.from_lls(torch.nn.CrossEntropyLoss())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="logits"):
        SubstituteTeacherLoss(torch.zeros(3, 3))(torch.randn(2, 4), torch.tensor([0, 1]))


@pytest.mark.parametrize("temperature", [1e-39, 1e-200, 1e200])
def test_unusable_temperatures_are_refused(temperature: float) -> None:
    s, t = torch.randn(4, 3), torch.randn(4, 3)
    with pytest.raises(ValueError, match="`temperature`"):
        kd_loss(s, t, temperature=temperature)
    with pytest.raises(ValueError, match="`temperature`"):
        KDLoss(temperature)


@pytest.mark.parametrize("temperature", [1e-3, 1e4])
def test_temperatures_at_the_bounds_give_finite_values_and_gradients(temperature: float) -> None:
    s = torch.randn(4, 3, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    t = torch.randn(4, 3, generator=torch.Generator().manual_seed(1))
    value = kd_loss(s, t, temperature=temperature, divergence="kl", t2_scaling=True)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(s.grad).all()
