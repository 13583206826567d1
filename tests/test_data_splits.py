"""Class splits against naive index arithmetic on the embedded digits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from c2f_utils import data


@pytest.fixture(scope="module")
def digits() -> data.LabeledData:
    return data.load("digits", "train")


def test_class_subset_keeps_exactly_the_classes_in_order(digits) -> None:
    sub = data.class_subset(digits, [7, 2])
    expected = [i for i, y in enumerate(digits.fine.tolist()) if y in (7, 2)]
    assert torch.equal(sub.x, digits.x[expected])
    relabelled = data.class_subset(digits, [7, 2], relabel=True)
    assert relabelled.fine.tolist() == [0 if y == 7 else 1 for y in digits.fine[expected].tolist()]
    assert relabelled.coarse == {}


def test_few_shot_split_matches_a_naive_draw(digits) -> None:
    train, val = data.few_shot_split(digits, range(5, 10), 3, np.random.default_rng([4, 6]))
    rng = np.random.default_rng([4, 6])
    tr, va = [], []
    for c in range(5, 10):
        chosen = rng.permutation(np.nonzero(digits.fine.numpy() == c)[0])[:6]
        tr += chosen[:3].tolist()
        va += chosen[3:].tolist()
    assert torch.equal(train.x, digits.x[tr]) and torch.equal(val.x, digits.x[va])
    assert train.fine.tolist() == (digits.fine[tr] - 5).tolist()
    assert not set(tr) & set(va)


def test_holdout_split_partitions_the_samples(digits) -> None:
    fit, held = data.holdout_split(digits, 0.2, np.random.default_rng(7))
    assert len(held) == len(digits) // 5 and len(fit) + len(held) == len(digits)
    mask = np.zeros(len(digits), bool)
    mask[np.random.default_rng(7).permutation(len(digits))[: len(digits) // 5]] = True
    assert torch.equal(held.x, digits.x[torch.as_tensor(mask)])


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda d: data.class_subset(d, []), "classes"),
        (lambda d: data.class_subset(d, [1, 1]), "classes"),
        (lambda d: data.class_subset(d, [42]), "absent"),
        (lambda d: data.few_shot_split(d, [1], 0, np.random.default_rng(0)), "shots"),
        (lambda d: data.few_shot_split(d, [1], 10_000, np.random.default_rng(0)), "shots"),
        (lambda d: data.few_shot_split(d, [1], 2, 0), "rng"),
        (lambda d: data.holdout_split(d, 1.5, np.random.default_rng(0)), "fraction"),
    ],
)
def test_bad_arguments_are_named(digits, call, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        call(digits)
