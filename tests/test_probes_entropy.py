"""Entropy probes against closed forms (Gaussian differential entropy, uniform categorical)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from c2f_utils.probes import anchor_entropy, histogram_entropy, knn_entropy


def gaussian_entropy(cov: np.ndarray) -> float:
    d = cov.shape[0]
    return 0.5 * (d * math.log(2 * math.pi * math.e) + np.linalg.slogdet(cov)[1])


@pytest.mark.parametrize("d", [1, 2, 5])
def test_knn_entropy_matches_gaussian_closed_form(d):
    rng = np.random.default_rng(d)
    a = rng.normal(size=(d, d))
    cov = a @ a.T + 0.5 * np.eye(d)
    x = rng.multivariate_normal(np.zeros(d), cov, 4000)
    assert knn_entropy(x, k=3) == pytest.approx(gaussian_entropy(cov), abs=0.08 * d)


def test_knn_entropy_finite_on_repeated_points_and_checks_size():
    x = np.zeros((50, 3))
    x[:5] = np.random.default_rng(0).normal(size=(5, 3))
    assert math.isfinite(knn_entropy(x))
    with pytest.raises(ValueError, match="k=3"):
        knn_entropy(np.ones((3, 2)))
    with pytest.raises(ValueError, match="min_distance"):
        knn_entropy(np.ones((10, 2)), min_distance=0)


def test_histogram_entropy_gaussian_and_uniform():
    rng = np.random.default_rng(0)
    expected = 0.5 * math.log(2 * math.pi * math.e * 4)
    assert histogram_entropy(rng.normal(0, 2, 50_000)) == pytest.approx(expected, abs=0.02)
    assert histogram_entropy(rng.uniform(0, 3, 50_000), bins=30) == pytest.approx(math.log(3), abs=0.01)
    assert histogram_entropy(np.ones(10)) == -math.inf
    with pytest.raises(ValueError, match="values"):
        histogram_entropy(np.ones((5, 2)))


def test_anchor_entropy_counts_hard_assignments():
    anchors = torch.eye(4)
    feats = torch.eye(4).repeat(5, 1)
    assert anchor_entropy(feats, anchors, "cosine") == pytest.approx(math.log(4))
    assert anchor_entropy(feats[:1].repeat(7, 1), anchors, "dot") == pytest.approx(0.0)
    with pytest.raises(ValueError, match="anchors"):
        anchor_entropy(feats, torch.eye(3))
    with pytest.raises(ValueError, match="similarity"):
        anchor_entropy(feats, anchors, "l2")


def test_histogram_entropy_caps_the_bins_a_rule_asks_for() -> None:
    from c2f_utils.probes.entropy import MAX_RULE_BINS

    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(size=200), 1e12]  # Freedman-Diaconis asked for about 1e12 bins (a crash)
    counts, edges = np.histogram(x, bins=MAX_RULE_BINS)
    p = counts / counts.sum()
    keep = p > 0
    reference = float(-(p[keep] * np.log(p[keep] / np.diff(edges)[keep])).sum())
    assert histogram_entropy(x) == pytest.approx(reference, rel=1e-12)


def test_histogram_entropy_with_a_sane_rule_is_numpy_s_histogram() -> None:
    x = np.random.default_rng(1).normal(size=500)
    counts, edges = np.histogram(x, bins="fd")
    p = counts / counts.sum()
    keep = p > 0
    assert histogram_entropy(x) == float(-(p[keep] * np.log(p[keep] / np.diff(edges)[keep])).sum())


def test_entropy_probes_read_bfloat16_and_refuse_overflowing_scales() -> None:
    f = torch.randn(40, 3, generator=torch.Generator().manual_seed(0))
    assert knn_entropy(f.bfloat16()) == knn_entropy(f.bfloat16().float())
    assert math.isfinite(histogram_entropy(f[:, 0].bfloat16()))
    with pytest.raises(ValueError, match="`features` with magnitudes"):
        knn_entropy(f.double() * 1e200)
