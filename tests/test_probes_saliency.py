"""Grad-CAM through the grad-cam package against a by-hand Grad-CAM; the box-mass score."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from c2f_utils.models import LeNet5
from c2f_utils.probes import box_area_fraction, box_mass, gradcam_maps


def _by_hand(model: LeNet5, images: torch.Tensor, targets: torch.Tensor) -> np.ndarray:
    """Selvaraju et al. (2017): ReLU(sum_k mean(dy/dA_k) A_k); min-max scaled, upsampled, scaled again
    (the package's order of post-processing)."""
    store = {}
    handle = model.conv2.register_forward_hook(lambda m, i, o: store.update(a=o))
    logits = model(images).logits
    handle.remove()
    acts = store["a"]
    (grads,) = torch.autograd.grad(logits[torch.arange(len(images)), targets].sum(), acts)
    cam = F.relu((grads.mean(dim=(2, 3), keepdim=True) * acts).sum(1)).detach().numpy()
    import cv2  # the package's own resize, so that only the Grad-CAM formula is compared

    def scale(c: np.ndarray) -> np.ndarray:
        c = c - c.min()
        return c / (c.max() + 1e-7)

    return np.stack([scale(cv2.resize(np.float32(scale(c)), images.shape[-2:][::-1])) for c in cam])


def test_gradcam_matches_the_formula_and_restores_the_mode() -> None:
    torch.manual_seed(0)
    model = LeNet5(10, in_channels=1)
    images = torch.rand(4, 1, 32, 32)
    targets = torch.tensor([0, 3, 5, 9])
    model.train()
    maps = gradcam_maps(model, images, model.conv2, targets)
    assert model.training
    assert maps.shape == (4, 32, 32) and (maps >= 0).all()
    model.eval()
    np.testing.assert_allclose(maps, _by_hand(model, images, targets), atol=1e-5)
    default = gradcam_maps(model, images, model.conv2)  # predicted class
    np.testing.assert_allclose(default, _by_hand(model, images, model(images).logits.argmax(1)), atol=1e-5)


def test_gradcam_argument_errors() -> None:
    model = LeNet5(10, in_channels=1)
    with pytest.raises(ValueError, match="target_layer"):
        gradcam_maps(model, torch.rand(2, 1, 32, 32), nn.Conv2d(1, 1, 1))
    with pytest.raises(ValueError, match="images"):
        gradcam_maps(model, torch.rand(1, 32, 32), model.conv2)
    with pytest.raises((ValueError, TypeError), match="targets"):
        gradcam_maps(model, torch.rand(2, 1, 32, 32), model.conv2, torch.tensor([0.0, 1.0]))


def test_box_mass() -> None:
    maps = np.zeros((3, 10, 10))
    maps[0, 2:4, 2:4] = 1.0  # all mass in the box
    maps[1] = 1.0  # uniform
    boxes = np.array([[1, 1, 5, 5], [0, 0, 5, 10], [0, 0, 2, 2]])
    got = box_mass(maps, boxes)
    assert got[0] == pytest.approx(1.0)
    assert got[1] == pytest.approx(0.5) == box_area_fraction(boxes, 10, 10)[1]
    assert np.isnan(got[2])  # an empty map has no share to report
    rng = np.random.default_rng(0)
    m = rng.random((5, 8, 8))
    b = np.array([[1, 2, 3, 4]] * 5)
    np.testing.assert_allclose(box_mass(m, b), m[:, 1:4, 2:6].sum((1, 2)) / m.sum((1, 2)))
    with pytest.raises(ValueError, match="boxes"):
        box_mass(m, b[:3])
    with pytest.raises(ValueError, match="non-negative"):
        box_mass(-m, b)
