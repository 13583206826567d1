"""1-D optimal-transport regression: exactness on monotone features, orientation, beta choice."""

from __future__ import annotations

import numpy as np
import ot
import pytest

from c2f_utils.probes import ot_regression_1d, transport_1d


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
