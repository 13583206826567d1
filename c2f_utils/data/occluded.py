"""Inputs with a nuisance or a redundant factor, and several labels per input.

The label-smoothing-as-IB chapter (Kudo 2025, §5.2.2-§5.3) needs three kinds of data:

- *occluded* images, whose occluder is a **nuisance**: independent of the label.
  ``occluded_cifar`` is Occluded CIFAR (Achille & Soatto 2018): CIFAR-10 images with a
  random MNIST digit painted over them, the digit's class in ``meta["nuisance"]``;
  ``occluded_digits`` its embedded analogue: an enlarged scikit-learn digit occluded by
  another, smaller digit.
- *cluttered* images, whose clutter is a **redundant** factor: a function of the
  label-carrying digit. ``cluttered_mnist`` is the Cluttered-MNIST variant of §5.3.2
  (a 60x60 canvas holding the digit and 12 random crops *of itself*);
  ``cluttered_digits`` its embedded analogue. ``meta["box"]`` holds the original
  digit's box ``(top, left, height, width)`` for the saliency-mass score.
- *annotator counts*: ``annotator_counts`` is a seeded synthetic stand-in for
  CIFAR-10H (:func:`c2f_utils.data.real.cifar10h`), same layout: ``fine`` the label
  distribution of each item, ``meta["counts"]`` the counts, coarsening ``"majority"``.

Every generator is a pure function of its arguments (``seed``), so a split is the same
on every machine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .._checks import check_choice, check_number, check_positive_int
from .core import LabeledData, register
from .embedded import digits
from .real import CIFAR10_NAMES

__all__ = [
    "annotator_counts",
    "clutter",
    "cluttered_digits",
    "cluttered_mnist",
    "cluttered_mnist10k",
    "occlude",
    "occluded_cifar",
    "occluded_cifar10_jpeg",
    "occluded_digits",
]

_SPLIT_STREAM = {"train": 1, "test": 2, "all": 3}


def _resize(images: Tensor, size: int) -> Tensor:
    """Bilinear resize of ``(N, C, h, w)`` images to ``size x size``, clipped to [0, 1]."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False).clamp_(0, 1)


def occlude(
    images: Tensor, occluders: Tensor, rng: np.random.Generator, jitter: int | None = None
) -> tuple[Tensor, Tensor]:
    """Paint one occluder over each image at a random position.

    The position is uniform over the image (``jitter=None``) or within ``jitter``
    pixels of the centred position.

    The occluder's intensity ``m`` in [0, 1] is its opacity: the pixel becomes
    ``(1 - m) x + m`` in every channel (white strokes, as MNIST digits on CIFAR).

    Parameters
    ----------
    images : Tensor ``(N, C, H, W)`` in [0, 1]
    occluders : Tensor ``(N, 1, s, s)`` in [0, 1], ``s <= min(H, W)``
    rng : numpy Generator
    jitter : int, optional
        Largest offset from the centred position; None for anywhere in the image.

    Returns
    -------
    (Tensor, Tensor)
        The occluded images and the boxes ``(N, 4)`` = ``(top, left, s, s)``.
    """
    n, _, h, w = images.shape
    s = occluders.shape[-1]
    if occluders.shape != (n, 1, s, s) or s > min(h, w):
        raise ValueError(f"Expected `occluders` of shape ({n}, 1, s, s) with s <= {min(h, w)}, got {occluders.shape}")
    out = images.clone()
    if jitter is None:
        tops = rng.integers(0, h - s + 1, n)
        lefts = rng.integers(0, w - s + 1, n)
    else:
        check_positive_int("jitter", jitter, minimum=0)
        cy, cx = (h - s) // 2, (w - s) // 2
        tops = np.clip(cy + rng.integers(-jitter, jitter + 1, n), 0, h - s)
        lefts = np.clip(cx + rng.integers(-jitter, jitter + 1, n), 0, w - s)
    for i in range(n):
        t, left = int(tops[i]), int(lefts[i])
        m = occluders[i]
        out[i, :, t : t + s, left : left + s] = (1 - m) * out[i, :, t : t + s, left : left + s] + m
    boxes = torch.as_tensor(np.stack([tops, lefts, np.full(n, s), np.full(n, s)], 1), dtype=torch.int64)
    return out, boxes


