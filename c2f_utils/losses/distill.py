"""Knowledge distillation: from a teacher network, or from a learned Q-matrix alone.

- :func:`kd_loss` / :class:`KDLoss`: Eq. 6 of the LLS paper (Hinton et al. 2015), a mix
  of the hard-label cross-entropy and the cross-entropy between the tempered teacher
  and student distributions; with ``divergence="kl", t2_scaling=True`` it is
  :math:`\\tau^2\\,\\Omega_{KD}`, Eq. 7 of the OT-transfer paper (Li et al. 2020).
- :func:`teacher_objective`: the ``(criterion, regularizer)`` pair with which
  :func:`c2f_utils.train.fit` trains a student on Eq. 6, the (frozen) teacher being run
  on every training batch, augmented or not.
- :class:`SubstituteTeacherLoss`: LLS-ST (LLS paper §5.3), distillation from the
  teacher's learned :math:`Q` alone: class-wise targets :math:`(1-\\alpha)p + \\alpha Q_y`.

References
----------
.. [1] G. Hinton, O. Vinyals, J. Dean. Distilling the Knowledge in a Neural Network.
   arXiv:1503.02531, 2015.
.. [2] Anonymous. LLS: Regulating Neural Network Training via Learnable Label
   Smoothing. ICLR submission (the LLS paper), §5.3.
.. [3] X. Li, Y. Grandvalet, R. Flamary, N. Courty, D. Dou. Representation Transfer
   by Optimal Transport. arXiv:2007.06737, 2020, Eq. 7.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._checks import check_bool, check_choice, check_labels, check_logits, check_number, check_temperature
from ..models import ModelOutput, freeze, reference_outputs
from .smoothing import LLSLoss, check_logits_target, check_support, finite_log, soft_cross_entropy

__all__ = ["KD_DIVERGENCES", "KDLoss", "SubstituteTeacherLoss", "kd_loss", "teacher_objective"]

KD_DIVERGENCES = ("cross_entropy", "kl")
"""Soft terms of :func:`kd_loss`: :math:`H(g^T, f^T)` or :math:`\\mathrm{KL}(g^T \\Vert f^T)`."""


def kd_loss(
    student_logits: Tensor,
    teacher_logits: Tensor,
    target: Tensor | None = None,
    *,
    temperature: float = 1.0,
    beta: float = 0.0,
    divergence: str = "cross_entropy",
    t2_scaling: bool = False,
) -> Tensor:
    """Knowledge-distillation loss, Eq. 6 of the LLS paper (Eq. 7 of the OT-transfer paper).

    .. math:: \\mathcal L_{KD} = \\beta\\, H(p, \\hat p_s)
              + (1 - \\beta)\\, H\\big(\\operatorname{softmax}(z_t / T), \\operatorname{softmax}(z_s / T)\\big)

    (the paper writes the cross-entropy arguments in the other order; the teacher is
    the target). The LLS paper uses :math:`\\beta = 0` and :math:`T = 1` (§5.3). No
    :math:`T^2` factor is applied (Hinton et al. scale by it to keep gradient sizes
    across temperatures; at :math:`T = 1` it is 1) unless ``t2_scaling``. The teacher
    logits are detached.

    With ``divergence="kl"`` the soft term is the Kullback-Leibler divergence of the
    student from the teacher, Eq. 7 of the OT-transfer paper,

    .. math:: \\Omega_{KD} = \\mathrm{KL}(g^T \\Vert f^T) = H(g^T, f^T) - H(g^T),

    computed from log-softmaxes in the inputs' dtype (saturated softmaxes give finite
    values and gradients). It differs from the cross-entropy by the teacher's entropy,
    a constant: the gradients agree, the values do not.

    Parameters
    ----------
    student_logits, teacher_logits : Tensor ``(B, K)``
    target : Tensor ``(B,)``, optional
        Class labels; required when ``beta > 0``.
    temperature : float
        :math:`T`, in ``[1e-3, 1e4]`` (``_checks.MIN_TEMPERATURE``, ``MAX_TEMPERATURE``).
    beta : float
        :math:`\\beta \\in [0, 1]`.
    divergence : {"cross_entropy", "kl"}
        The soft term: :math:`H(g^T, f^T)` (LLS paper) or :math:`\\mathrm{KL}(g^T \\Vert f^T)`
        (OT-transfer paper).
    t2_scaling : bool
        Multiply the soft term by :math:`T^2`, as Hinton et al. advise, so that its
        gradient does not shrink like :math:`1/T^2`.
    """
    check_temperature("temperature", temperature)
    check_number("beta", beta, low=0, high=1)
    check_logits("student_logits", student_logits)
    check_logits("teacher_logits", teacher_logits)
    if teacher_logits.shape != student_logits.shape:
        raise ValueError(
            f"Expected `teacher_logits` of shape {tuple(student_logits.shape)} like `student_logits`, "
            f"got {tuple(teacher_logits.shape)}"
        )
    check_choice("divergence", divergence, KD_DIVERGENCES)
    check_bool("t2_scaling", t2_scaling)
    if target is not None:
        target = check_labels(
            "target", target, num_classes=student_logits.shape[1], rows=student_logits.shape[0], like="student_logits"
        )
    elif beta > 0:
        raise ValueError("Expected `target` labels when `beta` > 0, got None")
    if divergence == "kl":
        log_student = F.log_softmax(student_logits / temperature, dim=1)
        log_teacher = F.log_softmax(teacher_logits.detach() / temperature, dim=1)
        check_support(student_logits, log_teacher.exp(), "student_logits")
        # finite_log: a zero probability gives 0 log 0 = 0 (the same values otherwise, bit for bit)
        soft = F.kl_div(finite_log(log_student), finite_log(log_teacher), reduction="batchmean", log_target=True)
    else:
        teacher_probs = torch.softmax(teacher_logits.detach().float() / temperature, dim=1)
        check_support(student_logits, teacher_probs, "student_logits")
        soft = soft_cross_entropy(student_logits / temperature, teacher_probs)
    if t2_scaling:
        soft = soft * temperature**2
    loss = (1 - beta) * soft
    if beta > 0:
        check_support(student_logits, F.one_hot(target, student_logits.shape[1]), "student_logits")
        loss = loss + beta * F.cross_entropy(student_logits.float(), target)
    return loss


class KDLoss(nn.Module):
    """:func:`kd_loss` as a module, called as ``loss(student_logits, teacher_logits, target)``.

    ``KDLoss(tau, divergence="kl", t2_scaling=True)`` is :math:`\\tau^2\\,\\Omega_{KD}`,
    the distillation baseline of the OT-transfer chapter.
    """

    def __init__(
        self, temperature: float = 1.0, beta: float = 0.0, divergence: str = "cross_entropy", t2_scaling: bool = False
    ) -> None:
        super().__init__()
        self.temperature = check_temperature("temperature", temperature)
        self.beta = check_number("beta", beta, low=0, high=1)
        self.divergence = check_choice("divergence", divergence, KD_DIVERGENCES)
        self.t2_scaling = check_bool("t2_scaling", t2_scaling)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, beta={self.beta}, divergence={self.divergence!r}, t2={self.t2_scaling}"

    def forward(self, student_logits: Tensor, teacher_logits: Tensor, target: Tensor | None = None) -> Tensor:
        return kd_loss(
            student_logits,
            teacher_logits,
            target,
            temperature=self.temperature,
            beta=self.beta,
            divergence=self.divergence,
            t2_scaling=self.t2_scaling,
        )


class _ScaledCrossEntropy(nn.Module):
    """``weight * cross_entropy``: the hard-label part of Eq. 6 (zero for beta = 0)."""

    def __init__(self, weight: float) -> None:
        super().__init__()
        self.weight = weight

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        if self.weight == 0:
            return logits.sum() * 0.0
        return self.weight * F.cross_entropy(logits.float(), target)


def teacher_objective(
    teacher: nn.Module, *, temperature: float = 1.0, beta: float = 0.0
) -> tuple[nn.Module, Callable[[Tensor, ModelOutput], Tensor]]:
    """Eq. 6 as the ``(criterion, regularizer)`` arguments of :func:`c2f_utils.train.fit`.

    The criterion is the hard-label term :math:`\\beta H(p, \\hat p_s)` (so validation
    losses and training accuracies are still computed on the labels); the regularizer
    runs the frozen ``teacher`` (eval mode, no gradient) on the same, possibly
    augmented, batch and returns the soft term :math:`(1-\\beta) H(\\cdot, \\cdot)`.
    The teacher must already be on the training device.
    """
    if not isinstance(teacher, nn.Module):
        raise TypeError(f"Expected `teacher` to be an nn.Module, got {type(teacher).__name__}")
    check_temperature("temperature", temperature)
    check_number("beta", beta, low=0, high=1)
    freeze(teacher)

    def regularizer(inputs: Tensor, output: ModelOutput) -> Tensor:
        teacher_logits = reference_outputs(teacher, inputs).logits
        return kd_loss(output.logits, teacher_logits, temperature=temperature, beta=0.0) * (1 - beta)

    return _ScaledCrossEntropy(beta), regularizer


class SubstituteTeacherLoss(nn.Module):
    """LLS-ST: distillation from a learned Q-matrix instead of a teacher network (LLS §5.3).

    The student is trained with Eq. 6 at :math:`\\beta = 0`, :math:`T = 1`, the teacher's
    per-sample prediction being replaced by the teacher's class-wise LLS target

    .. math:: t_y = (1 - \\alpha)\\, p + \\alpha\\, \\operatorname{softmax}(T^{teacher}_y),
              \\qquad \\mathcal L = H(t_y, \\hat p_s).

    The paper says only that "the learned Q-matrix from the LLS teacher is used for
    distillation" with the loss of Eq. 6; mixing it with the one-hot label as in Eq. 4
    is our reading (a pure :math:`Q_y` target would put its *lowest* mass on the
    label). The Q logits are a frozen buffer.

    Parameters
    ----------
    q_logits : Tensor ``(K, K)``
        The teacher's :math:`T` (``LLSLoss.q_logits``).
    alpha : float
        Mixing weight, in [0, 1] (the teacher's :math:`\\alpha`).
    """

    def __init__(self, q_logits: Tensor, alpha: float = 0.1) -> None:
        super().__init__()
        if not isinstance(q_logits, Tensor) or q_logits.ndim != 2 or q_logits.shape[0] != q_logits.shape[1]:
            raise ValueError(f"Expected `q_logits` as a square (K, K) tensor, got {q_logits!r}")
        if q_logits.shape[0] < 2 or not torch.isfinite(q_logits).all():
            raise ValueError(f"Expected `q_logits` finite with K >= 2, got shape {tuple(q_logits.shape)}")
        self.alpha = check_number("alpha", alpha, low=0, high=1)
        self.register_buffer("q_logits", q_logits.detach().clone().float())

    @classmethod
    def from_lls(cls, teacher_loss: LLSLoss) -> SubstituteTeacherLoss:
        """The substitute teacher of a trained :class:`LLSLoss` (its Q and alpha)."""
        if not isinstance(teacher_loss, LLSLoss):
            raise TypeError(f"Expected `teacher_loss` to be an LLSLoss, got {type(teacher_loss).__name__}")
        return cls(teacher_loss.q_logits, teacher_loss.alpha)

    def targets(self, target: Tensor) -> Tensor:
        """The class-wise targets :math:`t_y`, ``(B, K)``."""
        k = self.q_logits.shape[0]
        target = check_labels("target", target, num_classes=k)
        onehot = F.one_hot(target, k).float()
        return (1 - self.alpha) * onehot + self.alpha * torch.softmax(self.q_logits[target], dim=1)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        target = check_logits_target(logits, target, self.q_logits.shape[0])
        return soft_cross_entropy(logits, self.targets(target))
