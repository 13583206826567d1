"""Grad-CAM saliency (with the ``grad-cam`` package) and where its mass lies.

Kudo (TMLR 2025, §5.3.2, Figures 7-8) shows Grad-CAM maps (Selvaraju et al. 2017) of
networks trained on a cluttered-digit dataset: a model that ignores the redundant
clutter puts its saliency on the original digit. :func:`box_mass` turns that picture
into a number: the share of each map's mass inside the digit's box.

References
----------
.. [1] R. R. Selvaraju, M. Cogswell, A. Das, R. Vedantam, D. Parikh, D. Batra. Grad-CAM:
   Visual Explanations from Deep Networks via Gradient-based Localization. ICCV 2017.
.. [2] S. Kudo. Label Smoothing is a Pragmatic Information Bottleneck. TMLR 2025.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from .._checks import as_array, check_integer_values, check_labels, check_module, check_positive_int, check_tensor

__all__ = ["box_area_fraction", "box_mass", "gradcam_maps"]


class _LogitsOnly(nn.Module):
    """The book's models return ``(logits, features)``; grad-cam expects the logits."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x).logits


def gradcam_maps(
    model: nn.Module,
    images: Tensor,
    target_layer: nn.Module,
    targets: Tensor | None = None,
    batch_size: int = 256,
) -> np.ndarray:
    """Grad-CAM maps of ``model`` on ``images``, computed by ``pytorch_grad_cam.GradCAM``.

    .. math::

        L^c = \\operatorname{ReLU}\\Big(\\sum_k \\alpha^c_k A^k\\Big), \\qquad
        \\alpha^c_k = \\frac{1}{Z} \\sum_{u, v} \\frac{\\partial y^c}{\\partial A^k_{uv}}

    with :math:`A^k` the activations of ``target_layer``, upsampled to the image size
    and min-max scaled per image to [0, 1] by the package.

    Parameters
    ----------
    model : nn.Module
        A book model returning :class:`~c2f_utils.models.ModelOutput`; used in eval mode
        on the device of its parameters.
    images : Tensor ``(N, C, H, W)``
        ``N >= 1`` floating-point images with finite values, cast to the dtype of ``model``.
    target_layer : nn.Module
        A module of ``model`` producing feature maps (e.g. the last convolution or the
        last residual stage).
    targets : Tensor of int ``(N,)``, optional
        Class whose score is explained, in ``[0, K)`` for the ``K`` logits of ``model``;
        by default the predicted class.
    batch_size : int
        Images per Grad-CAM call.

    Returns
    -------
    numpy.ndarray ``(N, H, W)``
        Non-negative maps.
    """
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    check_module("model", model)
    check_tensor("images", images, ndim=4, floating=True)
    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), images.dtype)
    if images.dtype != dtype:  # float64 or half-precision images for a float32 model: computed in its dtype
        images = images.to(dtype)
        if images.device.type == "cpu" and not bool(torch.isfinite(images).all()):
            raise ValueError(f"Expected `images` within the range of {dtype} (the model's dtype), got larger values")
    if not any(m is target_layer for m in model.modules()):
        raise ValueError("Expected `target_layer` to be a module of `model`")
    batch_size = check_positive_int("batch_size", batch_size)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = []
    try:
        if targets is not None:
            with torch.no_grad():
                n_classes = model(images[:1].to(device)).logits.shape[1]
            check_labels("targets", targets, num_classes=n_classes, rows=len(images), like="images")
        with GradCAM(model=_LogitsOnly(model), target_layers=[target_layer]) as cam:
            for i in range(0, len(images), batch_size):
                batch = images[i : i + batch_size].to(device)
                chosen = None
                if targets is not None:
                    chosen = [ClassifierOutputTarget(int(c)) for c in targets[i : i + batch_size]]
                out.append(np.asarray(cam(input_tensor=batch, targets=chosen), dtype=np.float64))
    finally:
        model.train(was_training)
    if sum(len(o) for o in out) != len(images):  # grad-cam reports an error in its block and swallows it
        raise RuntimeError(f"Grad-CAM returned maps for {sum(len(o) for o in out)} of {len(images)} images")
    return np.concatenate(out)