def clutter(
    images: Tensor, canvas: int, n_crops: int, crop_size: int, rng: np.random.Generator
) -> tuple[Tensor, Tensor]:
    """Place each ``(1, s, s)`` digit on a ``canvas x canvas`` field with ``n_crops`` crops of itself.

    Each crop is a ``crop_size`` square cut at a random position of the digit (the most
    inked of three random candidates, so that crops carry strokes), pasted at a random
    canvas position; the digit itself is pasted at a random position last. Layers are
    combined with a pixel-wise maximum.

    Returns
    -------
    (Tensor, Tensor)
        Images ``(N, 1, canvas, canvas)`` and the digit's boxes ``(N, 4)``
        ``(top, left, s, s)``.
    """
    n, c, s, s2 = images.shape
    if c != 1 or s != s2 or s > canvas or crop_size > s:
        raise ValueError(
            f"Expected square 1-channel `images` no larger than canvas={canvas} and at least "
            f"crop_size={crop_size}, got shape {tuple(images.shape)}"
        )
    out = torch.zeros(n, 1, canvas, canvas)
    boxes = torch.zeros(n, 4, dtype=torch.int64)
    span = s - crop_size + 1
    for i in range(n):
        img = images[i, 0]
        for _ in range(n_crops):
            cands = rng.integers(0, span, (3, 2))
            masses = [float(img[a : a + crop_size, b : b + crop_size].sum()) for a, b in cands]
            a, b = cands[int(np.argmax(masses))]
            crop = img[a : a + crop_size, b : b + crop_size]
            t, left = rng.integers(0, canvas - crop_size + 1, 2)
            region = out[i, 0, t : t + crop_size, left : left + crop_size]
            torch.maximum(region, crop, out=region)
        t, left = rng.integers(0, canvas - s + 1, 2)
        region = out[i, 0, t : t + s, left : left + s]
        torch.maximum(region, img, out=region)
        boxes[i] = torch.tensor([t, left, s, s])
    return out, boxes


def _repeat(x: Tensor, y: Tensor, copies: int) -> tuple[Tensor, Tensor]:
    return x.repeat(copies, 1, 1, 1), y.repeat(copies)


# --------------------------------------------------------------------------- nuisance: occluded images


@register(
    "occluded_digits",
    kind="embedded",
    splits=("train", "test"),
    description="coloured scikit-learn digits (3x16x16) occluded by a white 8x8 digit (nuisance label in meta)",
)
def occluded_digits(
    split: str = "train",
    copies: int = 2,
    size: int = 16,
    occluder_size: int = 8,
    jitter: int = 2,
    seed: int = 0,
    test_fraction: float = 0.3,
    split_seed: int = 0,
) -> LabeledData:
    """Embedded analogue of Occluded CIFAR: a coloured digit occluded by an unrelated white digit.

    Each digit of the split (scikit-learn digits, seeded stratified split) is enlarged
    to ``size x size`` (bilinear) and drawn in colour, like a small natural image: a
    random background colour in :math:`[0, 0.4]^3` and stroke colour in
    :math:`[0.4, 0.8]^3`. It appears ``copies`` times, each time occluded
    (:func:`occlude`) by a white digit drawn uniformly from the same split, resized to
    ``occluder_size``, within ``jitter`` pixels of the centre (so that, at this small
    scale, the occluder's digit can be read linearly from the pixels, as the MNIST
    digit can be from an Occluded CIFAR image by a deep network; see
    :func:`occlude`). ``fine`` is the coloured digit;
    ``meta["nuisance"]`` the occluder's digit, drawn independently of it;
    ``meta["box"]`` the occluder's box.

    Parameters
    ----------
    jitter : int
        Largest offset of the occluder from the centre, in pixels: an integer >= 0
        (``None``, which :func:`occlude` reads as a uniform position, is refused here).
    """
    check_positive_int("copies", copies)
    jitter = check_positive_int("jitter", jitter, minimum=0)
    check_positive_int("size", size, minimum=8)
    check_positive_int("occluder_size", occluder_size, minimum=2)
    if occluder_size > size:
        raise ValueError(f"Expected `occluder_size` <= size={size}, got {occluder_size}")
    check_positive_int("seed", seed, minimum=0)
    base = digits(split, test_fraction=test_fraction, split_seed=split_seed)
    rng = np.random.default_rng([seed, _SPLIT_STREAM[split]])
    strokes, y = _repeat(_resize(base.x, size), base.fine, copies)
    background = torch.as_tensor(rng.uniform(0.0, 0.4, (len(y), 3, 1, 1)), dtype=torch.float32)
    foreground = torch.as_tensor(rng.uniform(0.4, 0.8, (len(y), 3, 1, 1)), dtype=torch.float32)
    coloured = background * (1 - strokes) + foreground * strokes
    pick = torch.as_tensor(rng.integers(0, len(base), len(y)))
    images, boxes = occlude(coloured, _resize(base.x, occluder_size)[pick], rng, jitter)
    return LabeledData(
        "occluded_digits",
        split,
        images,
        y,
        {},
        base.fine_names,
        {},
        {"nuisance": base.fine[pick], "box": boxes, "seed": seed},
    )


