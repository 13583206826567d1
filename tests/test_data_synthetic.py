"""The FIERCE chapter's embedded generators: linear mixing and ellipse sizes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from c2f_utils import data


def test_synthetic_unmixing_follows_the_linear_mixing_model():
    full = data.load("synthetic_unmixing", "all", n_pixels=3000, snr_db=25.0, seed=3)
    a, m = full.fine.double(), full.meta["endmembers"].double()
    assert full.x.shape == (3000, 144) and a.shape == (3000, 4)
    assert torch.allclose(a.sum(1), torch.ones(3000, dtype=torch.float64), atol=1e-5) and (a >= 0).all()
    assert m.min() >= 0.05 - 1e-6 and m.max() <= 0.95 + 1e-6
    clean = a @ m
    noise = full.x.double() - clean
    snr = 10 * torch.log10(clean.square().mean() / noise.var())
    assert float(snr) == pytest.approx(25.0, abs=0.2)
    assert torch.equal(full.coarse["argmax"], full.fine.argmax(1))


def test_synthetic_unmixing_split_is_seeded_stratified_and_disjoint():
    train = data.load("synthetic_unmixing", "train", n_pixels=1000, seed=1)
    again = data.load("synthetic_unmixing", "train", n_pixels=1000, seed=1)
    test = data.load("synthetic_unmixing", "test", n_pixels=1000, seed=1)
    assert torch.equal(train.x, again.x)
    assert len(train) + len(test) == 1000
    rows = {tuple(r) for r in train.x[:, :5].tolist()}
    assert not any(tuple(r) in rows for r in test.x[:, :5].tolist())
    share = train.labels("argmax").bincount() / len(train)
    assert torch.allclose(share, test.labels("argmax").bincount() / len(test), atol=0.03)


def test_concentration_controls_purity():
    pure = data.load("synthetic_unmixing", "all", n_pixels=2000, concentration=0.1).fine.max(1).values.mean()
    mixed = data.load("synthetic_unmixing", "all", n_pixels=2000, concentration=10.0).fine.max(1).values.mean()
    assert pure > 0.8 and mixed < 0.45  # uniform on the simplex (alpha = 1) gives about 0.52


def test_synthetic_sizes_targets_images_and_median_split():
    train = data.load("synthetic_sizes", "train", n_images=600, size=16, min_radius=1.6, max_radius=5.0)
    test = data.load("synthetic_sizes", "test", n_images=600, size=16, min_radius=1.6, max_radius=5.0)
    assert train.x.shape == (600, 1, 16, 16) and train.x.min() >= 0 and train.x.max() <= 1
    assert train.fine.min() >= 1.6 and train.fine.max() <= 5.0
    assert train.labels("median").float().mean() == pytest.approx(0.5, abs=0.01)
    median = train.meta["median_radius"]
    assert torch.equal(test.labels("median"), (test.fine > median).long())
    assert not torch.equal(train.x, test.x)
    # The drawn area grows with the target: bright-pixel count correlates with the radius.
    bright = (train.x > 0.55).flatten(1).sum(1).float().numpy()
    assert np.corrcoef(bright, train.fine.numpy())[0, 1] > 0.6


def test_generator_arguments_are_validated():
    with pytest.raises(ValueError, match="concentration"):
        data.load("synthetic_unmixing", "all", concentration=0.0)
    with pytest.raises(ValueError, match="max_radius"):
        data.load("synthetic_sizes", "train", size=16, max_radius=8.0)
