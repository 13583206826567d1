"""1-D optimal-transport regression (exactness, orientation, beta choice) and the softmax-linear transfer head."""

from __future__ import annotations

import numpy as np
import ot
import pytest
import torch

from c2f_utils.probes import SoftmaxHead, ot_regression_1d, simplex_mse, softmax_mse, transfer_mse, transport_1d


def _setup(n=500, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.uniform(0, 80, n)
    coarse = (z > 40).astype(int)
    means = np.array([z[coarse == 0].mean(), z[coarse == 1].mean()])
    return z, coarse, means


def test_transport_1d_is_the_sorted_matching_and_agrees_with_pot():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=200), rng.exponential(size=200)
    mapped = transport_1d(x, y)
    assert np.allclose(np.sort(mapped), np.sort(y))
    assert np.allclose(mapped[np.argsort(x)], np.sort(y))
    cost = ((mapped - x) ** 2).mean()
    assert cost == pytest.approx(ot.emd2_1d(x, y, metric="sqeuclidean"), rel=1e-8)


@pytest.mark.parametrize("transform", [np.log1p, lambda z: -(z**3), np.sqrt])
def test_exact_on_features_monotone_in_target(transform):
    z, coarse, means = _setup()
    res = ot_regression_1d(transform(z), coarse, z, means, val=(transform(z), coarse, z))
    assert res.mse_self == pytest.approx(0.0, abs=1e-18)
    assert res.beta_self == 0.0 and res.beta_val == 0.0
    assert res.mse_val == pytest.approx(0.0, abs=1e-18)
    assert res.mse_class_mean == pytest.approx(((means[coarse] - z) ** 2).mean())


def test_orientation_from_classes_and_oracle():
    z, coarse, means = _setup()
    res = ot_regression_1d(-z, coarse, z, means)
    assert res.sign == -1 and res.mse_self < 1e-18
    # Wrong class predictions flip the class-based orientation; the oracle recovers it.
    wrong = 1 - coarse
    assert ot_regression_1d(z, wrong, z, means).mse_transport > 100
    assert ot_regression_1d(z, wrong, z, means, orientation="oracle").mse_transport < 1e-18


def test_random_features_fall_back_on_class_mean():
    z, coarse, means = _setup()
    noise = np.random.default_rng(3).normal(size=len(z))
    res = ot_regression_1d(noise, coarse, z, means)
    assert res.beta_self > 0.8
    assert res.mse_self <= res.mse_class_mean + 1e-9
    assert res.mse_by_beta[-1] == pytest.approx(res.mse_class_mean)


def test_invalid_inputs_raise():
    z, coarse, means = _setup(50)
    with pytest.raises(ValueError, match="predicted_class"):
        ot_regression_1d(z, coarse + 5, z, means)
    with pytest.raises(ValueError, match="features"):
        ot_regression_1d(np.ones((50, 2)), coarse, z, means)
    with pytest.raises(ValueError, match="equal length"):
        ot_regression_1d(z[:10], coarse, z, means)
    with pytest.raises(ValueError, match="betas"):
        ot_regression_1d(z, coarse, z, means, betas=np.array([1.5]))
    with pytest.raises(ValueError, match="orientation"):
        ot_regression_1d(z, coarse, z, means, orientation="up")
    with pytest.raises(ValueError, match="finite"):
        ot_regression_1d(np.full(50, np.nan), coarse, z, means)


# --------------------------------------------------------------------------- transfer head


def _naive_mse(probs: np.ndarray, target: np.ndarray) -> float:
    """Mean over samples of the squared L2 error, written as loops."""
    total = 0.0
    for p_row, a_row in zip(probs, target, strict=True):
        total += sum((p - a) ** 2 for p, a in zip(p_row, a_row, strict=True))
    return total / len(probs)


def _naive_softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


@pytest.mark.parametrize("seed", range(5))
def test_softmax_mse_and_simplex_mse_match_a_naive_reference(seed):
    rng = np.random.default_rng(seed)
    n, m = rng.integers(1, 40), rng.integers(2, 6)
    logits = rng.normal(scale=3, size=(n, m))
    target = rng.dirichlet(np.ones(m), n)
    expected = _naive_mse(_naive_softmax(logits), target)
    got = softmax_mse(torch.as_tensor(logits), torch.as_tensor(target))
    assert got.ndim == 0 and float(got) == pytest.approx(expected, rel=1e-10)
    probs = rng.dirichlet(np.ones(m), n)
    assert simplex_mse(torch.as_tensor(probs), torch.as_tensor(target)) == pytest.approx(
        _naive_mse(probs, target), rel=1e-10
    )