def box_mass(maps: np.ndarray | Tensor, boxes: np.ndarray | Tensor) -> np.ndarray:
    """Share of each saliency map's mass inside a box.

    .. math::

        s_i = \\frac{\\sum_{(u, v) \\in B_i} L_i(u, v)}{\\sum_{u, v} L_i(u, v)}

    A map that puts all its mass on the box scores 1; a uniform map scores the box's
    area fraction. Maps with no mass at all (Grad-CAM returns zeros when no location
    raises the class score) score NaN rather than a made-up value.

    Parameters
    ----------
    maps : array ``(N, H, W)``
        ``N >= 1`` finite, non-negative maps.
    boxes : array of int ``(N, 4)``
        ``(top, left, height, width)`` of each box: corners >= 0 and inside the map, sizes >= 1
        (a box reaching over the map's edge is clipped to it).
    """
    m = as_array("maps", maps, 3)
    if not isinstance(maps, Tensor):
        m = m.astype(np.float64)
    if len(m) == 0:
        raise ValueError(f"Expected `maps` with at least one map, got shape {m.shape}")
    if (m < 0).any():
        raise ValueError(f"Expected non-negative `maps`, got a minimum of {m.min()}")
    b = _boxes(boxes, m.shape[1], m.shape[2])
    if len(b) != len(m):
        raise ValueError(f"Expected `boxes` with one box per map of `maps` ({len(m)}), got shape {b.shape}")
    total = m.sum(axis=(1, 2))
    inside = np.array([m[i, t : t + h, left : left + w].sum() for i, (t, left, h, w) in enumerate(b.astype(int))])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, inside / np.where(total > 0, total, 1.0), np.nan)


def _boxes(boxes: np.ndarray | Tensor, height: int, width: int) -> np.ndarray:
    """``boxes`` as an ``(N, 4)`` int64 array of corners inside a ``height x width`` image and positive sizes.

    Geometry is computed in int64 whatever the dtype given: a corner plus a size in ``uint8``
    would wrap around (150 + 120 = 14)."""
    b = as_array("boxes", boxes, 2)
    if b.shape[1] != 4:
        raise ValueError(f"Expected `boxes` of shape (N, 4) (top, left, height, width), got {b.shape}")
    if b.dtype.kind == "b":
        raise TypeError(f"Expected `boxes` to hold integers, got dtype {b.dtype}")
    check_integer_values("boxes", b)
    if (b[:, :2] < 0).any() or (b[:, 2:] <= 0).any():
        raise ValueError("Expected `boxes` with non-negative corners and positive sizes")
    # sizes beyond any image are clipped to it anyway; the clip keeps huge whole floats out of int64 overflow
    b = (np.minimum(b, 2.0**40) if b.dtype.kind == "f" else b).astype(np.int64)
    outside = (b[:, 0] >= height) | (b[:, 1] >= width)
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise ValueError(
            f"Expected `boxes` with corners inside the {height}x{width} image, got box {i} {b[i].tolist()} outside it"
        )
    return b


def box_area_fraction(boxes: np.ndarray | Tensor, height: int, width: int) -> np.ndarray:
    """Area of each box (clipped to the image) over the image's: the score of a uniform map.

    Parameters
    ----------
    boxes : array of int ``(N, 4)``
        ``(top, left, height, width)`` of each box: corners >= 0 and inside the image, sizes >= 1.
    height, width : int
        Size of the image, >= 1.
    """
    height = check_positive_int("height", height)
    width = check_positive_int("width", width)
    b = _boxes(boxes, height, width)
    h = np.minimum(b[:, 0] + b[:, 2], height) - b[:, 0]
    w = np.minimum(b[:, 1] + b[:, 3], width) - b[:, 1]
    return (h * w) / float(height * width)
