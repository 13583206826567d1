"""Chapter "Synthesis": every criterion of the book on one coarse-to-fine benchmark.

One protocol for all: the same network trains on the same *coarse* labels with the same
epochs, seeds and recipe under each criterion of the book (cross-entropy, label
smoothing, the confidence penalty, FIERCE, LLS, online label smoothing, TF-KD_reg). Each
criterion's own hyperparameter is chosen on a validation split from a declared grid, the
same size for all. Two classes (one per coarse class) are held out of training entirely,
for transfer.

Every trained network then gets the same battery of measurements (:class:`Train`): coarse
accuracy; fine-label linear-probe and k-NN accuracy of the penultimate features; their class
separation (Kornblith et al. 2021); their entropy (FIERCE's anchor estimate and a k-NN
estimate); the information-plane point of the outputs; calibration; few-shot accuracy on
the held-out classes; and, as a teacher, the accuracy of a small distilled student
(:class:`Distill`).

Protocol (:mod:`~c2f_utils.chapters.synthesis.protocol`): :data:`CRITERIA`, :data:`MEASUREMENTS`,
:data:`NETWORKS`, :data:`LOSSES`. Experiments (:mod:`~c2f_utils.chapters.synthesis.experiments`):
:class:`Train`, :class:`Distill`. Report (:mod:`~c2f_utils.chapters.synthesis.report`):
:func:`selected`, :func:`summary_table`, :func:`tradeoff_figure`, :func:`rank_correlations`,
:func:`best_per_measurement`, :func:`scorecard`.
"""

from .experiments import CHAPTER, STRENGTHS, Distill, SynthesisData, Train
from .protocol import (
    CRITERIA,
    DATASETS,
    LABELS,
    LOSSES,
    MEASUREMENTS,
    MODELS,
    NETWORKS,
    STRENGTH_NAMES,
    coarsening,
    make_criterion,
    make_model,
)
from .report import (
    CHECKS,
    TIE_MARGIN,
    best_per_measurement,
    card,
    frame,
    leaders,
    majority,
    rank_correlations,
    scorecard,
    selected,
    summary,
    summary_table,
    tradeoff,
    tradeoff_figure,
    validity,
)

__all__ = [
    "CHAPTER",
    "CHECKS",
    "CRITERIA",
    "DATASETS",
    "LABELS",
    "LOSSES",
    "MEASUREMENTS",
    "MODELS",
    "NETWORKS",
    "STRENGTHS",
    "STRENGTH_NAMES",
    "TIE_MARGIN",
    "Distill",
    "SynthesisData",
    "Train",
    "best_per_measurement",
    "card",
    "coarsening",
    "frame",
    "leaders",
    "majority",
    "make_criterion",
    "make_model",
    "rank_correlations",
    "scorecard",
    "selected",
    "summary",
    "summary_table",
    "tradeoff",
    "tradeoff_figure",
    "validity",
]
