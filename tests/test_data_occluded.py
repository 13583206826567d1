"""Occluded / cluttered images and annotator counts: layout, independence, determinism, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from c2f_utils import data
from c2f_utils.data.occluded import clutter, occlude


def test_occlude_paints_the_occluder_in_its_box_only() -> None:
    images = torch.full((3, 3, 10, 10), 0.2)
    occluders = torch.zeros(3, 1, 4, 4)
    occluders[:, :, 1:3, 1:3] = 1.0
    out, boxes = occlude(images, occluders, np.random.default_rng(0))
    for i, (t, left, h, w) in enumerate(boxes.tolist()):
        assert (h, w) == (4, 4)
        inside = out[i, :, t : t + h, left : left + w]
        assert torch.allclose(inside[:, 1:3, 1:3], torch.ones(3, 2, 2))
        mask = torch.ones(10, 10, dtype=torch.bool)
        mask[t + 1 : t + 3, left + 1 : left + 3] = False
        assert torch.allclose(out[i][:, mask], torch.full((3, int(mask.sum())), 0.2))
    with pytest.raises(ValueError, match="occluders"):
        occlude(images, torch.zeros(3, 1, 11, 11), np.random.default_rng(0))


def test_clutter_places_the_digit_in_its_box_and_crops_elsewhere() -> None:
    digit = torch.zeros(2, 1, 8, 8)
    digit[:, 0, 2:6, 3:5] = 1.0
    out, boxes = clutter(digit, 24, n_crops=5, crop_size=3, rng=np.random.default_rng(1))
    assert out.shape == (2, 1, 24, 24)
    for i, (t, left, h, w) in enumerate(boxes.tolist()):
        assert torch.equal(out[i, 0, t : t + h, left : left + w] >= digit[i, 0], torch.ones(8, 8, dtype=torch.bool))
        assert out[i].sum() > digit[i].sum()  # crops add ink outside the digit
    assert float(out.max()) <= 1.0
    with pytest.raises(ValueError, match="canvas"):
        clutter(digit, 6, 1, 3, np.random.default_rng(0))


def test_occluded_digits_layout_determinism_and_independent_nuisance() -> None:
    a = data.load("occluded_digits", "train")
    b = data.load("occluded_digits", "train")
    assert torch.equal(a.x, b.x) and torch.equal(a.meta["nuisance"], b.meta["nuisance"])
    assert a.x.shape[1:] == (3, 16, 16) and float(a.x.min()) >= 0 and float(a.x.max()) <= 1
    assert len(a) == 2 * len(data.load("digits", "train"))
    other = data.load("occluded_digits", "train", seed=1)
    assert not torch.equal(a.x, other.x)
    # The nuisance is drawn independently of the label: its accuracy from the label is near chance.
    table = np.zeros((10, 10))
    np.add.at(table, (a.fine.numpy(), a.meta["nuisance"].numpy()), 1)
    assert table.max(1).sum() / table.sum() < 0.2
    with pytest.raises(ValueError, match="occluder_size"):
        data.load("occluded_digits", "train", occluder_size=20)


def test_cluttered_digits_boxes_hold_the_digit() -> None:
    d = data.load("cluttered_digits", "test", copies=1)
    assert d.x.shape[1:] == (1, 32, 32) and d.meta["box"].shape == (len(d), 4)
    t, left, h, w = d.meta["box"].T
    assert bool(((t + h <= 32) & (left + w <= 32)).all()) and bool((h == 16).all())


def test_annotator_counts_layout_and_disagreement() -> None:
    d = data.load("annotator_counts", "all", n_items=500)
    counts = d.meta["counts"]
    assert counts.shape == (500, 10) and bool((counts.sum(1) >= 47).all()) and bool((counts.sum(1) <= 63).all())
    assert torch.allclose(d.fine.sum(1), torch.ones(500))
    # Most disagreement goes to the paired class (0<->1, 2<->3, ...).
    true = d.meta["true"]
    partner = counts[torch.arange(500), true ^ 1].sum()
    others = counts.sum() - counts[torch.arange(500), true].sum() - partner
    assert partner > 2 * others
    assert float((d.coarse["majority"] == true).float().mean()) > 0.9
    with pytest.raises(ValueError, match="n_classes"):
        data.load("annotator_counts", "all", n_classes=5)


@pytest.mark.slow
@pytest.mark.realdata
def test_occluded_cifar_and_cluttered_mnist_from_the_shared_data(shared_data) -> None:
    with pytest.warns(data.real.LossySourceWarning):  # the shared folder has the JPEG copy, not the batches
        occ = data.load("occluded_cifar", "test", data_dir=shared_data, source="cifar10_jpeg")
    assert occ.x.shape == (10000, 3, 32, 32) and occ.meta["nuisance"].shape == (10000,)
    assert set(occ.meta["nuisance"].unique().tolist()) == set(range(10))
    cl = data.load("cluttered_mnist", "test", data_dir=shared_data)
    assert cl.x.shape == (10000, 1, 60, 60)
    t, left, h, _w = cl.meta["box"].T
    assert bool((h == 28).all()) and bool((t + 28 <= 60).all()) and bool((left + 28 <= 60).all())


@pytest.mark.slow
@pytest.mark.realdata
def test_offline_builders_need_only_the_mnist_test_digits(shared_data) -> None:
    # The shared folder has MNIST's test files alone: both builders read them, not the training digits.
    assert not (shared_data / "mnist" / "train-images-idx3-ubyte.gz").exists()
    cl = {s: data.load("cluttered_mnist10k", s, data_dir=shared_data) for s in ("train", "test")}
    assert cl["train"].x.shape == (8000, 1, 60, 60) and cl["test"].x.shape == (2000, 1, 60, 60)
    with pytest.warns(data.real.LossySourceWarning):
        occ = data.load("occluded_cifar10_jpeg", "train", data_dir=shared_data)
    assert occ.x.shape == (20000, 3, 32, 32) and set(occ.meta["nuisance"].unique().tolist()) == set(range(10))


def test_real_builders_fail_clearly_without_files(tmp_path) -> None:
    with pytest.raises(data.DatasetNotFoundError, match="mnist"):
        data.load("cluttered_mnist", "train", data_dir=tmp_path, download=False)
    with pytest.raises(data.DatasetNotFoundError, match="cifar10"):
        data.load("occluded_cifar", "train", data_dir=tmp_path, download=False)
    with pytest.raises(data.DatasetNotFoundError, match="mnist"):
        data.load("cluttered_mnist10k", "train", data_dir=tmp_path, download=False)
    with pytest.raises(data.DatasetNotFoundError, match="cifar10"):
        data.load("occluded_cifar10_jpeg", "train", data_dir=tmp_path, download=False)
