"""What the book measures on features and outputs. Probes never train the network.

- :mod:`.linear`: linear (logistic) and ridge probes with scikit-learn.
- :mod:`.entropy`: FIERCE's anchor entropy and reference entropy estimators.
- :mod:`.regression`: 1-D optimal-transport regression of a fine target; the softmax-linear
  transfer head that reads proportions off frozen features.
- :mod:`.fewshot`: nearest-class-mean few-shot episodes.
- :mod:`.calibration`: ECE, MCE, reliability diagrams.
- :mod:`.information`: exact empirical information planes of a discrete output, the
  label-smoothing optimum's point, the IB-Lagrangian solver, the output mutual information.
- :mod:`.saliency`: Grad-CAM maps (grad-cam package) and their mass inside a box.
- :mod:`.geometry`: confusion matrices, class-relation agreement, class-centre distances, class
  separation, t-SNE.
- :mod:`.transport`: optimal transport plans between the neurons of two representations,
  and the permutation probe (a permuted copy of a network is at OT cost 0).
"""

from .calibration import CalibrationResult, calibration, reliability_diagram
from .entropy import anchor_entropy, histogram_entropy, knn_entropy
from .fewshot import FewShotResult, few_shot_eval
from .geometry import (
    Agreement,
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
from .information import (
    IBSolution,
    InfoPlanePoint,
    empirical_joint,
    ib_lagrangian,
    info_plane,
    label_information,
    ls_info_plane,
    output_mutual_information,
)
from .linear import ProbeResult, linear_probe, ridge_probe, within_group_accuracy
from .regression import (
    OTRegressionResult,
    SoftmaxHead,
    TransferResult,
    ot_regression_1d,
    simplex_mse,
    softmax_mse,
    transfer_mse,
    transport_1d,
)
from .saliency import box_area_fraction, box_mass, gradcam_maps
from .transport import (
    PlanAnalysis,
    layer_representations,
    ot_plan_analysis,
    ot_plan_trace,
    permutation_probe,
    permute_features,
)

__all__ = [
    "Agreement",
    "CalibrationResult",
    "FewShotResult",
    "IBSolution",
    "InfoPlanePoint",
    "OTRegressionResult",
    "PlanAnalysis",
    "ProbeResult",
    "SoftmaxHead",
    "TransferResult",
    "anchor_entropy",
    "box_area_fraction",
    "box_mass",
    "calibration",
    "class_centres",
    "class_separation",
    "confusion",
    "empirical_joint",
    "equidistance",
    "few_shot_eval",
    "gradcam_maps",
    "histogram_entropy",
    "ib_lagrangian",
    "info_plane",
    "knn_entropy",
    "label_information",
    "layer_representations",
    "linear_probe",
    "ls_info_plane",
    "matrix_agreement",
    "normalized_cosine_distances",
    "off_diagonal",
    "ot_plan_analysis",
    "ot_plan_trace",
    "ot_regression_1d",
    "output_mutual_information",
    "permutation_probe",
    "permute_features",
    "reliability_diagram",
    "ridge_probe",
    "silhouette",
    "simplex_mse",
    "softmax_mse",
    "transfer_mse",
    "transport_1d",
    "tsne",
    "within_group_accuracy",
]
