"""Input augmentations beyond crops and flips, for ``fit(transform=...)`` (LLS App. F, Table 8).

- :func:`cutout`: one ``size x size`` square of zeros per image, its centre drawn uniformly
  over the image and the square clipped at the borders (DeVries & Taylor 2017). Written
  here because torchvision's ``RandomErasing`` keeps its box inside the image and, given a
  batch tensor, erases the same box in every image of the batch.
- :func:`randaugment`: torchvision's ``RandAugment`` (Cubuk et al. 2020), drawn per image.
- :class:`MixedBatches`: Mixup (Zhang et al. 2018) or CutMix (Yun et al. 2019) with
  torchvision's ``MixUp``/``CutMix`` drawing :math:`\\lambda \\sim \\mathrm{Beta}(a, a)` and
  the box. Image :math:`i` is mixed with image :math:`\\pi(i) = i - 1` of the batch,

  .. math:: \\tilde x_i = \\lambda x_i + (1 - \\lambda) x_{\\pi(i)} \\quad\\text{(CutMix: a box of
            } x_{\\pi(i)}\\text{ pasted, } \\lambda \\text{ its complement's area)},

  and the criterion is mixed on the two hard labels,

  .. math:: \\mathcal L = \\lambda\\, L(f(\\tilde x), y) + (1 - \\lambda)\\, L(f(\\tilde x), y_{\\pi}),

  as both papers' code computes it, so that any hard-label criterion (LLS's learned
  targets included) trains on mixed batches. :meth:`MixedBatches.transform` mixes a
  batch and remembers :math:`\\lambda`; the criterion of :meth:`MixedBatches.criterion`
  uses it once, on the next call (``fit`` calls the transform just before the forward
  pass and the criterion just after); a call with nothing pending (evaluation) is the
  plain criterion.

Randomness comes from torch's global generator, which ``fit`` seeds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from ._checks import check_number, check_positive_int

__all__ = ["MIXES", "MixedBatches", "cutout", "randaugment"]

MIXES = ("mixup", "cutmix")
"""The batch-mixing augmentations of :class:`MixedBatches`."""


def _check_batch(x: Any) -> Tensor:
    if not isinstance(x, Tensor) or x.ndim != 4 or not x.is_floating_point():
        raise ValueError(f"Expected `x` as a floating (N, C, H, W) batch, got {getattr(x, 'shape', x)!r:.80}")
    return x


def cutout(size: int = 16) -> Callable[[Tensor], Tensor]:
    """Cutout: zero one ``size x size`` square per image, centred at a uniformly drawn pixel
    and clipped at the borders (so at the edges less than ``size**2`` pixels are erased).

    Parameters
    ----------
    size : int
        Side of the square in pixels, >= 1 (the paper's 16 on 32 x 32 CIFAR images).
    """
    size = check_positive_int("size", size)

    def transform(x: Tensor) -> Tensor:
        n, _, h, w = _check_batch(x).shape
        cy = torch.randint(0, h, (n, 1, 1), device=x.device)
        cx = torch.randint(0, w, (n, 1, 1), device=x.device)
        rows = torch.arange(h, device=x.device)[None, :, None]
        cols = torch.arange(w, device=x.device)[None, None, :]
        half = size // 2
        inside = (rows >= cy - half) & (rows < cy - half + size) & (cols >= cx - half) & (cols < cx - half + size)
        return x * (~inside)[:, None].to(x.dtype)

    return transform


def randaugment(num_ops: int = 2, magnitude: int = 9) -> Callable[[Tensor], Tensor]:
    """RandAugment (torchvision's ``v2.RandAugment``), its operations drawn per image.

    Parameters
    ----------
    num_ops : int
        Operations applied in a row to each image, >= 1.
    magnitude : int
        Strength of every operation, in [0, 30] (torchvision's 31 bins; 9 is its default).

    The images must be floats in [0, 1] (torchvision's convention for float images).
    """
    from torchvision.transforms import v2

    num_ops = check_positive_int("num_ops", num_ops)
    magnitude = check_positive_int("magnitude", magnitude, minimum=0)
    if magnitude > 30:
        raise ValueError(f"Expected `magnitude` in [0, 30], got {magnitude!r}")
    op = v2.RandAugment(num_ops=num_ops, magnitude=magnitude)

    def transform(x: Tensor) -> Tensor:
        return torch.stack([op(image) for image in _check_batch(x)])

    return transform


class _MixedCriterion(nn.Module):
    """``base`` mixed on both labels of the pending mix (see :class:`MixedBatches`)."""

    def __init__(self, mixer: MixedBatches, base: nn.Module) -> None:
        super().__init__()
        self.mixer, self.base = mixer, base
        self.needs_features = bool(getattr(base, "needs_features", False))
        if hasattr(base, "ignore_index"):
            self.ignore_index = base.ignore_index

    def forward(self, *args: Tensor) -> Tensor:
        lam, self.mixer.pending = self.mixer.pending, None
        if lam is None:
            return self.base(*args)
        *inputs, y = args
        return lam * self.base(*inputs, y) + (1 - lam) * self.base(*inputs, y.roll(1, 0))


class MixedBatches:
    """Mixup or CutMix: :meth:`transform` for ``fit(transform=...)`` and :meth:`criterion` for
    its ``criterion`` (see the module docstring for the loss).

    Parameters
    ----------
    kind : {"mixup", "cutmix"}
    alpha : float
        Parameter of the Beta distribution of :math:`\\lambda`, > 0 (1 in both papers' CIFAR setups).
    """

    def __init__(self, kind: str, alpha: float = 1.0) -> None:
        if kind not in MIXES:
            raise ValueError(f"Expected `kind` in {list(MIXES)}, got {kind!r}")
        self.kind = kind
        self.alpha = check_number("alpha", alpha, low=0, low_inclusive=False)
        self.pending: float | None = None

    def transform(self, x: Tensor) -> Tensor:
        """Mix the batch (image ``i`` with image ``i - 1``) and remember :math:`\\lambda`."""
        from torchvision.transforms import v2

        n = len(_check_batch(x))
        if n < 2:
            self.pending = None
            return x
        mixer = (v2.MixUp if self.kind == "mixup" else v2.CutMix)(alpha=self.alpha, num_classes=n)
        # labels 0..n-1: row i of the mixed one-hots holds lambda at i and 1 - lambda at i - 1
        mixed, weights = mixer(x, torch.arange(n, device=x.device))
        self.pending = float(weights[0, 0])
        return mixed

    def criterion(self, base: nn.Module) -> nn.Module:
        """``base`` (called as ``fit`` calls a criterion) mixed on the labels of the last mix;
        ``base``'s parameters (a learnable Q) are the returned module's, so ``fit`` trains them."""
        if not isinstance(base, nn.Module):
            raise TypeError(f"Expected `base` to be an nn.Module criterion, got {type(base).__name__}")
        return _MixedCriterion(self, base)
