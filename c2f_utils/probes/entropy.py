"""Entropy of a feature distribution: FIERCE's anchor estimate and two references.

- :func:`anchor_entropy`: the deterministic estimate of FIERCE (Baena et al. 2022,
  Eq. 10 and App. A.4), the entropy of the hard nearest-anchor assignment;
- :func:`knn_entropy`: the Kozachenko-Leonenko k-nearest-neighbour estimate of the
  differential entropy (scikit-learn neighbours);
- :func:`histogram_entropy`: the differential entropy of a 1-D sample from a histogram.

The anchor estimate is the entropy of a *quantised* feature, in ``[0, log e]``; the
references estimate a *differential* entropy. They differ by more than a constant,
so the book compares them through their correlation over training, as App. A.4 does.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.special import digamma, gammaln
from sklearn.neighbors import NearestNeighbors

from .._checks import as_array, check_choice, check_magnitude, check_number, check_positive_int
from ..losses.fierce import SIMILARITIES, hard_assignment_entropy
from .linear import ArrayLike

__all__ = ["anchor_entropy", "histogram_entropy", "knn_entropy"]


def anchor_entropy(features: ArrayLike, anchors: ArrayLike, similarity: str = "cosine") -> float:
    r"""Entropy (nats) of the hard assignment of ``features`` to their most similar anchor.

    .. math::
        \hat H = -\sum_{i=1}^{e} \hat p_i \log \hat p_i,\qquad
        \hat p_i = \frac1N \#\{n : i = \arg\max_j \mathrm{sim}(r_n, a_j)\}

    (Baena et al. 2022, Eq. 10, used deterministically as in App. A.4). It lies in
    ``[0, log(n_anchors)]``.

    Parameters
    ----------
    features : (N, d) array
        Feature vectors.
    anchors : (e, d) array
        Anchors, e.g. ``FIERCELoss.anchors``.
    similarity : {"cosine", "dot", "neg_sqdist"}
        As in :func:`c2f_utils.losses.fierce.similarity`.
    """
    check_choice("similarity", similarity, SIMILARITIES)
    f = torch.as_tensor(as_array("features", features, 2), dtype=torch.float64)
    a = torch.as_tensor(as_array("anchors", anchors, 2), dtype=torch.float64)
    if len(f) == 0:
        raise ValueError("Expected `features` with at least one row, got none")
    if a.shape[0] < 2 or a.shape[1] != f.shape[1]:
        raise ValueError(
            f"Expected `anchors` (e >= 2, {f.shape[1]}) for features of dimension {f.shape[1]}, got {tuple(a.shape)}"
        )
    return float(hard_assignment_entropy(f, a, similarity))


def knn_entropy(features: ArrayLike, k: int = 3, min_distance: float = 1e-10) -> float:
    r"""Kozachenko-Leonenko estimate of the differential entropy (nats) of a sample.

    .. math::
        \hat H = \psi(N) - \psi(k) + \log V_d + \frac dN \sum_{n=1}^N \log \varepsilon_n,
        \qquad V_d = \frac{\pi^{d/2}}{\Gamma(d/2 + 1)},

    with :math:`\varepsilon_n` the Euclidean distance from :math:`r_n` to its ``k``-th
    nearest neighbour (Kozachenko & Leonenko 1987; Kraskov et al. 2004, Eq. 20).

    Parameters
    ----------
    features : (N, d) array
        The sample; ``N > k``.
    k : int
        Neighbour rank.
    min_distance : float
        Floor on :math:`\varepsilon_n`: repeated points (e.g. ReLU features that are all
        zero) would otherwise give :math:`\log 0`. The floor makes the estimate finite
        but very negative for degenerate samples, which is the intended reading.
    """
    check_positive_int("k", k)
    check_number("min_distance", min_distance, low=0, low_inclusive=False)
    x = check_magnitude("features", as_array("features", features, (1, 2)).astype(np.float64))
    if x.size == 0:
        raise ValueError(f"Expected non-empty `features`, got shape {x.shape}")
    x = x.reshape(len(x), -1)
    n, d = x.shape
    if n <= k:
        raise ValueError(f"Expected more than k={k} samples in `features`, got {n}")
    dist, _ = NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x)
    eps = np.maximum(dist[:, k], min_distance)
    log_vd = (d / 2) * math.log(math.pi) - gammaln(d / 2 + 1)
    return float(digamma(n) - digamma(k) + log_vd + d * np.mean(np.log(eps)))


MAX_RULE_BINS = 100_000
"""Most bins a named rule of :func:`histogram_entropy` may ask for (800 kB of edges)."""


def _capped_bins(x: np.ndarray, bins: int | str) -> int | str:
    """``bins``, or ``MAX_RULE_BINS`` where the rule ``bins`` would ask for more equal bins than that."""
    if not isinstance(bins, str):
        return bins
    try:  # the rule's bin width, as numpy.histogram_bin_edges computes it before allocating the edges
        from numpy.lib._histograms_impl import _hist_bin_selectors
    except ImportError:  # numpy < 2
        from numpy.lib.histograms import _hist_bin_selectors
    selector = _hist_bin_selectors.get(bins)
    if selector is None:
        return bins  # an unknown rule: numpy names it in its error
    width = selector(x, (x.min(), x.max()))
    if width and np.ptp(x) / width > MAX_RULE_BINS:
        return MAX_RULE_BINS
    return bins


def histogram_entropy(values: ArrayLike, bins: int | str = "fd") -> float:
    r"""Differential entropy (nats) of a 1-D sample from a histogram density estimate.

    .. math:: \hat H = -\sum_b \hat p_b \log \frac{\hat p_b}{w_b},

    with :math:`\hat p_b` the share of the sample in bin :math:`b` of width :math:`w_b`
    (empty bins contribute 0). ``bins`` is any rule of :func:`numpy.histogram_bin_edges`
    (Freedman-Diaconis by default) or a number of bins. A rule asking for more than
    ``MAX_RULE_BINS`` bins (one far outlier makes Freedman-Diaconis ask for billions) gets
    that many equal bins instead. A constant sample has no density: its entropy is ``-inf``.
    """
    x = as_array("values", values, (1, 2)).astype(np.float64)
    if x.ndim == 2 and x.shape[1] != 1:
        raise ValueError(f"Expected 1-D `values` (N,) or (N, 1), got shape {x.shape}")
    x = x.ravel()
    if len(x) < 2:
        raise ValueError(f"Expected at least 2 values, got {len(x)}")
    if isinstance(bins, int):
        check_positive_int("bins", bins)
    if np.ptp(x) == 0:
        return -math.inf
    counts, edges = np.histogram(x, bins=_capped_bins(x, bins))
    p = counts / counts.sum()
    width = np.diff(edges)
    keep = p > 0
    return float(-(p[keep] * np.log(p[keep] / width[keep])).sum())
