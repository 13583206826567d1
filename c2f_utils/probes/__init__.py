"""What the book measures on features and outputs. Probes never train the network.

- :mod:`.linear`: linear (logistic) and ridge probes with scikit-learn.
"""

from .linear import ProbeResult, linear_probe, ridge_probe, within_group_accuracy

__all__ = ["ProbeResult", "linear_probe", "ridge_probe", "within_group_accuracy"]
