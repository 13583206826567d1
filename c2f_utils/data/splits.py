"""Class splits of a :class:`~c2f_utils.data.LabeledData`: base/novel classes, few-shot draws, hold-outs.

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

__all__ = ["class_subset", "few_shot_split", "holdout_split"]


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
