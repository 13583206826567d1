"""Calibration metrics against a naive binning; output mutual information closed forms."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from c2f_utils.probes import calibration, output_mutual_information, reliability_diagram


def naive_ece_mce(p, y, n_bins):
    conf, pred = p.max(1), p.argmax(1)
    edges = np.linspace(0, 1, n_bins + 1)
    ece, mce = 0.0, 0.0
    for lo, hi in itertools.pairwise(edges):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            gap = abs((pred[m] == y[m]).mean() - conf[m].mean())
            ece += m.mean() * gap
            mce = max(mce, gap)
    return ece, mce


@pytest.mark.parametrize("seed", range(4))
def test_ece_mce_match_naive_binning(seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(500, 4)) * 3
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    y = rng.integers(0, 4, 500)
    res = calibration(p, y, n_bins=10)
    ece, mce = naive_ece_mce(p, y, 10)
    assert res.ece == pytest.approx(ece, abs=1e-5)
    assert res.mce == pytest.approx(mce, abs=1e-5)
    diag = reliability_diagram(p, y, n_bins=10)
    assert diag["count"].sum() == 500
    weighted = (diag["count"] / 500 * (diag["accuracy"] - diag["confidence"]).abs()).sum()
    assert weighted == pytest.approx(ece, abs=1e-6)


def test_output_mutual_information_closed_forms():
    k = 5
    assert output_mutual_information(np.eye(k)[np.arange(100) % k]) == pytest.approx(math.log(k))
    assert output_mutual_information(np.full((30, k), 1 / k)) == pytest.approx(0.0, abs=1e-12)
    p = np.array([[0.9, 0.1], [0.1, 0.9]])
    h = -(0.9 * math.log(0.9) + 0.1 * math.log(0.1))
    assert output_mutual_information(p) == pytest.approx(math.log(2) - h)


def test_invalid_inputs_raise():
    with pytest.raises(ValueError, match="summing to 1"):
        calibration(np.ones((3, 2)), np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match="labels"):
        calibration(np.full((3, 2), 0.5), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="n_bins"):
        reliability_diagram(np.full((3, 2), 0.5), np.zeros(3, dtype=int), n_bins=0)
    with pytest.raises(ValueError, match="probs"):
        output_mutual_information(-np.ones((2, 2)))
