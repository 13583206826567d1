"""FIERCELoss against a naive reference, its entropy extremes, gradients and state."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from c2f_utils.losses import FIERCELoss
from c2f_utils.losses.fierce import draw_anchors, hard_assignment_entropy, similarity


def naive_fierce(logits, features, target, anchors, noise, lam, tau, kind, bits):
    """Loop-by-loop transcription of Eqs. 10-13 (with numpy for the forward value)."""
    n, e = features.shape[0], anchors.shape[0]
    counts = np.zeros(e)
    for i in range(n):
        r = features[i].detach().numpy().astype(np.float64)
        sims = []
        for j in range(e):
            a = anchors[j].numpy().astype(np.float64)
            if kind == "cosine":
                sims.append(r @ a / (np.linalg.norm(r) * np.linalg.norm(a)))
            elif kind == "dot":
                sims.append(r @ a)
            else:
                sims.append(-((r - a) ** 2).sum())
        z = (np.array(sims) + noise[i].numpy()) / tau
        counts[int(np.argmax(z))] += 1
    p = counts / n
    h = -sum(q * math.log(q) for q in p if q > 0)
    if bits:
        h /= math.log(2)
    ce = F.cross_entropy(logits, target).item()
    return ce - lam * h, h


@pytest.mark.parametrize("kind", ["cosine", "dot", "neg_sqdist"])
@pytest.mark.parametrize("unit", ["nats", "bits"])
def test_value_matches_naive_reference(kind, unit):
    g = torch.Generator().manual_seed(0)
    n, d, e, c = 40, 6, 12, 3
    feats = torch.randn(n, d, generator=g)
    logits = torch.randn(n, c, generator=g)
    target = torch.randint(0, c, (n,), generator=g)
    noise = -torch.empty(n, e).exponential_(generator=g).log()
    crit = FIERCELoss(d, e, lam=0.7, tau=0.5, similarity=kind, anchors="normal", unit=unit, generator=g)
    value = crit(logits, feats, target, noise=noise)
    expected, h = naive_fierce(logits, feats, target, crit.anchors, noise, 0.7, 0.5, kind, unit == "bits")
    assert value.item() == pytest.approx(expected, rel=1e-5, abs=1e-6)
    assert crit.last_entropy == pytest.approx(h, rel=1e-6)
    assert crit.last_ce == pytest.approx(F.cross_entropy(logits, target).item(), rel=1e-6)


def test_entropy_is_log_e_for_uniform_use_and_zero_for_one_anchor():
    e = 8
    anchors = torch.eye(e)
    crit = FIERCELoss(e, e, lam=1.0, similarity="dot", anchors=anchors)
    feats = 100 * torch.eye(e).repeat(3, 1)  # every anchor chosen 3 times, noise negligible
    assert crit.entropy(feats, noise=torch.zeros(3 * e, e)).item() == pytest.approx(math.log(e), rel=1e-6)
    one = 100 * torch.eye(e)[[2] * 10]
    assert crit.entropy(one, noise=torch.zeros(10, e)).item() == pytest.approx(0.0, abs=1e-7)


def test_gradients_reach_features_and_stay_finite_with_empty_anchors():
    torch.manual_seed(0)
    feats = torch.randn(16, 5, requires_grad=True)
    crit = FIERCELoss(5, 50, lam=1.0)  # 50 anchors, 16 features: most anchors are empty
    h = crit.entropy(feats)
    h.backward()
    assert feats.grad is not None and torch.isfinite(feats.grad).all() and feats.grad.abs().sum() > 0


def test_gradient_in_one_dimension_spreads_the_features():
    # 1-D features bunched at 0 with grid anchors on [-1, 1]: ascending the entropy must spread them.
    torch.manual_seed(0)
    crit = FIERCELoss(1, 21, lam=1.0, tau=0.05, similarity="neg_sqdist", anchors="grid", anchor_range=(-1, 1))
    feats = (0.01 * torch.randn(64, 1)).requires_grad_()
    h = crit.entropy(feats)
    h.backward()
    assert torch.isfinite(feats.grad).all() and feats.grad.abs().sum() > 0
    spread = feats.detach() + 0.5 * feats.grad  # one ascent step on the entropy
    assert spread.std() > feats.detach().std()


def test_grid_anchors_and_state_dict_round_trip():
    crit = FIERCELoss(1, 5, anchors="grid", anchor_range=(1, 5), similarity="neg_sqdist")
    assert torch.equal(crit.anchors[:, 0], torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0]))
    a = FIERCELoss(7, 30, generator=torch.Generator().manual_seed(1))
    b = FIERCELoss(7, 30, generator=torch.Generator().manual_seed(2))
    assert not torch.equal(a.anchors, b.anchors)
    b.load_state_dict(a.state_dict())
    assert torch.equal(a.anchors, b.anchors)
    assert "anchors" in a.state_dict()


def test_lambda_zero_is_cross_entropy_and_uniform_anchors_live_in_cube():
    torch.manual_seed(0)
    logits, feats, y = torch.randn(10, 4), torch.randn(10, 3), torch.randint(0, 4, (10,))
    crit = FIERCELoss(3, 10, lam=0.0)
    assert crit(logits, feats, y).item() == pytest.approx(F.cross_entropy(logits, y).item())
    assert math.isfinite(crit.last_entropy)
    anchors = draw_anchors(1000, 3, "uniform", generator=torch.Generator().manual_seed(0))
    assert anchors.min() >= 0 and anchors.max() < 1
    sphere = draw_anchors(50, 4, "sphere", generator=torch.Generator().manual_seed(0))
    assert torch.allclose(sphere.norm(dim=1), torch.ones(50))


def test_similarity_matches_definitions():
    torch.manual_seed(0)
    f, a = torch.randn(5, 3), torch.randn(4, 3)
    assert torch.allclose(similarity(f, a, "cosine"), F.cosine_similarity(f[:, None], a[None], dim=2), atol=1e-6)
    assert torch.allclose(similarity(f, a, "neg_sqdist"), -((f[:, None] - a[None]) ** 2).sum(2), atol=1e-5)
    assert torch.allclose(similarity(torch.zeros(2, 3), a, "cosine"), torch.zeros(2, 4))


def test_hard_assignment_entropy_counts():
    anchors = torch.eye(3)
    feats = torch.tensor([[1.0, 0, 0], [1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]])
    p = np.array([0.5, 0.25, 0.25])
    assert hard_assignment_entropy(feats, anchors, "dot").item() == pytest.approx(-(p * np.log(p)).sum())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lam": -0.1}, "lam"),
        ({"n_anchors": 1}, "n_anchors"),
        ({"tau": 0.0}, "tau"),
        ({"similarity": "l1"}, "similarity"),
        ({"unit": "dits"}, "unit"),
        ({"anchors": "cube"}, "kind"),
        ({"anchors": torch.zeros(3, 2)}, "anchors"),
        ({"anchors": "grid"}, "feature_dim"),
    ],
)
def test_invalid_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FIERCELoss(4, **{"n_anchors": 10, **kwargs})


def test_feature_shape_is_checked():
    crit = FIERCELoss(4, 10)
    with pytest.raises(ValueError, match="features"):
        crit(torch.randn(5, 2), torch.randn(5, 3), torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match="features"):
        crit(torch.randn(5, 2), torch.randn(4, 4), torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match="noise"):
        crit.entropy(torch.randn(5, 4), noise=torch.zeros(5, 3))


@pytest.mark.parametrize("scale", [1e20, 1e-20, 2.0**60])
def test_fierce_cosine_is_scale_free_with_finite_gradients_at_extreme_scales(scale: float) -> None:
    torch.manual_seed(0)
    loss = FIERCELoss(6, n_anchors=5, generator=torch.Generator().manual_seed(0))
    feats, logits, target = torch.randn(8, 6), torch.randn(8, 3), torch.arange(8) % 3
    noise = -torch.empty(8, 5).exponential_(generator=torch.Generator().manual_seed(1)).log()
    leaf = (feats * scale).requires_grad_(True)
    value = loss(logits, leaf, target, noise=noise)
    value.backward()
    assert torch.isfinite(leaf.grad).all()  # NaN at 1e20: the squares of the norm overflowed float32
    # the cosine sees directions only: the same value as the unscaled features
    assert float(value.detach()) == pytest.approx(float(loss(logits, feats, target, noise=noise)), rel=1e-6)


def test_fierce_similarity_of_ordinary_features_is_bit_identical_to_the_plain_formula() -> None:
    feats, anchors = torch.randn(16, 6) * 30, torch.rand(5, 6)
    plain = F.normalize(feats, dim=1, eps=1e-12) @ F.normalize(anchors, dim=1, eps=1e-12).T
    assert torch.equal(similarity(feats, anchors, "cosine"), plain)


def test_fierce_refuses_tiny_temperatures_and_overflowing_similarities() -> None:
    with pytest.raises(ValueError, match="`tau`"):
        FIERCELoss(6, tau=1e-39)
    loss = FIERCELoss(6, n_anchors=5, similarity="neg_sqdist")
    with pytest.raises(ValueError, match="`features` whose neg_sqdist similarities"):
        loss.entropy(torch.randn(4, 6) * 1e30)


def _estimate_over_noise(
    spread: float, anchor_range: tuple[float, float], n_anchors: int, batch: int, draws: int = 200
) -> tuple[np.ndarray, np.ndarray, float]:
    """FIERCE's entropy estimate (nats) of a fixed batch of 1-D features of standard deviation ``spread``
    over ``draws`` Gumbel draws, and its gradient with respect to that spread (a scale on the batch)."""
    crit = FIERCELoss(1, n_anchors, tau=1.0, similarity="neg_sqdist", anchors="grid", anchor_range=anchor_range,
                      generator=torch.Generator().manual_seed(0))  # fmt: skip
    base = torch.randn(batch, 1, generator=torch.Generator().manual_seed(1))
    values, grads = [], []
    for _ in range(draws):
        scale = torch.tensor(float(spread), requires_grad=True)
        h = crit.entropy(base * scale)
        h.backward()
        values.append(float(h.detach()))
        grads.append(float(scale.grad))
    noiseless = float(hard_assignment_entropy(base * spread, crit.anchors, "neg_sqdist"))
    return np.array(values), np.array(grads), noiseless


def test_one_dimensional_estimate_moves_with_the_feature_spread_when_the_anchors_are_wide():
    # Figure 1's real setting: 21 grid anchors one unit apart on [-10, 10], tau 1, batch 128. The unit
    # Gumbel noise blurs a feature over about one anchor, so features spread over a few units are resolved.
    narrow, g_narrow, h_narrow = _estimate_over_noise(1.0, (-10.0, 10.0), 21, 128)
    wide, g_wide, h_wide = _estimate_over_noise(3.0, (-10.0, 10.0), 21, 128)
    assert h_wide > h_narrow + 0.5  # the noiseless hard estimate (reference) sees the wider spread
    gap = wide.mean() - narrow.mean()
    se = math.sqrt(wide.var(ddof=1) / wide.size + narrow.var(ddof=1) / narrow.size)
    assert gap > 0.5 * (h_wide - h_narrow) and gap > 10 * se  # the noisy estimate follows it
    for grads in (g_narrow, g_wide):  # ascending the estimate widens the features: a signal, not noise
        assert grads.mean() > 3 * grads.std(ddof=1) / math.sqrt(grads.size)
        assert (grads > 0).mean() > 0.9


def test_one_dimensional_estimate_is_noise_when_the_features_spread_over_less_than_a_unit():
    # The old Figure 1 setting: anchors on [-1, 1] and features of spread 0.1-0.5: neighbouring
    # anchors' squared distances differ by ~0.16 at most, far less than the unit Gumbel noise, so
    # the estimate sits near its maximum whatever the spread while the noiseless estimate moves.
    narrow, g_narrow, h_narrow = _estimate_over_noise(0.125, (-1.0, 1.0), 50, 64)
    wide, g_wide, h_wide = _estimate_over_noise(0.5, (-1.0, 1.0), 50, 64)
    assert h_wide > h_narrow + 0.5
    assert abs(wide.mean() - narrow.mean()) < 0.1 * (h_wide - h_narrow)
    for grads in (g_narrow, g_wide):  # and its gradient has no consistent sign
        assert 0.2 < (grads > 0).mean() < 0.7