@register(
    "occluded_cifar",
    kind="real",
    splits=("train", "test"),
    description="Occluded CIFAR (Achille & Soatto 2018): CIFAR-10 occluded by MNIST digits (nuisance label in meta)",
)
def occluded_cifar(
    split: str,
    *,
    data_dir: Path,
    download: bool,
    occluder_size: int = 16,
    occluder_split: str | None = None,
    seed: int = 0,
    source: str = "cifar10",
) -> LabeledData:
    """CIFAR-10 images occluded by a random MNIST digit (Achille & Soatto 2018).

    Each CIFAR-10 image of ``split`` (``source``: ``"cifar10"``, the original batches, or
    ``"cifar10_jpeg"``, the image-folder copy) is occluded (:func:`occlude`) by an MNIST digit drawn uniformly from
    MNIST's ``occluder_split`` (default: the same split), resized to
    ``occluder_size``, at a random position. ``fine`` is the CIFAR class;
    ``meta["nuisance"]`` the MNIST digit; ``meta["box"]`` its box. Both datasets are
    read with the registry's loaders, so missing files raise their errors.
    """
    from .core import load

    check_positive_int("occluder_size", occluder_size, minimum=2)
    check_positive_int("seed", seed, minimum=0)
    if occluder_split not in (None, "train", "test"):
        raise ValueError(f"Expected `occluder_split` in [None, 'train', 'test'], got {occluder_split!r}")
    check_choice("source", source, CIFAR10_NAMES)
    cifar = load(source, split, data_dir=data_dir, download=download)
    mnist = load("mnist", occluder_split or split, data_dir=data_dir, download=download)
    return _occluded("occluded_cifar", split, cifar, mnist, occluder_size, seed)


def _occluded(
    name: str, split: str, cifar: LabeledData, mnist: LabeledData, occluder_size: int, seed: int
) -> LabeledData:
    """``cifar`` occluded by digits drawn uniformly from ``mnist`` (see :func:`occluded_cifar`)."""
    rng = np.random.default_rng([seed, _SPLIT_STREAM[split]])
    pick = torch.as_tensor(rng.integers(0, len(mnist), len(cifar)))
    images, boxes = occlude(cifar.x, _resize(mnist.x[pick], occluder_size), rng)
    return LabeledData(
        name,
        split,
        images,
        cifar.fine,
        dict(cifar.coarse),
        cifar.fine_names,
        dict(cifar.coarse_names),
        {
            "nuisance": mnist.fine[pick],
            "box": boxes,
            "seed": seed,
            "source": [cifar.meta["source"], mnist.meta["source"]],
        },
    )


@register(
    "occluded_cifar10_jpeg",
    kind="real",
    splits=("train", "test"),
    description="Occluded CIFAR from the offline copies: CIFAR-10 JPEG occluded by mnist10k digits of the same split",
)
def occluded_cifar10_jpeg(
    split: str, *, data_dir: Path, download: bool, occluder_size: int = 16, seed: int = 0
) -> LabeledData:
    """Occluded CIFAR (as :func:`occluded_cifar`) built from files that can be had offline.

    The CIFAR-10 images of ``split`` come from the JPEG copy (``cifar10_jpeg``: 20,000
    training images, the 10,000 test images); the occluders from the same split of
    ``mnist10k`` (the 10,000 MNIST test digits cut 80/20), so that the training and the
    test images are occluded by different digit images. Each image gets a digit drawn
    uniformly, resized to ``occluder_size``, at a uniform position (:func:`occlude`).
    ``fine`` is the CIFAR class; ``meta["nuisance"]`` the digit; ``meta["box"]`` its box.
    """
    from .core import load

    check_positive_int("occluder_size", occluder_size, minimum=2)
    check_positive_int("seed", seed, minimum=0)
    cifar = load("cifar10_jpeg", split, data_dir=data_dir, download=download)
    mnist = load("mnist10k", split, data_dir=data_dir, download=download)
    return _occluded("occluded_cifar10_jpeg", split, cifar, mnist, occluder_size, seed)


# --------------------------------------------------------------------------- redundancy: cluttered images


