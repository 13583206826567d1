"""What the book measures on features and outputs. Probes never train the network.

- :mod:`.linear`: linear (logistic) and ridge probes with scikit-learn.
- :mod:`.information`: exact empirical information planes of a discrete output, the
  label-smoothing optimum's point, the IB-Lagrangian solver.
- :mod:`.saliency`: Grad-CAM maps (grad-cam package) and their mass inside a box.
"""

from .information import (
    IBSolution,
    InfoPlanePoint,
    empirical_joint,
    entropy,
    ib_lagrangian,
    info_plane,
    label_information,
    ls_info_plane,
)
from .linear import ProbeResult, linear_probe, ridge_probe, within_group_accuracy
from .saliency import box_area_fraction, box_mass, gradcam_maps

__all__ = [
    "IBSolution",
    "InfoPlanePoint",
    "ProbeResult",
    "box_area_fraction",
    "box_mass",
    "empirical_joint",
    "entropy",
    "gradcam_maps",
    "ib_lagrangian",
    "info_plane",
    "label_information",
    "linear_probe",
    "ls_info_plane",
    "ridge_probe",
    "within_group_accuracy",
]
