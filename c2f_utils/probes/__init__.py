"""What the book measures on features and outputs. Probes never train the network.

- :mod:`.linear`: linear (logistic) and ridge probes with scikit-learn.
- :mod:`.geometry`: confusion matrices, class-relation agreement, class-centre distances, t-SNE.
"""

from .geometry import (
    Agreement,
    class_centres,
    confusion,
    equidistance,
    matrix_agreement,
    normalized_cosine_distances,
    off_diagonal,
    silhouette,
    tsne,
)
from .linear import ProbeResult, linear_probe, ridge_probe, within_group_accuracy

__all__ = [
    "Agreement",
    "ProbeResult",
    "class_centres",
    "confusion",
    "equidistance",
    "linear_probe",
    "matrix_agreement",
    "normalized_cosine_distances",
    "off_diagonal",
    "ridge_probe",
    "silhouette",
    "tsne",
    "within_group_accuracy",
]
