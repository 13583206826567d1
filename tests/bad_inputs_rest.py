"""The rest of the public API as swept by tests/bad_inputs.py: models, train, data, report, weights.

One valid call per public function or class (small enough to run in milliseconds), and the
role of each argument. Roles that ``bad_inputs.ROLES`` lacks are added below with
``add_role``; each one's ``bad`` values are invalid for every argument it is given to.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import torch
from bad_inputs import Call, Role, _more_dims, _with_entry, add_role
from bad_inputs_api import D, K, _features, _labels
from torch import nn
from torch.utils.data import TensorDataset
from torchvision.models import ResNet18_Weights
from torchvision.models._api import Weights, WeightsEnum

from c2f_utils import data, models, report, train, weights
from c2f_utils.losses import teacher_objective

Spoils = tuple[tuple[str, Callable[[Any], Any]], ...]

# --------------------------------------------------------------------------- new roles


def _first(v: Any, value: Any) -> list[Any]:
    """``v`` as a list with its first entry replaced by ``value``."""
    return [value, *list(v)[1:]]


def _first_entry(v: Any, value: int) -> np.ndarray:
    out = np.array(v)
    out.reshape(-1)[0] = value
    return out


def _add_role(name: str, bad: Spoils, valid: Spoils = (), edge: Spoils = ()) -> None:
    add_role(name, Role(tuple(bad), tuple(valid), tuple(edge)))


_NP_INT = (("numpy_scalar", lambda v: np.int64(v)),)
_NP_FLOAT = (("numpy_scalar", lambda v: np.float64(v)),)
_NONE_VALID = (("none", lambda v: None),)

# Lists of registered names (an unknown name is reported by the function, not refused).
_add_role("name_list", (("str", lambda v: "digits"), ("int", lambda v: 3), ("int_entries", lambda v: [1, 2])))

# Optional numbers (None is their default and valid).
_add_role(
    "optional_size",
    (
        ("float", lambda v: 2.5),
        ("str", lambda v: "8"),
        ("bool", lambda v: True),
        ("negative", lambda v: -1),
        ("zero", lambda v: 0),
    ),
    (*_NONE_VALID, ("numpy_scalar", lambda v: np.int64(8))),
)
_add_role(
    "optional_pos_float",
    (
        ("nan", lambda v: float("nan")),
        ("inf", lambda v: float("inf")),
        ("str", lambda v: "0.1"),
        ("bool", lambda v: True),
        ("negative", lambda v: -1.0),
        ("zero", lambda v: 0.0),
    ),
    (*_NONE_VALID, ("numpy_scalar", lambda v: np.float64(0.05))),
)
_add_role(
    "optional_float",
    (("nan", lambda v: float("nan")), ("str", lambda v: "0.1"), ("bool", lambda v: True)),
    (*_NONE_VALID, ("numpy_scalar", lambda v: np.float64(v))),
)
_add_role(
    "optional_bool",
    (("str_no", lambda v: "no"), ("int", lambda v: 1)),
    (*_NONE_VALID, *(("numpy_bool", lambda v: np.bool_(True)),)),
)
# Sequences of sizes: layer widths (may be empty), stage widths/blocks (non-empty, paired in length).
_SIZE_SEQ_BAD: Spoils = (
    ("zero_entry", lambda v: _first(v, 0)),
    ("negative_entry", lambda v: _first(v, -1)),
    ("fractional_entry", lambda v: _first(v, 2.5)),
    ("none", lambda v: None),
    ("str", lambda v: "8"),
)
_add_role(
    "pos_int_seq",
    _SIZE_SEQ_BAD,
    (("empty", lambda v: ()), ("tuple", lambda v: tuple(v))),
    (("numpy", lambda v: np.asarray(v)),),
)
_add_role(
    "paired_pos_int_seq",
    (*_SIZE_SEQ_BAD, ("empty", lambda v: []), ("fewer_entries", lambda v: list(v)[:-1])),
    (("tuple", lambda v: tuple(v)),),
    (("numpy", lambda v: np.asarray(v)),),
)
_add_role(  # one sample's shape: no entry is an error
    "input_shape",
    (*_SIZE_SEQ_BAD, ("empty", lambda v: [])),
    (("tuple", lambda v: tuple(v)),),
    (("numpy", lambda v: np.asarray(v)),),
)
_add_role(
    "milestones",
    (
        ("decreasing", lambda v: sorted(v, reverse=True)),
        ("zero_entry", lambda v: _first(v, 0)),
        ("negative_entry", lambda v: _first(v, -1)),
        ("fractional_entry", lambda v: _first(v, 1.5)),
        ("none", lambda v: None),
        ("str", lambda v: "3"),
    ),
    (("empty", lambda v: ()), ("numpy", lambda v: np.asarray(v))),
)
# Samples of a statistic (one value per seed): non-empty, 1-D, finite.
_SAMPLES_BAD: Spoils = (
    ("empty", lambda v: []),
    ("nan", lambda v: _first(v, float("nan"))),
    ("inf", lambda v: _first(v, float("inf"))),
    ("str", lambda v: "0.1"),
    ("none", lambda v: None),
    ("column", lambda v: [[x] for x in v]),
)
_SAMPLES_VALID: Spoils = (
    ("numpy", lambda v: np.asarray(v)),
    ("series", lambda v: pd.Series(v)),
    ("tuple", lambda v: tuple(v)),
)
_add_role("samples", _SAMPLES_BAD, _SAMPLES_VALID)
# Pixels of an image: (N, 2) non-negative integer coordinates, and one class per pixel.
_PIXEL_VALID: Spoils = (("int32", lambda v: np.asarray(v).astype(np.int32)), ("tensor", lambda v: torch.as_tensor(v)))
_add_role(
    "pixel_coordinates",
    (
        ("negative", lambda v: _first_entry(v, -1)),
        ("fractional", lambda v: np.asarray(v) + 0.5),
        ("empty", lambda v: np.asarray(v)[:0]),
        ("one_column", lambda v: np.asarray(v)[:, :1]),
        ("none", lambda v: None),
    ),
    _PIXEL_VALID,
)
_add_role(
    "pixel_labels",
    (
        ("negative", lambda v: _first_entry(v, -1)),
        ("fractional", lambda v: np.asarray(v) + 0.5),
        ("fewer_rows", lambda v: np.asarray(v)[:-1]),
        ("column", lambda v: np.asarray(v)[:, None]),
        ("none", lambda v: None),
    ),
    _PIXEL_VALID,
)
_add_role("paired_samples", (*_SAMPLES_BAD, ("fewer_rows", lambda v: list(v)[:-1])), _SAMPLES_VALID)
_add_role(
    "sign",
    (("zero", lambda v: 0), ("two", lambda v: 2), ("none", lambda v: None), ("str", lambda v: "1")),
    (("numpy_scalar", lambda v: np.int64(v)), ("negative", lambda v: -1)),
)
# A confidence-interval half-width: >= 0, or NaN/inf when undefined (documented by format_mean_ci).
_add_role(
    "half_width",
    (("negative", lambda v: -0.1), ("str", lambda v: "0.1"), ("none", lambda v: None), ("bool", lambda v: True)),
    (("nan", lambda v: float("nan")), *_NP_FLOAT),
)
# pandas frames and their column names.
_add_role(
    "frame",
    (("none", lambda v: None), ("str", lambda v: "frame"), ("dict", lambda v: v.to_dict("list"))),
    (),
    (("empty", lambda v: v.iloc[:0]),),
)
_COLUMN_BAD: Spoils = (("unknown", lambda v: "__nope__"), ("none", lambda v: None), ("int", lambda v: 3))
_add_role("column", _COLUMN_BAD)
_add_role("group_by", _COLUMN_BAD, (("list", lambda v: [v]),))
_add_role(
    "column_list",
    (("unknown", lambda v: ["__nope__"]), ("none", lambda v: None), ("bare_str", lambda v: v[0])),
    (("tuple", lambda v: tuple(v)),),
    (("empty", lambda v: []),),
)
_add_role(
    "column_map",
    (("unknown", lambda v: {"__nope__": "x"}), ("none", lambda v: None), ("list", lambda v: list(v))),
    (),
    (("empty", lambda v: {}),),
)
_add_role(
    "optional_order",
    (("int", lambda v: 3), ("unknown_only", lambda v: ["__nope__"])),
    (*_NONE_VALID, ("reversed", lambda v: list(v)[::-1])),
)
_add_role("group_value", (("absent", lambda v: "__nope__"), ("none", lambda v: None)))
_add_role("text", (("empty", lambda v: ""), ("none", lambda v: None), ("int", lambda v: 3)))
_add_role(
    "seed_list",
    (
        ("negative_entry", lambda v: _first(v, -1)),
        ("fractional_entry", lambda v: _first(v, 0.5)),
        ("none", lambda v: None),
        ("str", lambda v: "0-2"),
    ),
    (("tuple", lambda v: tuple(v)), ("numpy", lambda v: np.asarray(v))),
    (("empty", lambda v: []),),
)
# Datasets (c2f_utils.data.LabeledData) and their class lists.
_LABELED_BAD: Spoils = (
    ("none", lambda v: None),
    ("str", lambda v: "hierarchical_blobs"),
    ("pair", lambda v: (v.x, v.fine)),
)
_LABELED_EDGE: Spoils = (("empty", lambda v: v.subset(torch.arange(0))),)
_add_role("labeled_data", _LABELED_BAD, (), _LABELED_EDGE)
_add_role(
    "class_data",
    (*_LABELED_BAD, ("continuous_targets", lambda v: dataclasses.replace(v, fine=v.fine.float()))),
    (),
    _LABELED_EDGE,
)
_add_role(
    "class_list",
    (
        ("empty", lambda v: []),
        ("duplicate", lambda v: [v[0], v[0]]),
        ("absent", lambda v: [10_000]),
        ("negative", lambda v: [-1]),
        ("fractional", lambda v: _first(v, v[0] + 0.5)),
        ("none", lambda v: None),
        ("str", lambda v: "0"),
    ),
    (("tuple", lambda v: tuple(v)), ("numpy_int32", lambda v: np.asarray(v, dtype=np.int32))),
)
_add_role(
    "rng",
    (
        ("none", lambda v: None),
        ("int_seed", lambda v: 0),
        ("legacy_random_state", lambda v: np.random.RandomState(0)),
    ),
)
_add_role(
    "torch_generator",
    (("none", lambda v: None), ("int_seed", lambda v: 0), ("numpy_rng", lambda v: np.random.default_rng(0))),
)
# Devices: a name or torch.device ("auto" too) for resolve_device and the functions that call it.
_add_role(
    "device_name",
    (("unknown", lambda v: "__nope__"), ("none", lambda v: None), ("missing_gpu", lambda v: "cuda:99")),
    (("torch_device", lambda v: torch.device("cpu")),),
)
# A config's device: the name is checked where the config is made, whether the GPU exists
# where the run starts (a GPU job may be configured on a machine without one).
_add_role(
    "config_device",
    (("unknown", lambda v: "__nope__"), ("none", lambda v: None)),
    (("torch_device", lambda v: torch.device("cpu")), ("gpu_elsewhere", lambda v: "cuda:0")),
)
# A torch.device (TensorBatches documents that type; a name is an edge case).
_add_role(
    "torch_device_arg",
    (("none", lambda v: None), ("unknown_str", lambda v: "__nope__")),
    (),
    (("str_cpu", lambda v: "cpu"),),
)
_add_role("train_config", (("none", lambda v: None), ("dict", lambda v: {"epochs": 1}), ("str", lambda v: "fast")))
_add_role("optional_train_config", (("dict", lambda v: {"epochs": 1}), ("str", lambda v: "fast")), _NONE_VALID)
# Training/evaluation data as (inputs, class labels).
_PAIR_BAD: Spoils = (
    ("str", lambda v: "data"),
    ("empty", lambda v: (v[0][:0], v[1][:0])),
    ("unequal", lambda v: (v[0], v[1][:-1])),
    ("nan_input", lambda v: (_with_entry(v[0], float("nan")), v[1])),
    ("label_out_of_range", lambda v: (v[0], torch.cat([torch.tensor([10_000]), v[1][1:]]))),
)
_PAIR_VALID: Spoils = (("tensor_dataset", lambda v: TensorDataset(*v)),)
_PAIR_EDGE: Spoils = (("int32_labels", lambda v: (v[0], v[1].int())),)
_add_role("dataset_pair", (*_PAIR_BAD, ("none", lambda v: None)), _PAIR_VALID, _PAIR_EDGE)
_add_role("optional_dataset_pair", _PAIR_BAD, (*_NONE_VALID, *_PAIR_VALID), _PAIR_EDGE)
_add_role("optional_callable", (("str", lambda v: "loss"), ("int", lambda v: 3)), _NONE_VALID)
_add_role(
    "callbacks",
    (("not_callable", lambda v: [3]), ("none", lambda v: None)),
    (("empty", lambda v: ()),),
)
# Models and their inputs.
_add_role(
    "frozen_model",
    (("none", lambda v: None), ("str", lambda v: "model"), ("training_mode", lambda v: v.train())),
)
# MLP inputs: any shape (batch, ...) flattening to in_dim values, so a trailing singleton axis is valid.
_add_role(
    "mlp_inputs",
    (
        ("nan", lambda v: _with_entry(v, float("nan"))),
        ("inf", lambda v: _with_entry(v, float("inf"))),
        ("empty", lambda v: v[:0]),
        ("wrong_size", lambda v: v[..., :-1]),
        ("str", lambda v: "x"),
        ("none", lambda v: None),
    ),
    (("extra_singleton_dim", _more_dims),),
    (("float64", lambda v: v.double()),),
)
_add_role(
    "state_arrays",
    (
        ("empty", lambda v: {}),
        ("none", lambda v: None),
        ("missing_key", lambda v: dict(list(v.items())[1:])),
        ("wrong_shape", lambda v: {k: (a[..., None] if i == 0 else a) for i, (k, a) in enumerate(v.items())}),
    ),
)
_add_role("prefix", (("none", lambda v: None), ("int", lambda v: 3)))
# Dataset options that are pairs: annotators (low, high) >= 1, ambiguity Beta parameters > 0.
_add_role(
    "int_range",
    (
        ("reversed", lambda v: (v[1], v[0])),
        ("zero_low", lambda v: (0, v[1])),
        ("fractional_low", lambda v: (v[0] + 0.5, v[1])),
        ("fractional_high", lambda v: (v[0], v[1] + 0.5)),
        ("none", lambda v: None),
        ("scalar", lambda v: v[0]),
    ),
    (("list", lambda v: list(v)), ("numpy", lambda v: np.asarray(v))),
)
_add_role(
    "pos_float_pair",
    (
        ("zero", lambda v: (0.0, v[1])),
        ("negative", lambda v: (-1.0, v[1])),
        ("nan", lambda v: (float("nan"), v[1])),
        ("none", lambda v: None),
        ("scalar", lambda v: v[0]),
        ("triple", lambda v: (*v, 1.0)),
    ),
    (("list", lambda v: list(v)), ("numpy", lambda v: np.asarray(v))),
)
# Weights: a torchvision WeightsEnum member or its name; folders.
_WEIGHTS_BAD: Spoils = (
    ("unknown", lambda v: "Nope_Weights.IMAGENET1K_V1"),
    ("none", lambda v: None),
    ("int", lambda v: 3),
)
_add_role("weights_id", _WEIGHTS_BAD, (("name", lambda v: f"{type(v).__name__}.{v.name}"),))
_add_role("weights_entry", _WEIGHTS_BAD)
_PATH_BAD: Spoils = (("int", lambda v: 3), ("list", lambda v: [v]))
_add_role("path", _PATH_BAD, (("pathlib", lambda v: Path(v)),))
_add_role("optional_path", _PATH_BAD, (*_NONE_VALID, ("pathlib", lambda v: Path(v))))


# --------------------------------------------------------------------------- helpers


def _ctor(module: str, name: str, fn: Any, valid: Callable[[], dict[str, Any]], roles: dict[str, str]) -> Call:
    return Call(f"{module}.{name}", fn, valid, roles)


def _mlp() -> models.MLP:
    torch.manual_seed(0)
    return models.MLP(D, K, hidden=(8,), feature_dim=4)


def _tiny_torchvision_resnet() -> Any:
    from torchvision.models import resnet18

    torch.manual_seed(0)
    return resnet18()


def _frozen_mlp() -> models.MLP:
    return models.freeze(_mlp())


def _pair(n: int = 24, seed: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    return _features(n, D, seed=seed), _labels(n, K)


def _blobs() -> data.LabeledData:
    return data.load("hierarchical_blobs", n_coarse=2, fine_per_coarse=2, dim=4, n_per_class=5, seed=0)


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "method": ["A"] * 3 + ["B"] * 3,
            "seed": [0, 1, 2] * 2,
            "acc": [0.91, 0.92, 0.90, 0.88, 0.87, 0.89],
            "loss": [0.30, 0.28, 0.31, 0.35, 0.36, 0.34],
        }
    )


A = [0.91, 0.92, 0.90, 0.93]
B = [0.88, 0.87, 0.89, 0.88]

_TINY_STATE_BYTES = (lambda buf: (torch.save({"w": torch.ones(2)}, buf), buf.getvalue())[1])(io.BytesIO())
_TINY_PREFIX = hashlib.sha256(_TINY_STATE_BYTES).hexdigest()[:8]


class _TinyWeights(WeightsEnum):
    """A WeightsEnum of our own whose file (a two-number state dict) can be written to a temporary folder."""

    TINY = Weights(url=f"https://example.invalid/tiny-{_TINY_PREFIX}.pth", transforms=lambda: None, meta={})


@functools.cache
def _weights_dir() -> str:
    folder = tempfile.mkdtemp(prefix="c2f-bad-inputs-")
    (Path(folder) / f"tiny-{_TINY_PREFIX}.pth").write_bytes(_TINY_STATE_BYTES)
    return folder


# --------------------------------------------------------------------------- models


def _calls_models() -> list[Call]:
    m = "models"
    return [
        _ctor(
            m,
            "MLP",
            models.MLP,
            lambda: {"in_dim": D, "n_classes": K, "hidden": [8], "feature_dim": 4, "activation": "relu"},
            {
                "in_dim": "pos_int",
                "n_classes": "pos_int",
                "hidden": "pos_int_seq",
                "feature_dim": "pos_int",
                "activation": "choice",
            },
        ),
        Call("models.MLP.forward", lambda **kw: _mlp()(**kw), lambda: {"x": _features()}, {"x": "mlp_inputs"}),
        _ctor(
            m,
            "create",
            models.create,
            lambda: {"name": "mlp", "n_classes": K, "input_shape": [D], "hidden": [8], "feature_dim": 4},
            {
                "name": "choice",
                "n_classes": "pos_int",
                "input_shape": "input_shape",
                "hidden": "pos_int_seq",
                "feature_dim": "pos_int",
            },
        ),
        _ctor(
            m,
            "create.lenet5",
            models.create,
            lambda: {"name": "lenet5", "n_classes": K, "input_shape": [1, 28, 28], "image_size": 32},
            {"n_classes": "pos_int", "input_shape": "input_shape", "image_size": "pos_int"},
        ),
        _ctor(
            m,
            "LeNet5",
            models.LeNet5,
            lambda: {"n_classes": K, "in_channels": 1, "feature_dim": 84, "image_size": 32},
            {"n_classes": "pos_int", "in_channels": "pos_int", "feature_dim": "pos_int", "image_size": "pos_int"},
        ),
        Call(
            "models.LeNet5.forward",
            lambda **kw: models.LeNet5(K)(**kw),
            lambda: {"x": torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(0))},
            {"x": "images"},
        ),
        _ctor(
            m,
            "ResNet",
            models.ResNet,
            lambda: {
                "stage_widths": [4, 8],
                "blocks_per_stage": [1, 1],
                "n_classes": K,
                "in_channels": 3,
                "stem": "cifar",
                "shortcut": "B",
                "feature_dim": None,
            },
            {
                "stage_widths": "paired_pos_int_seq",
                "blocks_per_stage": "paired_pos_int_seq",
                "n_classes": "pos_int",
                "in_channels": "pos_int",
                "stem": "choice",
                "shortcut": "choice",
                "feature_dim": "optional_size",
            },
        ),
        _ctor(
            m,
            "cifar_resnet",
            models.cifar_resnet,
            lambda: {"depth": 8, "n_classes": K, "width": 0.25, "in_channels": 3, "feature_dim": None},
            {
                "depth": "pos_int",
                "n_classes": "pos_int",
                "width": "pos_float",
                "in_channels": "pos_int",
                "feature_dim": "optional_size",
            },
        ),
        _ctor(
            m,
            "resnet18",
            models.resnet18,
            lambda: {
                "n_classes": K,
                "base_width": 2,
                "width": 1.0,
                "in_channels": 3,
                "feature_dim": None,
                "stem": "cifar",
            },
            {
                "n_classes": "pos_int",
                "base_width": "pos_int",
                "width": "pos_float",
                "in_channels": "pos_int",
                "feature_dim": "optional_size",
                "stem": "choice",
            },
        ),
        _ctor(
            m,
            "PretrainedResNet",
            models.PretrainedResNet,
            lambda: {
                "network": _tiny_torchvision_resnet(),
                "n_classes": K,
                "mean": [0.5, 0.5, 0.5],
                "std": [0.25, 0.25, 0.25],
                "taps": [2],
            },
            {"network": "model", "n_classes": "pos_int", "mean": "floats", "std": "floats", "taps": "pos_int_seq"},
        ),
        _ctor(m, "count_parameters", models.count_parameters, lambda: {"model": _mlp()}, {"model": "model"}),
        _ctor(m, "freeze", models.freeze, lambda: {"model": _mlp()}, {"model": "model"}),
        _ctor(
            m,
            "state_arrays",
            models.state_arrays,
            lambda: {"model": _mlp(), "prefix": "state/"},
            {"model": "model", "prefix": "prefix"},
        ),
        _ctor(
            m,
            "load_state_arrays",
            models.load_state_arrays,
            lambda: {"model": _mlp(), "arrays": models.state_arrays(_mlp(), "w/"), "prefix": "w/"},
            {"model": "model", "arrays": "state_arrays", "prefix": "prefix"},
        ),
        _ctor(
            m,
            "reference_outputs",
            models.reference_outputs,
            lambda: {"model": _frozen_mlp(), "x": _features()},
            {"model": "frozen_model", "x": "mlp_inputs"},
        ),
    ]


# --------------------------------------------------------------------------- train


def _config(**kw: Any) -> train.TrainConfig:
    return train.TrainConfig(**{"epochs": 1, "batch_size": 8, "device": "cpu", "progress": False, **kw})


def _fit(**kw: Any) -> pd.DataFrame:
    """:func:`train.fit`'s history after training: with callbacks, row 0 (before training) holds only the
    callbacks' columns by design, so its missing losses (NaN) are left out of the finiteness check."""
    history = train.fit(**kw).history
    return history[history["epoch"] > 0]


