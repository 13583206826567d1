"""Networks that return ``(logits, features)``.

Every model in the book returns a :class:`ModelOutput` whose ``features`` field is the
penultimate representation, the "feature space" of the papers, and whose ``logits``
are a linear map of it. Losses that act on features (FIERCE, optimal transport) and
the probes all read the features the same way.

Architectures
-------------
- :class:`MLP`: fully connected, configurable hidden sizes and feature dimension.
- :class:`LeNet5`: LeCun et al. (1998), for 28x28 or 32x32 grey or colour images.
- :func:`cifar_resnet`: the CIFAR ResNets of He et al. (2016, §4.2), depth 6n+2
  (ResNet-20, ResNet-56, ...), option-A (parameter-free) shortcuts, with a width
  multiplier for "slim" students.
- :func:`resnet18`: ResNet-18 (He et al. 2016, Table 1) with a base width, a width
  multiplier, a CIFAR or ImageNet stem and any feature dimension, including 1 as in
  FIERCE's age experiment, where the last feature maps are averaged to one number
  and rescaled by a learnable affine map.

All of them by name: ``create(name, n_classes=..., input_shape=..., **options)`` (timm's
``create_model`` pattern; :func:`available` lists the names, :func:`register` adds one), so a
chapter declares its networks as data, ``(name, options)``.

References
----------
.. [1] K. He, X. Zhang, S. Ren, J. Sun. Deep Residual Learning for Image Recognition.
   CVPR 2016.
.. [2] Y. LeCun, L. Bottou, Y. Bengio, P. Haffner. Gradient-based learning applied to
   document recognition. Proc. IEEE 1998.
"""

from __future__ import annotations

import contextvars
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from itertools import pairwise
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._checks import check_choice, check_number, check_positive_int
from ._registry import Registry

__all__ = [
    "MLP",
    "LeNet5",
    "ModelOutput",
    "PretrainedResNet",
    "ResNet",
    "available",
    "cifar_resnet",
    "count_parameters",
    "create",
    "freeze",
    "load_state_arrays",
    "reference_outputs",
    "register",
    "resnet18",
    "state_arrays",
]


class ModelOutput(NamedTuple):
    """What every model returns: class scores and the penultimate representation."""

    logits: Tensor
    """Unnormalised class scores, shape ``(batch, n_classes)``."""
    features: Tensor
    """Penultimate representation, shape ``(batch, feature_dim)``."""


def check_model(model: Any, name: str = "model") -> nn.Module:
    """Return ``model`` if it is a :class:`torch.nn.Module`, else raise naming ``name``."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"Expected `{name}` to be a torch.nn.Module, got {type(model).__name__}")
    return model


def _check_prefix(prefix: Any) -> str:
    if not isinstance(prefix, str):
        raise TypeError(f"Expected `prefix` to be a str, got {prefix!r} ({type(prefix).__name__})")
    return prefix


INPUTS_CHECKED: contextvars.ContextVar[bool] = contextvars.ContextVar("c2f_inputs_checked", default=False)
"""True while :func:`~c2f_utils.train.fit` runs a training step on a batch of data it has already checked
(when it started): the models' forward then skips :func:`check_inputs`, which a small model would feel."""


