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


def _painted_fraction(boxes: list[list[int]], height: int, width: int) -> list[float]:
    """Independent reference: paint each box (Python ints, clipped by slicing) and count its pixels."""
    out = []
    for top, left, h, w in boxes:
        mask = np.zeros((height, width), bool)
        mask[top : top + h, left : left + w] = True
        out.append(float(mask.mean()))
    return out


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int64, np.float64])
def test_box_area_fraction_computes_geometry_in_int64_whatever_the_dtype(dtype: type) -> None:
    boxes = [[150, 0, 120, 224], [0, 0, 224, 224], [200, 100, 30, 50]]  # 150 + 120 wraps in uint8
    got = box_area_fraction(np.array(boxes).astype(dtype), 224, 224)
    np.testing.assert_allclose(got, _painted_fraction(boxes, 224, 224), rtol=0, atol=1e-15)
    assert got[0] == pytest.approx(74 / 224)
    np.testing.assert_allclose(box_area_fraction(torch.tensor(boxes, dtype=torch.uint8), 224, 224), got)


def test_box_area_fraction_normal_boxes_unchanged() -> None:
    boxes = np.array([[2, 2, 4, 4], [0, 0, 8, 8], [1, 3, 2, 5], [6, 6, 4, 4]])
    expected = np.array([16, 64, 10, 4]) / 64.0  # the last one clipped at the image's edge
    assert np.array_equal(box_area_fraction(boxes, 8, 8), expected)


@pytest.mark.parametrize("box", [[10, 0, 2, 8], [0, 8, 2, 2], [224, 0, 1, 1]])
def test_boxes_outside_the_image_are_refused(box: list[int]) -> None:
    with pytest.raises(ValueError, match="`boxes` with corners inside"):
        box_area_fraction(np.array([box]), 8, 8)
    with pytest.raises(ValueError, match="`boxes` with corners inside"):
        box_mass(np.ones((1, 8, 8)), np.array([box]))


def test_box_mass_of_a_uniform_map_is_the_painted_area_for_uint8_boxes() -> None:
    boxes = [[150, 0, 120, 224], [10, 20, 30, 40]]
    got = box_mass(np.ones((2, 224, 224)), np.array(boxes, dtype=np.uint8))
    np.testing.assert_allclose(got, _painted_fraction(boxes, 224, 224), atol=1e-12)


def test_bool_boxes_and_huge_sizes() -> None:
    with pytest.raises(TypeError, match="`boxes`"):
        box_area_fraction(np.ones((1, 4), bool), 8, 8)
    np.testing.assert_allclose(box_area_fraction(np.array([[2.0, 0.0, 1e200, 1e200]]), 8, 8), [0.75])


def test_gradcam_maps_casts_float64_images_to_the_model_dtype() -> None:
    torch.manual_seed(0)
    model = LeNet5(n_classes=3, feature_dim=10)
    images = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(5))
    targets = torch.tensor([0, 1])
    np.testing.assert_array_equal(
        gradcam_maps(model, images.double(), model.conv2, targets), gradcam_maps(model, images, model.conv2, targets)
    )
    with pytest.raises(ValueError, match=r"`images` within the range of torch\.float32"):
        gradcam_maps(model, images.double() * 1e200, model.conv2, targets)
