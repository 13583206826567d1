"""The book's training criteria, one module per family (``nn.Module`` losses).

- :mod:`.fierce`: FIERCE, cross-entropy minus a feature-entropy estimate (Baena et al. 2022).
- :mod:`.confidence`: the confidence penalty (Pereyra et al. 2017).
- :mod:`.smoothing`: learnable label smoothing (LLS), online label smoothing, TF-KD_reg.
- :mod:`.distill`: knowledge distillation (the LLS paper's Eq. 6 and the OT-transfer
  paper's Eq. 7, one implementation) and LLS's substitute teacher.
- :mod:`.transport`: optimal transport between neurons (:class:`OTRegularizer`),
  L2-SP and L2 parameter regularizers.
- :mod:`.registry`: all of them by name, ``create(name, **options)``, and the ``fit``
  callbacks a criterion needs (:func:`callbacks`).

A loss that needs the features sets the class attribute ``needs_features = True`` and is
called as ``loss(logits, features, target)`` by :func:`c2f_utils.train.fit`.
"""

from .confidence import ConfidencePenalty
from .distill import KDLoss, SubstituteTeacherLoss, kd_loss, teacher_objective
from .fierce import FIERCELoss
from .registry import available, callbacks, create, register
from .smoothing import (
    LLS_ABLATIONS,
    LLS_TERMS,
    LLSLoss,
    OnlineLabelSmoothing,
    TFKDReg,
    label_smoothing_targets,
    soft_cross_entropy,
)
from .transport import (
    L2SP,
    ConvergenceWarning,
    L2Penalty,
    OTRegularizer,
    ProximalPlan,
    ipot,
    neuron_cost,
    proximal_plan,
    round_to_marginals,
    transport_plan,
)

__all__ = [
    "L2SP",
    "LLS_ABLATIONS",
    "LLS_TERMS",
    "ConfidencePenalty",
    "ConvergenceWarning",
    "FIERCELoss",
    "KDLoss",
    "L2Penalty",
    "LLSLoss",
    "OTRegularizer",
    "OnlineLabelSmoothing",
    "ProximalPlan",
    "SubstituteTeacherLoss",
    "TFKDReg",
    "available",
    "callbacks",
    "create",
    "ipot",
    "kd_loss",
    "label_smoothing_targets",
    "neuron_cost",
    "proximal_plan",
    "register",
    "round_to_marginals",
    "soft_cross_entropy",
    "teacher_objective",
    "transport_plan",
]