def test_softmax_mse_is_differentiable_and_zero_on_the_simplex():
    target = torch.tensor([[0.2, 0.3, 0.5], [0.7, 0.2, 0.1]])
    logits = torch.log(target).requires_grad_(True)
    loss = softmax_mse(logits, target)
    loss.backward()
    assert float(loss.detach()) == pytest.approx(0.0, abs=1e-12)
    assert torch.allclose(logits.grad, torch.zeros_like(logits), atol=1e-7)


def test_softmax_head_is_an_affine_map_returning_its_input_as_features():
    head = SoftmaxHead(4, 3)
    x = torch.randn(7, 4)
    out = head(x)
    assert torch.allclose(out.logits, x @ head.head.weight.T + head.head.bias)
    assert out.features is x
    with pytest.raises(ValueError, match="out_features"):
        SoftmaxHead(4, 0)


def _scipy_transfer(xfit: np.ndarray, afit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same model (softmax of an affine map, squared error) fit by SciPy's L-BFGS-B from zero, to convergence."""
    from scipy.optimize import minimize

    n, d = xfit.shape
    m = afit.shape[1]

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[: d * m].reshape(d, m), theta[d * m :]
        p = _naive_softmax(xfit @ w + b)
        r = p - afit
        g = 2 * p * (r - (r * p).sum(1, keepdims=True)) / n  # d/dlogits of mean ||softmax - a||^2
        return float((r**2).sum(1).mean()), np.concatenate([(xfit.T @ g).ravel(), g.sum(0)])

    res = minimize(
        objective,
        np.zeros(d * m + m),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 5000, "gtol": 1e-12, "ftol": 1e-15},
    )
    return res.x[: d * m].reshape(d, m), res.x[d * m :]


def test_transfer_mse_agrees_with_a_scipy_fit_of_the_same_model():
    # Validation rows that repeat the fit rows: the best validation MSE is the converged fit's.
    rng = np.random.default_rng(0)
    n, d = 400, 5
    scales = np.array([1.0, 10.0, 0.1, 3.0, 1.0])  # features of scales differing by 100x
    x = rng.normal(size=(n, d)) * scales
    w0 = rng.normal(size=(d, 3)) / scales[:, None]
    abund = 0.3 * rng.dirichlet(np.ones(3), n) + 0.7 * _naive_softmax(x @ w0)
    xtr, atr = np.concatenate([x[:300], x[:300]]), np.concatenate([abund[:300], abund[:300]])
    t = torch.as_tensor
    options = {"val_rows": torch.arange(300, 600), "tolerance": 1e-14, "patience": 10_000, "max_iter": 2000}
    got = transfer_mse(t(xtr), t(atr), t(x[300:]), t(abund[300:]), 0, **options)
    w, b = _scipy_transfer(x[:300], abund[:300])
    assert got.converged
    assert got.train_mse == pytest.approx(_naive_mse(_naive_softmax(x[:300] @ w + b), abund[:300]), rel=1e-6)
    assert got.test_mse == pytest.approx(_naive_mse(_naive_softmax(x[300:] @ w + b), abund[300:]), rel=1e-4)


def test_transfer_mse_recovers_abundances_from_an_invertible_map_of_them_and_ignores_the_map():
    # log-abundances through an invertible affine map (of norm ~1000): softmax(W r + b) = a exactly for some W, b.
    rng = np.random.default_rng(1)
    abund = rng.dirichlet(np.ones(3), 800)
    logs = np.log(abund)
    mix = rng.normal(size=(3, 3)) * 1000
    feats = torch.as_tensor(np.concatenate([logs @ mix + 50, rng.normal(size=(800, 2))], 1), dtype=torch.float32)
    a = torch.as_tensor(abund, dtype=torch.float32)
    res = transfer_mse(feats[:600], a[:600], feats[600:], a[600:], 0)
    assert res.test_mse < 1e-5 and res.train_mse < 1e-5
    other = torch.as_tensor(rng.normal(size=(5, 5)), dtype=torch.float32)  # any invertible map of the features
    again = transfer_mse(feats[:600] @ other - 3, a[:600], feats[600:] @ other - 3, a[600:], 0)
    assert again.test_mse == pytest.approx(res.test_mse, abs=2e-6)


def test_transfer_mse_separates_informative_from_random_features():
    rng = np.random.default_rng(0)
    abund = torch.as_tensor(rng.dirichlet(np.ones(3), 600), dtype=torch.float32)
    informative = torch.log(abund + 1e-3)  # a softmax-linear head recovers abundances from log-abundances
    noise = torch.as_tensor(rng.normal(size=(600, 3)), dtype=torch.float32)
    good = transfer_mse(informative[:400], abund[:400], informative[400:], abund[400:], 0)
    bad = transfer_mse(noise[:400], abund[:400], noise[400:], abund[400:], 0)
    assert good.test_mse < 0.01 < bad.test_mse