def check_inputs(x: Any, like: Tensor | None = None, name: str = "x") -> Tensor:
    """Return ``x`` if it is a non-empty batch tensor (at least 2 dimensions, one row or more),
    of the dtype of the parameter ``like`` (when given, outside autocast), and with no NaN or
    infinite entry; raises naming ``name`` otherwise (nothing is checked inside a training step
    of :func:`~c2f_utils.train.fit`, whose data were checked once, see ``INPUTS_CHECKED``).

    The values are checked on the CPU only (as :func:`~c2f_utils._checks.check_tensor` does),
    with one reduction: the sum of the batch is finite exactly when every entry is, unless it
    overflows, and only then is every entry looked at.
    """
    if INPUTS_CHECKED.get():
        return x
    if not isinstance(x, Tensor):
        raise TypeError(f"Expected `{name}` to be a torch.Tensor, got {type(x).__name__}")
    if x.ndim < 2:
        raise ValueError(f"Expected `{name}` as a batch (batch, ...) with 2 or more dimensions, got {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError(f"Expected `{name}` with at least one sample, got shape {tuple(x.shape)}")
    if like is not None and x.dtype != like.dtype and not torch.is_autocast_enabled(x.device.type):
        raise TypeError(f"Expected `{name}` of dtype {like.dtype} (the model's parameters), got {x.dtype}")
    if x.is_floating_point() and x.device.type == "cpu" and not math.isfinite(float(x.detach().sum())):
        n_bad = int((~torch.isfinite(x)).sum())
        if n_bad:
            raise ValueError(f"Expected finite values in `{name}`, got {n_bad} NaN or infinite")
    return x


def _sizes(name: str, value: Any, *, allow_empty: bool) -> list[int]:
    """``value`` (a sequence or 1-D array of integers >= 1) as a list of ints, else raise naming ``name``."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise TypeError(f"Expected `{name}` to be a sequence of integers, got {value!r}")
    out = [check_positive_int(name, v) for v in value]
    if not out and not allow_empty:
        raise ValueError(f"Expected `{name}` with at least one entry, got {value!r}")
    return out


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters of ``model`` (a :class:`torch.nn.Module`, else :class:`TypeError`)."""
    check_model(model)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


_STATE_PREFIX = "state/"


def state_arrays(model: nn.Module, prefix: str = _STATE_PREFIX) -> dict[str, np.ndarray]:
    """The model's ``state_dict`` as numpy arrays named ``prefix + key`` (for a cached run's arrays).

    Parameters
    ----------
    model : nn.Module
        The model.
    prefix : str
        Prepended to every key (a non-string raises :class:`TypeError`).
    """
    check_model(model)
    _check_prefix(prefix)
    return {f"{prefix}{k}": v.detach().cpu().numpy() for k, v in model.state_dict().items()}


def load_state_arrays(model: nn.Module, arrays: dict[str, np.ndarray], prefix: str = _STATE_PREFIX) -> nn.Module:
    """Load the arrays written by :func:`state_arrays` into ``model`` (strictly: every key must match).

    Parameters
    ----------
    model : nn.Module
        The model to load into.
    arrays : mapping of str to array
        Arrays named ``prefix + key``: those with the prefix must be exactly the keys of
        ``model.state_dict()``, each of the same shape; otherwise :class:`ValueError`
        names the missing, unexpected or misshapen keys (other names are ignored).
    prefix : str
        The prefix of the model's arrays (a non-string raises :class:`TypeError`).

    Returns
    -------
    nn.Module
        ``model``, loaded.
    """
    check_model(model)
    if not isinstance(arrays, Mapping):
        raise TypeError(f"Expected `arrays` to be a mapping of names to arrays, got {type(arrays).__name__}")
    _check_prefix(prefix)
    state = {k.removeprefix(prefix): torch.as_tensor(v) for k, v in arrays.items() if k.startswith(prefix)}
    if not state:
        raise ValueError(f"Expected arrays named {prefix!r}<key> in `arrays`, got {sorted(arrays)[:5]}")
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        raise ValueError(
            f"Expected `arrays` to hold exactly the state of the model, got missing keys {missing[:5]} "
            f"and unexpected keys {unexpected[:5]}"
        )
    shapes = [(k, tuple(v.shape), tuple(expected[k].shape)) for k, v in state.items() if v.shape != expected[k].shape]
    if shapes:
        k, got, want = shapes[0]
        raise ValueError(f"Expected `arrays` with the model's shapes, got {prefix}{k} of shape {got} instead of {want}")
    model.load_state_dict(state)
    return model


def freeze(model: nn.Module) -> nn.Module:
    """Put ``model`` in eval mode with every parameter's ``requires_grad`` off; returns it.

    A frozen reference (a teacher, a pretrained source network) is used this way by
    the distillation and transfer regularisers.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"Expected `model` to be a torch.nn.Module, got {type(model).__name__}")
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def reference_outputs(model: nn.Module, x: Tensor) -> ModelOutput:
    """Outputs of a frozen reference network on a batch: no graph is built, eval mode is kept.

    The one place where a teacher or a source network is run on the student's batch.

    Parameters
    ----------
    model : nn.Module
        A frozen network in eval mode (see :func:`freeze`).
    x : Tensor
        A non-empty batch ``(batch, ...)`` with no NaN or infinite entry (checked on the CPU).
    """
    check_model(model)
    check_inputs(x)
    if model.training:
        raise ValueError("Expected `model` in eval mode (a frozen reference); call c2f_utils.models.freeze(model)")
    with torch.no_grad():
        out = model(x)
    return ModelOutput(*out)


class MLP(nn.Module):
    """Multi-layer perceptron: ``in_dim -> hidden... -> feature_dim -> n_classes``.

    The features are the activations of the last hidden layer (after the
    non-linearity), of size ``feature_dim``; the logits are a linear map of them.
    Inputs of any shape ``(batch, ...)`` are flattened.

    Parameters
    ----------
    in_dim : int
        Number of input values per sample.
    n_classes : int
        Number of output classes.
    hidden : sequence of int
        Sizes of the hidden layers before the feature layer (may be empty), each an
        integer >= 1 (NumPy integers too).
    feature_dim : int
        Size of the feature layer.
    activation : {"relu", "tanh", "gelu"}
        Non-linearity after every hidden layer, the feature layer included.
    """

    def __init__(
        self,
        in_dim: int,
        n_classes: int,
        hidden: Sequence[int] = (128,),
        feature_dim: int = 64,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        check_positive_int("in_dim", in_dim)
        check_positive_int("n_classes", n_classes)
        check_positive_int("feature_dim", feature_dim)
        hidden = _sizes("hidden", hidden, allow_empty=True)
        act = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}[
            check_choice("activation", activation, ("relu", "tanh", "gelu"))
        ]
        sizes = [in_dim, *hidden, feature_dim]
        layers: list[nn.Module] = []
        for a, b in pairwise(sizes):
            layers += [nn.Linear(a, b), act()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(feature_dim, n_classes)
        self.in_dim = in_dim
        self.feature_dim = feature_dim

    def forward(self, x: Tensor) -> ModelOutput:
        """Logits and features of a batch ``x`` of shape ``(batch, ...)`` with ``in_dim`` values
        per sample, of the parameters' dtype, non-empty and finite (else :class:`ValueError`
        or :class:`TypeError`)."""
        check_inputs(x, self.head.weight)
        x = x.flatten(1)
        if x.shape[1] != self.in_dim:
            raise ValueError(f"Expected `x` with {self.in_dim} values per sample, got shape {tuple(x.shape)}")
        features = self.body(x)
        return ModelOutput(self.head(features), features)


class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al. 1998) with ReLU and max pooling, features = the 84-unit layer.

    Accepts 28x28 inputs (padded by 2, as in the original) and 32x32 inputs; with
    ``image_size`` another square size (at least 16), whose feature maps the first fully
    connected layer reads whole (16 maps of ``((image_size - 4) // 2 - 4) // 2`` pixels
    a side: 5 for 32, 12 for the 60x60 cluttered digits).

    Parameters
    ----------
    n_classes : int
        Number of output classes.
    in_channels : int
        1 for grey images, 3 for colour.
    feature_dim : int
        Size of the penultimate layer (84 in the original).
    image_size : int
        Side of the square inputs: 32 (the original, 28x28 inputs padded to it) or any
        other integer >= 16.
    """

    def __init__(self, n_classes: int = 10, in_channels: int = 1, feature_dim: int = 84, image_size: int = 32) -> None:
        super().__init__()
        check_positive_int("n_classes", n_classes)
        check_positive_int("in_channels", in_channels)
        check_positive_int("feature_dim", feature_dim)
        self.image_size = check_positive_int("image_size", image_size, minimum=16)
        side = ((self.image_size - 4) // 2 - 4) // 2
        self.conv1 = nn.Conv2d(in_channels, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * side * side, 120)
        self.fc2 = nn.Linear(120, feature_dim)
        self.head = nn.Linear(feature_dim, n_classes)
        self.feature_dim = feature_dim

    def forward(self, x: Tensor) -> ModelOutput:
        """Logits and features of a batch ``x`` of shape ``(batch, C, S, S)`` with ``S`` the
        ``image_size`` (or 28 when it is 32), of the parameters' dtype, non-empty and finite
        (else :class:`ValueError` or :class:`TypeError`)."""
        check_inputs(x, self.head.weight)
        s = self.image_size
        sizes = ((28, 28), (32, 32)) if s == 32 else ((s, s),)
        if x.ndim != 4 or x.shape[-2:] not in sizes:
            shown = "28|32, 28|32" if s == 32 else f"{s}, {s}"
            raise ValueError(f"Expected `x` of shape (batch, C, {shown}), got {tuple(x.shape)}")
        if x.shape[-1] == 28:
            x = F.pad(x, (2, 2, 2, 2))
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc1(x.flatten(1)))
        features = F.relu(self.fc2(x))
        return ModelOutput(self.head(features), features)


