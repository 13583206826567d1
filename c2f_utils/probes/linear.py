"""Linear probes: how much of a labeling a linear map of the features recovers.

A *probe* is fit on frozen features of a training set and scored on a test set
(Alain & Bengio 2017). Both probes standardise the features first and call
scikit-learn: :class:`~sklearn.linear_model.LogisticRegression` for class labels,
:class:`~sklearn.linear_model.Ridge` for continuous targets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .._checks import (
    as_array,
    check_integer_values,
    check_magnitude,
    check_number,
    check_positive_int,
    check_probs,
    check_same_length,
)

__all__ = ["ProbeResult", "linear_probe", "ridge_probe", "within_group_accuracy"]

ArrayLike = np.ndarray | torch.Tensor


@dataclass(frozen=True)
class ProbeResult:
    """Scores of a probe: accuracy (classification) or MSE and R^2 (regression)."""

    train_score: float
    test_score: float
    metric: str
    test_prediction: np.ndarray
    """Class probabilities ``(n_test, n_classes)`` or predicted targets ``(n_test, ...)``."""
    classes: np.ndarray | None = None


def _subsample(x: np.ndarray, y: np.ndarray, max_train: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if max_train is None or len(x) <= max_train:
        return x, y
    idx = np.random.default_rng(seed).choice(len(x), max_train, replace=False)
    return x[idx], y[idx]


def linear_probe(
    train_features: ArrayLike,
    train_labels: ArrayLike,
    test_features: ArrayLike,
    test_labels: ArrayLike,
    *,
    C: float = 1.0,
    max_iter: int = 2000,
    max_train: int | None = None,
    seed: int = 0,
) -> ProbeResult:
    """Accuracy of a multinomial logistic regression on standardised features.

    Parameters
    ----------
    train_features, test_features : array ``(n, d)``
        Frozen features.
    train_labels, test_labels : array ``(n,)`` of int
        Class labels (integers of any value; floats only if whole numbers).
    C : float
        Inverse L2 regularisation strength of scikit-learn's ``LogisticRegression``.
    max_iter : int
        L-BFGS iterations.
    max_train : int, optional
        Fit on a seeded random subset of at most this many training samples.
    seed : int
        Seed of that subset, >= 0.

    Returns
    -------
    ProbeResult
        Train and test accuracy; ``test_prediction`` holds the test-set class
        probabilities, columns ordered as ``classes``.
    """
    check_number("C", C, low=0, low_inclusive=False)
    check_positive_int("max_iter", max_iter)
    if max_train is not None:
        check_positive_int("max_train", max_train, minimum=2)
    check_positive_int("seed", seed, minimum=0)
    xtr = check_magnitude("train_features", as_array("train_features", train_features, 2))
    ytr = check_integer_values("train_labels", as_array("train_labels", train_labels, 1))
    xte = check_magnitude("test_features", as_array("test_features", test_features, 2))
    yte = check_integer_values("test_labels", as_array("test_labels", test_labels, 1))
    check_same_length("train_features", xtr, "train_labels", ytr)
    check_same_length("test_features", xte, "test_labels", yte)
    if xtr.shape[1] != xte.shape[1]:
        raise ValueError(f"Expected train and test features of equal width, got {xtr.shape[1]} and {xte.shape[1]}")
    xtr, ytr = _subsample(xtr, ytr, max_train, seed)
    if len(np.unique(ytr)) < 2:
        raise ValueError(f"Expected `train_labels` with at least 2 classes, got {np.unique(ytr).tolist()}")
    model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))
    model.fit(xtr, ytr)
    return ProbeResult(
        train_score=float(model.score(xtr, ytr)),
        test_score=float(model.score(xte, yte)),
        metric="accuracy",
        test_prediction=model.predict_proba(xte),
        classes=model.classes_,
    )


MAX_RIDGE_ALPHA = 1e100
"""Largest ridge penalty :func:`ridge_probe` takes (scikit-learn's solvers overflow near 1e200)."""


def ridge_probe(
    train_features: ArrayLike,
    train_targets: ArrayLike,
    test_features: ArrayLike,
    test_targets: ArrayLike,
    *,
    alpha: float = 1.0,
) -> ProbeResult:
    """Mean squared error of a ridge regression on standardised features.

    ``train_score``/``test_score`` are the MSE, averaged over samples and target
    components; targets may be ``(n,)`` or ``(n, k)``.
    """
    check_number("alpha", alpha, low=0, high=MAX_RIDGE_ALPHA)
    xtr = check_magnitude("train_features", as_array("train_features", train_features, 2))
    ytr = check_magnitude("train_targets", as_array("train_targets", train_targets, (1, 2)).astype(np.float64))
    xte = check_magnitude("test_features", as_array("test_features", test_features, 2))
    yte = check_magnitude("test_targets", as_array("test_targets", test_targets, (1, 2)).astype(np.float64))
    check_same_length("train_features", xtr, "train_targets", ytr)
    check_same_length("test_features", xte, "test_targets", yte)
    k_train, k_test = ytr.reshape(len(ytr), -1).shape[1], yte.reshape(len(yte), -1).shape[1]
    if k_train != k_test:
        raise ValueError(f"Expected `test_targets` with {k_train} component(s) like `train_targets`, got {k_test}")
    if xtr.shape[1] != xte.shape[1]:
        raise ValueError(f"Expected `test_features` as wide as `train_features` ({xtr.shape[1]}), got {xte.shape[1]}")
    model = make_pipeline(StandardScaler(), Ridge(alpha=alpha))
    model.fit(xtr, ytr)
    # scikit-learn may return (n,) predictions for (n, 1) targets: compare in the targets' shape, never broadcast
    pred = model.predict(xte).reshape(yte.shape)
    return ProbeResult(
        train_score=float(np.mean((model.predict(xtr).reshape(ytr.shape) - ytr) ** 2)),
        test_score=float(np.mean((pred - yte) ** 2)),
        metric="mse",
        test_prediction=pred,
    )


def within_group_accuracy(
    proba: ArrayLike, fine_labels: ArrayLike, groups: ArrayLike, classes: ArrayLike | None = None
) -> float:
    """Fine-label accuracy when the coarse group is given.

    For each sample, the predicted fine class is the most probable among the fine
    classes of the sample's own coarse group,
    :math:`\\hat y_i = \\arg\\max_{c \\in G(g_i)} p_{ic}`. It measures the fine
    information a representation holds *beyond* the coarse label: chance level is
    ``1 / |G|`` for groups of size ``|G|`` even for a perfect coarse classifier.

    Parameters
    ----------
    proba : array ``(n, n_fine)``
        Fine-class probabilities (e.g. ``ProbeResult.test_prediction``): entries >= 0,
        rows summing to 1.
    fine_labels : array ``(n,)``
        True fine labels (integers, or floats that are whole numbers).
    groups : array ``(n_fine,)``
        Coarse group of each fine class (indexed like the columns of ``proba``).
    classes : array ``(n_fine,)``, optional
        Fine label of each column of ``proba`` (``ProbeResult.classes``; integers, or
        floats that are whole numbers); defaults to ``0 .. n_fine - 1``.
    """
    p = as_array("proba", proba, 2)
    check_probs("proba", torch.as_tensor(p))
    y = check_integer_values("fine_labels", as_array("fine_labels", fine_labels, 1)).astype(np.int64)
    g = as_array("groups", groups, 1)
    cls = (
        np.arange(p.shape[1])
        if classes is None
        else check_integer_values("classes", as_array("classes", classes, 1)).astype(np.int64)
    )
    check_same_length("proba", p, "fine_labels", y)
    if len(g) != p.shape[1] or len(cls) != p.shape[1]:
        raise ValueError(
            f"Expected `groups` and `classes` with one entry per column of `proba` ({p.shape[1]}), "
            f"got {len(g)} and {len(cls)}"
        )
    col_of = {int(c): j for j, c in enumerate(cls)}
    unknown = sorted(set(y.tolist()) - set(col_of))
    if unknown:
        raise ValueError(f"Expected `fine_labels` among the probe's classes {cls.tolist()}, got {unknown}")
    own_group = g[[col_of[int(c)] for c in y]]
    masked = np.where(g[None, :] == own_group[:, None], p, -np.inf)
    return float(np.mean(cls[masked.argmax(1)] == y))