def test_transfer_mse_stops_on_its_validation_rows_only():
    # Validation rows decide the stopping: a test set replaced by garbage changes the test MSE only.
    rng = np.random.default_rng(2)
    abund = torch.as_tensor(rng.dirichlet(np.ones(3), 300), dtype=torch.float32)
    feats = torch.log(abund + 0.05) + torch.as_tensor(rng.normal(0, 0.5, (300, 3)), dtype=torch.float32)
    first = transfer_mse(feats[:200], abund[:200], feats[200:], abund[200:], 0, val_rows=torch.arange(150, 200))
    flipped = transfer_mse(
        feats[:200], abund[:200], feats[200:], abund[200:].flip(1), 0, val_rows=torch.arange(150, 200)
    )
    assert first.val_mse == flipped.val_mse and first.iterations == flipped.iterations
    assert first.train_mse == flipped.train_mse and first.test_mse != flipped.test_mse


def test_transfer_head_inputs_are_validated():
    x, a = torch.randn(10, 4), torch.full((10, 3), 1 / 3)
    with pytest.raises(ValueError, match="train_features"):
        transfer_mse(x[:5], a, x, a, 0)
    with pytest.raises(ValueError, match="widths"):
        transfer_mse(x, a, x[:, :2], a, 0)
    with pytest.raises(ValueError, match="val_rows"):
        transfer_mse(x, a, x, a, 0, val_rows=torch.ones(10, dtype=torch.bool))
    with pytest.raises(ValueError, match="val_rows"):
        transfer_mse(x, a, x, a, 0, val_rows=torch.tensor([3, 10]))
    with pytest.raises(ValueError, match="same shape"):
        softmax_mse(x, a)
    with pytest.raises(ValueError, match="same shape"):
        simplex_mse(a[:3], a)


def _regression_data() -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(0)
    pred = np.arange(30) % 3
    return rng.normal(size=30), pred, rng.normal(20, 5, size=30), np.array([15.0, 20.0, 25.0])


@pytest.mark.parametrize("bad_class", [-1, 3])
def test_ot_regression_1d_refuses_validation_classes_outside_the_class_means(bad_class: int) -> None:
    f, c, z, m = _regression_data()
    vc = c.copy()
    vc[0] = bad_class  # -1 silently indexed the last class mean
    with pytest.raises(ValueError, match="`val` predicted_class integers in \\[0, 2\\]"):
        ot_regression_1d(f, c, z, m, val=(f, vc, z))


def test_ot_regression_1d_refuses_targets_whose_errors_overflow() -> None:
    f, c, z, m = _regression_data()
    with pytest.raises(ValueError, match="`targets` with magnitudes"):
        ot_regression_1d(f, c, z * 1e200, m)
    with pytest.raises(ValueError, match="`class_means` with magnitudes"):
        ot_regression_1d(f, c, z, m * 1e200)


def test_softmax_head_names_a_dtype_other_than_its_parameters() -> None:
    head = SoftmaxHead(4, 3)
    with pytest.raises(TypeError, match=r"`x` of dtype torch\.float32"):
        head(torch.zeros(2, 4, dtype=torch.float64))


def test_transfer_mse_refuses_features_that_overflow() -> None:
    feats = torch.randn(10, 4, dtype=torch.float64)
    targets = torch.softmax(torch.randn(10, 3), 1)
    with pytest.raises(ValueError, match="`train_features`"):
        transfer_mse(feats * 1e300 * 1e10, targets, feats, targets, seed=0, device="cpu")


def test_tied_values_share_the_mean_of_their_images_whatever_their_order() -> None:
    rng = np.random.default_rng(0)
    targets = np.sort(rng.normal(30, 10, size=50))  # sorted like files named by age
    constant = np.zeros(50)
    np.testing.assert_allclose(transport_1d(constant, targets), targets.mean())
    values = np.repeat([0.0, 1.0], 25)  # two tied groups: each gets the mean of its half
    out = transport_1d(values, targets)
    np.testing.assert_allclose(out[:25], targets[:25].mean())
    np.testing.assert_allclose(out[25:], targets[25:].mean())
    perm = rng.permutation(50)
    np.testing.assert_allclose(transport_1d(values[perm], targets), out[perm])


def test_transfer_mse_leaves_torch_s_global_random_state_alone() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(30, 4, generator=g)
    t = torch.softmax(torch.randn(30, 3, generator=g), 1)
    torch.manual_seed(7)
    state = torch.get_rng_state()
    first = transfer_mse(x[:20], t[:20], x[20:], t[20:], seed=1)
    assert torch.equal(torch.get_rng_state(), state)
    assert transfer_mse(x[:20], t[:20], x[20:], t[20:], seed=1) == first
