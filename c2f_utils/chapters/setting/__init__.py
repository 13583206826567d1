"""Chapter "The coarse-to-fine setting": what coarse training leaves of the fine labels.

A network is trained with cross-entropy on a *coarse* labeling (digit < 5) and, as a
reference, on the *fine* one (the digit). After every epoch its penultimate features
are frozen and probed: a linear probe (logistic regression) fit on training-set
features predicts the fine label of test images. Chance is 10%; a probe on the raw
pixels gives the information available before any training.

Experiments (:mod:`~c2f_utils.chapters.setting.experiments`): :class:`TrainAndProbe` (one
network, one seed) and :class:`RawInputProbe`. Report (:mod:`~c2f_utils.chapters.setting.report`):
:func:`summary_table`, :func:`scorecard`, :func:`plot_histories`.
"""

from .experiments import CHAPTER, NETWORKS, RawInputProbe, SettingData, TrainAndProbe
from .report import CHECKS, MAJORITY, card, figure, histories, plot_histories, scorecard, summary_table, validity

__all__ = [
    "CHAPTER",
    "CHECKS",
    "MAJORITY",
    "NETWORKS",
    "RawInputProbe",
    "SettingData",
    "TrainAndProbe",
    "card",
    "figure",
    "histories",
    "plot_histories",
    "scorecard",
    "summary_table",
    "validity",
]
