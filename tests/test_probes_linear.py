"""Linear and ridge probes against direct scikit-learn fits and naive references."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler

from c2f_utils.probes import linear_probe, ridge_probe, within_group_accuracy


def _blobs(seed: int, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    x = rng.normal(size=(n, 5)) + 2.0 * np.eye(4, 5)[y]
    return x, y


def test_linear_probe_matches_direct_sklearn_fit() -> None:
    xtr, ytr = _blobs(0)
    xte, yte = _blobs(1)
    res = linear_probe(torch.as_tensor(xtr), torch.as_tensor(ytr), xte, yte)
    scaler = StandardScaler().fit(xtr)
    ref = LogisticRegression(max_iter=2000).fit(scaler.transform(xtr), ytr)
    assert res.test_score == pytest.approx(ref.score(scaler.transform(xte), yte))
    np.testing.assert_allclose(res.test_prediction, ref.predict_proba(scaler.transform(xte)), atol=1e-6)
    assert res.metric == "accuracy" and res.test_score > 0.7


def test_linear_probe_subsampling_is_seeded() -> None:
    xtr, ytr = _blobs(0)
    a = linear_probe(xtr, ytr, xtr, ytr, max_train=50, seed=1)
    b = linear_probe(xtr, ytr, xtr, ytr, max_train=50, seed=1)
    assert a.test_score == b.test_score


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((np.zeros((3, 2)), np.zeros(4), np.zeros((3, 2)), np.zeros(3)), "equal length"),
        ((np.zeros((3, 2)), np.zeros(3), np.zeros((3, 5)), np.zeros(3)), "equal width"),
        ((np.zeros(3), np.zeros(3), np.zeros((3, 2)), np.zeros(3)), "train_features"),
        ((np.full((3, 2), np.nan), np.arange(3), np.zeros((3, 2)), np.zeros(3)), "finite"),
        ((np.zeros((3, 2)), np.zeros(3), np.zeros((3, 2)), np.zeros(3)), "at least 2 classes"),
    ],
)
def test_linear_probe_validates_inputs(args: tuple, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        linear_probe(*args)


def test_ridge_probe_matches_sklearn_and_handles_vector_targets() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 6))
    w = rng.normal(size=(6, 3))
    y = x @ w + 0.1 * rng.normal(size=(200, 3))
    res = ridge_probe(x[:150], y[:150], x[150:], y[150:], alpha=0.5)
    scaler = StandardScaler().fit(x[:150])
    ref = Ridge(alpha=0.5).fit(scaler.transform(x[:150]), y[:150]).predict(scaler.transform(x[150:]))
    assert res.test_score == pytest.approx(np.mean((ref - y[150:]) ** 2))
    assert res.metric == "mse" and res.test_score < 0.05
    with pytest.raises(ValueError, match="alpha"):
        ridge_probe(x, y, x, y, alpha=-1)


def test_within_group_accuracy_against_a_loop() -> None:
    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(6), 50)
    y = rng.integers(0, 6, 50)
    groups = np.array([0, 0, 0, 1, 1, 1])
    expected = np.mean(
        [
            max((c for c in range(6) if groups[c] == groups[label]), key=lambda c: p[c]) == label
            for p, label in zip(proba, y, strict=True)
        ]
    )
    assert within_group_accuracy(proba, y, groups) == pytest.approx(expected)
    # Columns in another order, named by `classes`.
    perm = rng.permutation(6)
    assert within_group_accuracy(proba[:, perm], y, groups[perm], classes=perm) == pytest.approx(expected)


def test_within_group_accuracy_validates() -> None:
    with pytest.raises(ValueError, match="groups"):
        within_group_accuracy(np.ones((2, 3)) / 3, np.array([0, 1]), np.array([0, 1]))
    with pytest.raises(ValueError, match="fine_labels"):
        within_group_accuracy(np.ones((2, 3)) / 3, np.array([0, 7]), np.array([0, 0, 1]))


def test_ridge_probe_column_targets_match_flat_targets_and_sklearn() -> None:
    from sklearn.pipeline import make_pipeline

    rng = np.random.default_rng(0)
    x, xt = rng.normal(size=(50, 3)), rng.normal(size=(40, 3))
    y, yt = x @ [1.0, 2.0, 3.0] + 0.1 * rng.normal(size=50), xt @ [1.0, 2.0, 3.0] + 0.1 * rng.normal(size=40)
    flat = ridge_probe(x, y, xt, yt, alpha=1.0)
    column = ridge_probe(x, y[:, None], xt, yt[:, None], alpha=1.0)
    reference = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(x, y).predict(xt)
    assert flat.test_score == pytest.approx(float(np.mean((reference - yt) ** 2)), rel=1e-12)
    assert column.test_score == pytest.approx(flat.test_score, rel=1e-12)
    assert column.test_score < 0.1  # broadcasting (n,) against (n, 1) gave about 70
    assert column.train_score == pytest.approx(flat.train_score, rel=1e-12)
    assert column.test_prediction.shape == (40, 1)


def test_ridge_probe_refuses_mismatched_widths_and_huge_values() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(20, 3)), rng.normal(size=(20, 2))
    with pytest.raises(ValueError, match="`test_targets` with 2 component"):
        ridge_probe(x, y, x, y[:, :1])
    with pytest.raises(ValueError, match="`test_features` as wide as `train_features`"):
        ridge_probe(x, y, x[:, :2], y)
    with pytest.raises(ValueError, match="`train_targets` with magnitudes"):
        ridge_probe(x, y * 1e200, x, y)
    with pytest.raises(ValueError, match="`alpha`"):
        ridge_probe(x, y, x, y, alpha=1e200)
