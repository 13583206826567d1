"""Class splits of a :class:`~c2f_utils.data.LabeledData`: base/novel classes, few-shot draws, hold-outs,
and spatially blocked splits of an image's pixels (:func:`block_split`).

Transfer and few-shot experiments train on some classes and evaluate on others
(FIERCE's few-shot Table 2, the OT chapter's target task); these functions cut a
dataset by its fine labels, seeded by a :class:`numpy.random.Generator` so that a
split is a function of its seed.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence

import numpy as np
import torch

from .._checks import check_bool, check_number, check_positive_int
from .core import LabeledData

__all__ = ["BLOCK_DRAWS", "BLOCK_TOLERANCE", "block_split", "class_subset", "few_shot_split", "holdout_split"]


def _check_data(data: LabeledData) -> None:
    if not isinstance(data, LabeledData):
        raise TypeError(f"Expected `data` to be a LabeledData, got {type(data).__name__}")
    if len(data) == 0:
        raise ValueError(f"Expected `data` with at least one sample, got none ({data.name}/{data.split})")


def _classes(data: LabeledData, classes: Sequence[int]) -> list[int]:
    _check_data(data)
    if data.fine.is_floating_point():
        raise ValueError(f"Expected `data` with integer fine labels, got continuous targets ({data.name})")
    if isinstance(classes, str | bytes) or not isinstance(classes, Iterable):
        raise TypeError(f"Expected `classes` to be a sequence of integer labels, got {classes!r}")
    out = []
    for c in classes:
        if isinstance(c, bool | np.bool_) or not isinstance(c, numbers.Integral):
            raise TypeError(f"Expected `classes` to hold integer labels, got {c!r} in {classes!r}")
        out.append(int(c))
    if not out or len(set(out)) != len(out):
        raise ValueError(f"Expected `classes` to be distinct fine labels, got {list(classes)!r}")
    present = set(data.fine.unique().tolist())
    missing = [c for c in out if c not in present]
    if missing:
        raise ValueError(f"Expected `classes` among the labels of {data.name}/{data.split}, got absent {missing}")
    return out


def _check_rng(rng: np.random.Generator) -> None:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"Expected `rng` to be a numpy.random.Generator, got {type(rng).__name__}")


def class_subset(data: LabeledData, classes: Sequence[int], *, relabel: bool = False) -> LabeledData:
    """The samples whose fine label is in ``classes``, in their original order.

    With ``relabel`` the fine labels become ``0 .. len(classes) - 1`` in the order of
    ``classes`` (coarsenings are dropped, since they refer to the old labels).

    Parameters
    ----------
    data : LabeledData
        A non-empty dataset with integer fine labels.
    classes : sequence of int
        Distinct fine labels present in ``data`` (a list, tuple, range or integer array;
        a string or non-integer entries raise :class:`TypeError`).
    relabel : bool
        Relabel as above; a Python or NumPy bool (``"no"``, ``1``, ``None`` raise).
    """
    wanted = _classes(data, classes)
    relabel = check_bool("relabel", relabel)
    keep = torch.isin(data.fine, torch.as_tensor(wanted, dtype=data.fine.dtype))
    out = data.subset(torch.nonzero(keep).ravel())
    if not relabel:
        return out
    table = torch.full((int(data.fine.max()) + 1,), -1, dtype=torch.int64)
    table[torch.as_tensor(wanted)] = torch.arange(len(wanted))
    names = tuple(data.fine_names[c] for c in wanted) if data.fine_names else None
    return LabeledData(out.name, out.split, out.x, table[out.fine], {}, names, {}, dict(out.meta))


def few_shot_split(
    data: LabeledData, classes: Sequence[int], shots: int, rng: np.random.Generator
) -> tuple[LabeledData, LabeledData]:
    """``shots`` training and ``shots`` validation samples per class, drawn without overlap.

    For each class in the order given, a random permutation of its samples is drawn
    from ``rng``; the first ``shots`` are training, the next ``shots`` validation.
    Labels are relabelled ``0 .. len(classes) - 1`` in the order of ``classes``.

    Parameters
    ----------
    data : LabeledData
        A non-empty dataset with integer fine labels.
    classes : sequence of int
        Distinct fine labels present in ``data`` (as for :func:`class_subset`).
    shots : int
        Samples per class in each part, an integer >= 1 (NumPy integers too).
    rng : numpy.random.Generator
        Source of the permutations.
    """
    wanted = _classes(data, classes)
    _check_rng(rng)
    shots = check_positive_int("shots", shots)
    train_idx, val_idx = [], []
    for c in wanted:
        idx = torch.nonzero(data.fine == c).ravel().numpy()
        if len(idx) < 2 * shots:
            raise ValueError(f"Expected `shots` <= {len(idx) // 2} for class {c}, got {shots}")
        chosen = rng.permutation(idx)[: 2 * shots]
        train_idx.append(chosen[:shots])
        val_idx.append(chosen[shots:])
    parts = [
        class_subset(data.subset(torch.as_tensor(np.concatenate(i))), wanted, relabel=True)
        for i in (train_idx, val_idx)
    ]
    return parts[0], parts[1]


def holdout_split(data: LabeledData, fraction: float, rng: np.random.Generator) -> tuple[LabeledData, LabeledData]:
    """``(fit, held_out)``: a random ``fraction`` of the samples (rounded down) held out, order kept.

    Parameters
    ----------
    data : LabeledData
        A non-empty dataset.
    fraction : float
        Share held out, in (0, 1) (NumPy floats too).
    rng : numpy.random.Generator
        Source of the permutation.
    """
    _check_data(data)
    fraction = check_number("fraction", fraction, low=0, high=1, low_inclusive=False, high_inclusive=False)
    _check_rng(rng)
    mask = torch.zeros(len(data), dtype=torch.bool)
    mask[torch.as_tensor(rng.permutation(len(data))[: int(len(data) * fraction)])] = True
    return data.subset(~mask), data.subset(mask)


BLOCK_TOLERANCE = 0.05
"""Largest total-variation distance between the class shares of the held-out blocks and those of
all the pixels that :func:`block_split` accepts at once."""
BLOCK_DRAWS = 10_000
"""Seeded draws of held-out blocks :func:`block_split` looks through."""


def block_split(
    coordinates: np.ndarray, labels: np.ndarray, fraction: float, blocks: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    r"""``(kept, held_out)`` row indices of pixels, held out by whole contiguous blocks of the image.

    Neighbouring pixels of a scene are nearly alike: a split into random interleaved pixels
    puts a near copy of almost every test pixel in the training part, and the held-out error
    is the training error. Here the image (``rows x cols``, from the largest coordinates) is
    cut into a grid of ``blocks x blocks`` rectangles (edges at ``round(k * rows / blocks)``),
    and ``k = max(1, round(fraction * B))`` of the ``B`` blocks that hold pixels are held out
    whole. Which ones: the first of :data:`BLOCK_DRAWS` draws of ``k`` blocks (a
    :class:`numpy.random.Generator` seeded with ``seed``) whose held-out pixels have class
    shares (``labels``) within :data:`BLOCK_TOLERANCE` of all the pixels' in total variation,
    :math:`\tfrac12 \sum_c |p_c^{\text{held}} - p_c|`; if none is, the draw with the smallest
    distance. The split is a function of the pixels, the labels and the seed.

    Parameters
    ----------
    coordinates : (N, 2) int array
        Row and column of each pixel in the image, >= 0.
    labels : (N,) int array
        A class per pixel (e.g. the dominant material), >= 0.
    fraction : float
        Target share of the blocks held out, in (0, 1).
    blocks : int
        Blocks per side of the image, >= 2.
    seed : int
        Seed of the draws, >= 0.

    Returns
    -------
    (ndarray, ndarray)
        Sorted row indices of the kept and of the held-out pixels.
    """
    xy = np.asarray(coordinates)
    if xy.ndim != 2 or xy.shape[1] != 2 or len(xy) == 0 or xy.dtype.kind not in "iu" or (xy < 0).any():
        raise ValueError(
            f"Expected `coordinates` as a non-empty (N, 2) array of non-negative integers, "
            f"got shape {xy.shape} and dtype {xy.dtype}"
        )
    y = np.asarray(labels)
    if y.shape != (len(xy),) or y.dtype.kind not in "iu" or (y < 0).any():
        raise ValueError(
            f"Expected `labels` as {len(xy)} non-negative integers (one per pixel), "
            f"got shape {y.shape} and dtype {y.dtype}"
        )
    fraction = check_number("fraction", fraction, low=0, high=1, low_inclusive=False, high_inclusive=False)
    blocks = check_positive_int("blocks", blocks, minimum=2)
    seed = check_positive_int("seed", seed, minimum=0)
    size = xy.max(0) + 1
    edges = [np.rint(np.arange(blocks + 1) * s / blocks) for s in size]
    cell = [np.searchsorted(e, v, side="right") - 1 for e, v in zip(edges, xy.T, strict=True)]
    block = cell[0] * blocks + cell[1]
    present = np.unique(block)
    k = max(1, round(fraction * len(present)))
    if k >= len(present):
        raise ValueError(
            f"Expected `fraction` ({fraction:g}) to leave at least one of the {len(present)} blocks holding pixels, "
            f"got {k} held out (use more `blocks`)"
        )
    n_class = int(y.max()) + 1
    counts = np.zeros((len(present), n_class))
    np.add.at(counts, (np.searchsorted(present, block), y), 1)
    shares = counts.sum(0) / counts.sum()
    rng = np.random.default_rng(seed)
    draws = np.argsort(rng.random((BLOCK_DRAWS, len(present))), axis=1)[:, :k]
    held = counts[draws].sum(1)
    distance = 0.5 * np.abs(held / held.sum(1, keepdims=True) - shares).sum(1)
    close = np.flatnonzero(distance <= BLOCK_TOLERANCE)
    chosen = present[draws[close[0] if len(close) else int(np.argmin(distance))]]
    mask = np.isin(block, chosen)
    return np.flatnonzero(~mask), np.flatnonzero(mask)
