"""Exact information planes, the label-smoothing optimum and the IB-Lagrangian solver."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
import torch
from scipy.stats import entropy as scipy_entropy
from sklearn.metrics import mutual_info_score

from c2f_utils.probes import (
    empirical_joint,
    ib_lagrangian,
    info_plane,
    label_information,
    ls_info_plane,
    output_mutual_information,
)

RNG = np.random.default_rng(0)


def _mi_by_definition(table: np.ndarray) -> float:
    """sum_ab p(a,b) log p(a,b) / (p(a) p(b)), term by term, from a joint table."""
    table = table / table.sum()
    pa, pb = table.sum(1), table.sum(0)
    total = 0.0
    for a in range(table.shape[0]):
        for b in range(table.shape[1]):
            if table[a, b] > 0:
                total += table[a, b] * math.log(table[a, b] / (pa[a] * pb[b]))
    return total


def _reference(probs: np.ndarray, joint_xy: np.ndarray) -> tuple[float, float]:
    """I(X;T) and I(T;Y) by definition from the tables p(x, t) and p(t, y)."""
    p_xt = joint_xy.sum(1, keepdims=True) * probs
    p_ty = probs.T @ joint_xy
    return _mi_by_definition(p_xt), _mi_by_definition(p_ty)


def _random_probs(n: int, k: int, concentration: float = 0.5) -> np.ndarray:
    return RNG.dirichlet(np.full(k, concentration), size=n)


@pytest.mark.parametrize("trial", range(8))
def test_info_plane_matches_the_definition_on_random_hard_labels(trial: int) -> None:
    n, k = RNG.integers(5, 60), RNG.integers(2, 8)
    probs = _random_probs(n, k)
    labels = RNG.integers(0, k, n)
    joint = np.zeros((n, k))
    joint[np.arange(n), labels] = 1 / n
    got = info_plane(probs, labels)
    want = _reference(probs, joint)
    assert got.i_xt == pytest.approx(want[0], abs=1e-9)
    assert got.i_ty == pytest.approx(want[1], abs=1e-9)
    assert got.i_ty <= got.i_xt + 1e-12


@pytest.mark.parametrize("trial", range(5))
def test_info_plane_matches_the_definition_on_counts_and_distributions(trial: int) -> None:
    n, k = 30, 4
    probs = _random_probs(n, k)
    counts = RNG.integers(0, 6, (n, k))
    counts[:, 0] += 1  # no empty row
    got = info_plane(probs, counts)
    want = _reference(probs, counts / counts.sum())
    assert got == pytest.approx(want, abs=1e-9)
    dist = counts / counts.sum(1, keepdims=True)
    got_dist = info_plane(probs, dist)
    assert got_dist == pytest.approx(_reference(probs, dist / n), abs=1e-9)
    assert got_dist.i_ty <= got_dist.i_xt + 1e-12


def test_i_xt_is_the_average_kl_to_the_marginal_and_matches_sklearn() -> None:
    probs = _random_probs(40, 5)
    labels = RNG.integers(0, 5, 40)
    marginal = probs.mean(0)
    kl = np.mean([scipy_entropy(p, marginal) for p in probs])
    assert info_plane(probs, labels).i_xt == pytest.approx(kl, abs=1e-10)
    # Deterministic outputs: I(T;Y) is the mutual information of two labelings (scikit-learn).
    predictions = RNG.integers(0, 5, 40)
    want = mutual_info_score(labels, predictions)
    assert info_plane(np.eye(5)[predictions], labels).i_ty == pytest.approx(want, abs=1e-12)


@pytest.mark.parametrize("trial", range(5))
def test_output_mutual_information_is_the_planes_i_xt(trial: int) -> None:
    n, k = RNG.integers(5, 60), RNG.integers(2, 8)
    probs = _random_probs(n, k)
    p_xt = probs / n
    assert output_mutual_information(probs) == pytest.approx(_mi_by_definition(p_xt), abs=1e-10)
    assert output_mutual_information(probs) == info_plane(probs, RNG.integers(0, k, n)).i_xt
    with pytest.raises(ValueError, match="probs"):
        output_mutual_information(probs * 2)


def test_dpi_holds_on_many_random_inputs() -> None:
    for _ in range(50):
        n, k = RNG.integers(2, 30), RNG.integers(2, 6)
        point = info_plane(_random_probs(n, k, 0.2), RNG.integers(0, k, n))
        assert point.i_ty <= point.i_xt + 1e-12


def test_ce_perfect_outputs_give_h_y_twice_and_uniform_gives_zero() -> None:
    labels = np.array([0, 0, 0, 1, 2, 2, 3, 3, 3, 3])
    h_y = scipy_entropy(np.bincount(labels) / len(labels))
    perfect = np.eye(4)[labels]
    assert info_plane(perfect, labels) == pytest.approx((h_y, h_y), abs=1e-12)
    assert info_plane(np.full((10, 4), 0.25), labels) == pytest.approx((0.0, 0.0), abs=1e-12)
    assert label_information(labels) == pytest.approx((h_y, h_y), abs=1e-12)


@pytest.mark.parametrize("alpha", [0.0, 0.05, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99, 1.0])
def test_analytic_ls_optimum_is_on_the_ib_line_and_matches_the_closed_form(alpha: float) -> None:
    labels = RNG.integers(0, 6, 200)
    k = 6
    optimum = (1 - alpha) * np.eye(k)[labels] + alpha / k  # Eq. 2: the LS loss's minimiser
    point = info_plane(optimum, labels)
    closed = ls_info_plane(alpha, np.bincount(labels, minlength=k))
    assert point.i_xt == pytest.approx(point.i_ty, abs=1e-10)
    assert point == pytest.approx(tuple(closed), abs=1e-10)
    # Agreement with the torch loss: the optimum minimises CrossEntropyLoss(label_smoothing=alpha).
    if 0 < alpha < 1:
        logits = torch.tensor(np.log(optimum), requires_grad=True)
        loss = torch.nn.functional.cross_entropy(logits, torch.as_tensor(labels), label_smoothing=alpha)
        (grad,) = torch.autograd.grad(loss, logits)
        assert float(grad.abs().max()) < 1e-10


def test_ls_closed_form_endpoints_and_monotonicity() -> None:
    counts = np.array([10, 30, 60])
    h_y = scipy_entropy(counts / counts.sum())
    assert ls_info_plane(0.0, counts).i_xt == pytest.approx(h_y)
    assert ls_info_plane(1.0, counts).i_xt == pytest.approx(0.0, abs=1e-12)
    values = [ls_info_plane(a, counts).i_xt for a in np.linspace(0, 1, 21)]
    assert all(b < a for a, b in itertools.pairwise(values))


def test_ls_for_contradicting_labels_is_the_smoothed_soft_label() -> None:
    counts = RNG.integers(0, 8, (25, 3))
    counts[:, 1] += 1
    soft = counts / counts.sum(1, keepdims=True)
    for alpha in (0.0, 0.2, 0.8):
        want = info_plane((1 - alpha) * soft + alpha / 3, counts)
        assert ls_info_plane(alpha, counts) == pytest.approx(tuple(want), abs=1e-12)
    # With contradicting labels the LS point lies strictly below the IB line I(T;Y) = I(X;T).
    p = ls_info_plane(0.3, counts)
    assert p.i_ty < p.i_xt
    assert p.i_ty <= label_information(counts).i_ty + 1e-12


def test_label_information_of_contradicting_labels() -> None:
    counts = np.array([[5, 5], [10, 0]])
    # p(x, y) = [[.25, .25], [.5, 0]]: H(Y) = H(.75, .25), H(Y|X) = 0.5 * log 2.
    h_y = scipy_entropy([0.75, 0.25])
    assert label_information(counts) == pytest.approx((h_y, h_y - 0.5 * math.log(2)), abs=1e-12)


def test_empirical_joint_forms() -> None:
    assert empirical_joint([1, 0]).tolist() == [[0.0, 0.5], [0.5, 0.0]]
    assert empirical_joint(np.array([[1, 3], [0, 4]])).sum() == pytest.approx(1.0)
    assert empirical_joint(np.array([[0.5, 0.5], [1.0, 0.0]])).tolist() == [[0.25, 0.25], [0.5, 0.0]]
    assert empirical_joint([0, 1], n_classes=5).shape == (2, 5)


@pytest.mark.parametrize(
    ("probs", "labels", "match"),
    [
        (np.array([[0.5, 0.6], [0.5, 0.5]]), [0, 1], "sum to 1"),
        (np.array([[1.5, -0.5], [0.5, 0.5]]), [0, 1], "non-negative"),
        (np.array([[0.5, 0.5], [0.5, 0.5]]), [0, 2], "labels"),
        (np.array([[0.5, 0.5], [0.5, 0.5]]), [0, -1], "labels"),
        (np.array([[0.5, 0.5], [0.5, 0.5]]), [0, 1, 1], "same number of rows"),
        (np.array([0.5, 0.5]), [0], "shape"),
        (np.array([[np.nan, 0.5], [0.5, 0.5]]), [0, 1], "finite"),
        (np.array([[0.5, 0.5], [0.5, 0.5]]), np.array([[0.5, 0.6], [0.5, 0.5]]), "rows summing to 1"),
        (np.array([[0.5, 0.5], [0.5, 0.5]]), np.array([[1, -1], [1, 1]]), "non-negative"),
        (np.array([[0.5, 0.5], [0.5, 0.5]]), np.array([[0, 0], [1, 1]]), "no empty row"),
    ],
)
def test_invalid_inputs_raise_clear_errors(probs, labels, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        info_plane(probs, labels)


def test_invalid_ls_and_solver_arguments() -> None:
    with pytest.raises(ValueError, match="alpha"):
        ls_info_plane(1.5, [1, 2])
    with pytest.raises(ValueError, match="class_counts"):
        ls_info_plane(0.1, [-1, 2])
    with pytest.raises(ValueError, match="betas"):
        ib_lagrangian([0, 1], [-0.1])
    with pytest.raises(ValueError, match="betas"):
        ib_lagrangian([0, 1], [])
    with pytest.raises(ValueError, match="steps"):
        ib_lagrangian([0, 1], [0.0], steps=0)
    with pytest.raises(TypeError, match="integer"):
        info_plane(np.eye(2), np.array([0.5, 1.0]))


def test_ib_solver_reaches_minimal_sufficiency_at_beta_zero() -> None:
    labels = np.repeat(np.arange(4), [5, 10, 15, 20])
    h_y = scipy_entropy(np.bincount(labels) / len(labels))
    (sol,) = ib_lagrangian(labels, [0.0], steps=400, lr=0.1, seed=1)
    assert sol.trace[-1] < sol.trace[0]
    assert sol.i_ty == pytest.approx(h_y, abs=2e-3)
    assert sol.i_xt == pytest.approx(h_y, abs=2e-3)


def test_ib_solver_decreases_its_objective_and_compresses_with_beta() -> None:
    counts = np.random.default_rng(5).integers(0, 3, (40, 4))
    counts[np.arange(40), np.arange(40) % 4] += 30  # a clear majority, with some disagreement
    betas = [0.0, 0.5, 0.9, 1.5]
    sols = ib_lagrangian(counts, betas, steps=300, lr=0.1, init="labels", warm_start=True, keep_probs=True)
    ceiling = label_information(counts).i_ty
    for s in sols:
        assert s.trace[-1] <= s.trace[0] + 1e-5  # a warm start at the optimum may jitter by Adam noise
        assert s.i_ty <= min(s.i_xt, ceiling) + 1e-9  # data processing inequality
        assert s.probs is not None and np.allclose(s.probs.sum(1), 1)
        assert s.objective == pytest.approx(-s.i_ty + s.beta * s.i_xt, abs=1e-12)
        assert info_plane(s.probs, counts) == pytest.approx((s.i_xt, s.i_ty), abs=1e-9)
    assert sols[0].i_xt > sols[1].i_xt > 0.5
    assert sols[3].i_xt < 1e-4  # beta > 1 on this data: compressing everything is optimal
    # Each solution is at least as good for its own beta as the LS optimum of the same data.
    for s in sols:
        for alpha in np.linspace(0, 1, 11):
            ls = ls_info_plane(float(alpha), counts)
            assert s.objective <= -ls.i_ty + s.beta * ls.i_xt + 1e-3


def test_ib_lagrangian_reports_non_convergence() -> None:
    """Issue 14: an iterative solver says when it stopped before its tolerance. The objective's relative
    change over the last ``record_every`` steps is recomputed here from the returned trace."""
    from c2f_utils._checks import ConvergenceWarning

    labels = np.repeat(np.arange(3), 20)
    with pytest.warns(ConvergenceWarning, match=r"not converged after steps=5 .* at beta \[0.5\]"):
        (short,) = ib_lagrangian(labels, [0.5], steps=5, lr=0.05, record_every=5, seed=0)
    assert not short.converged
    assert short.change == pytest.approx(abs(short.trace[-1] - short.trace[-2]) / max(1, abs(short.trace[-1])))
    assert short.change > 1e-5
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        (long,) = ib_lagrangian(labels, [0.5], steps=3000, lr=0.1, record_every=50, seed=0)
    assert long.converged and long.change <= 1e-5
    assert long.change == pytest.approx(abs(long.trace[-1] - long.trace[-2]) / max(1, abs(long.trace[-1])))
