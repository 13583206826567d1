"""Chapter "Label smoothing as an information bottleneck" (Kudo, TMLR 2025).

Experiments (:mod:`~c2f_utils.chapters.ls_ib.experiments`), one cached run each: :class:`Plane`
(Figure 3), :class:`IBCurve` (Figure 4, deterministic), :class:`Nuisance`, :class:`RawNuisanceProbe`
(Figure 6), :class:`Saliency` (Figures 7-8); the three that train a network are
:class:`~c2f_utils.experiments.TrainingRun`. Their grids per profile and :data:`CHAPTER`:
:mod:`~c2f_utils.chapters.ls_ib.profiles`. Report (:mod:`~c2f_utils.chapters.ls_ib.report`):
:func:`plane_frame`, :func:`ib_frame`, the ``plot_*`` figures, the tables, :func:`scorecard`.
"""

from .experiments import (
    GRADCAM_LAYERS,
    LOSSES,
    MODELS,
    NETWORKS,
    IBCurve,
    LsIbData,
    Nuisance,
    Plane,
    RawNuisanceProbe,
    Saliency,
    make_model,
    resolve_counts_dataset,
    training_subset,
)
from .profiles import CHAPTER
from .report import (
    ACCURACY_MARGIN,
    CHECKS,
    GAIN_TOLERANCE,
    MAJORITY,
    PLANE_TOLERANCE,
    PROPOSITION_TRAIN_ACC,
    card,
    ib_figure,
    ib_frame,
    nuisance_figure,
    nuisance_table,
    plane_figure,
    plane_frame,
    plane_table,
    plot_ib,
    plot_nuisance,
    plot_plane,
    plot_saliency,
    saliency_figure,
    saliency_table,
    scorecard,
    validity,
)

__all__ = [
    "ACCURACY_MARGIN",
    "CHAPTER",
    "CHECKS",
    "GAIN_TOLERANCE",
    "GRADCAM_LAYERS",
    "LOSSES",
    "MAJORITY",
    "MODELS",
    "NETWORKS",
    "PLANE_TOLERANCE",
    "PROPOSITION_TRAIN_ACC",
    "IBCurve",
    "LsIbData",
    "Nuisance",
    "Plane",
    "RawNuisanceProbe",
    "Saliency",
    "card",
    "ib_figure",
    "ib_frame",
    "make_model",
    "nuisance_figure",
    "nuisance_table",
    "plane_figure",
    "plane_frame",
    "plane_table",
    "plot_ib",
    "plot_nuisance",
    "plot_plane",
    "plot_saliency",
    "resolve_counts_dataset",
    "saliency_figure",
    "saliency_table",
    "scorecard",
    "training_subset",
    "validity",
]
