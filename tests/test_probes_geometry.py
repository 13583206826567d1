"""Geometry probes against scikit-learn, scipy and hand computations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats
from scipy.spatial.distance import cdist

from c2f_utils.probes import (
    class_centres,
    class_separation,
    confusion,
    equidistance,
    matrix_agreement,
    normalized_cosine_distances,
    off_diagonal,
    silhouette,
    tsne,
)


def test_confusion_counts_and_row_normalisation() -> None:
    y_true = np.array([0, 0, 1, 1, 1, 2])
    y_pred = np.array([0, 1, 1, 1, 0, 2])
    counts = confusion(y_true, y_pred, 4, normalize=None)
    expected = np.zeros((4, 4))
    for t, p in zip(y_true, y_pred, strict=True):
        expected[t, p] += 1
    np.testing.assert_array_equal(counts, expected)
    rates = confusion(torch.tensor(y_true), torch.tensor(y_pred), 4)
    np.testing.assert_allclose(rates[:3].sum(1), 1.0)
    np.testing.assert_array_equal(rates[3], 0.0)  # class 3 absent: zeros, not NaN
    with pytest.raises(ValueError, match="y_pred"):
        confusion(y_true, np.array([0, 1, 1, 1, 0, 4]), 4)
    with pytest.raises(ValueError, match="y_true"):
        confusion(y_true.astype(float), y_pred, 4)
    with pytest.raises(ValueError, match="normalize"):
        confusion(y_true, y_pred, 4, normalize="all")


def test_matrix_agreement_against_scipy_and_permutation_null() -> None:
    rng = np.random.default_rng(1)
    a = rng.random((8, 8))
    b = a + 0.05 * rng.random((8, 8))
    agr = matrix_agreement(a, b, permutations=199)
    assert agr.spearman == pytest.approx(stats.spearmanr(off_diagonal(a), off_diagonal(b)).statistic)
    assert agr.pearson == pytest.approx(stats.pearsonr(off_diagonal(a), off_diagonal(b)).statistic)
    assert agr.spearman > 0.9 and agr.top1 > 0.5
    assert agr.p_value == pytest.approx(1 / 200)
    unrelated = matrix_agreement(a, rng.random((8, 8)), permutations=199)
    assert abs(unrelated.spearman) < 0.5 and unrelated.p_value > 0.01
    # The diagonal is ignored.
    c = b.copy()
    np.fill_diagonal(c, 100.0)
    assert matrix_agreement(a, c, permutations=0).spearman == pytest.approx(agr.spearman)


def test_matrix_agreement_constant_and_invalid() -> None:
    agr = matrix_agreement(np.ones((3, 3)), np.eye(3) + np.arange(9).reshape(3, 3))
    assert np.isnan(agr.spearman) and np.isnan(agr.p_value)
    with pytest.raises(ValueError, match="same shape"):
        matrix_agreement(np.eye(3), np.eye(4))
    with pytest.raises(ValueError, match="`a`"):
        matrix_agreement(np.ones((3, 2)), np.ones((3, 2)))
    with pytest.raises(ValueError, match="`b`"):
        matrix_agreement(np.eye(3), np.full((3, 3), np.nan))


def test_class_centres_and_normalised_cosine_distances_against_scipy() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 5)) + 1
    y = np.arange(40) % 4
    centres = class_centres(x, y, 4)
    np.testing.assert_allclose(centres, np.stack([x[y == c].mean(0) for c in range(4)]))
    d = normalized_cosine_distances(centres)
    cd = cdist(centres, centres, metric="cosine")
    np.testing.assert_allclose(d, cd / cd.sum(1, keepdims=True), atol=1e-12)
    np.testing.assert_allclose(d.sum(1), 1.0)
    with pytest.raises(ValueError, match="classes"):
        class_centres(x, y, 5)
    with pytest.raises(ValueError, match="non-zero"):
        normalized_cosine_distances(np.array([[1.0, 0.0], [0.0, 0.0]]))
    np.testing.assert_array_equal(normalized_cosine_distances(np.array([[1.0, 1.0], [2.0, 2.0]])), 0.0)


def test_equidistance_is_zero_for_a_simplex_and_positive_otherwise() -> None:
    simplex = normalized_cosine_distances(np.eye(4))
    assert equidistance(simplex) == pytest.approx(0.0, abs=1e-12)
    uneven = normalized_cosine_distances(np.array([[1.0, 0, 0], [0.9, 0.1, 0], [0, 0, 1.0]]))
    assert equidistance(uneven) > 0.3
    assert np.isnan(equidistance(np.zeros((3, 3))))


def test_silhouette_and_tsne() -> None:
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 20)
    x = np.eye(3)[y] * 10 + rng.normal(size=(60, 3)) * 0.1
    assert silhouette(x, y) > 0.9
    with pytest.raises(ValueError, match="two classes"):
        silhouette(x, np.zeros(60, dtype=int))
    emb, index = tsne(x, perplexity=5, max_samples=30, seed=1)
    assert emb.shape == (30, 2) and len(np.unique(index)) == 30 and np.isfinite(emb).all()
    with pytest.raises(ValueError, match="perplexity"):
        tsne(x, perplexity=40, max_samples=30)


def _naive_separation(x: np.ndarray, y: np.ndarray) -> float:
    d = cdist(x, x, metric="cosine")
    within = np.mean(
        [np.mean([d[i, j] for i in np.flatnonzero(y == c) for j in np.flatnonzero(y == c)]) for c in np.unique(y)]
    )
    return 1.0 - within / d.mean()


def test_class_separation_matches_a_naive_double_loop() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 5)) + np.repeat(np.eye(5)[:4] * 3, 10, axis=0)
    y = np.repeat(np.arange(4), 10)
    assert class_separation(x, y) == pytest.approx(_naive_separation(x, y), abs=1e-12)
    assert class_separation(torch.as_tensor(x), torch.as_tensor(y)) == pytest.approx(class_separation(x, y))


def test_class_separation_is_one_for_collapsed_classes_and_near_zero_for_random_labels() -> None:
    centres = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.5]])
    y = np.repeat(np.arange(3), 5)
    assert class_separation(centres[y] * np.linspace(1, 2, 15)[:, None], y) == pytest.approx(1.0)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(600, 8))
    assert abs(class_separation(x, rng.integers(0, 3, 600))) < 0.02


def test_class_separation_rejects_bad_inputs_naming_them() -> None:
    with pytest.raises(ValueError, match="`features`"):
        class_separation(np.ones(5), np.zeros(5))
    with pytest.raises(ValueError, match="`labels`"):
        class_separation(np.ones((5, 2)), np.zeros(4, dtype=int))
    with pytest.raises(ValueError, match="finite values in `features`"):
        class_separation(np.array([[1.0, np.nan], [1.0, 0.0]]), np.array([0, 1]))
    with pytest.raises(ValueError, match="all-zero rows"):
        class_separation(np.array([[0.0, 0.0], [1.0, 0.0]]), np.array([0, 1]))
    with pytest.raises(ValueError, match="two classes"):
        class_separation(np.eye(3), np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match="integer class labels in `labels`"):
        class_separation(np.eye(3), np.array([0.0, 1.0, 1.0]))