def _calls_train() -> list[Call]:
    m = "train"
    config_kwargs = {
        "epochs": 4,
        "batch_size": 8,
        "optimizer": "sgd",
        "lr": 0.1,
        "momentum": 0.9,
        "weight_decay": 0.0,
        "nesterov": False,
        "schedule": "multistep",
        "step_size": 2,
        "milestones": (2, 3),
        "gamma": 0.1,
        "warmup_epochs": 1,
        "criterion_lr": None,
        "seed": 0,
        "device": "cpu",
        "amp": True,
        "channels_last": True,
        "num_workers": 0,
        "progress": False,
        "checkpoint_every": 5,
    }
    config_roles = {
        "epochs": "pos_int",
        "batch_size": "pos_int",
        "optimizer": "choice",
        "lr": "pos_float",
        "momentum": "unit_float",
        "weight_decay": "nonneg_float",
        "nesterov": "bool",
        "schedule": "choice",
        "step_size": "pos_int",
        "milestones": "milestones",
        "gamma": "unit_float",
        "warmup_epochs": "nonneg_int",
        "criterion_lr": "optional_pos_float",
        "seed": "nonneg_int",
        "device": "config_device",
        "amp": "bool",
        "channels_last": "bool",
        "num_workers": "nonneg_int",
        "progress": "optional_bool",
        "checkpoint_every": "pos_int",
    }

    def fit_kwargs() -> dict[str, Any]:
        return {
            "model": _mlp(),
            "train_data": _pair(),
            "criterion": nn.CrossEntropyLoss(),
            "config": _config(),
            "val_data": _pair(12, seed=5),
            "regularizer": lambda x, out: 1e-3 * out.features.pow(2).mean(),
            "callbacks": [lambda state: {"probe": 1.0}],
            "transform": lambda x: x + 0.0,
        }

    images = torch.rand(4, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    return [
        _ctor(m, "TrainConfig", train.TrainConfig, lambda: dict(config_kwargs), config_roles),
        _ctor(
            m,
            "TensorBatches",
            lambda **kw: list(train.TensorBatches(**kw)),
            lambda: {
                "tensors": list(_pair()),
                "batch_size": 8,
                "generator": torch.Generator().manual_seed(0),
                "device": torch.device("cpu"),
            },
            {
                "tensors": "tensor_seq",
                "batch_size": "pos_int",
                "generator": "torch_generator",
                "device": "torch_device_arg",
            },
        ),
        _ctor(
            m,
            "crop_flip",
            lambda **kw: train.crop_flip(**kw)(images),
            lambda: {"pad": 2, "flip": True, "size": 6},
            {"pad": "nonneg_int", "flip": "bool", "size": "optional_size"},
        ),
        _ctor(
            m,
            "evaluate",
            train.evaluate,
            lambda: {
                "model": _mlp(),
                "data": _pair(),
                "criterion": nn.CrossEntropyLoss(),
                "batch_size": 8,
                "device": "cpu",
            },
            {
                "model": "model",
                "data": "dataset_pair",
                "criterion": "optional_callable",
                "batch_size": "pos_int",
                "device": "device_name",
            },
        ),
        _ctor(
            m,
            "extract_features",
            train.extract_features,
            lambda: {"model": _mlp(), "x": _features(), "batch_size": 8, "device": "cpu"},
            {"model": "model", "x": "mlp_inputs", "batch_size": "pos_int", "device": "device_name"},
        ),
        _ctor(
            m,
            "fit",
            _fit,
            fit_kwargs,
            {
                "model": "model",
                "train_data": "dataset_pair",
                "criterion": "optional_callable",
                "config": "optional_train_config",
                "val_data": "optional_dataset_pair",
                "regularizer": "optional_callable",
                "callbacks": "callbacks",
                "transform": "optional_callable",
            },
        ),
        _ctor(
            m,
            "lr_factor",
            train.lr_factor,
            lambda: {"epoch": 3, "cfg": _config(epochs=10, schedule="cosine", warmup_epochs=2)},
            {"epoch": "nonneg_int", "cfg": "train_config"},
        ),
        _ctor(m, "resolve_device", train.resolve_device, lambda: {"device": "cpu"}, {"device": "device_name"}),
        _ctor(m, "random_state_kept", train.random_state_kept, lambda: {"device": "cpu"}, {"device": "device_name"}),
        _ctor(m, "seed_everything", train.seed_everything, lambda: {"seed": 0}, {"seed": "nonneg_int"}),
    ]


_add_role(
    "tensor_seq",
    (("empty", lambda v: []), ("unequal", lambda v: [v[0], v[1][:-1]]), ("none", lambda v: None)),
    (("tuple", lambda v: tuple(v)),),
)


# --------------------------------------------------------------------------- data


def _calls_data() -> list[Call]:
    m = "data"

    def load(name: str, valid: dict[str, Any], roles: dict[str, str]) -> Call:
        return Call(f"data.load.{name}", data.load, lambda: {"name": name, **valid}, roles)

    return [
        Call("data.check_files", data.check_files, lambda: {"names": ["digits", "mnist10k"]}, {"names": "name_list"}),
        load(
            "digits",
            {"split": "test", "download": True, "test_fraction": 0.3, "split_seed": 0},
            {
                "name": "choice",
                "split": "choice",
                "download": "bool",
                "test_fraction": "unit_float",
                "split_seed": "nonneg_int",
            },
        ),
        load(
            "hierarchical_blobs",
            {
                "split": "train",
                "n_coarse": 2,
                "fine_per_coarse": 2,
                "dim": 4,
                "n_per_class": 5,
                "coarse_spread": 3.0,
                "fine_spread": 1.0,
                "seed": 0,
            },
            {
                "split": "choice",
                "n_coarse": "pos_int",
                "fine_per_coarse": "pos_int",
                "dim": "pos_int",
                "n_per_class": "pos_int",
                "coarse_spread": "nonneg_float",
                "fine_spread": "nonneg_float",
                "seed": "nonneg_int",
            },
        ),
        load(
            "synthetic_unmixing",
            {
                "split": "train",
                "n_pixels": 40,
                "n_bands": 8,
                "n_materials": 3,
                "concentration": 1.0,
                "snr_db": 30.0,
                "seed": 0,
                "test_fraction": 0.25,
            },
            {
                "split": "choice",
                "n_pixels": "pos_int",
                "n_bands": "pos_int",
                "n_materials": "pos_int",
                "concentration": "pos_float",
                "snr_db": "float",
                "seed": "nonneg_int",
                "test_fraction": "unit_float",
            },
        ),
        load(
            "synthetic_sizes",
            {
                "split": "train",
                "n_images": 8,
                "size": 16,
                "min_radius": 2.0,
                "max_radius": 5.0,
                "noise": 0.1,
                "seed": 0,
            },
            {
                "split": "choice",
                "n_images": "pos_int",
                "size": "pos_int",
                "min_radius": "pos_float",
                "max_radius": "pos_float",
                "noise": "nonneg_float",
                "seed": "nonneg_int",
            },
        ),
        load(
            "occluded_digits",
            {
                "split": "test",
                "copies": 1,
                "size": 8,
                "occluder_size": 4,
                "jitter": 2,
                "seed": 0,
                "test_fraction": 0.3,
                "split_seed": 0,
            },
            {
                "split": "choice",
                "copies": "pos_int",
                "size": "pos_int",
                "occluder_size": "pos_int",
                "jitter": "nonneg_int",
                "seed": "nonneg_int",
                "test_fraction": "unit_float",
                "split_seed": "nonneg_int",
            },
        ),
        load(
            "cluttered_digits",
            {
                "split": "test",
                "copies": 1,
                "digit_size": 8,
                "canvas": 12,
                "n_crops": 2,
                "crop_size": 3,
                "seed": 0,
                "test_fraction": 0.3,
                "split_seed": 0,
            },
            {
                "split": "choice",
                "copies": "pos_int",
                "digit_size": "pos_int",
                "canvas": "pos_int",
                "n_crops": "nonneg_int",
                "crop_size": "pos_int",
                "seed": "nonneg_int",
                "test_fraction": "unit_float",
                "split_seed": "nonneg_int",
            },
        ),
        load(
            "annotator_counts",
            {
                "split": "all",
                "n_items": 20,
                "n_classes": 4,
                "annotators": (5, 8),
                "ambiguity": (0.5, 4.0),
                "partner_share": 0.8,
                "seed": 0,
            },
            {
                "split": "choice",
                "n_items": "pos_int",
                "n_classes": "pos_int",
                "annotators": "int_range",
                "ambiguity": "pos_float_pair",
                "partner_share": "unit_float",
                "seed": "nonneg_int",
            },
        ),
        _ctor(m, "describe", data.describe, lambda: {"name": "digits"}, {"name": "choice"}),
        _ctor(
            m,
            "class_subset",
            data.class_subset,
            lambda: {"data": _blobs(), "classes": [0, 2], "relabel": False},
            {"data": "class_data", "classes": "class_list", "relabel": "bool"},
        ),
        _ctor(
            m,
            "few_shot_split",
            data.few_shot_split,
            lambda: {"data": _blobs(), "classes": [0, 2], "shots": 2, "rng": np.random.default_rng(0)},
            {"data": "class_data", "classes": "class_list", "shots": "pos_int", "rng": "rng"},
        ),
        _ctor(
            m,
            "block_split",
            data.block_split,
            lambda: {
                "coordinates": np.stack(np.divmod(np.arange(100), 10), 1),
                "labels": np.arange(100) % 3,
                "fraction": 0.2,
                "blocks": 5,
                "seed": 0,
            },
            {
                "coordinates": "pixel_coordinates",
                "labels": "pixel_labels",
                "fraction": "unit_float",
                "blocks": "pos_int",
                "seed": "nonneg_int",
            },
        ),
        _ctor(
            m,
            "holdout_split",
            data.holdout_split,
            lambda: {"data": _blobs(), "fraction": 0.2, "rng": np.random.default_rng(0)},
            {"data": "labeled_data", "fraction": "unit_float", "rng": "rng"},
        ),
    ]


# --------------------------------------------------------------------------- report


def _calls_report() -> list[Call]:
    m = "report"
    return [
        _ctor(
            m,
            "correlated",
            report.correlated,
            lambda: {"x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "y": [1.1, 2.3, 2.9, 4.2, 4.8, 6.1], "sign": 1, "digits": 2},
            {"x": "paired_samples", "y": "paired_samples", "sign": "sign", "digits": "nonneg_int"},
        ),
        _ctor(
            m,
            "deterministic",
            report.deterministic,
            lambda: {"value": 0.5, "at_least": 0.0, "at_most": 1.0, "digits": 3},
            {"value": "float", "at_least": "optional_float", "at_most": "optional_float", "digits": "nonneg_int"},
        ),
        _ctor(
            m,
            "equivalent",
            report.equivalent,
            lambda: {"a": list(A), "b": [0.90, 0.92, 0.91, 0.92], "margin": 0.05, "paired": False, "digits": 3},
            {"a": "samples", "b": "samples", "margin": "pos_float", "paired": "bool", "digits": "nonneg_int"},
        ),
        _ctor(
            m,
            "seeds_to_decide",
            report.seeds_to_decide,
            lambda: {"effect": 0.02, "spread": 0.03, "boundary": 0.0, "power": 0.8},
            {"effect": "float", "spread": "nonneg_float", "boundary": "float", "power": "unit_float"},
        ),
        _ctor(
            m, "seeds_to_decide_r", report.seeds_to_decide_r, lambda: {"r": 0.5, "power": 0.8}, {"power": "unit_float"}
        ),
        _ctor(
            m,
            "estimate",
            report.estimate,
            lambda: {"values": list(A), "confidence": 0.95},
            {"values": "samples", "confidence": "unit_float"},
        ),
        _ctor(
            m,
            "format_mean_ci",
            report.format_mean_ci,
            lambda: {"mean": 0.912, "half": 0.01, "digits": 3},
            {"mean": "float", "half": "half_width", "digits": "nonneg_int"},
        ),
        _ctor(
            m,
            "greater",
            report.greater,
            lambda: {"a": list(A), "b": list(B), "paired": True, "min_effect": 0.0, "digits": 3},
            {
                "a": "paired_samples",
                "b": "paired_samples",
                "paired": "bool",
                "min_effect": "nonneg_float",
                "digits": "nonneg_int",
            },
        ),
        _ctor(
            m,
            "less",
            report.less,
            lambda: {"a": list(B), "value": 0.95, "paired": False, "min_effect": 0.01, "digits": 3},
            {"a": "samples", "value": "float", "paired": "bool", "min_effect": "nonneg_float", "digits": "nonneg_int"},
        ),
        _ctor(
            m,
            "mean_ci",
            report.mean_ci,
            lambda: {"values": list(A), "confidence": 0.95},
            {"values": "samples", "confidence": "unit_float"},
        ),
        _ctor(
            m,
            "mean_ci_table",
            report.mean_ci_table,
            lambda: {
                "frame": _frame(),
                "by": "method",
                "columns": {"acc": "accuracy (%)"},
                "digits": 1,
                "scale": 100.0,
                "order": ["B", "A"],
            },
            {
                "frame": "frame",
                "by": "group_by",
                "columns": "column_map",
                "digits": "nonneg_int",
                "scale": "pos_float",
                "order": "optional_order",
            },
        ),
        _ctor(
            m,
            "paired_columns",
            report.paired_columns,
            lambda: {"frame": _frame(), "column": "acc", "by": "method", "a": "A", "b": "B", "on": "seed"},
            {
                "frame": "frame",
                "column": "column",
                "by": "column",
                "a": "group_value",
                "b": "group_value",
                "on": "column",
            },
        ),
        _ctor(
            m,
            "paper_check",
            report.paper_check,
            lambda: {"values": list(A), "paper": 0.915, "tolerance": 0.01, "scale_matches": True, "digits": 3},
            {
                "values": "samples",
                "paper": "float",
                "tolerance": "nonneg_float",
                "scale_matches": "bool",
                "digits": "nonneg_int",
            },
        ),
        _ctor(
            m,
            "summarize",
            report.summarize,
            lambda: {"frame": _frame(), "by": "method", "metrics": ["acc", "loss"], "confidence": 0.95},
            {"frame": "frame", "by": "group_by", "metrics": "column_list", "confidence": "unit_float"},
        ),
        _ctor(m, "not_tested", report.not_tested, lambda: {"reason": "no data"}, {"reason": "text"}),
        _ctor(
            m,
            "at_least",
            report.at_least,
            lambda: {"key": "train_acc", "bound": 0.5},
            {"key": "text", "bound": "float"},
        ),
        _ctor(m, "at_most", report.at_most, lambda: {"key": "trace", "bound": 0.95}, {"key": "text", "bound": "float"}),
        _ctor(
            m,
            "above_majority",
            report.above_majority,
            lambda: {"key": "train_acc", "majority": 0.5, "margin": 0.05},
            {"key": "text", "margin": "nonneg_float"},
        ),
        _ctor(
            m,
            "spread",
            report.spread,
            lambda: {"array": "feature", "minimum": 1e-6},
            {"array": "text", "minimum": "nonneg_float"},
        ),
        _ctor(m, "final", report.final, lambda: {"run": _run_record(), "key": "train_acc"}, {"key": "text"}),
        _ctor(
            m,
            "valid_runs",
            report.valid_runs,
            lambda: {"runs": [_run_record()], "checks": [report.at_least("train_acc", 0.5)]},
            {"checks": "checks"},
        ),
        _ctor(
            m,
            "compare",
            report.compare,
            lambda: {
                "test": report.greater,
                "frame": _frame(),
                "column": "acc",
                "by": "method",
                "a": "A",
                "b": "B",
                "scale": 100.0,
            },
            {"test": "verdict_test", "frame": "frame", "column": "column", "by": "column", "scale": "pos_float"},
        ),
        _ctor(
            m,
            "judge",
            report.judge,
            lambda: {"test": report.greater, "a": list(A), "value": 0.5, "paired": False},
            {"test": "verdict_test"},
        ),
        _ctor(m, "what_holds", report.what_holds, lambda: {"cards": {"toy": {"quick": _card()}}}, {"cards": "cards"}),
        _ctor(m, "power_note", report.power_note, lambda: {"card": _card()}, {"card": "frame"}),
        _ctor(
            m,
            "where",
            report.where,
            lambda: {"profile": "quick", "data": "digits", "seeds": [0, 1, 2]},
            {"profile": "text", "data": "text", "seeds": "seed_list"},
        ),
        _ctor(
            m,
            "where_benchmark",
            report.where_benchmark,
            lambda: {"name": "criteria_step", "device": "NVIDIA H100", "detail": "50 rounds"},
            {"name": "text", "device": "text", "detail": "text"},
        ),
    ]


# --------------------------------------------------------------------------- weights


def _calls_weights() -> list[Call]:
    m = "weights"
    return [
        _ctor(
            m,
            "hash_prefix",
            weights.hash_prefix,
            lambda: {"weights": ResNet18_Weights.IMAGENET1K_V1},
            {"weights": "weights_id"},
        ),
        _ctor(
            m,
            "resolve",
            weights.resolve,
            lambda: {"weights": ResNet18_Weights.IMAGENET1K_V1},
            {"weights": "weights_id"},
        ),
        _ctor(
            m,
            "weights_folder",
            weights.weights_folder,
            lambda: {"override": _weights_dir()},
            {"override": "optional_path"},
        ),
        _ctor(
            m,
            "load_weights",
            weights.load_weights,
            lambda: {"weights": _TinyWeights.TINY, "weights_dir": _weights_dir(), "download": False},
            {"weights": "weights_entry", "weights_dir": "path", "download": "bool"},
        ),
    ]


def _entered(folder: Any) -> Path:
    """``train.checkpointing(folder)`` entered and left: a context manager checks its argument when entered."""
    with train.checkpointing(folder) as path:
        return path


_add_role(
    "claims",
    (("empty", lambda v: []), ("str", lambda v: "claim"), ("not_claims", lambda v: [1]), ("none", lambda v: None)),
)
_add_role("dataset_kind", (("unknown", lambda v: "__nope__"), ("int", lambda v: 3)), _NONE_VALID)


_add_role("checks", (("one", lambda v: v[0]), ("str", lambda v: ["check"]), ("none", lambda v: None)))
_add_role("verdict_test", (("str", lambda v: "greater"), ("none", lambda v: None), ("other", lambda v: print)))
_add_role("cards", (("empty", lambda v: {}), ("list", lambda v: [v]), ("none", lambda v: None)))


def _run_record() -> Any:
    history = pd.DataFrame({"epoch": [1, 2], "train_acc": [0.4, 0.9]})
    return SimpleNamespace(name="toy.train", params={"seed": 0}, metrics={"acc": 0.8}, history=history, arrays={})


def _card() -> pd.DataFrame:
    finding = report.greater([0.9, 0.91, 0.92], value=0.5, paired=False)
    return report.scorecard([report.Claim("a beats chance", finding, report.where("quick", "toy", [0, 1, 2]))])


def _claims() -> list[report.Claim]:
    finding = report.deterministic(0.5, at_least=0.0)
    return [report.Claim("a claim", finding, report.where("quick", "digits", [0]))]


def _data_file() -> tuple[str, str]:
    """A fresh data folder holding one file: ``(folder, file)``."""
    folder = tempfile.mkdtemp(prefix="c2f-data-")
    (Path(folder) / "mine.bin").write_bytes(b"my own data")
    return folder, str(Path(folder) / "mine.bin")


_add_role(
    "optional_md5",
    (("short", lambda v: "abc"), ("int", lambda v: 3), ("not_hex", lambda v: "z" * 32)),
    _NONE_VALID,
)


def _calls_rest() -> list[Call]:
    """The public callables the module lists above do not declare."""
    return [
        Call(
            "train.checkpointing",
            _entered,
            lambda: {"folder": tempfile.mkdtemp(prefix="c2f-ckpt-")},
            {"folder": "path"},
        ),
        Call("data.available", data.available, lambda: {"kind": "real"}, {"kind": "dataset_kind"}),
        Call(
            "data.content_digest",
            data.content_digest,
            lambda: {"path": _data_file()[1], "algorithm": "sha256"},
            {"path": "path", "algorithm": "choice"},
        ),
        Call("data.registry", data.registry, lambda: {"data_dir": _data_file()[0]}, {"data_dir": "optional_path"}),
        Call(
            "data.verify",
            data.verify,
            lambda: dict(zip(("data_dir", "path"), _data_file(), strict=True), dataset="mine", md5=None),
            {"dataset": "text", "path": "path", "data_dir": "path", "md5": "optional_md5"},
        ),
        Call(
            "data.accept",
            data.accept,
            lambda: dict(zip(("data_dir", "path"), _data_file(), strict=True)),
            {"path": "path", "data_dir": "path"},
        ),
        Call("report.scorecard", report.scorecard, lambda: {"claims": _claims()}, {"claims": "claims"}),
        Call(
            "losses.teacher_objective",
            lambda **kw: teacher_objective(**kw)[0],
            lambda: {"teacher": _mlp(), "temperature": 2.0, "beta": 0.1},
            {"teacher": "model", "temperature": "pos_float", "beta": "unit_float"},
        ),
    ]


CALLS: list[Call] = [
    *_calls_models(),
    *_calls_train(),
    *_calls_data(),
    *_calls_report(),
    *_calls_weights(),
    *_calls_rest(),
]
