"""What the book measures on features and outputs. Probes never train the network.

- :mod:`.linear`: linear (logistic) and ridge probes with scikit-learn.
- :mod:`.entropy`: FIERCE's anchor entropy and reference entropy estimators.
- :mod:`.regression`: 1-D optimal-transport regression of a fine target.
- :mod:`.fewshot`: nearest-class-mean few-shot episodes.
- :mod:`.calibration`: ECE, MCE, reliability diagrams, output mutual information.
"""

from .calibration import CalibrationResult, calibration, output_mutual_information, reliability_diagram
from .entropy import anchor_entropy, histogram_entropy, knn_entropy
from .fewshot import FewShotResult, few_shot_eval
from .linear import ProbeResult, linear_probe, ridge_probe, within_group_accuracy
from .regression import OTRegressionResult, ot_regression_1d, transport_1d

__all__ = [
    "CalibrationResult",
    "FewShotResult",
    "OTRegressionResult",
    "ProbeResult",
    "anchor_entropy",
    "calibration",
    "few_shot_eval",
    "histogram_entropy",
    "knn_entropy",
    "linear_probe",
    "ot_regression_1d",
    "output_mutual_information",
    "reliability_diagram",
    "ridge_probe",
    "transport_1d",
    "within_group_accuracy",
]
