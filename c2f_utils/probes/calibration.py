"""Calibration and information of a classifier's output distribution.

FIERCE's App. A.2 (Baena et al. 2022) asks whether metrics of the *outputs* tell which
criterion keeps fine information in the *features*: reliability diagrams, expected and
maximum calibration error (Naeini et al. 2015; Guo et al. 2017), and the mutual
information between input and output (Müller et al. 2019), computed by
:func:`c2f_utils.probes.information.output_mutual_information`. ECE and MCE come from
torchmetrics; the reliability diagram uses the same equal-width confidence bins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from .._checks import as_array, check_positive_int, check_same_length
from .information import output_mutual_information  # noqa: F401 - the one I(X;T), also importable from here
from .linear import ArrayLike

__all__ = ["CalibrationResult", "calibration", "reliability_diagram"]


def _probs_labels(probs: ArrayLike, labels: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    p = as_array("probs", probs, 2).astype(np.float64)
    y = as_array("labels", labels, 1)
    check_same_length("probs", p, "labels", y)
    if p.shape[1] < 2:
        raise ValueError(f"Expected `probs` with at least 2 classes, got shape {p.shape}")
    if (p < 0).any() or not np.allclose(p.sum(1), 1, atol=1e-4):
        raise ValueError("Expected `probs` rows of non-negative values summing to 1 (apply softmax first)")
    if y.dtype.kind not in "iu" or y.min() < 0 or y.max() >= p.shape[1]:
        raise ValueError(f"Expected `labels` integers in [0, {p.shape[1] - 1}], got values {np.unique(y)[:10]}")
    return p, y


@dataclass(frozen=True)
class CalibrationResult:
    """ECE and MCE (confidence vs accuracy over ``n_bins`` equal-width bins) and accuracy."""

    ece: float
    mce: float
    accuracy: float
    n_bins: int


def calibration(probs: ArrayLike, labels: ArrayLike, n_bins: int = 15) -> CalibrationResult:
    r"""Expected and maximum calibration error of the top-1 confidence (torchmetrics).

    .. math::
        \mathrm{ECE} = \sum_b \frac{|B_b|}{N}\,|\mathrm{acc}(B_b) - \mathrm{conf}(B_b)|,\qquad
        \mathrm{MCE} = \max_b |\mathrm{acc}(B_b) - \mathrm{conf}(B_b)|.
    """
    n_bins = check_positive_int("n_bins", n_bins)  # torchmetrics refuses NumPy integers
    p, y = _probs_labels(probs, labels)
    pt, yt = torch.as_tensor(p, dtype=torch.float32), torch.as_tensor(y, dtype=torch.int64)
    k = p.shape[1]
    from torchmetrics.functional.classification import multiclass_calibration_error  # slow import

    ece = multiclass_calibration_error(pt, yt, num_classes=k, n_bins=n_bins, norm="l1")
    mce = multiclass_calibration_error(pt, yt, num_classes=k, n_bins=n_bins, norm="max")
    return CalibrationResult(float(ece), float(mce), float((p.argmax(1) == y).mean()), n_bins)


def reliability_diagram(probs: ArrayLike, labels: ArrayLike, n_bins: int = 15) -> pd.DataFrame:
    """Per-bin mean confidence, accuracy and count of the top-1 prediction (empty bins dropped).

    Bins are ``n_bins`` equal-width intervals of ``(0, 1]``, right-closed like torchmetrics'.
    """
    n_bins = check_positive_int("n_bins", n_bins)
    p, y = _probs_labels(probs, labels)
    conf = p.max(1)
    correct = (p.argmax(1) == y).astype(np.float64)
    edges = np.linspace(0, 1, n_bins + 1)
    which = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
    rows = []
    for b in range(n_bins):
        mask = which == b
        if mask.any():
            rows.append(
                {
                    "bin_low": edges[b],
                    "bin_high": edges[b + 1],
                    "confidence": conf[mask].mean(),
                    "accuracy": correct[mask].mean(),
                    "count": int(mask.sum()),
                }
            )
    return pd.DataFrame(rows)
