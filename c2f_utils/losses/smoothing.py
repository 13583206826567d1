"""Label smoothing and its learned and online variants.

- :func:`label_smoothing_targets`: the label-smoothing target of Szegedy et al. (2016),
  Eq. 2 of the LLS paper; training with it is ``nn.CrossEntropyLoss(label_smoothing=alpha)``.
- :class:`LLSLoss`: *Learnable Label Smoothing* (LLS paper, Eqs. 4-5 and appendix A):
  each class mixes its one-hot target with a learned probability row of a ``K x K``
  matrix ``Q``, and the loss is the symmetric KL divergence between target and
  prediction. The four terms of Eq. 5 can be switched off for the ablation of Table 4.
- :class:`OnlineLabelSmoothing`: Online Label Smoothing (Zhang et al. 2021): the soft
  target of a class is the mean prediction of the correctly classified training
  samples of that class in the previous epoch.
- :class:`TFKDReg`: the "manually designed teacher" regulariser Tf-KD_reg of Yuan et
  al. (2020), as in its official code.

Every loss takes ``(logits, target)`` with integer class targets and returns the
batch mean, like :class:`torch.nn.CrossEntropyLoss`; probabilities are always
handled in log space (``log_softmax``) so that no logarithm of zero is taken.

References
----------
.. [1] C. Szegedy, V. Vanhoucke, S. Ioffe, J. Shlens, Z. Wojna. Rethinking the
   Inception Architecture for Computer Vision. CVPR 2016.
.. [2] Anonymous. LLS: Regulating Neural Network Training via Learnable Label
   Smoothing. ICLR submission (the LLS paper).
.. [3] C.-B. Zhang, P.-T. Jiang, Q. Hou, Y. Wei, Q. Han, Z. Li, M.-M. Cheng. Delving
   Deep into Label Smoothing. IEEE TIP 30, 2021.
.. [4] L. Yuan, F. E. H. Tay, G. Li, T. Wang, J. Feng. Revisiting Knowledge
   Distillation via Label Smoothing Regularization. CVPR 2020.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._checks import (
    check_bool,
    check_labels,
    check_logits,
    check_number,
    check_positive_int,
    check_probs,
    check_temperature,
)
from ..constants import LLS_ABLATIONS, LLS_TERMS

if TYPE_CHECKING:
    from ..train import EpochState

__all__ = [
    "LLS_ABLATIONS",
    "LLS_TERMS",
    "LLSLoss",
    "OnlineLabelSmoothing",
    "TFKDReg",
    "check_logits_target",
    "label_smoothing_targets",
    "soft_cross_entropy",
]

_LOG_FLOOR = math.log(1e-12)
"""Floor of the log-target. Reached only where the target has (near) zeros: with
``alpha = 0`` the target is one-hot and the reverse KL is infinite in exact arithmetic."""


def check_logits_target(logits: Tensor, target: Tensor, num_classes: int | None = None) -> Tensor:
    """Raise unless ``logits`` is a ``(B, K)`` floating tensor, ``B >= 1``, with no NaN or
    ``+inf`` (``-inf`` is a zero probability), and ``target`` ``(B,)`` integer labels in
    ``[0, K)``; returns the labels as int64. Values are checked where the tensors are on
    the CPU (on a GPU that check would synchronise every step; ``fit`` stops on a
    non-finite loss there)."""
    check_logits("logits", logits)
    if num_classes is not None and logits.shape[1] != num_classes:
        raise ValueError(f"Expected `logits` with {num_classes} classes, got shape {tuple(logits.shape)}")
    return check_labels("target", target, num_classes=logits.shape[1], rows=logits.shape[0])


def finite_log(log_p: Tensor) -> Tensor:
    """``log_p`` with ``-inf`` (a probability of 0) replaced by the most negative finite value of
    its dtype, so that :math:`0 \\log 0 = 0` in products and their gradients stay finite."""
    return log_p.clamp_min(torch.finfo(log_p.dtype).min)


def check_support(logits: Tensor, target_probs: Tensor, name: str = "logits") -> None:
    """Raise where a target puts mass on a class the prediction gives probability 0 (a ``-inf``
    logit): the cross-entropy is infinite there. Checked on the CPU, and only when a ``-inf``
    is present."""
    if logits.device.type != "cpu":
        return
    zero = torch.isneginf(logits)
    if bool(zero.any()) and bool((zero & (target_probs > 0)).any()):
        raise ValueError(
            f"Expected `{name}` to give a non-zero probability to every class the target gives mass, "
            "got a -inf logit there (an infinite cross-entropy)"
        )


def _describe(value: object) -> str:
    if isinstance(value, Tensor):
        return f"{value.dtype} tensor of shape {tuple(value.shape)}"
    return repr(value)


def _work_dtype(logits: Tensor) -> torch.dtype:
    """float32 at least: half-precision logits (autocast) are promoted before any softmax."""
    return torch.promote_types(logits.dtype, torch.float32)


def label_smoothing_targets(target: Tensor, num_classes: int, alpha: float) -> Tensor:
    """Label-smoothing targets, Eq. 2 of the LLS paper (Szegedy et al. 2016).

    .. math:: p^{ls} = (1 - \\alpha)\\, p + \\alpha\\, u, \\qquad u = (1/K, \\dots, 1/K)

    with :math:`p` the one-hot label. Cross-entropy with these targets is what
    ``nn.CrossEntropyLoss(label_smoothing=alpha)`` computes.

    Returns
    -------
    Tensor
        ``(B, K)`` float32 targets.
    """
    check_positive_int("num_classes", num_classes, minimum=2)
    check_number("alpha", alpha, low=0, high=1)
    target = check_labels("target", target, num_classes=num_classes)
    onehot = F.one_hot(target, num_classes).float()
    return (1 - alpha) * onehot + alpha / num_classes


def soft_cross_entropy(logits: Tensor, target_probs: Tensor) -> Tensor:
    """Batch mean of :math:`H(t, \\hat p) = -\\sum_k t_k \\log \\operatorname{softmax}(z)_k`.

    Parameters
    ----------
    logits : Tensor ``(B, K)``
    target_probs : Tensor ``(B, K)``
        Rows of probabilities (non-negative); gradients flow into them if they require it.
    """
    check_logits("logits", logits)
    check_probs("target_probs", target_probs, rows=logits.shape[0], like="logits", atol=1e-3)
    if target_probs.shape != logits.shape:
        raise ValueError(
            f"Expected `target_probs` of shape {tuple(logits.shape)} like `logits`, got {_describe(target_probs)}"
        )
    log_p = F.log_softmax(logits.to(_work_dtype(logits)), dim=1)
    check_support(logits, target_probs)
    return -(target_probs.to(log_p.dtype) * finite_log(log_p)).sum(1).mean()


class LLSLoss(nn.Module):
    """Learnable Label Smoothing (LLS paper, §3.2-3.3, Eqs. 4-5, appendix A).

    The target of a sample of class :math:`y` mixes its one-hot label :math:`p` with the
    row :math:`Q_y` of a learned ``K x K`` matrix of probabilities (Eq. 4),

    .. math:: p^{lls} = (1 - \\alpha)\\, p + \\alpha\\, Q_y, \\qquad
              Q_y = \\operatorname{softmax}(T_y),

    where :math:`T` is a ``K x K`` :class:`~torch.nn.Parameter` of logits initialised to
    zero (so :math:`Q` starts uniform and the first target is the label-smoothing one).
    The loss is the symmetric KL divergence of appendix A, the sum of the four terms
    of Eq. 5 halved,

    .. math:: \\mathcal L_{lls} = \\tfrac12 \\big[ KL(p^{lls} \\| \\hat p) + KL(\\hat p \\| p^{lls}) \\big]
              = \\tfrac12 \\big[ H(p^{lls}, \\hat p) + H(\\hat p, p^{lls}) - H(\\hat p) - H(p^{lls}) \\big],

    averaged over the batch. Gradients flow into both the network's logits and
    :math:`T`: put the criterion's parameters in the optimiser with the network's
    (:func:`c2f_utils.train.fit` does so, see ``q_weight_decay``).

    Parameters
    ----------
    num_classes : int
        :math:`K \\ge 2`.
    alpha : float
        Mixing weight :math:`\\alpha \\in [0, 1]` (0.1 in all the paper's tables).
    terms : iterable of str
        Which terms of Eq. 5 to keep (:data:`~c2f_utils.constants.LLS_TERMS`; Table 4 rows in
        :data:`~c2f_utils.constants.LLS_ABLATIONS`). The kept terms are summed and halved whatever their
        number, so "FCE only" is half the soft-target cross-entropy.
    learn_q : bool
        ``False`` freezes :math:`T` (``requires_grad=False``): with :math:`T = 0` the
        target is then exactly the label-smoothing target.
    q_weight_decay : float
        L2 penalty :math:`\\tfrac{\\lambda}{2} \\|T\\|_F^2` added to the loss. The paper's
        pseudo-code passes :math:`T` to ``SGD(params, lr, momentum, weight_decay)`` with
        the network, so its weight decay (5e-4 on CIFAR) shrinks :math:`T` towards zero
        (towards a uniform :math:`Q`). :func:`c2f_utils.train.fit` puts criterion
        parameters in their own group *without* weight decay; this penalty has exactly
        the gradient :math:`\\lambda T` of SGD's coupled weight decay, so setting it to
        the recipe's weight decay reproduces the pseudo-code.

    Attributes
    ----------
    q_logits : nn.Parameter
        :math:`T`, saved in the ``state_dict``.
    last_terms : dict of str to Tensor
        Batch means of the four terms (detached) at the last call, all of them
        whether used or not, for plotting.

    Notes
    -----
    Numerics: :math:`\\log \\hat p` is ``log_softmax`` of the logits and
    :math:`\\log p^{lls}` is computed as :math:`\\log\\alpha + \\log Q_{yk}` off the
    label and :math:`\\operatorname{logaddexp}(\\log(1-\\alpha), \\log\\alpha + \\log Q_{yy})` on
    it, so saturated logits stay finite. With :math:`\\alpha = 0` the target is one-hot
    and the reverse KL is infinite in exact arithmetic; the log-target is floored at
    :math:`\\log 10^{-12}`, which keeps the loss finite and is never reached for
    :math:`\\alpha Q_{yk} > 10^{-12}`.
    """

    def __init__(
        self,
        num_classes: int,
        alpha: float = 0.1,
        *,
        terms: Iterable[str] = LLS_TERMS,
        learn_q: bool = True,
        q_weight_decay: float = 0.0,
    ) -> None:
        super().__init__()
        self.num_classes = check_positive_int("num_classes", num_classes, minimum=2)
        self.alpha = check_number("alpha", alpha, low=0, high=1)
        terms = tuple(terms) if not isinstance(terms, str) else (terms,)
        unknown = [t for t in terms if t not in LLS_TERMS]
        if unknown or not terms or len(set(terms)) != len(terms):
            raise ValueError(f"Expected `terms` as distinct names from {list(LLS_TERMS)}, got {list(terms)}")
        self.terms = terms
        learn_q = check_bool("learn_q", learn_q)
        self.q_weight_decay = check_number("q_weight_decay", q_weight_decay, low=0)
        self.q_logits = nn.Parameter(torch.zeros(num_classes, num_classes), requires_grad=learn_q)
        self.last_terms: dict[str, Tensor] = {}

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, alpha={self.alpha}, terms={self.terms}"

    @property
    def q_matrix(self) -> Tensor:
        """The learned relations :math:`Q = \\operatorname{softmax}(T)` row-wise, ``(K, K)``, detached."""
        return torch.softmax(self.q_logits.detach().float(), dim=1)

    def _target(self, target: Tensor, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        """:math:`p^{lls}` and :math:`\\log p^{lls}` for each label, ``(B, K)`` each."""
        log_q = F.log_softmax(self.q_logits[target].to(dtype), dim=1)
        onehot = F.one_hot(target, self.num_classes).to(dtype)
        probs = (1 - self.alpha) * onehot + self.alpha * log_q.exp()
        log_alpha = math.log(self.alpha) if self.alpha > 0 else -math.inf
        log_keep = math.log1p(-self.alpha) if self.alpha < 1 else -math.inf
        off = log_alpha + log_q
        on = torch.logaddexp(torch.full_like(off, log_keep), off)
        log_probs = torch.where(onehot.bool(), on, off).clamp_min(_LOG_FLOOR)
        return probs, log_probs

    def targets(self, target: Tensor) -> Tensor:
        """The current targets :math:`p^{lls}` (Eq. 4) of the labels ``target``, ``(B, K)``, detached."""
        target = check_labels("target", target, num_classes=self.num_classes)
        with torch.no_grad():
            return self._target(target.to(self.q_logits.device), torch.float32)[0]

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        target = check_logits_target(logits, target, self.num_classes)
        dtype = _work_dtype(logits)
        log_p = F.log_softmax(logits.to(dtype), dim=1)
        p = log_p.exp()
        t, log_t = self._target(target, dtype)
        check_support(logits, t)
        log_p = finite_log(log_p)
        per_sample = {
            "fce": -(t * log_p).sum(1),
            "rce": -(p * log_t).sum(1),
            "pred_em": (p * log_p).sum(1),
            "target_em": (t * log_t).sum(1),
        }
        self.last_terms = {k: v.detach().mean() for k, v in per_sample.items()}
        loss = sum(per_sample[k] for k in self.terms).mean() / 2
        if self.q_weight_decay:
            loss = loss + 0.5 * self.q_weight_decay * self.q_logits.pow(2).sum()
        return loss


class OnlineLabelSmoothing(nn.Module):
    """Online Label Smoothing, OLS (Zhang et al. 2021, §3).

    .. math:: \\mathcal L = \\alpha\\, H(p, \\hat p) + (1 - \\alpha)\\, H(S^{t-1}_y, \\hat p)

    where row :math:`S^{t-1}_y` of the soft-label matrix is the mean predicted
    distribution of the training samples of class :math:`y` that the network
    classified correctly during epoch :math:`t-1`.

    Statistics are collected from the batches seen in training mode with gradients
    enabled (so :func:`c2f_utils.train.evaluate` on validation data, under
    ``torch.no_grad``, does not count). The matrix must be advanced at the end of every
    epoch: pass :meth:`on_epoch_end` to :func:`~c2f_utils.train.fit` as a callback, or
    call :meth:`next_epoch` yourself. A class with no correct prediction in an epoch
    keeps its previous row (no division by zero).

    Parameters
    ----------
    num_classes : int
        :math:`K \\ge 2`.
    alpha : float
        Weight of the hard-label cross-entropy (0.5 in Zhang et al.).
    init_smoothing : float
        :math:`S^0 = (1-\\varepsilon) I + \\varepsilon/(K-1)\\,(1 - I)` for the first
        epoch; 0 (default) is the identity, plain cross-entropy in the first epoch.
        Public re-implementations differ here (zeros, identity, label smoothing 0.1).

    Attributes
    ----------
    soft_labels : Tensor ``(K, K)``
        :math:`S^{t-1}` (a buffer, saved in the ``state_dict``).
    """

    def __init__(self, num_classes: int, alpha: float = 0.5, init_smoothing: float = 0.0) -> None:
        super().__init__()
        self.num_classes = check_positive_int("num_classes", num_classes, minimum=2)
        self.alpha = check_number("alpha", alpha, low=0, high=1)
        eps = check_number("init_smoothing", init_smoothing, low=0, high=1)
        eye = torch.eye(num_classes)
        self.register_buffer("soft_labels", (1 - eps) * eye + eps / (num_classes - 1) * (1 - eye))
        self.register_buffer("_sums", torch.zeros(num_classes, num_classes))
        self.register_buffer("_counts", torch.zeros(num_classes))

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, alpha={self.alpha}"

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        target = check_logits_target(logits, target, self.num_classes)
        log_p = F.log_softmax(logits.to(_work_dtype(logits)), dim=1)
        soft_labels = self.soft_labels[target].to(log_p.dtype)
        check_support(logits, soft_labels + F.one_hot(target, self.num_classes))
        hard = F.nll_loss(log_p, target)
        soft = -(soft_labels * finite_log(log_p)).sum(1).mean()
        if self.training and torch.is_grad_enabled():
            with torch.no_grad():
                p = log_p.exp()
                correct = p.argmax(1) == target
                p = p.to(self._sums.dtype)
                self._sums.index_add_(0, target[correct], p[correct])
                self._counts.index_add_(0, target[correct], torch.ones_like(p[correct, 0]))
        return self.alpha * hard + (1 - self.alpha) * soft

    @torch.no_grad()
    def next_epoch(self) -> int:
        """Replace :math:`S` by this epoch's class means and reset the statistics.

        Returns the number of classes whose row was updated.
        """
        seen = self._counts > 0
        self.soft_labels[seen] = self._sums[seen] / self._counts[seen, None]
        self._sums.zero_()
        self._counts.zero_()
        return int(seen.sum())

    def on_epoch_end(self, state: EpochState) -> dict[str, float] | None:
        """A :func:`~c2f_utils.train.fit` callback: advance :math:`S` after every epoch.

        Adds the column ``ols_rows_updated`` to the history.
        """
        if state.epoch == 0:
            return None
        return {"ols_rows_updated": float(self.next_epoch())}


class TFKDReg(nn.Module):
    """Teacher-free KD with a manually designed teacher, Tf-KD_reg (Yuan et al. 2020, Eq. 9).

    The virtual teacher puts ``correct_prob`` on the label and spreads the rest
    uniformly, :math:`p^d_k = a` if :math:`k = y` else :math:`(1-a)/(K-1)`; as in the
    official code it is softened by a softmax at temperature :math:`\\tau` *of these
    probabilities*, :math:`p^d_\\tau = \\operatorname{softmax}(p^d/\\tau)`, and compared with
    the untempered prediction:

    .. math:: \\mathcal L = (1 - \\alpha)\\, H(p, \\hat p)
              + \\alpha\\, m\\, KL(p^d_\\tau \\| \\hat p).

    Parameters
    ----------
    num_classes : int
        :math:`K \\ge 2`.
    alpha : float
        Weight of the regulariser, in [0, 1].
    temperature : float
        :math:`\\tau`, in ``[1e-3, 1e4]`` (20 in the official examples).
    correct_prob : float
        :math:`a \\in (0, 1)`; 0.9 as described in the LLS paper (the official code
        also uses 0.99).
    multiplier : float
        :math:`m \\ge 0`. Here the KL is summed over classes and averaged over the batch;
        the official code averages over batch *and* classes (``nn.KLDivLoss()``), so its
        multiplier :math:`m'` corresponds to :math:`m = m'/K`.
    """

    def __init__(
        self,
        num_classes: int,
        alpha: float = 0.1,
        temperature: float = 20.0,
        correct_prob: float = 0.9,
        multiplier: float = 1.0,
    ) -> None:
        super().__init__()
        self.num_classes = check_positive_int("num_classes", num_classes, minimum=2)
        self.alpha = check_number("alpha", alpha, low=0, high=1)
        self.temperature = check_temperature("temperature", temperature)
        self.correct_prob = check_number(
            "correct_prob", correct_prob, low=0, high=1, low_inclusive=False, high_inclusive=False
        )
        self.multiplier = check_number("multiplier", multiplier, low=0)

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, alpha={self.alpha}, temperature={self.temperature}"

    def teacher_log_probs(self, target: Tensor) -> Tensor:
        """:math:`\\log p^d_\\tau` for each label, ``(B, K)``."""
        target = check_labels("target", target, num_classes=self.num_classes)
        k = self.num_classes
        design = torch.full((len(target), k), (1 - self.correct_prob) / (k - 1), device=target.device)
        design[torch.arange(len(target), device=target.device), target] = self.correct_prob
        return F.log_softmax(design / self.temperature, dim=1)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        target = check_logits_target(logits, target, self.num_classes)
        log_p = F.log_softmax(logits.to(_work_dtype(logits)), dim=1)
        log_t = self.teacher_log_probs(target).to(log_p.dtype)
        check_support(logits, log_t.exp())
        kl = (log_t.exp() * (log_t - log_p)).sum(1).mean()
        return (1 - self.alpha) * F.nll_loss(log_p, target) + self.alpha * self.multiplier * kl
