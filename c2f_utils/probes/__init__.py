"""What the book measures on features and outputs. Probes never train the network.

- :mod:`.linear`: linear (logistic) and ridge probes with scikit-learn.
- :mod:`.transport`: optimal transport plans between the neurons of two representations.
"""

from .linear import ProbeResult, linear_probe, ridge_probe, within_group_accuracy
from .transport import PlanAnalysis, layer_representations, ot_plan_analysis, ot_plan_trace

__all__ = [
    "PlanAnalysis",
    "ProbeResult",
    "layer_representations",
    "linear_probe",
    "ot_plan_analysis",
    "ot_plan_trace",
    "ridge_probe",
    "within_group_accuracy",
]
