"""Class geometry: confusion structure, class-centre distances, t-SNE.

- :func:`confusion`: the confusion matrix (scikit-learn), row-normalised by default.
- :func:`matrix_agreement`: how well two ``K x K`` class-relation matrices (a learned
  Q-matrix, a confusion matrix, a distance matrix) agree on their off-diagonal
  entries: Spearman and Pearson correlations (scipy), the fraction of classes whose
  most related other class is the same, and a permutation p-value that relabels the
  classes of one matrix (a Mantel test), since off-diagonal entries are not independent.
- :func:`class_centres` and :func:`normalized_cosine_distances`: the L1-normalised
  cosine distances between class centres of the LLS paper (§5.2, Figures 5-6),
  :math:`cd(i,j) / \\sum_j cd(i,j)` with :math:`cd(i,j) = 1 - \\cos(c_i, c_j)`.
- :func:`equidistance`: the coefficient of variation of the off-diagonal distances
  (0 when all classes are equidistant, as label smoothing is said to make them).
- :func:`tsne` (scikit-learn) and :func:`silhouette` (cluster compactness).

References
----------
.. [1] Anonymous. LLS: Regulating Neural Network Training via Learnable Label
   Smoothing. ICLR submission, §4.3 and §5.2.
.. [2] R. Müller, S. Kornblith, G. Hinton. When does label smoothing help? NeurIPS 2019.
.. [3] N. Mantel. The detection of disease clustering and a generalized regression
   approach. Cancer Research 27, 1967.
.. [4] L. van der Maaten, G. Hinton. Visualizing data using t-SNE. JMLR 9, 2008.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._checks import as_array, check_choice, check_magnitude, check_number, check_positive_int, check_same_length
from .linear import ArrayLike

__all__ = [
    "Agreement",
    "class_centres",
    "class_separation",
    "confusion",
    "equidistance",
    "matrix_agreement",
    "normalized_cosine_distances",
    "off_diagonal",
    "silhouette",
    "tsne",
]


def _labels(name: str, labels: ArrayLike, num_classes: int | None = None) -> np.ndarray:
    y = as_array(name, labels, 1)
    if y.dtype.kind not in "iu":
        raise ValueError(f"Expected integer class labels in `{name}`, got dtype {y.dtype}")
    if y.size and (y.min() < 0 or (num_classes is not None and y.max() >= num_classes)):
        raise ValueError(f"Expected `{name}` in [0, {num_classes}), got values in [{y.min()}, {y.max()}]")
    return y.astype(np.int64)


def _square(name: str, matrix: ArrayLike) -> np.ndarray:
    m = as_array(name, matrix, 2).astype(np.float64)
    if m.shape[0] != m.shape[1] or m.shape[0] < 2:
        raise ValueError(f"Expected `{name}` as a square (K, K) matrix with K >= 2, got shape {m.shape}")
    return m


def confusion(y_true: ArrayLike, y_pred: ArrayLike, num_classes: int, normalize: str | None = "true") -> np.ndarray:
    """Confusion matrix ``C[i, j]`` = samples of class ``i`` predicted ``j`` (scikit-learn).

    Parameters
    ----------
    normalize : {"true", None}
        ``"true"``: each row divided by its class size (a class absent from ``y_true``
        gives a row of zeros, not NaN); None: counts.
    """
    from sklearn.metrics import confusion_matrix

    check_positive_int("num_classes", num_classes, minimum=2)
    if normalize is not None:
        check_choice("normalize", normalize, ("true",))
    t = _labels("y_true", y_true, num_classes)
    p = _labels("y_pred", y_pred, num_classes)
    check_same_length("y_true", t, "y_pred", p)
    counts = confusion_matrix(t, p, labels=np.arange(num_classes)).astype(np.float64)
    if normalize is None:
        return counts
    sizes = counts.sum(1, keepdims=True)
    return np.divide(counts, sizes, out=np.zeros_like(counts), where=sizes > 0)


def off_diagonal(matrix: ArrayLike) -> np.ndarray:
    """The ``K(K-1)`` off-diagonal entries of a square matrix, row by row."""
    m = _square("matrix", matrix)
    return m[~np.eye(len(m), dtype=bool)]


@dataclass(frozen=True)
class Agreement:
    """Agreement of two class-relation matrices on their off-diagonal entries."""

    spearman: float
    """Spearman rank correlation of the off-diagonal entries (NaN if one is constant)."""
    pearson: float
    """Pearson correlation of the off-diagonal entries (NaN if one is constant)."""
    top1: float
    """Fraction of classes whose largest off-diagonal entry is in the same column in both."""
    p_value: float
    """Permutation (Mantel) p-value of the Spearman correlation, one-sided (greater)."""


def matrix_agreement(a: ArrayLike, b: ArrayLike, *, permutations: int = 999, seed: int = 0) -> Agreement:
    """How well two ``K x K`` class-relation matrices agree off the diagonal.

    The p-value relabels the classes of ``b`` (rows and columns together) by random
    permutations and counts how often the Spearman correlation is at least the
    observed one: :math:`(1 + \\#\\{\\rho_\\pi \\ge \\rho\\}) / (1 + n)` (Mantel 1967). It
    is NaN when the correlation is undefined (a constant matrix).

    Parameters
    ----------
    a, b : array ``(K, K)``
        E.g. a learned Q-matrix and a (row-normalised) confusion matrix.
    permutations : int
        Number of random relabellings (0: no p-value, NaN).
    seed : int
        Seeds the permutations.
    """
    from scipy import stats

    ma, mb = _square("a", a), _square("b", b)
    if ma.shape != mb.shape:
        raise ValueError(f"Expected `a` and `b` of the same shape, got {ma.shape} and {mb.shape}")
    check_positive_int("permutations", permutations, minimum=0)
    check_positive_int("seed", seed, minimum=0)
    k = len(ma)
    mask = ~np.eye(k, dtype=bool)
    xa, xb = ma[mask], mb[mask]
    constant = np.ptp(xa) == 0 or np.ptp(xb) == 0
    nan = float("nan")
    rho = nan if constant else float(stats.spearmanr(xa, xb).statistic)
    r = nan if constant else float(stats.pearsonr(xa, xb).statistic)
    off_a = np.where(mask, ma, -np.inf)
    off_b = np.where(mask, mb, -np.inf)
    top1 = float(np.mean(off_a.argmax(1) == off_b.argmax(1)))
    p_value = nan
    if permutations and not constant:
        rng = np.random.default_rng(seed)
        ranks_a = stats.rankdata(xa)
        hits = 0
        for _ in range(permutations):
            perm = rng.permutation(k)
            xp = mb[np.ix_(perm, perm)][mask]
            hits += float(np.corrcoef(ranks_a, stats.rankdata(xp))[0, 1]) >= rho - 1e-12
        p_value = (1 + hits) / (1 + permutations)
    return Agreement(rho, r, top1, p_value)


def class_centres(features: ArrayLike, labels: ArrayLike, num_classes: int) -> np.ndarray:
    """Mean feature vector of each class, ``(K, d)``.

    Raises
    ------
    ValueError
        If a class has no sample (its centre is undefined).
    """
    check_positive_int("num_classes", num_classes, minimum=2)
    x = as_array("features", features, 2).astype(np.float64)
    y = _labels("labels", labels, num_classes)
    check_same_length("features", x, "labels", y)
    counts = np.bincount(y, minlength=num_classes)
    if (counts == 0).any():
        raise ValueError(f"Expected every class in `labels`, got no sample of classes {np.flatnonzero(counts == 0)}")
    sums = np.zeros((num_classes, x.shape[1]))
    np.add.at(sums, y, x)
    return sums / counts[:, None]


def normalized_cosine_distances(centres: ArrayLike) -> np.ndarray:
    """L1-normalised cosine distances between class centres (LLS paper §5.2).

    .. math:: D_{ij} = \\frac{cd(i, j)}{\\sum_k cd(i, k)}, \\qquad
              cd(i, j) = 1 - \\frac{c_i \\cdot c_j}{\\|c_i\\| \\|c_j\\|}

    Each row sums to one (the diagonal is 0). A row whose distances are all zero (all
    centres in one direction, up to rounding) is returned as zeros.

    Raises
    ------
    ValueError
        If a centre is the zero vector (its cosine is undefined).
    """
    c = as_array("centres", centres, 2).astype(np.float64)
    if len(c) < 2:
        raise ValueError(f"Expected at least 2 centres, got shape {c.shape}")
    norms = np.linalg.norm(c, axis=1)
    if (norms == 0).any():
        raise ValueError(f"Expected non-zero centres, got zero vectors for classes {np.flatnonzero(norms == 0)}")
    unit = c / norms[:, None]
    cd = np.clip(1.0 - unit @ unit.T, 0.0, 2.0)
    # Rounding leaves ~1e-16 between parallel centres; normalising that noise would make it 1.
    cd[cd < 1e-12] = 0.0
    np.fill_diagonal(cd, 0.0)
    sums = cd.sum(1, keepdims=True)
    return np.divide(cd, sums, out=np.zeros_like(cd), where=sums > 0)


def equidistance(distances: ArrayLike) -> float:
    """Coefficient of variation (std / mean) of the off-diagonal entries.

    0 for equidistant classes; larger when some pairs are much closer than others.
    NaN if every off-diagonal entry is zero.
    """
    m = _square("distances", distances)
    x = m[~np.eye(len(m), dtype=bool)]
    mean = float(x.mean())
    return float(x.std() / mean) if mean > 0 else float("nan")


def silhouette(features: ArrayLike, labels: ArrayLike, metric: str = "cosine") -> float:
    """Mean silhouette coefficient of the classes in feature space (scikit-learn), in [-1, 1].

    Higher means tighter, better separated class clusters.
    """
    from sklearn.metrics import silhouette_score

    x = as_array("features", features, 2)
    y = _labels("labels", labels)
    check_same_length("features", x, "labels", y)
    check_choice("metric", metric, ("cosine", "euclidean"))
    if len(np.unique(y)) < 2:
        raise ValueError("Expected at least two classes in `labels`")
    return float(silhouette_score(x, y, metric=metric))


def class_separation(features: ArrayLike, labels: ArrayLike) -> float:
    r"""Class separation :math:`R^2 = 1 - \bar d_{\text{within}} / \bar d_{\text{total}}`
    (Kornblith et al. 2021, Eq. 1).

    :math:`\bar d_{\text{within}}` is the mean cosine distance :math:`1 - \cos(x_i, x_j)`
    over pairs of examples of the same class, averaged over classes; :math:`\bar d_{\text{total}}`
    the mean over all pairs (:math:`i \ne j` excluded from neither: both means include the
    zero diagonal, as in the paper's code, which averages whole blocks of the distance
    matrix). 0: classes as spread as the whole set; 1: every class collapsed to a point.
    """
    x = as_array("features", features, 2).astype(np.float64)  # finite
    if len(x) < 2:
        raise ValueError(f"Expected `features` as an (n >= 2, d) array, got shape {x.shape}")
    y = _labels("labels", labels)
    if y.shape != (len(x),):
        raise ValueError(f"Expected `labels` of shape ({len(x)},), got {y.shape}")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError("Expected `features` without all-zero rows (their cosine distance is undefined)")
    unit = x / norms
    distance = 1.0 - unit @ unit.T
    classes = np.unique(y)
    if len(classes) < 2:
        raise ValueError(f"Expected at least two classes in `labels`, got {classes.tolist()}")
    within = np.mean([distance[np.ix_(y == c, y == c)].mean() for c in classes])
    total = distance.mean()
    return float(1.0 - within / total)


def tsne(
    features: ArrayLike, *, perplexity: float = 30.0, seed: int = 0, max_samples: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """2-D t-SNE embedding of the features (scikit-learn, PCA initialisation).

    Parameters
    ----------
    perplexity : float
        Must be below the number of samples embedded.
    max_samples : int, optional
        Embed a seeded random subset of at most this many samples.

    Returns
    -------
    embedding : array ``(n, 2)``
    index : array ``(n,)``
        Rows of ``features`` that were embedded (to colour them by label).
    """
    from sklearn.manifold import TSNE

    x = check_magnitude("features", as_array("features", features, 2), 1e15).astype(np.float32)
    if len(x) == 0:
        raise ValueError(f"Expected `features` with at least one sample, got shape {x.shape}")
    check_number("perplexity", perplexity, low=0, low_inclusive=False)
    check_positive_int("seed", seed, minimum=0)
    index = np.arange(len(x))
    if max_samples is not None:
        check_positive_int("max_samples", max_samples, minimum=2)
        if len(x) > max_samples:
            index = np.sort(np.random.default_rng(seed).choice(len(x), max_samples, replace=False))
    if perplexity >= len(index):
        raise ValueError(f"Expected `perplexity` < the number of samples {len(index)}, got {perplexity}")
    if float(np.ptp(x[index], axis=0).max()) == 0:  # sklearn's PCA start divides by 0 and Barnes-Hut crashes
        raise ValueError("Expected `features` with at least two distinct rows, got identical rows (no layout)")
    emb = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x[index])
    return emb, index
