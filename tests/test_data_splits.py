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


def _image(rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """Row-major pixel coordinates of a ``rows x cols`` image and a class per pixel (three vertical bands)."""
    r, c = np.divmod(np.arange(rows * cols), cols)
    return np.stack([r, c], 1), (3 * c) // cols


def test_block_split_holds_out_whole_quadrants_of_a_two_by_two_grid() -> None:
    coords, labels = _image(10, 8)
    kept, held = data.block_split(coords, labels, 0.25, 2, seed=3)
    quadrants = {(r < 5, c < 4) for r, c in coords[held]}
    assert len(quadrants) == 1 and len(held) == 20  # one quadrant of 5 x 4 pixels, every one of them
    assert np.array_equal(np.sort(np.concatenate([kept, held])), np.arange(80))


@pytest.mark.parametrize("seed", range(4))
def test_block_split_partitions_the_pixels_into_whole_contiguous_blocks(seed: int) -> None:
    coords, labels = _image(95, 95)
    kept, held = data.block_split(coords, labels, 0.2, 5, seed)
    assert np.intersect1d(kept, held).size == 0 and len(kept) + len(held) == 95 * 95
    mask = np.zeros((95, 95), dtype=bool)
    mask[coords[held, 0], coords[held, 1]] = True
    tiles = mask.reshape(5, 19, 5, 19).transpose(0, 2, 1, 3).reshape(25, -1)  # the 19 x 19 blocks
    assert set(tiles.all(1) | ~tiles.any(1)) == {True}  # every block wholly held out or wholly kept
    assert tiles.all(1).sum() == 5  # a fifth of the blocks
    shares = np.bincount(labels[held], minlength=3) / len(held)
    assert 0.5 * np.abs(shares - np.bincount(labels) / len(labels)).sum() <= data.splits.BLOCK_TOLERANCE
    again = data.block_split(coords, labels, 0.2, 5, seed)
    assert np.array_equal(again[1], held)


def test_block_split_draws_other_blocks_with_other_seeds_and_names_bad_arguments() -> None:
    coords, labels = _image(20, 20)
    assert len({tuple(data.block_split(coords, labels, 0.2, 5, s)[1][:5]) for s in range(5)}) > 1
    with pytest.raises(ValueError, match="`coordinates`"):
        data.block_split(coords.astype(float), labels, 0.2, 5, 0)
    with pytest.raises(ValueError, match="`labels`"):
        data.block_split(coords, labels[:-1], 0.2, 5, 0)
    with pytest.raises(ValueError, match="`fraction`"):
        data.block_split(coords, labels, 0.99, 2, 0)
