"""FIERCE: cross-entropy minus an entropy estimate of the features.

Baena, Drumetz & Gripon, *Preserving Fine-Grain Feature Information in Classification
via Entropic Regularization* (arXiv:2208.03684, §4, Eqs. 8 and 10-13). The features
of a batch are assigned to fixed random *anchors* by a straight-through Gumbel-softmax
on their similarities; the entropy of the batch-averaged assignment is subtracted from
the cross-entropy, so that the network keeps its features spread out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._checks import check_choice, check_number, check_positive_int, check_temperature, check_tensor
from .smoothing import check_logits_target, check_support

__all__ = ["ANCHOR_KINDS", "SIMILARITIES", "FIERCELoss", "draw_anchors", "hard_assignment_entropy", "similarity"]

SIMILARITIES = ("cosine", "dot", "neg_sqdist")
ANCHOR_KINDS = ("uniform", "normal", "sphere", "grid")


def similarity(features: Tensor, anchors: Tensor, kind: str = "cosine") -> Tensor:
    r"""Similarity of every feature vector to every anchor, shape ``(batch, n_anchors)``.

    .. math::
        s_{\text{cosine}}(r, a) = \frac{\langle r, a\rangle}{\max(\|r\|\|a\|, \epsilon)},\quad
        s_{\text{dot}}(r, a) = \langle r, a\rangle,\quad
        s_{\text{neg\_sqdist}}(r, a) = -\|r - a\|^2 .

    The paper's text uses the cosine (§4.1); the official hyperspectral code uses the raw
    dot product and the official 1-D age code the negative squared distance (in one
    dimension the cosine only sees the sign of the feature).
    """
    check_choice("kind", kind, SIMILARITIES)
    if features.ndim != 2 or anchors.ndim != 2 or features.shape[1] != anchors.shape[1]:
        raise ValueError(
            f"Expected `features` (batch, d) and `anchors` (n_anchors, d) with the same d, "
            f"got {tuple(features.shape)} and {tuple(anchors.shape)}"
        )
    anchors = anchors.to(features.dtype)
    if kind == "cosine":
        features = _power_of_two_scaled(features)
        return F.normalize(features, dim=1, eps=1e-12) @ F.normalize(anchors, dim=1, eps=1e-12).T
    if kind == "dot":
        return features @ anchors.T
    return -torch.cdist(features, anchors).square()


def _power_of_two_scaled(features: Tensor) -> Tensor:
    """Rows of ``features`` whose largest entry is beyond ``2**±40`` scaled by a power of two to near 1.

    The cosine does not see the scale, but its norm does: squares of 1e20 overflow float32 (a
    zero cosine and NaN gradients) and a norm below the ``eps`` of :func:`F.normalize` is not
    one. A power of two scales exactly, and the other rows are multiplied by 1: unchanged bits."""
    largest = features.detach().abs().amax(dim=1, keepdim=True)
    far = (largest > 2.0**40) | ((largest < 2.0**-40) & (largest > 0))
    if features.device.type == "cpu" and not bool(far.any()):
        return features
    _, exponent = torch.frexp(largest)
    return features * torch.where(far, torch.ldexp(torch.ones_like(largest), -exponent), torch.ones_like(largest))


def draw_anchors(
    n_anchors: int,
    feature_dim: int,
    kind: str = "uniform",
    low: float = 0.0,
    high: float = 1.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Fixed random anchors ``(n_anchors, feature_dim)``, drawn once when a loss is built.

    ``"uniform"``: i.i.d. uniform in ``[low, high)`` per coordinate (the official code:
    ``torch.rand``, i.e. the positive unit cube); ``"normal"``: standard normal;
    ``"sphere"``: uniform on the unit sphere (normalised normal vectors);
    ``"grid"``: ``n_anchors`` evenly spaced points from ``low`` to ``high`` (1-D features
    only, like the official age code's fixed bins 1..100).
    """
    check_positive_int("n_anchors", n_anchors, minimum=2)
    check_positive_int("feature_dim", feature_dim)
    check_choice("kind", kind, ANCHOR_KINDS)
    check_number("low", low)
    check_number("high", high)
    if high <= low:
        raise ValueError(f"Expected `high` > low={low}, got {high}")
    if kind == "grid":
        if feature_dim != 1:
            raise ValueError(f"Expected `feature_dim` = 1 for grid anchors, got {feature_dim}")
        return torch.linspace(low, high, n_anchors).unsqueeze(1)
    if kind == "uniform":
        return low + (high - low) * torch.rand(n_anchors, feature_dim, generator=generator)
    normal = torch.randn(n_anchors, feature_dim, generator=generator)
    return F.normalize(normal, dim=1) if kind == "sphere" else normal