@register(
    "cluttered_digits",
    kind="embedded",
    splits=("train", "test"),
    description="scikit-learn digits (16x16) on a 32x32 canvas with 12 random crops of themselves; box in meta",
)
def cluttered_digits(
    split: str = "train",
    copies: int = 2,
    digit_size: int = 16,
    canvas: int = 32,
    n_crops: int = 12,
    crop_size: int = 6,
    seed: int = 0,
    test_fraction: float = 0.3,
    split_seed: int = 0,
) -> LabeledData:
    """Embedded analogue of the Cluttered-MNIST variant of Kudo (2025, §5.3.2).

    Each scikit-learn digit of the split is enlarged to ``digit_size`` (bilinear, with
    the faint interpolation halo below 0.35 set to 0 so that crops carry strokes, not
    grey squares) and placed with :func:`clutter` on a ``canvas`` field together with
    ``n_crops`` crops of itself, ``copies`` times with fresh positions. The clutter is a function of the digit
    (:math:`Y - O \\to C`): redundant, not a nuisance. ``meta["box"]``: the digit's box.
    """
    for name, value in (("copies", copies), ("digit_size", digit_size), ("canvas", canvas), ("crop_size", crop_size)):
        check_positive_int(name, value)
    check_positive_int("n_crops", n_crops, minimum=0)
    check_positive_int("seed", seed, minimum=0)
    base = digits(split, test_fraction=test_fraction, split_seed=split_seed)
    rng = np.random.default_rng([seed, _SPLIT_STREAM[split]])
    enlarged = _resize(base.x, digit_size)
    enlarged[enlarged < 0.35] = 0.0
    x, y = _repeat(enlarged, base.fine, copies)
    images, boxes = clutter(x, canvas, n_crops, crop_size, rng)
    return LabeledData("cluttered_digits", split, images, y, {}, base.fine_names, {}, {"box": boxes, "seed": seed})


@register(
    "cluttered_mnist",
    kind="real",
    splits=("train", "test"),
    description="Cluttered-MNIST variant of Kudo 2025: 60x60 canvas, the digit plus 12 crops of itself; box in meta",
)
def cluttered_mnist(
    split: str,
    *,
    data_dir: Path,
    download: bool,
    canvas: int = 60,
    n_crops: int = 12,
    crop_size: int = 10,
    seed: int = 0,
) -> LabeledData:
    """The Cluttered-MNIST variant of Kudo (2025, §5.3.2), built from MNIST's ``split``.

    Each 28x28 digit goes on a ``canvas x canvas`` field (60 in the paper) with
    ``n_crops`` (12 in the paper) random ``crop_size`` crops of itself (:func:`clutter`;
    the crop size is not given in the paper: 10 pixels here). ``meta["box"]``: the
    original digit's box.
    """
    return _cluttered("cluttered_mnist", "mnist", split, data_dir, download, canvas, n_crops, crop_size, seed)


def _cluttered(
    name: str,
    source: str,
    split: str,
    data_dir: Path,
    download: bool,
    canvas: int,
    n_crops: int,
    crop_size: int,
    seed: int,
) -> LabeledData:
    """The digits of dataset ``source``'s ``split`` cluttered with crops of themselves (see
    :func:`cluttered_mnist`), the arguments checked first."""
    from .core import load

    check_positive_int("canvas", canvas, minimum=28)
    check_positive_int("n_crops", n_crops, minimum=0)
    check_positive_int("crop_size", crop_size)
    check_positive_int("seed", seed, minimum=0)
    mnist = load(source, split, data_dir=data_dir, download=download)
    rng = np.random.default_rng([seed, _SPLIT_STREAM[split]])
    images, boxes = clutter(mnist.x, canvas, n_crops, crop_size, rng)
    return LabeledData(
        name,
        split,
        images,
        mnist.fine,
        dict(mnist.coarse),
        mnist.fine_names,
        dict(mnist.coarse_names),
        {"box": boxes, "seed": seed, "source": mnist.meta["source"]},
    )


@register(
    "cluttered_mnist10k",
    kind="real",
    splits=("train", "test"),
    description="Cluttered MNIST (as cluttered_mnist) built from mnist10k, the 10,000 MNIST test digits cut 80/20",
)
def cluttered_mnist10k(
    split: str,
    *,
    data_dir: Path,
    download: bool,
    canvas: int = 60,
    n_crops: int = 12,
    crop_size: int = 10,
    seed: int = 0,
) -> LabeledData:
    """The Cluttered-MNIST variant of :func:`cluttered_mnist`, built from ``mnist10k``'s ``split``.

    For machines with only MNIST's test files: the 8,000 training and 2,000 test digits
    of ``mnist10k`` (stratified, seed 0), each on a ``canvas x canvas`` field with
    ``n_crops`` random ``crop_size`` crops of itself (:func:`clutter`). The clutter is cut
    from the digit itself, as in the paper, so no other digit is needed.
    ``meta["box"]``: the original digit's box.
    """
    return _cluttered("cluttered_mnist10k", "mnist10k", split, data_dir, download, canvas, n_crops, crop_size, seed)


