"""Networks and data of "Representation transfer by optimal transport": the chapter's names, its
networks (:data:`NETWORKS`, :func:`make_model`, :func:`imagenet_resnet101`) and how its runs read
their data (class splits, the compression hold-out, central crops, the paper's schedules).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..._checks import check_positive_int

if TYPE_CHECKING:
    import torch
    from torch import nn

    from ... import data as c2f_data
    from ... import models as c2f_models

__all__ = [
    "CNN_DATA",
    "CNN_LAYERS",
    "CNN_NETWORKS",
    "COMPRESSION_METHODS",
    "DIGIT_INPUTS",
    "LABELS",
    "LAYERS",
    "NETWORKS",
    "RESNET_LAYERS",
    "SOURCE",
    "TARGET",
    "TRAINED_SOURCES",
    "TRANSFER_METHODS",
    "imagenet_resnet101",
    "make_model",
]

TRANSFER_METHODS = ("none", "l2", "l2sp", "omega_i", "omega_u", "omega_p")
COMPRESSION_METHODS = ("none", "omega_u", "omega_i", "kd", "omega_p")
_NAMES = ("none", "L2", "L2-SP", "Ω_I (identity)", "Ω_U (uniform)", "Ω_P (OT, ours)", "KD")
LABELS = dict(zip((*TRANSFER_METHODS, "kd"), _NAMES, strict=True))
LAYERS = ("body.1", "body.3", "body.5")
"""The three hidden layers (after their activation) of the transfer MLP; ``body.5`` is the penultimate one."""
RESNET_UNITS = (3, 7, 19, 30, 33)
"""Residual units of ResNet-101 whose pooled outputs Figure 2 compares: the ends of its four
stages (3, 7, 30, 33; 33 is the penultimate representation) and the 19th, the intermediate
unit the paper found best to penalize."""
RESNET_LAYERS = tuple(f"taps.unit{k}" for k in RESNET_UNITS)
"""The modules of :class:`~c2f_utils.models.PretrainedResNet` whose outputs Figure 2 compares in the paper profile."""
SOURCE, TARGET = (0, 1, 2, 3, 4), (5, 6, 7, 8, 9)
"""Quick profile: digits of the source task and of the target task (relabelled 0-4)."""
CIFAR_NETWORKS = {"teacher": (110, 1.0), "M": (56, 1.0), "S": (56, 0.5)}
"""CIFAR-10 networks ``kind -> (depth, width multiplier)`` of :func:`c2f_utils.models.cifar_resnet`:
ResNet-110 stands in for the paper's ResNet-1001 teacher; ResNet-56 and ResNet-56-Slim as in the paper."""
FGVC_SIZE, CROP = 256, 224
"""FGVC-Aircraft images are stored 256 x 256 (shorter edge resized, centre cropped) and seen as 224 x 224 crops."""


DIGIT_INPUTS = {"digits": 64, "mnist10k": 784}
"""Handwritten-digit data sets of the MLP path, and their input size."""
CNN_DATA = "cifar10_jpeg"
"""The real profile's data set (CIFAR-10 read from the shared JPEG copy): LeNet-5 source and
students, a ResNet-8 teacher (:func:`make_model`)."""
TRAINED_SOURCES = (*DIGIT_INPUTS, CNN_DATA)
"""Data sets whose transfer source is trained here on the classes 0-4 (:class:`Reference`)."""
CNN_LAYERS = ("conv1", "conv2", "fc1", "fc2")
"""LeNet-5's layers whose representations Figure 2 compares; its ReLUs are functional, so
each is observed before its ReLU (``fc2`` is the penultimate layer)."""
CNN_NETWORKS = {"source": (5, 84), "M": (10, 64), "S": (10, 32)}
"""LeNet-5s of the real profile, ``kind -> (classes, features)``: the transfer source and the
two students (``"M"``: the ResNet-8 teacher's feature width, 64; ``"S"``: slim, 32)."""


@functools.lru_cache(maxsize=4)
def _read_once(dataset: str, split: str, data_dir: Path) -> c2f_data.LabeledData:
    from ... import data as c2f_data

    return c2f_data.load(dataset, split, data_dir=data_dir)


def load_split(dataset: str, split: str) -> c2f_data.LabeledData:
    """``data.load(dataset, split)``; the CIFAR-10 JPEG folders are read (and their 30,000 files'
    checksum verified) once per process and data folder: a sweep's worker runs many short runs."""
    from ... import data as c2f_data
    from ...paths import data_dir

    if dataset == CNN_DATA:
        return _read_once(dataset, split, data_dir().resolve())
    return c2f_data.load(dataset, split)


def source_holdout(dataset: str) -> tuple[c2f_data.LabeledData, c2f_data.LabeledData]:
    """The training split cut into a fitting part (80%) and a fixed validation part (20%)."""
    from ... import data as c2f_data

    return c2f_data.holdout_split(load_split(dataset, "train"), 0.2, np.random.default_rng(7))