def _entropy(p: Tensor) -> Tensor:
    """Shannon entropy (nats) of a probability vector, with 0 log 0 = 0 and finite gradients.

    Empty categories contribute neither a value nor a gradient (the derivative of
    ``-p log p`` is infinite at 0); the gradient reaches them through the other entries,
    whose soft probabilities share one normalisation.
    """
    support = p > 0
    safe = torch.where(support, p, torch.ones_like(p))
    return -(torch.where(support, p * safe.log(), torch.zeros_like(p))).sum(-1)


def hard_assignment_entropy(features: Tensor, anchors: Tensor, kind: str = "cosine") -> Tensor:
    r"""Entropy (nats) of the hard nearest-anchor assignment, Eq. 10 averaged over the rows.

    .. math::
        \hat H = -\sum_i \hat p_i \log \hat p_i,\qquad
        \hat p_i = \frac1N \sum_{n=1}^N \mathbb 1\big[i = \arg\max_j s(r_n, a_j)\big].
    """
    index = similarity(features, anchors, kind).argmax(1)
    counts = torch.bincount(index, minlength=anchors.shape[0]).to(torch.float64)
    return _entropy(counts / counts.sum())


class FIERCELoss(nn.Module):
    r"""Feature Information Entropy Regularized Cross-Entropy (Baena et al. 2022, Eqs. 8, 10-13).

    .. math::
        \mathcal L = \mathrm{CE}(\text{logits}, y) - \lambda\, \tilde H,\qquad
        \tilde H = -\sum_{i=1}^{e} \bar p_i \log \bar p_i,\qquad
        \bar p = \frac1N \sum_{n=1}^N \Big[\mathrm{sg}\big(h_n - s_n\big) + s_n\Big],

    where :math:`s_n = \operatorname{softmax}\big((\mathrm{sim}(r_n, A) + g_n)/\tau\big)`
    (Eq. 12) with Gumbel noise :math:`g_n`, :math:`h_n` its one-hot argmax (Eqs. 10-11),
    and :math:`\mathrm{sg}` the stop-gradient (Eq. 13, the straight-through estimator).
    The similarities play the role of :math:`\log \pi` (as in the official code).

    Parameters
    ----------
    feature_dim : int
        Size of the features the loss receives.
    n_anchors : int
        Number of anchors :math:`e` (the paper uses about the batch size, App. A.1).
    lam : float
        Weight :math:`\lambda \ge 0` of the entropy; 0 gives plain cross-entropy.
    tau : float
        Gumbel-softmax temperature (1 in the official code), in ``[1e-3, 1e4]``.
    similarity : {"cosine", "dot", "neg_sqdist"}
        How features are compared with anchors, see :func:`similarity`.
    anchors : {"uniform", "normal", "sphere", "grid"} or Tensor
        Distribution the anchors are drawn from (see :func:`draw_anchors`), or an explicit
        ``(n_anchors, feature_dim)`` tensor.
    anchor_range : (float, float)
        ``(low, high)`` for ``"uniform"`` and ``"grid"`` anchors.
    unit : {"nats", "bits"}
        Unit of the entropy; the official code uses bits, so its :math:`\lambda` equals
        ours in nats divided by :math:`\ln 2`.
    label_smoothing : float
        Passed to the cross-entropy (torch convention), 0 by default.
    generator : torch.Generator, optional
        Source of randomness for drawing the anchors and, afterwards, the Gumbel noise of
        every batch (on the CPU, then moved to the features' device): the loss then owns its
        randomness, which nothing else (a probe, another model) can shift. Without one,
        both come from torch's global generator.

    Notes
    -----
    The anchors are a registered buffer, so they are saved and restored with the
    model's ``state_dict`` (the official code redraws them whenever a model is built).
    The entropy is averaged over the batch axis, as Eq. 10 states; the official 1-D
    code averages over a size-one axis, which makes its entropy a constant.
    After each call, ``last_entropy`` and ``last_ce`` hold the batch's values (floats).
    """

    needs_features = True

    def __init__(
        self,
        feature_dim: int,
        n_anchors: int = 100,
        lam: float = 1.0,
        tau: float = 1.0,
        similarity: str = "cosine",
        anchors: str | Tensor = "uniform",
        anchor_range: Sequence[float] = (0.0, 1.0),
        unit: str = "nats",
        label_smoothing: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        check_positive_int("feature_dim", feature_dim)
        check_positive_int("n_anchors", n_anchors, minimum=2)
        self.lam = check_number("lam", lam, low=0)
        self.tau = check_temperature("tau", tau)
        self.similarity = check_choice("similarity", similarity, SIMILARITIES)
        self.unit = check_choice("unit", unit, ("nats", "bits"))
        self.label_smoothing = check_number("label_smoothing", label_smoothing, low=0, high=1)
        if len(anchor_range) != 2:
            raise ValueError(f"Expected `anchor_range` = (low, high), got {anchor_range!r}")
        if isinstance(anchors, Tensor):
            if anchors.shape != (n_anchors, feature_dim) or not torch.isfinite(anchors).all():
                raise ValueError(
                    f"Expected finite `anchors` of shape ({n_anchors}, {feature_dim}), got {tuple(anchors.shape)}"
                )
            table = anchors.detach().clone().float()
            self.anchor_kind = "given"
        else:
            low, high = (float(v) for v in anchor_range)
            table = draw_anchors(n_anchors, feature_dim, anchors, low, high, generator)
            self.anchor_kind = anchors
        self.feature_dim = feature_dim
        self.n_anchors = n_anchors
        self.register_buffer("anchors", table)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"Expected `generator` to be a torch.Generator or None, got {generator!r}")
        self.generator = generator  # checkpointed with the training state (train.fit saves criterion generators)
        self.last_entropy = math.nan
        self.last_ce = math.nan

    def extra_repr(self) -> str:
        return (
            f"feature_dim={self.feature_dim}, n_anchors={self.n_anchors}, lam={self.lam}, tau={self.tau}, "
            f"similarity={self.similarity!r}, anchors={self.anchor_kind!r}, unit={self.unit!r}"
        )

    def entropy(self, features: Tensor, noise: Tensor | None = None) -> Tensor:
        """The differentiable entropy estimate :math:`\\tilde H` of a batch (Eqs. 11-13).

        ``noise`` is the Gumbel draw ``(batch, n_anchors)``; by default a fresh one.
        """
        check_tensor("features", features, ndim=2, floating=True)
        if features.shape[1] != self.feature_dim:
            raise ValueError(f"Expected `features` of shape (batch, {self.feature_dim}), got {tuple(features.shape)}")
        if features.shape[0] == 0:
            raise ValueError("Expected `features` with at least one row, got an empty batch")
        scaled = _power_of_two_scaled(features) if self.similarity == "cosine" else features
        sim = similarity(scaled.float(), self.anchors, self.similarity)
        if sim.device.type == "cpu" and not bool(torch.isfinite(sim).all()):
            raise ValueError(
                f"Expected `features` whose {self.similarity} similarities to the anchors are finite in float32, "
                f"got a largest magnitude of {float(features.detach().abs().max()):.3g}"
            )
        if noise is None and self.generator is not None:
            draw = torch.empty(sim.shape, dtype=sim.dtype).exponential_(generator=self.generator)
            noise = -draw.log().to(sim.device)
        elif noise is None:
            noise = -torch.empty_like(sim).exponential_().log()
        elif check_tensor("noise", noise, ndim=2, floating=True).shape != sim.shape:
            raise ValueError(f"Expected `noise` of shape {tuple(sim.shape)}, got {tuple(noise.shape)}")
        soft = torch.softmax((sim + noise) / self.tau, dim=1)
        hard = F.one_hot(soft.argmax(1), self.n_anchors).to(soft.dtype)
        assignment = (hard - soft).detach() + soft
        h = _entropy(assignment.mean(0))
        return h / math.log(2) if self.unit == "bits" else h

    def forward(self, logits: Tensor, features: Tensor, target: Tensor, noise: Tensor | None = None) -> Tensor:
        target = check_logits_target(logits, target)
        check_tensor("features", features, ndim=2, floating=True)
        if features.shape[0] != logits.shape[0]:
            raise ValueError(
                f"Expected `features` with {logits.shape[0]} rows like `logits`, got {tuple(features.shape)}"
            )
        mass = F.one_hot(target, logits.shape[1]) if self.label_smoothing == 0 else torch.ones_like(logits)
        check_support(logits, mass)
        ce = F.cross_entropy(logits.float(), target, label_smoothing=self.label_smoothing)
        self.last_ce = float(ce.detach())
        if self.lam == 0 and noise is None:
            self.last_entropy = float(self.entropy(features.detach()))
            return ce
        h = self.entropy(features, noise)
        self.last_entropy = float(h.detach())
        return ce - self.lam * h
