"""LLS, OLS and Tf-KD_reg against independent references (naive float64, closed forms, torch, hand sums)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from c2f_utils.losses import (
    LLS_ABLATIONS,
    LLS_TERMS,
    LLSLoss,
    OnlineLabelSmoothing,
    TFKDReg,
    label_smoothing_targets,
    soft_cross_entropy,
)
from c2f_utils.train import EpochState, fit


def _naive_lls(logits: torch.Tensor, q_logits: torch.Tensor, y: torch.Tensor, alpha: float, terms) -> torch.Tensor:
    """Appendix A written with plain probabilities and torch.log (no log-space tricks)."""
    p = torch.softmax(logits, 1)
    t = (1 - alpha) * F.one_hot(y, logits.shape[1]).to(p.dtype) + alpha * torch.softmax(q_logits[y], 1)
    parts = {
        "fce": -(t * torch.log(p)).sum(1),
        "rce": -(p * torch.log(t)).sum(1),
        "pred_em": (p * torch.log(p)).sum(1),
        "target_em": (t * torch.log(t)).sum(1),
    }
    return sum(parts[k] for k in terms).mean() / 2


def _random_case(seed: int, batch: int = 7, k: int = 5):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch, k, generator=g, dtype=torch.float64) * 3
    q = torch.randn(k, k, generator=g, dtype=torch.float64)
    y = torch.randint(0, k, (batch,), generator=g)
    return logits, q, y


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("alpha", [0.05, 0.3, 0.9])
@pytest.mark.parametrize("row", list(LLS_ABLATIONS))
def test_lls_value_and_gradients_match_naive_pseudo_code(seed: int, alpha: float, row: str) -> None:
    logits, q, y = _random_case(seed, k=4 + seed)
    terms = LLS_ABLATIONS[row]
    crit = LLSLoss(logits.shape[1], alpha, terms=terms).double()
    with torch.no_grad():
        crit.q_logits.copy_(q)
    z = logits.clone().requires_grad_(True)
    loss = crit(z, y)
    loss.backward()

    z_ref = logits.clone().requires_grad_(True)
    q_ref = q.clone().requires_grad_(True)
    ref = _naive_lls(z_ref, q_ref, y, alpha, terms)
    ref.backward()
    torch.testing.assert_close(loss, ref, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(z.grad, z_ref.grad, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(crit.q_logits.grad, q_ref.grad, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_lls_gradients_match_the_papers_closed_forms(seed: int) -> None:
    """Appendix B: Eq. 9 (forward KL, logits), Eq. 16 (forward KL, Q logits), Eq. 18 (reverse KL, Q logits)."""
    logits, q, y = _random_case(seed, batch=1, k=6)
    alpha = 0.3
    p_hat = torch.softmax(logits, 1)[0]
    q_row = torch.softmax(q[y], 1)[0]
    t = (1 - alpha) * F.one_hot(y, 6)[0].double() + alpha * q_row

    def grads(terms):
        crit = LLSLoss(6, alpha, terms=terms).double()
        with torch.no_grad():
            crit.q_logits.copy_(q)
        z = logits.clone().requires_grad_(True)
        (2 * crit(z, y)).backward()  # undo the halving of appendix A
        return z.grad[0], crit.q_logits.grad[y[0]]

    gz, gq = grads(("fce", "target_em"))
    torch.testing.assert_close(gz, p_hat - t)  # Eq. 9
    log_ratio = torch.log(p_hat / t)
    torch.testing.assert_close(gq, alpha * q_row * ((q_row * log_ratio).sum() - log_ratio))  # Eq. 16
    _, gq_rev = grads(("rce", "pred_em"))
    ratio = p_hat / t
    torch.testing.assert_close(gq_rev, alpha * q_row * ((q_row * ratio).sum() - ratio))  # Eq. 18


def test_frozen_zero_q_gives_label_smoothing() -> None:
    k, alpha = 6, 0.2
    crit = LLSLoss(k, alpha, learn_q=False)
    y = torch.tensor([0, 3, 5, 3])
    torch.testing.assert_close(crit.targets(y), label_smoothing_targets(y, k, alpha))
    assert not crit.q_logits.requires_grad and next(iter(crit.parameters())) is crit.q_logits
    logits = torch.randn(4, k)
    fce_only = LLSLoss(k, alpha, terms=("fce",), learn_q=False)
    torch.testing.assert_close(2 * fce_only(logits, y), nn.CrossEntropyLoss(label_smoothing=alpha)(logits, y))
    # Forward KL differs from the LS cross-entropy by the (constant) target entropy.
    fkl = LLSLoss(k, alpha, terms=("fce", "target_em"), learn_q=False)
    t = label_smoothing_targets(y, k, alpha)
    entropy = -(t * t.log()).sum(1).mean()
    torch.testing.assert_close(2 * fkl(logits, y), nn.CrossEntropyLoss(label_smoothing=alpha)(logits, y) - entropy)


def test_q_matrix_is_row_stochastic_and_in_state_dict() -> None:
    crit = LLSLoss(4)
    torch.testing.assert_close(crit.q_matrix, torch.full((4, 4), 0.25))
    with torch.no_grad():
        crit.q_logits.copy_(torch.randn(4, 4))
    torch.testing.assert_close(crit.q_matrix.sum(1), torch.ones(4))
    state = crit.state_dict()
    assert set(state) == {"q_logits"}
    other = LLSLoss(4)
    other.load_state_dict(state)
    torch.testing.assert_close(other.q_matrix, crit.q_matrix)


@pytest.mark.parametrize("alpha", [0.0, 0.1, 1.0])
@pytest.mark.parametrize("scale", [1e2, 1e4, 1e30])
def test_lls_is_finite_for_saturated_logits_and_extreme_alpha(alpha: float, scale: float) -> None:
    logits = torch.tensor([[1.0, -1.0, 0.0], [-1.0, 1.0, 0.5]]) * scale
    logits.requires_grad_(True)
    crit = LLSLoss(3, alpha)
    with torch.no_grad():
        crit.q_logits.copy_(torch.tensor([[50.0, -50.0, 0.0], [0.0, 0.0, 0.0], [-50.0, 0.0, 50.0]]))
    loss = crit(logits, torch.tensor([0, 2]))
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(logits.grad).all() and torch.isfinite(crit.q_logits.grad).all()


def test_alpha_one_uses_q_alone_and_alpha_zero_the_label() -> None:
    crit = LLSLoss(3, 1.0)
    with torch.no_grad():
        crit.q_logits.copy_(torch.randn(3, 3))
    y = torch.tensor([1, 2])
    torch.testing.assert_close(crit.targets(y), crit.q_matrix[y])
    torch.testing.assert_close(LLSLoss(3, 0.0).targets(y), F.one_hot(y, 3).float())
    # alpha = 0: the forward KL is the plain cross-entropy.
    logits = torch.randn(2, 3)
    fkl = LLSLoss(3, 0.0, terms=("fce", "target_em"))
    torch.testing.assert_close(2 * fkl(logits, y), F.cross_entropy(logits, y))


def test_q_weight_decay_adds_exactly_the_sgd_weight_decay_gradient() -> None:
    logits, q, y = _random_case(0)
    grads = []
    for wd in (0.0, 0.3):
        crit = LLSLoss(5, 0.1, q_weight_decay=wd).double()
        with torch.no_grad():
            crit.q_logits.copy_(q)
        crit(logits, y).backward()
        grads.append(crit.q_logits.grad)
    torch.testing.assert_close(grads[1] - grads[0], 0.3 * q)


def test_half_precision_logits_are_promoted_and_terms_recorded() -> None:
    crit = LLSLoss(3)
    loss = crit(torch.randn(4, 3).half(), torch.tensor([0, 1, 2, 0]))
    assert loss.dtype == torch.float32
    assert set(crit.last_terms) == set(LLS_TERMS)
    total = sum(crit.last_terms.values()) / 2
    torch.testing.assert_close(total, loss.detach())


def test_fit_learns_q_with_the_network() -> None:
    torch.manual_seed(0)
    x = torch.randn(64, 4)
    y = (x[:, 0] > 0).long() + 2 * (x[:, 1] > 0).long()
    from c2f_utils.models import MLP

    crit = LLSLoss(4, 0.1)
    fit(MLP(4, 4, hidden=(), feature_dim=8), (x, y), crit, epochs=3, batch_size=16, lr=0.5, device="cpu")
    q = crit.q_matrix
    assert not torch.allclose(q, torch.full((4, 4), 0.25))
    # Q's diagonal is pushed below the uniform 1/K (§3.4): -H(p^lls) moves mass off the label.
    assert (q.diagonal() < 0.25).all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_classes": 1}, "num_classes"),
        ({"num_classes": 3, "alpha": 1.5}, "alpha"),
        ({"num_classes": 3, "alpha": float("nan")}, "alpha"),
        ({"num_classes": 3, "terms": ("fce", "kl")}, "terms"),
        ({"num_classes": 3, "terms": ()}, "terms"),
        ({"num_classes": 3, "terms": ("fce", "fce")}, "terms"),
        ({"num_classes": 3, "q_weight_decay": -1.0}, "q_weight_decay"),
    ],
)
def test_lls_invalid_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        LLSLoss(**kwargs)
    with pytest.raises(TypeError, match="learn_q"):
        LLSLoss(3, learn_q="yes")


@pytest.mark.parametrize("loss", [LLSLoss(3), OnlineLabelSmoothing(3), TFKDReg(3)], ids=["lls", "ols", "tfkd"])
def test_invalid_inputs_name_the_argument(loss: nn.Module) -> None:
    good = torch.randn(2, 3)
    with pytest.raises(ValueError, match="logits"):
        loss(torch.randn(2, 4), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="logits"):
        loss(torch.randn(6), torch.tensor([0, 1]))
    with pytest.raises(TypeError, match="`target` to be an integer tensor"):
        loss(good, torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="target"):
        loss(good, torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="target"):
        loss(good, torch.tensor([0, 1, 2]))


def test_label_smoothing_targets_and_soft_cross_entropy() -> None:
    t = label_smoothing_targets(torch.tensor([2]), 4, 0.2)
    torch.testing.assert_close(t, torch.tensor([[0.05, 0.05, 0.85, 0.05]]))
    logits = torch.randn(3, 4)
    y = torch.tensor([0, 1, 3])
    torch.testing.assert_close(
        soft_cross_entropy(logits, label_smoothing_targets(y, 4, 0.2)),
        F.cross_entropy(logits, y, label_smoothing=0.2),
    )
    with pytest.raises(ValueError, match="alpha"):
        label_smoothing_targets(y, 4, -0.1)
    with pytest.raises(ValueError, match="target_probs"):
        soft_cross_entropy(logits, torch.ones(3, 5))


# --------------------------------------------------------------------------- OLS


def test_ols_first_epoch_is_cross_entropy_then_class_means_of_correct_predictions() -> None:
    ols = OnlineLabelSmoothing(3, alpha=0.5)
    logits = torch.tensor([[2.0, 0.0, 0.0], [1.0, 3.0, 0.0], [0.0, 1.0, 0.0], [3.0, 0.0, 1.0]], requires_grad=True)
    y = torch.tensor([0, 1, 0, 0])  # sample 2 is misclassified (argmax 1), class 2 never appears
    loss = ols(logits, y)
    torch.testing.assert_close(loss, F.cross_entropy(logits, y))  # S^0 = I: both halves are the CE
    assert ols.next_epoch() == 2
    p = torch.softmax(logits.detach(), 1).numpy()
    expected = np.eye(3)
    expected[0] = (p[0] + p[3]) / 2
    expected[1] = p[1]
    np.testing.assert_allclose(ols.soft_labels.numpy(), expected, rtol=1e-6)
    # Second epoch: loss = 0.5 CE + 0.5 H(S_y, p_hat), by hand.
    logp = np.log(p)
    soft = -np.mean([(expected[c] * logp[i]).sum() for i, c in enumerate(y.tolist())])
    hard = -np.mean([logp[i, c] for i, c in enumerate(y.tolist())])
    np.testing.assert_allclose(float(ols(logits.detach(), y)), 0.5 * hard + 0.5 * soft, rtol=1e-6)


def test_ols_ignores_evaluation_batches_and_keeps_unseen_rows() -> None:
    ols = OnlineLabelSmoothing(3, init_smoothing=0.3)
    start = ols.soft_labels.clone()
    torch.testing.assert_close(start.sum(1), torch.ones(3))
    assert float(start[0, 0]) == pytest.approx(0.7) and float(start[0, 1]) == pytest.approx(0.15)
    logits = torch.tensor([[5.0, 0.0, 0.0]])
    with torch.no_grad():
        ols(logits, torch.tensor([0]))
    ols.eval()
    ols(logits.requires_grad_(True), torch.tensor([0]))
    assert ols.next_epoch() == 0
    torch.testing.assert_close(ols.soft_labels, start)
    assert "soft_labels" in ols.state_dict()


def test_ols_callback_advances_the_matrix_in_fit() -> None:
    from c2f_utils.models import MLP

    torch.manual_seed(0)
    y = torch.arange(60) % 3
    x = 4 * F.one_hot(y, 3).float() + 0.3 * torch.randn(60, 3)
    ols = OnlineLabelSmoothing(3)
    res = fit(
        MLP(3, 3, hidden=(), feature_dim=8),
        (x, y),
        ols,
        epochs=2,
        lr=0.5,
        batch_size=20,
        device="cpu",
        val_data=(x, y),
        callbacks=[ols.on_epoch_end],
    )
    assert res.history.ols_rows_updated.tolist()[1:] == [3.0, 3.0]
    assert not torch.allclose(ols.soft_labels, torch.eye(3))
    torch.testing.assert_close(ols.soft_labels.sum(1), torch.ones(3))
    state = EpochState(0, res.model, ols, torch.device("cpu"), [])
    assert ols.on_epoch_end(state) is None


# --------------------------------------------------------------------------- Tf-KD_reg


def test_tfkd_reg_matches_a_hand_computation() -> None:
    logits = torch.tensor([[1.0, 2.0, -1.0]])
    y = torch.tensor([1])
    crit = TFKDReg(3, alpha=0.4, temperature=2.0, correct_prob=0.9, multiplier=3.0)
    design = np.array([0.05, 0.9, 0.05]) / 2.0
    teacher = np.exp(design) / np.exp(design).sum()
    logp = np.log(np.exp([1.0, 2.0, -1.0]) / np.exp([1.0, 2.0, -1.0]).sum())
    kl = float((teacher * (np.log(teacher) - logp)).sum())
    expected = 0.6 * -logp[1] + 0.4 * 3.0 * kl
    np.testing.assert_allclose(float(crit(logits, y)), expected, rtol=1e-6)
    np.testing.assert_allclose(crit.teacher_log_probs(y).exp().numpy()[0], teacher, rtol=1e-6)


def test_tfkd_reg_alpha_zero_is_cross_entropy_and_invalid_arguments() -> None:
    logits, y = torch.randn(5, 4), torch.tensor([0, 1, 2, 3, 0])
    torch.testing.assert_close(TFKDReg(4, alpha=0.0)(logits, y), F.cross_entropy(logits, y))
    for kwargs, match in [
        ({"temperature": 0.0}, "temperature"),
        ({"correct_prob": 1.0}, "correct_prob"),
        ({"multiplier": -1.0}, "multiplier"),
        ({"alpha": 2.0}, "alpha"),
    ]:
        with pytest.raises(ValueError, match=match):
            TFKDReg(4, **kwargs)
    assert math.isfinite(float(TFKDReg(4)(logits * 1e6, y)))


@pytest.mark.parametrize("temperature", [1e-39, 1e-200, 1e200])
def test_tfkd_refuses_unusable_temperatures(temperature: float) -> None:
    with pytest.raises(ValueError, match="`temperature`"):
        TFKDReg(4, temperature=temperature)


def test_tfkd_at_the_smallest_temperature_is_finite() -> None:
    logits = torch.randn(6, 4, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    value = TFKDReg(4, temperature=1e-3)(logits, torch.arange(6) % 4)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(logits.grad).all()
