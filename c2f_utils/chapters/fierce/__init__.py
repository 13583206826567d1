"""Chapter "FIERCE": feature-entropy regularisation (Baena, Drumetz & Gripon 2022).

Experiments (one run = one criterion and seed, each a :class:`~c2f_utils.experiments.TrainingRun`;
shared fields and criteria: :mod:`~c2f_utils.chapters.fierce.experiments`):

- :class:`AgeRun` (Figure 1, :mod:`~c2f_utils.chapters.fierce.age`): a network with a 1-D feature
  trained on a median split of a continuous target (age; quick: the size of a drawn ellipse); per
  probed epoch, the MSE of the 1-D optimal-transport read-out and the entropy of the feature;
- :class:`UnmixingRun` (Table 1, App. A.1-A.4, :mod:`~c2f_utils.chapters.fierce.unmixing`): an MLP
  trained on the dominant material of hyperspectral pixels; raw MSE (softmax output vs abundances),
  transfer MSE (frozen features + :class:`~c2f_utils.probes.SoftmaxHead`), feature entropies,
  calibration. The appendix sweeps (lambda, number of anchors, similarity and anchors) are grids of it;
- :class:`FewShotRun` (Table 2, :mod:`~c2f_utils.chapters.fierce.fewshot`): features trained on base
  classes, evaluated on novel classes by nearest-class-mean episodes.

Their grids per profile: :data:`CHAPTER` (:mod:`~c2f_utils.chapters.fierce.profiles`).
Report: :func:`frames`, :func:`with_rise`, :func:`table`, :func:`sweep_table`
(:mod:`~c2f_utils.chapters.fierce.tables`), :func:`validity`, :func:`scorecard`, :func:`card`
(:mod:`~c2f_utils.chapters.fierce.report`) and the plots (:mod:`~c2f_utils.chapters.fierce.figures`).
"""

from .age import AGE_NETWORKS, AgeData, AgeRun
from .experiments import CRITERIA, LOSSES, CriterionRun
from .fewshot import FEWSHOT_NETWORKS, FewShotData, FewShotRun
from .figures import (
    CURVES,
    plot_age_features,
    plot_curves,
    plot_reliability,
    plot_sweeps,
    plot_tsne,
    results_age_features,
    results_curves,
    results_figure,
)
from .profiles import CHAPTER
from .report import (
    CHECKS,
    MAJORITY,
    SWEEP_COLUMNS,
    card,
    results_checks,
    results_sweeps,
    results_table,
    scorecard,
    validity,
)
from .tables import (
    EPOCH_PAIRS,
    GRID_KINDS,
    RISE_FROM,
    TABLES,
    benchmark_table,
    frames,
    grid_frames,
    sweep_table,
    table,
    with_epoch_correlations,
    with_rise,
)
from .unmixing import VAL_FRACTION, UnmixingData, UnmixingRun

__all__ = [
    "AGE_NETWORKS",
    "CHAPTER",
    "CHECKS",
    "CRITERIA",
    "CURVES",
    "EPOCH_PAIRS",
    "FEWSHOT_NETWORKS",
    "GRID_KINDS",
    "LOSSES",
    "MAJORITY",
    "RISE_FROM",
    "SWEEP_COLUMNS",
    "TABLES",
    "VAL_FRACTION",
    "AgeData",
    "AgeRun",
    "CriterionRun",
    "FewShotData",
    "FewShotRun",
    "UnmixingData",
    "UnmixingRun",
    "benchmark_table",
    "card",
    "frames",
    "grid_frames",
    "plot_age_features",
    "plot_curves",
    "plot_reliability",
    "plot_sweeps",
    "plot_tsne",
    "results_age_features",
    "results_checks",
    "results_curves",
    "results_figure",
    "results_sweeps",
    "results_table",
    "scorecard",
    "sweep_table",
    "table",
    "validity",
    "with_epoch_correlations",
    "with_rise",
]
