"""Knowledge distillation with a temperature (Hinton et al. 2015), as in Eq. (7) of
Li et al., *Representation Transfer by Optimal Transport*.

The baseline of the model-compression experiments: the student is pulled towards the
teacher's softened class probabilities.

References
----------
.. [1] G. Hinton, O. Vinyals, J. Dean. Distilling the Knowledge in a Neural Network.
   NIPS Deep Learning Workshop, 2015.
.. [2] X. Li, Y. Grandvalet, R. Flamary, N. Courty, D. Dou. Representation Transfer
   by Optimal Transport. arXiv:2007.06737, 2020.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from .._checks import check_number

__all__ = ["TemperatureKD"]


class TemperatureKD(nn.Module):
    """:math:`\\Omega_{KD} = \\mathrm{KL}(g^\\tau \\,\\|\\, f^\\tau)` averaged over the batch (Eq. 7).

    .. math::
        g^\\tau_k(\\mathbf x) = \\frac{\\exp(h_k(\\mathbf x)/\\tau)}{\\sum_{k'} \\exp(h_{k'}(\\mathbf x)/\\tau)},

    :math:`g^\\tau` from the teacher's logits :math:`h`, :math:`f^\\tau` likewise from
    the student's. Called as ``kd(student_logits, teacher_logits)``; the teacher gets
    no gradient. Computed from log-softmaxes, so saturated softmaxes (probabilities
    that underflow to 0) give finite values and gradients.

    Parameters
    ----------
    temperature : float
        :math:`\\tau > 0`; the paper selects it in {4, 5, 10}.
    t2_scaling : bool
        Multiply by :math:`\\tau^2`, as Hinton et al. advise, so that the gradient's
        scale does not shrink like :math:`1/\\tau^2` (Eq. 7 itself has no such factor).
    """

    def __init__(self, temperature: float = 4.0, t2_scaling: bool = True) -> None:
        super().__init__()
        self.temperature = check_number("temperature", temperature, low=0, low_inclusive=False)
        if not isinstance(t2_scaling, bool):
            raise TypeError(f"Expected `t2_scaling` to be a bool, got {t2_scaling!r}")
        self.t2_scaling = t2_scaling

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, t2_scaling={self.t2_scaling}"

    def forward(self, student_logits: Tensor, teacher_logits: Tensor) -> Tensor:
        for name, value in (("student_logits", student_logits), ("teacher_logits", teacher_logits)):
            if not isinstance(value, Tensor) or value.ndim != 2 or value.shape[0] == 0:
                raise ValueError(f"Expected `{name}` as a non-empty (batch, classes) tensor, got {value!r:.80}")
        if student_logits.shape != teacher_logits.shape:
            raise ValueError(
                f"Expected `student_logits` and `teacher_logits` of the same shape, "
                f"got {tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}"
            )
        tau = self.temperature
        log_student = F.log_softmax(student_logits / tau, dim=1)
        log_teacher = F.log_softmax(teacher_logits.detach() / tau, dim=1)
        kl = F.kl_div(log_student, log_teacher, reduction="batchmean", log_target=True)
        return kl * tau**2 if self.t2_scaling else kl