# --------------------------------------------------------------------------- several labels per input


def _as_pair(name: str, value: Any) -> tuple[Any, Any]:
    """``value`` as a pair ``(a, b)`` (a tuple, list or 1-D array of two entries), else raise."""
    if isinstance(value, str | bytes) or not hasattr(value, "__len__") or np.ndim(value) != 1 or len(value) != 2:
        raise TypeError(f"Expected `{name}` to be a pair (a, b), got {value!r}")
    return value[0], value[1]


@register(
    "annotator_counts",
    kind="embedded",
    splits=("all",),
    description="seeded synthetic annotator label counts with confusable class pairs (CIFAR-10H layout)",
)
def annotator_counts(
    split: str = "all",
    n_items: int = 2000,
    n_classes: int = 10,
    annotators: tuple[int, int] = (47, 63),
    ambiguity: tuple[float, float] = (0.5, 4.0),
    partner_share: float = 0.8,
    seed: int = 0,
) -> LabeledData:
    """Synthetic annotator counts with structured disagreement, laid out like CIFAR-10H.

    Item ``i`` has a true class :math:`c_i` (uniform) and an ambiguity
    :math:`\\varepsilon_i \\sim \\mathrm{Beta}(a, b)` (``ambiguity``). Classes come in
    confusable pairs :math:`(0, 1), (2, 3), \\dots` (like cat/dog or
    automobile/truck): a confused annotator picks the partner with probability
    ``partner_share`` and another class uniformly otherwise. Each item gets
    :math:`n_i \\sim U\\{\\text{annotators}\\}` labels,

    .. math::

        c_{i\\cdot} \\sim \\mathrm{Multinomial}\\big(n_i,\\,
        (1 - \\varepsilon_i)\\, e_{c_i} + \\varepsilon_i\\, s_{c_i}\\big).

    ``fine``: the label distribution of each item (float32 ``(N, K)``);
    ``meta["counts"]``: the counts; coarsening ``"majority"``; ``x``: item indices.

    Parameters
    ----------
    annotators : (int, int)
        ``(low, high)``, integers with ``1 <= low <= high``: the range of the number of
        labels per item. A tuple, list or array of two entries; anything else raises.
    ambiguity : (float, float)
        The Beta parameters ``(a, b)`` of the ambiguity, both finite and > 0; a pair as
        for ``annotators``.
    """
    check_positive_int("n_items", n_items)
    check_positive_int("n_classes", n_classes, minimum=2)
    if n_classes % 2:
        raise ValueError(f"Expected an even `n_classes` (classes come in pairs), got {n_classes}")
    lo, hi = _as_pair("annotators", annotators)
    lo = check_positive_int("annotators", lo)
    hi = check_positive_int("annotators", hi)
    if hi < lo:
        raise ValueError(f"Expected `annotators` as (low, high) with low <= high, got {annotators}")
    for v in _as_pair("ambiguity", ambiguity):
        check_number("ambiguity", v, low=0, low_inclusive=False)
    check_number("partner_share", partner_share, low=0, high=1)
    check_positive_int("seed", seed, minimum=0)
    rng = np.random.default_rng([seed, _SPLIT_STREAM["all"]])
    k = n_classes
    confusion = np.full((k, k), (1 - partner_share) / (k - 2) if k > 2 else 0.0)
    for c in range(k):
        confusion[c, c] = 0.0
        confusion[c, c ^ 1] = partner_share if k > 2 else 1.0
    true = rng.integers(0, k, n_items)
    eps = rng.beta(*ambiguity, n_items)
    p = (1 - eps)[:, None] * np.eye(k)[true] + eps[:, None] * confusion[true]
    n = rng.integers(lo, hi + 1, n_items)
    counts = torch.as_tensor(np.stack([rng.multinomial(n[i], p[i]) for i in range(n_items)]), dtype=torch.int64)
    names = tuple(f"class{c}" for c in range(k))
    return LabeledData(
        "annotator_counts",
        split,
        torch.arange(n_items),
        counts.float() / counts.sum(1, keepdim=True),
        {"majority": counts.argmax(1)},
        names,
        {"majority": names},
        {"counts": counts, "true": torch.as_tensor(true), "seed": seed},
    )