class _BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and a residual connection."""

    def __init__(self, in_planes: int, planes: int, stride: int, shortcut: str) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.pad = 0
        self.stride = stride
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_planes != planes:
            if shortcut == "A":
                # He et al. (2016) option A for CIFAR: subsample and zero-pad the channels.
                self.pad = planes - in_planes
            else:
                self.shortcut = nn.Sequential(
                    nn.Conv2d(in_planes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes)
                )

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.pad or (self.stride != 1 and isinstance(self.shortcut, nn.Identity)):
            sc = x[:, :, :: self.stride, :: self.stride]
            sc = F.pad(sc, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))
        else:
            sc = self.shortcut(x)
        return F.relu(out + sc)


class ResNet(nn.Module):
    """Residual network of basic blocks returning ``(logits, features)``.

    Use :func:`cifar_resnet` or :func:`resnet18` to build one.

    The features are the globally average-pooled last feature maps (``C`` values). With
    ``feature_dim=1`` they are the mean of those ``C`` values passed through a learnable
    affine map ``a * m + b`` (the official FIERCE age model); with any other
    ``feature_dim != C`` a linear projection ``C -> feature_dim`` follows the pooling.

    Parameters
    ----------
    stage_widths, blocks_per_stage : sequence of int
        Channels and number of blocks of each stage: non-empty, of equal lengths, entries
        integers >= 1 (a list, tuple or integer array).
    n_classes, in_channels : int
        Output classes and image channels.
    stem : {"cifar", "imagenet"}
        See :func:`resnet18`.
    shortcut : {"A", "B"}
        Option A (parameter-free) or B (1x1 convolution) shortcuts of He et al. (2016).
    feature_dim : int, optional
        Feature size; defaults to the last stage width.
    """

    def __init__(
        self,
        stage_widths: Sequence[int],
        blocks_per_stage: Sequence[int],
        n_classes: int,
        in_channels: int = 3,
        stem: str = "cifar",
        shortcut: str = "B",
        feature_dim: int | None = None,
    ) -> None:
        super().__init__()
        check_positive_int("n_classes", n_classes)
        check_positive_int("in_channels", in_channels)
        check_choice("stem", stem, ("cifar", "imagenet"))
        check_choice("shortcut", shortcut, ("A", "B"))
        stage_widths = _sizes("stage_widths", stage_widths, allow_empty=False)
        blocks_per_stage = _sizes("blocks_per_stage", blocks_per_stage, allow_empty=False)
        if len(stage_widths) != len(blocks_per_stage) or not stage_widths:
            raise ValueError(
                f"Expected `stage_widths` and `blocks_per_stage` of equal non-zero length, "
                f"got {list(stage_widths)} and {list(blocks_per_stage)}"
            )
        width0 = stage_widths[0]
        if stem == "cifar":
            self.stem = nn.Sequential(
                nn.Conv2d(in_channels, width0, 3, 1, 1, bias=False), nn.BatchNorm2d(width0), nn.ReLU()
            )
        else:
            self.stem = nn.Sequential(
                nn.Conv2d(in_channels, width0, 7, 2, 3, bias=False),
                nn.BatchNorm2d(width0),
                nn.ReLU(),
                nn.MaxPool2d(3, 2, 1),
            )
        stages: list[nn.Module] = []
        in_planes = width0
        for i, (width, n_blocks) in enumerate(zip(stage_widths, blocks_per_stage, strict=True)):
            blocks = []
            for j in range(n_blocks):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(_BasicBlock(in_planes, width, stride, shortcut))
                in_planes = width
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        pooled = in_planes
        if feature_dim is None:
            feature_dim = pooled
        check_positive_int("feature_dim", feature_dim)
        self.feature_dim = feature_dim
        self.project: nn.Module | None = None
        if feature_dim == 1:
            self.scale = nn.Parameter(torch.ones(1))
            self.shift = nn.Parameter(torch.zeros(1))
        elif feature_dim != pooled:
            self.project = nn.Linear(pooled, feature_dim)
        self.head = nn.Linear(feature_dim, n_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> ModelOutput:
        """Logits and features of images ``x`` of shape ``(batch, C, H, W)``, of the parameters'
        dtype, non-empty and finite (else :class:`ValueError` or :class:`TypeError`)."""
        check_inputs(x, self.head.weight)
        if x.ndim != 4:
            raise ValueError(f"Expected `x` as images of shape (batch, C, H, W), got {tuple(x.shape)}")
        maps = self.stages(self.stem(x))
        pooled = maps.mean(dim=(2, 3))
        if self.feature_dim == 1:
            features = self.scale * pooled.mean(dim=1, keepdim=True) + self.shift
        elif self.project is not None:
            features = self.project(pooled)
        else:
            features = pooled
        return ModelOutput(self.head(features), features)


MAX_WIDTH = 16.0
"""Largest width multiplier of :func:`cifar_resnet` and :func:`resnet18` (a 1e200 one asks for more channels
than an integer holds)."""


def cifar_resnet(
    depth: int = 20,
    n_classes: int = 10,
    width: float = 1.0,
    in_channels: int = 3,
    feature_dim: int | None = None,
) -> ResNet:
    """CIFAR ResNet of He et al. (2016, §4.2): depth ``6n + 2``, widths 16/32/64.

    Parameters
    ----------
    depth : int
        20, 32, 44, 56, 110, ...: any ``6n + 2`` (NumPy integers too).
    n_classes : int
        Number of output classes.
    width : float
        Width multiplier applied to the stage widths 16/32/64 (``0.5`` gives a slim
        student with a quarter of the parameters), at most ``MAX_WIDTH``.
    in_channels : int
        Image channels.
    feature_dim : int, optional
        Feature size; defaults to the last stage width (64 x ``width``).
    """
    if isinstance(depth, bool | np.bool_) or not isinstance(depth, numbers.Integral) or depth < 8 or (depth - 2) % 6:
        raise ValueError(f"Expected `depth` of the form 6n + 2 with n >= 1, got {depth!r}")
    depth = int(depth)
    check_number("width", width, low=0, low_inclusive=False, high=MAX_WIDTH)
    n = (depth - 2) // 6
    widths = [max(1, round(w * width)) for w in (16, 32, 64)]
    return ResNet(widths, [n, n, n], n_classes, in_channels, stem="cifar", shortcut="A", feature_dim=feature_dim)


def resnet18(
    n_classes: int = 10,
    base_width: int = 64,
    width: float = 1.0,
    in_channels: int = 3,
    feature_dim: int | None = None,
    stem: str = "cifar",
) -> ResNet:
    """ResNet-18 (He et al. 2016, Table 1): four stages of two basic blocks.

    Parameters
    ----------
    n_classes : int
        Number of output classes.
    base_width : int
        Width of the first stage (64 in the original; 16 in FIERCE's age model).
        Stages have ``base_width x (1, 2, 4, 8)`` channels.
    width : float
        Width multiplier applied on top of ``base_width`` (slim students), at most ``MAX_WIDTH``.
    in_channels : int
        Image channels.
    feature_dim : int, optional
        Feature size; defaults to ``8 x base_width x width``. ``1`` averages the last
        feature maps to one number followed by a learnable affine map.
    stem : {"cifar", "imagenet"}
        ``"cifar"``: one 3x3 convolution (small images); ``"imagenet"``: 7x7 stride-2
        convolution and max pooling.
    """
    check_positive_int("base_width", base_width)
    check_number("width", width, low=0, low_inclusive=False, high=MAX_WIDTH)
    widths = [max(1, round(base_width * width * m)) for m in (1, 2, 4, 8)]
    return ResNet(widths, [2, 2, 2, 2], n_classes, in_channels, stem=stem, shortcut="B", feature_dim=feature_dim)


class PretrainedResNet(nn.Module):
    """A torchvision ResNet returning :class:`~c2f_utils.models.ModelOutput` with a new head.

    Inputs are images in [0, 1]; they are normalised with the ImageNet statistics of the
    weights' own transforms. ``features`` are the globally pooled outputs of the last
    residual unit (2,048 for ResNet-101), the penultimate representation that
    :math:`\\Omega` regularizes; ``head`` is a new linear classifier (the L2-SP
    convention: parameters named ``head.*`` are new). ``taps.unit<k>`` are modules
    whose outputs are the pooled outputs of residual unit ``k`` (counted from 1 over
    all stages), for :func:`c2f_utils.probes.layer_representations` (Figure 2).

    Parameters
    ----------
    network : torchvision.models.ResNet
        The pretrained network (its ``fc`` is dropped).
    n_classes : int
        Classes of the new task.
    mean, std : sequence of float
        Input normalisation (the weights' ``transforms().mean`` and ``.std``).
    taps : sequence of int
        Residual units whose pooled outputs are exposed (none by default).
    """

    def __init__(
        self,
        network: nn.Module,
        n_classes: int,
        mean: Sequence[float],
        std: Sequence[float],
        taps: Sequence[int] = (),
    ) -> None:
        super().__init__()
        from torchvision.models import ResNet

        if not isinstance(network, ResNet):
            raise TypeError(f"Expected `network` to be a torchvision ResNet, got {type(network).__name__}")
        check_positive_int("n_classes", n_classes)
        for arg, values, low in (("mean", mean, None), ("std", std, 0.0)):
            if isinstance(values, str | bytes) or not isinstance(values, Sequence) or len(values) != 3:
                raise ValueError(f"Expected `{arg}` as one number for each of 3 channels, got {values!r}")
            for v in values:
                check_number(arg, v, low=low, low_inclusive=low is None)
        units = [unit for stage in (network.layer1, network.layer2, network.layer3, network.layer4) for unit in stage]
        taps = _sizes("taps", taps, allow_empty=True)
        for k in taps:
            if k > len(units):
                raise ValueError(f"Expected `taps` among the {len(units)} residual units, got {k}")
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32).view(1, 3, 1, 1))
        self.stem = nn.Sequential(network.conv1, network.bn1, network.relu, network.maxpool)
        self.units = nn.Sequential(*units)
        self.taps = nn.ModuleDict({f"unit{k}": nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()) for k in taps})
        self.feature_dim = network.fc.in_features
        self.head = nn.Linear(self.feature_dim, n_classes)

    def forward(self, x: torch.Tensor) -> ModelOutput:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"Expected images of shape (batch, 3, H, W), got {tuple(x.shape)}")
        x = self.stem((x - self.mean) / self.std)
        for k, unit in enumerate(self.units, start=1):
            x = unit(x)
            if f"unit{k}" in self.taps:
                self.taps[f"unit{k}"](x)  # its output is read by forward hooks only
        features = x.mean(dim=(2, 3))
        return ModelOutput(self.head(features), features)


# --------------------------------------------------------------------------- registry

_MODELS = Registry("model", context=("n_classes", "input_shape"))
register = _MODELS.register


def available() -> tuple[str, ...]:
    """The names :func:`create` builds, sorted."""
    return _MODELS.names()


def create(name: str, *, n_classes: int, input_shape: Sequence[int], **options: Any) -> nn.Module:
    """The network registered as ``name`` (:func:`available`) for inputs of one shape (timm's pattern).

    - ``"mlp"``: :class:`MLP` on the flattened inputs; options ``hidden=(128,)``, ``feature_dim=64``,
      ``activation="relu"``.
    - ``"lenet5"``: :class:`LeNet5`; options ``feature_dim=84``, ``image_size=32`` (the inputs' side
      must be one it accepts).
    - ``"cifar_resnet"``: :func:`cifar_resnet`; options ``depth=20``, ``width=1.0``, ``feature_dim=None``.
    - ``"resnet18"``: :func:`resnet18`; options ``base_width=64``, ``width=1.0``, ``feature_dim=None``,
      ``stem="cifar"``.
    - ``"resnet"``: :class:`ResNet`; options ``stage_widths``, ``blocks_per_stage`` (required),
      ``stem="cifar"``, ``shortcut="B"``, ``feature_dim=None``.

    ``create(name, n_classes=k, input_shape=s, **options)`` builds exactly what the direct call
    builds (same modules, created in the same order: the same weights under the same seed).

    Parameters
    ----------
    name : str
        A registered name; another raises :class:`ValueError` naming the known ones.
    n_classes : int
        Number of output classes.
    input_shape : sequence of int
        One input's shape: ``(C, H, W)`` for the convolutional networks (``C`` is their
        ``in_channels``), any shape for the MLP (its ``in_dim`` is the product).
    **options
        The builder's other arguments; an unknown one raises :class:`TypeError` naming it.
    """
    shape = tuple(_sizes("input_shape", input_shape, allow_empty=False))
    return _MODELS.create(name, {"n_classes": n_classes, "input_shape": shape}, options)


def _channels(name: str, input_shape: tuple[int, ...]) -> int:
    if len(input_shape) != 3:
        raise ValueError(f"Expected `input_shape` (C, H, W) for the model {name!r}, got {input_shape}")
    return input_shape[0]


@register("mlp")
def _mlp(
    n_classes: int,
    input_shape: tuple[int, ...],
    hidden: Sequence[int] = (128,),
    feature_dim: int = 64,
    activation: str = "relu",
) -> MLP:
    return MLP(math.prod(input_shape), n_classes, hidden=hidden, feature_dim=feature_dim, activation=activation)


@register("lenet5")
def _lenet5(n_classes: int, input_shape: tuple[int, ...], feature_dim: int = 84, image_size: int = 32) -> LeNet5:
    model = LeNet5(
        n_classes, in_channels=_channels("lenet5", input_shape), feature_dim=feature_dim, image_size=image_size
    )
    sides = {28, 32} if model.image_size == 32 else {model.image_size}
    if input_shape[1] != input_shape[2] or input_shape[1] not in sides:
        raise ValueError(
            f"Expected `input_shape` with square {'28 or 32' if len(sides) > 1 else image_size}-pixel images "
            f"for LeNet-5 of image_size {image_size}, got {input_shape}"
        )
    return model


@register("cifar_resnet")
def _cifar_resnet(
    n_classes: int, input_shape: tuple[int, ...], depth: int = 20, width: float = 1.0, feature_dim: int | None = None
) -> ResNet:
    in_channels = _channels("cifar_resnet", input_shape)
    return cifar_resnet(depth, n_classes, width=width, in_channels=in_channels, feature_dim=feature_dim)


@register("resnet18")
def _resnet18(
    n_classes: int,
    input_shape: tuple[int, ...],
    base_width: int = 64,
    width: float = 1.0,
    feature_dim: int | None = None,
    stem: str = "cifar",
) -> ResNet:
    in_channels = _channels("resnet18", input_shape)
    return resnet18(n_classes, base_width, width, in_channels=in_channels, feature_dim=feature_dim, stem=stem)


@register("resnet")
def _resnet(
    n_classes: int,
    input_shape: tuple[int, ...],
    stage_widths: Sequence[int],
    blocks_per_stage: Sequence[int],
    stem: str = "cifar",
    shortcut: str = "B",
    feature_dim: int | None = None,
) -> ResNet:
    in_channels = _channels("resnet", input_shape)
    return ResNet(
        stage_widths, blocks_per_stage, n_classes, in_channels, stem=stem, shortcut=shortcut, feature_dim=feature_dim
    )
