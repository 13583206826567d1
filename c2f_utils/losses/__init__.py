"""The book's training criteria, one module per family (``nn.Module`` losses).

Chapters add ``fierce``, ``smoothing``, ``distill`` and ``transport`` here. A loss
that needs the features sets the class attribute ``needs_features = True`` and is
called as ``loss(logits, features, target)`` by :func:`c2f_utils.train.fit`.

- :mod:`.transport`: optimal transport between neurons (:class:`OTRegularizer`),
  L2-SP and L2 parameter regularizers.
- :mod:`.kd_transfer`: knowledge distillation with a temperature (:class:`TemperatureKD`).
"""

from .kd_transfer import TemperatureKD
from .transport import L2SP, L2Penalty, OTRegularizer, neuron_cost, proximal_plan, transport_plan

__all__: list[str] = [
    "L2SP",
    "L2Penalty",
    "OTRegularizer",
    "TemperatureKD",
    "neuron_cost",
    "proximal_plan",
    "transport_plan",
]