def accuracy_of(model: nn.Module, data: c2f_data.LabeledData, device: torch.device) -> float:
    from ... import train as c2f_train

    return float(
        (c2f_train.extract_features(model, data.x, device=device).logits.argmax(1) == data.fine).float().mean()
    )


_MLPS = {"source": (5, (128, 128), 64), "teacher": (10, (256, 256), 128), "M": (10, (64,), 128), "S": (10, (32,), 32)}
_COLOUR = (3, 32, 32)
NETWORKS: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {
    **{
        dataset: {
            kind: ("mlp", {"n_classes": k, "input_shape": (n_in,), "hidden": h, "feature_dim": f, "activation": "tanh"})
            for kind, (k, h, f) in _MLPS.items()
        }
        for dataset, n_in in DIGIT_INPUTS.items()
    },
    "cifar10": {
        kind: ("cifar_resnet", {"n_classes": 10, "input_shape": _COLOUR, "depth": depth, "width": width})
        for kind, (depth, width) in CIFAR_NETWORKS.items()
    },
    CNN_DATA: {
        "teacher": ("cifar_resnet", {"n_classes": 10, "input_shape": _COLOUR, "depth": 8}),
        **{
            kind: ("lenet5", {"n_classes": k, "input_shape": _COLOUR, "feature_dim": f})
            for kind, (k, f) in CNN_NETWORKS.items()
        },
    },
}
"""The chapter's networks trained from scratch, ``dataset -> kind -> (models.create name, options)``.

``"digits"``: MLPs (tanh), ``"source"`` ``64-128-128-64`` (5 classes), ``"teacher"``
``64-256-256-128``, students ``"M"`` ``64-64-128`` (the teacher's feature width) and ``"S"``
``64-32-32`` (10 classes); ``"mnist10k"``: the same MLPs on 784 pixels.
``"cifar10"``: the CIFAR ResNets of ``CIFAR_NETWORKS``
(teacher ResNet-110 and student ResNet-56, 64 features; student ResNet-56-Slim, 32).
``"cifar10_jpeg"``: colour LeNet-5s of ``CNN_NETWORKS`` (source, 84 features;
students ``"M"``, 64, and ``"S"``, 32) and a ResNet-8 teacher (16/32/64 channels, 64 features)."""


def make_model(kind: str, dataset: str = "digits") -> nn.Module:
    """The network ``kind`` of ``dataset`` (:data:`NETWORKS`), trained from scratch."""
    from ... import models as c2f_models

    if dataset not in NETWORKS:
        raise ValueError(f"Expected `dataset` in {list(NETWORKS)}, got {dataset!r}")
    if kind not in NETWORKS[dataset]:
        raise ValueError(f"Expected `kind` in {list(NETWORKS[dataset])} for dataset {dataset!r}, got {kind!r}")
    name, options = NETWORKS[dataset][kind]
    return c2f_models.create(name, **options)


def imagenet_resnet101(
    n_classes: int, *, weights_dir: str | None = None, download: bool = True
) -> c2f_models.PretrainedResNet:
    """The paper's source network: torchvision's ResNet-101 with its ImageNet weights
    (``ResNet101_Weights.IMAGENET1K_V1``, the original He et al. training) and a new
    ``n_classes`` head, initialised by torch's default (seed it first).

    The weights file ``resnet101-63fe2227.pth`` is read from ``weights_dir``, else
    ``$C2F_WEIGHTS_DIR``, else ``$TORCH_HOME/hub/checkpoints``, its SHA-256 checked,
    and downloaded there when missing and online (see :func:`c2f_utils.weights.load_weights`,
    whose error says where to put it and where to get it).
    """
    from torchvision.models import ResNet101_Weights, resnet101

    from ... import models as c2f_models
    from ... import weights as c2f_weights

    check_positive_int("n_classes", n_classes)
    weights = ResNet101_Weights.IMAGENET1K_V1
    network = resnet101()
    network.load_state_dict(c2f_weights.load_weights(weights, weights_dir=weights_dir, download=download))
    preprocess = weights.transforms()
    return c2f_models.PretrainedResNet(network, n_classes, preprocess.mean, preprocess.std, taps=RESNET_UNITS)


def _center_crop(data: c2f_data.LabeledData, size: int) -> c2f_data.LabeledData:
    """The central ``size x size`` crop of every image (evaluation view of the training crops)."""
    from ... import data as c2f_data

    h, w = data.x.shape[-2:]
    top, left = (h - size) // 2, (w - size) // 2
    return c2f_data.LabeledData(
        data.name,
        data.split,
        data.x[..., top : top + size, left : left + size].contiguous(),
        data.fine,
        data.coarse,
        data.fine_names,
        data.coarse_names,
        data.meta,
    )


def _paper_schedule(epochs: int, fractions: Sequence[float]) -> tuple[int, ...]:
    """Epochs at which the learning rate is divided by 10, at the given fractions of training."""
    return tuple(sorted({max(1, round(f * epochs)) for f in fractions}))
