"""Confidence penalty (Pereyra et al. 2017): cross-entropy minus the output's entropy.

Kudo (TMLR 2025, Eq. 10-11) puts it next to label smoothing: with
:math:`r(T) = 1/K`, label smoothing is cross-entropy plus
:math:`\\alpha D_{KL}[r \\| p_\\theta]` and the confidence penalty cross-entropy plus
:math:`\\beta D_{KL}[p_\\theta \\| r]`, the same KL with its arguments swapped. Label
smoothing itself needs no module here: it is
``torch.nn.CrossEntropyLoss(label_smoothing=alpha)`` (Eq. 2-3 with the uniform
:math:`r`).

References
----------
.. [1] G. Pereyra, G. Tucker, J. Chorowski, L. Kaiser, G. Hinton. Regularizing Neural
   Networks by Penalizing Confident Output Distributions. ICLR Workshop 2017.
.. [2] S. Kudo. Label Smoothing is a Pragmatic Information Bottleneck. TMLR 2025.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from .._checks import check_number
from .smoothing import check_logits_target, check_support, finite_log

__all__ = ["ConfidencePenalty"]


class ConfidencePenalty(nn.Module):
    """Cross-entropy minus :math:`\\beta` times the entropy of the predicted distribution.

    .. math::

        \\mathcal L_{CP}(\\theta; \\beta) = \\frac1N \\sum_{i=1}^N
        H(\\mathbf 1_{T = y_i}, p_\\theta(T \\mid x_i)) - \\beta H(p_\\theta(T \\mid x_i))
        \\qquad \\text{(Kudo 2025, Eq. 10)}

    The entropy is computed from ``log_softmax`` so that saturated outputs give
    ``0 log 0 = 0`` and finite gradients, a zero probability (a ``-inf`` logit) included,
    except on the label itself (an infinite cross-entropy, refused).

    Parameters
    ----------
    beta : float
        Weight :math:`\\beta \\ge 0` of the entropy bonus; ``0`` is cross-entropy.

    Shape
    -----
    ``logits`` ``(N, K)``, ``target`` int64 ``(N,)``; returns a scalar (the mean).
    """

    def __init__(self, beta: float) -> None:
        super().__init__()
        self.beta = check_number("beta", beta, low=0)
        self.last_entropy = float("nan")
        """Mean output entropy of the last call (nats), for plotting."""

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        target = check_logits_target(logits, target)
        log_p = F.log_softmax(logits, dim=1)
        check_support(logits, F.one_hot(target, logits.shape[1]))
        ent = -(log_p.exp() * finite_log(log_p)).sum(1).mean()
        self.last_entropy = float(ent.detach())
        return F.nll_loss(log_p, target) - self.beta * ent

    def extra_repr(self) -> str:
        return f"beta={self.beta}"
