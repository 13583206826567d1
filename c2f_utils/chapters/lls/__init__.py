"""Chapter "Learnable label smoothing": the LLS paper's experiments at laptop scale.

Experiments (:mod:`~c2f_utils.chapters.lls.training`, :mod:`~c2f_utils.chapters.lls.students`,
their grids in :mod:`~c2f_utils.chapters.lls.experiments`): :class:`Train` (one network, one
criterion, one seed; a :class:`~c2f_utils.experiments.TrainingRun`), :class:`Variant` (a
:class:`Train` run elsewhere or with an input augmentation), :class:`Distill` (a student taught
by a :class:`Train` teacher run, or by its Q-matrix alone), :class:`Subset` (half of the training
set) and :class:`Overhead` (LS and LLS timed). The methods, networks and criteria
(:mod:`~c2f_utils.chapters.lls.methods`); the tables (:mod:`~c2f_utils.chapters.lls.tables`), the
plots (:mod:`~c2f_utils.chapters.lls.figures`), and the figures of a configuration, validity and
:func:`scorecard` (:mod:`~c2f_utils.chapters.lls.report`).
"""

from .experiments import CHAPTER
from .figures import plot_ablation_q, plot_geometry, plot_q_and_confusion
from .methods import (
    AUGMENTATIONS,
    CLASS_NAMES,
    CRITERIA,
    METHODS,
    NETWORKS,
    PAPER,
    STUDENT_KINDS,
    SUBSET_METHODS,
    TEACHERS,
    TRIOS,
    make_criterion,
    make_model,
)
from .report import (
    CHECKS,
    MAJORITY,
    ablation_q_figure,
    card,
    fig8_figure,
    geometry_figure,
    q_figure,
    q_summary,
    results_table,
    scorecard,
    validity,
)
from .students import TEACHING, Distill, Subset
from .tables import (
    ablation_q_summary,
    ablation_table,
    accuracy_table,
    augmentation_table,
    distillation_table,
    geometry_summary,
    overhead_table,
    q_confusion_agreement,
    subset_table,
)
from .training import Overhead, Train, TrainData, Variant

__all__ = [
    "AUGMENTATIONS",
    "CHAPTER",
    "CHECKS",
    "CLASS_NAMES",
    "CRITERIA",
    "MAJORITY",
    "METHODS",
    "NETWORKS",
    "PAPER",
    "STUDENT_KINDS",
    "SUBSET_METHODS",
    "TEACHERS",
    "TEACHING",
    "TRIOS",
    "Distill",
    "Overhead",
    "Subset",
    "Train",
    "TrainData",
    "Variant",
    "ablation_q_figure",
    "ablation_q_summary",
    "ablation_table",
    "accuracy_table",
    "augmentation_table",
    "card",
    "distillation_table",
    "fig8_figure",
    "geometry_figure",
    "geometry_summary",
    "make_criterion",
    "make_model",
    "overhead_table",
    "plot_ablation_q",
    "plot_geometry",
    "plot_q_and_confusion",
    "q_confusion_agreement",
    "q_figure",
    "q_summary",
    "results_table",
    "scorecard",
    "subset_table",
    "validity",
]
