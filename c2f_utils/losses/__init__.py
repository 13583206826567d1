"""The book's training criteria, one module per family (``nn.Module`` losses).

Chapters add ``fierce``, ``smoothing``, ``distill`` and ``transport`` here. A loss
that needs the features sets the class attribute ``needs_features = True`` and is
called as ``loss(logits, features, target)`` by :func:`c2f_utils.train.fit`.
"""

from .distill import KDLoss, SubstituteTeacherLoss, kd_loss, teacher_objective
from .smoothing import (
    LLS_ABLATIONS,
    LLS_TERMS,
    LLSLoss,
    OnlineLabelSmoothing,
    TFKDReg,
    label_smoothing_targets,
    soft_cross_entropy,
)

__all__ = [
    "LLS_ABLATIONS",
    "LLS_TERMS",
    "KDLoss",
    "LLSLoss",
    "OnlineLabelSmoothing",
    "SubstituteTeacherLoss",
    "TFKDReg",
    "kd_loss",
    "label_smoothing_targets",
    "soft_cross_entropy",
    "teacher_objective",
]
