"""``c2f_utils.probes`` as swept by tests/bad_inputs.py: one valid call per public function and class.

Roles that ``bad_inputs.ROLES`` lacks are registered here at import time (``add_role``):
arguments whose documented contract differs from every shared role (class identifiers of any
value, 1-D samples that may also be a column, boxes, permutations, optional arguments for which
None is a valid value...).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from bad_inputs import (
    _LABEL_BAD,
    _TENSOR_BAD,
    ROLES,
    Call,
    Role,
    _as_dtype,
    _drop_last,
    _more_dims,
    _negative_entry,
    _rows,
    _scale_rows,
    _set_label,
    _with_entry,
    add_role,
)
from bad_inputs_api import D, K, N, _features, _labels, _logits, _probs
from torch import nn

from c2f_utils import probes
from c2f_utils.models import MLP, LeNet5

# --------------------------------------------------------------------------- roles of this file


def _without(spoils: Any, *names: str) -> list:
    return [(label, spoil) for label, spoil in spoils if label not in names]


def _optional(name: str) -> Role:
    """``name``'s role for an argument that defaults to None: None moves from the bad values to the valid ones."""
    role = ROLES[name]
    return Role(tuple(_without(role.bad, "none")), (*role.valid, ("none", lambda v: None)), role.edge)


def _set_entry(v: Any, index: tuple[int, ...], value: Any) -> Any:
    out = v.clone() if isinstance(v, torch.Tensor) else np.array(v)
    out[index] = value
    return out


def _two_columns(v: Any) -> Any:
    return torch.stack([v, v], 1) if isinstance(v, torch.Tensor) else np.stack([v, v], 1)


def _column(v: Any) -> Any:
    return _more_dims(v)


_NONE = ("none", lambda v: None)
_FEWER = ("fewer_rows", _drop_last)
_FLOAT64 = ("float64", lambda v: _as_dtype(v, "float64"))
_INT32 = ("int32", lambda v: _as_dtype(v, "int32"))
_SINGLE_CLASS = ("single_class", lambda v: v * 0)
_FLOATS_BAD = list(ROLES["floats"].bad)

_NEW_ROLES: dict[str, Role] = {
    # a probability matrix that is not paired with another argument (dropping a row is still valid)
    "unpaired_probs": Role((*_TENSOR_BAD, ("negative", _negative_entry), ("rows_sum_2", _scale_rows)), (_FLOAT64,)),
    # a 1-D sample documented as (N,) or (N, 1): a column is valid, two columns are not
    "sample_1d": Role(
        (*_without(_TENSOR_BAD, "extra_dim"), ("two_columns", _two_columns)),
        (_FLOAT64, ("column", _column)),
    ),
    # integer class identifiers of any value (no range), as many as the rows of another argument
    "class_ids": Role(
        (*_without(_LABEL_BAD, "negative"), _FEWER),
        (_INT32, ("shifted", lambda v: v + 100)),
        (_SINGLE_CLASS,),
    ),
    # group identifiers of any value, one per entry of another argument
    "group_ids": Role(
        (*_without(_LABEL_BAD, "negative", "fractional"), _FEWER),
        (_INT32, ("shifted", lambda v: v + 100)),
    ),
    # optional class identifiers that must match another argument's labels (no shift)
    "optional_class_ids": Role(tuple(_without([*_LABEL_BAD, _FEWER], "negative", "none")), (_INT32, _NONE)),
    # class labels >= 0 whose number of classes is inferred (max + 1), so no value is out of range
    "unbounded_labels": Role(tuple(_LABEL_BAD), (_INT32,), (_SINGLE_CLASS,)),
    # a square (K, K) matrix
    "square": Role((*_TENSOR_BAD, ("not_square", _drop_last)), (_FLOAT64,)),
    # (K, d) class centres: a zero centre has no direction
    "centres": Role((*_TENSOR_BAD, ("zero_row", lambda v: _set_entry(v, (0,), 0.0))), (_FLOAT64,)),
    # non-negative class counts with a positive total
    "counts": Role(
        (*_TENSOR_BAD, ("negative", _negative_entry), ("zero_total", lambda v: v * 0)),
        (_FLOAT64, ("int64", lambda v: _as_dtype(v, "int64"))),
    ),
    # (N, 4) integer boxes (top, left, height, width)
    "boxes": Role(
        (
            ("nan", lambda v: _with_entry(v, float("nan"))),
            ("inf", lambda v: _with_entry(v, float("inf"))),
            ("negative_corner", lambda v: _set_entry(v, (0, 0), -1)),
            ("zero_size", lambda v: _set_entry(v, (0, 2), 0)),
            ("three_columns", lambda v: v[:, :3]),
            ("extra_dim", _more_dims),
            ("str", lambda v: "x"),
            _NONE,
        ),
        (_INT32, ("tensor", lambda v: torch.as_tensor(v))),
        (("empty", lambda v: _rows(v, 0)),),
    ),
    # (N, H, W) non-negative saliency maps, paired with N boxes
    "maps": Role(
        (*_TENSOR_BAD, ("negative", _negative_entry), _FEWER),
        (("tensor", lambda v: torch.as_tensor(v, dtype=torch.float32)),),
    ),
    # a submodule of another argument (the model)
    "submodule": Role((_NONE, ("str", lambda v: "conv2"), ("foreign", lambda v: nn.Conv2d(1, 1, 3)))),
    # a non-empty sequence of module names of the model
    "layer_names": Role(
        (("empty", lambda v: []), ("str", lambda v: v[0]), ("unknown", lambda v: ["__nope__"]), _NONE),
        (("tuple", lambda v: tuple(v)),),
    ),
    # the input batch of a module's forward: an empty batch may give an empty output; the dtype must be the
    # module's (float32), so float64 is not claimed valid
    "batch_features": Role(tuple(_without(_TENSOR_BAD, "empty")), (), (("empty", lambda v: _rows(v, 0)),)),
    # inputs of a model that flattens them (an extra trailing dimension is valid)
    "inputs": Role(tuple(_without(_TENSOR_BAD, "extra_dim"))),
    # sequences of numbers >= 0, and in [0, 1]
    "nonneg_floats": Role((*_FLOATS_BAD, ("negative", lambda v: [-1.0]))),
    "unit_floats": Role(
        (*_FLOATS_BAD, ("negative", lambda v: [-0.1]), ("above_one", lambda v: [1.5])),
        (("array", lambda v: np.asarray(v)),),
    ),
    # fractions of a table's rows: an empty sequence may give an empty table
    "fractions": Role(
        (*_without(_FLOATS_BAD, "empty"), ("negative", lambda v: [-0.1]), ("above_one", lambda v: [1.5])),
        (("list", lambda v: list(v)),),
        (("empty", lambda v: []),),
    ),
    # a permutation of range(d) as an integer tensor
    "permutation": Role(
        (
            ("duplicate", lambda v: _set_entry(v, (0,), v[1])),
            ("fewer", _drop_last),
            ("out_of_range", lambda v: _set_label(v, 10_000)),
            ("fractional", lambda v: _as_dtype(v, "float32") + 0.5),
            ("empty", lambda v: _rows(v, 0)),
            _NONE,
        ),
        (_INT32,),
    ),
    # an optional validation triple (features, predicted_class, targets)
    "split": Role(
        (
            ("two_items", lambda v: v[:2]),
            ("str", lambda v: "x"),
            ("mismatched_rows", lambda v: (v[0], v[1][:-1], v[2])),
            ("nan_features", lambda v: (_with_entry(v[0], float("nan")), v[1], v[2])),
        ),
        # None is valid too, but then `mse_val` and `beta_val` are NaN as documented: not swept
    ),
    # a device name (str only), or a str or torch.device
    "device": Role((("unknown", lambda v: "__nope__"), _NONE)),
    "torch_device": Role((("unknown", lambda v: "__nope__"), _NONE), (("torch_device", lambda v: torch.device(v)),)),
}
_NEW_ROLES["paired_boxes"] = Role(
    (*_NEW_ROLES["boxes"].bad, ("empty", lambda v: _rows(v, 0)), _FEWER), _NEW_ROLES["boxes"].valid
)
for _name, _role in _NEW_ROLES.items():
    add_role(_name, _role)
for _name in ("pos_int", "choice", "paired_labels", "unit_floats"):
    add_role(f"optional_{_name}", _optional(_name))


# --------------------------------------------------------------------------- valid values


def _boxes() -> np.ndarray:
    return np.array([[2, 2, 4, 4], [0, 0, 8, 8], [1, 3, 2, 5]])


def _maps() -> np.ndarray:
    return np.random.default_rng(0).uniform(size=(3, 8, 8))


def _mlp() -> MLP:
    torch.manual_seed(0)
    return MLP(D, K, hidden=(8,), feature_dim=5)


def _lenet() -> LeNet5:
    torch.manual_seed(0)
    return LeNet5(n_classes=K, feature_dim=10)


def _images(n: int = 2) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(5))


def _softmax(n: int, k: int, seed: int) -> torch.Tensor:
    return torch.softmax(_features(n, k, seed=seed), dim=1)


def _square(seed: int) -> torch.Tensor:
    return _features(K, K, seed=seed).abs()


def _vector(n: int, seed: int, scale: float = 1.0, shift: float = 0.0) -> torch.Tensor:
    return _features(n, 1, seed=seed)[:, 0] * scale + shift


def _gradcam() -> dict[str, Any]:
    model = _lenet()
    return {"model": model, "images": _images(), "target_layer": model.conv2, "targets": torch.tensor([0, 1])}


def _regression_1d() -> dict[str, Any]:
    pred = torch.arange(N) % 3
    val = (_vector(N, 11), torch.arange(N) % 3, _vector(N, 12, 5.0, 20.0))
    return {
        "features": _vector(N, 6),
        "predicted_class": pred,
        "targets": _vector(N, 7, 5.0, 20.0),
        "class_means": torch.tensor([15.0, 20.0, 25.0]),
        "val": val,
        "betas": np.linspace(0, 1, 11),
        "orientation": "class",
    }


# --------------------------------------------------------------------------- calls


def _call(name: str, fn: Any, valid: Any, roles: dict[str, str]) -> Call:
    return Call(f"probes.{name}", fn, valid, roles)


_PROBS_LABELS = {"probs": "probs", "labels": "paired_labels", "n_bins": "pos_int"}
_TRAIN_TEST = {"train_features": "features", "test_features": "features"}

CALLS: list[Call] = [
    _call(
        "anchor_entropy",
        probes.anchor_entropy,
        lambda: {"features": _features(), "anchors": _features(5, D, seed=5), "similarity": "cosine"},
        {"features": "features", "anchors": "features", "similarity": "choice"},
    ),
    _call(
        "box_area_fraction",
        probes.box_area_fraction,
        lambda: {"boxes": _boxes(), "height": 8, "width": 8},
        {"boxes": "boxes", "height": "pos_int", "width": "pos_int"},
    ),
    _call(
        "box_mass",
        probes.box_mass,
        lambda: {"maps": _maps(), "boxes": _boxes()},
        {"maps": "maps", "boxes": "paired_boxes"},
    ),
    _call(
        "calibration", probes.calibration, lambda: {"probs": _probs(), "labels": _labels(), "n_bins": 5}, _PROBS_LABELS
    ),
    _call(
        "class_centres",
        probes.class_centres,
        lambda: {"features": _features(), "labels": _labels(), "num_classes": K},
        {"features": "features", "labels": "paired_labels", "num_classes": "pos_int"},
    ),
    _call(
        "confusion",
        probes.confusion,
        lambda: {"y_true": _labels(), "y_pred": torch.roll(_labels(), 1), "num_classes": K, "normalize": "true"},
        {
            "y_true": "paired_labels",
            "y_pred": "paired_labels",
            "num_classes": "pos_int",
            "normalize": "optional_choice",
        },
    ),
    _call(
        "empirical_joint",
        probes.empirical_joint,
        lambda: {"labels": _labels(), "n_classes": K},
        {"labels": "labels", "n_classes": "optional_pos_int"},
    ),
    _call("equidistance", probes.equidistance, lambda: {"distances": _square(13)}, {"distances": "square"}),
    _call(
        "few_shot_eval",
        probes.few_shot_eval,
        lambda: {
            "features": _features(40, D),
            "labels": torch.arange(40) % 4,
            "n_way": 3,
            "n_shot": 1,
            "n_query": 3,
            "n_episodes": 20,
            "seed": 0,
            "batch_episodes": 8,
        },
        {
            "features": "features",
            "labels": "class_ids",
            "n_way": "pos_int",
            "n_shot": "pos_int",
            "n_query": "pos_int",
            "n_episodes": "pos_int",
            "seed": "nonneg_int",
            "batch_episodes": "pos_int",
        },
    ),
    _call(
        "gradcam_maps",
        probes.gradcam_maps,
        lambda: {**_gradcam(), "batch_size": 1},
        {
            "model": "model",
            "images": "images",
            "target_layer": "submodule",
            "targets": "optional_paired_labels",
            "batch_size": "pos_int",
        },
    ),
    _call(
        "histogram_entropy",
        probes.histogram_entropy,
        lambda: {"values": _vector(N, 6), "bins": 5},
        {"values": "sample_1d", "bins": "pos_int"},
    ),
    _call(
        "ib_lagrangian",
        probes.ib_lagrangian,
        lambda: {
            "labels": _labels(),
            "betas": [0.5, 2.0],
            "n_outputs": K,
            "steps": 20,
            "lr": 0.05,
            "init": "random",
            "init_scale": 1.0,
            "warm_start": False,
            "seed": 0,
            "record_every": 5,
            "keep_probs": True,
            "device": "cpu",
        },
        {
            "labels": "unbounded_labels",
            "betas": "nonneg_floats",
            "n_outputs": "optional_pos_int",
            "steps": "pos_int",
            "lr": "pos_float",
            "init": "choice",
            "init_scale": "nonneg_float",
            "warm_start": "bool",
            "seed": "nonneg_int",
            "record_every": "pos_int",
            "keep_probs": "bool",
            "device": "torch_device",
        },
    ),
    _call(
        "info_plane",
        probes.info_plane,
        lambda: {"probs": _probs(), "labels": _labels()},
        {"probs": "probs", "labels": "paired_labels"},
    ),
    _call(
        "knn_entropy",
        probes.knn_entropy,
        lambda: {"features": _features(), "k": 3, "min_distance": 1e-10},
        {"features": "features", "k": "pos_int", "min_distance": "pos_float"},
    ),
    _call(
        "label_information",
        probes.label_information,
        lambda: {"labels": _labels(), "n_classes": K},
        {"labels": "labels", "n_classes": "optional_pos_int"},
    ),
    _call(
        "layer_representations",
        probes.layer_representations,
        lambda: {"model": _lenet(), "x": _images(3), "layers": ["conv2", "fc2"], "batch_size": 2},
        {"model": "model", "x": "images", "layers": "layer_names", "batch_size": "pos_int"},
    ),
    _call(
        "linear_probe",
        probes.linear_probe,
        lambda: {
            "train_features": _features(),
            "train_labels": _labels(),
            "test_features": _features(seed=8),
            "test_labels": _labels(),
            "C": 1.0,
            "max_iter": 100,
            "max_train": 10,
            "seed": 0,
        },
        {
            **_TRAIN_TEST,
            "train_labels": "class_ids",
            "test_labels": "class_ids",
            "C": "pos_float",
            "max_iter": "pos_int",
            "max_train": "optional_pos_int",
            "seed": "nonneg_int",
        },
    ),
    _call(
        "ls_info_plane",
        probes.ls_info_plane,
        lambda: {"alpha": 0.1, "class_counts": torch.tensor([5.0, 3.0, 2.0, 2.0])},
        {"alpha": "unit_float", "class_counts": "counts"},
    ),
    _call(
        "matrix_agreement",
        probes.matrix_agreement,
        lambda: {"a": _square(13), "b": _square(14), "permutations": 49, "seed": 0},
        {"a": "square", "b": "square", "permutations": "nonneg_int", "seed": "nonneg_int"},
    ),
    _call(
        "normalized_cosine_distances",
        probes.normalized_cosine_distances,
        lambda: {"centres": _features(K, D)},
        {"centres": "centres"},
    ),
    _call("off_diagonal", probes.off_diagonal, lambda: {"matrix": _square(13)}, {"matrix": "square"}),
    _call(
        "ot_plan_analysis",
        probes.ot_plan_analysis,
        lambda: {"a": _features(), "b": _features(N, 5, seed=9), "solver": "exact"},
        {"a": "paired_features", "b": "paired_features", "solver": "choice"},
    ),
    _call(
        "ot_plan_trace",
        probes.ot_plan_trace,
        lambda: {"a": _features(), "b": _features(seed=9), "solver": "exact"},
        {"a": "paired_features", "b": "paired_features", "solver": "choice"},
    ),
    _call(
        "ot_regression_1d",
        probes.ot_regression_1d,
        _regression_1d,
        {
            "features": "sample_1d",
            "predicted_class": "paired_labels",
            "targets": "targets",
            "class_means": "features",
            "val": "split",
            "betas": "optional_unit_floats",
            "orientation": "choice",
        },
    ),
    _call(
        "output_mutual_information",
        probes.output_mutual_information,
        lambda: {"probs": _probs()},
        {"probs": "unpaired_probs"},
    ),
    _call(
        "permutation_probe",
        probes.permutation_probe,
        lambda: {"model": _mlp(), "x": _features(), "fractions": (0.0, 0.5, 1.0), "seed": 0},
        {"model": "model", "x": "inputs", "fractions": "fractions", "seed": "nonneg_int"},
    ),
    _call(
        "permute_features",
        probes.permute_features,
        lambda: {"model": _mlp(), "perm": torch.tensor([1, 0, 2, 4, 3])},
        {"model": "model", "perm": "permutation"},
    ),
    _call(
        "reliability_diagram",
        probes.reliability_diagram,
        lambda: {"probs": _probs(), "labels": _labels(), "n_bins": 5},
        _PROBS_LABELS,
    ),
    _call(
        "ridge_probe",
        probes.ridge_probe,
        lambda: {
            "train_features": _features(),
            "train_targets": _features(N, 2, seed=10),
            "test_features": _features(seed=8),
            "test_targets": _features(N, 2, seed=11),
            "alpha": 1.0,
        },
        {**_TRAIN_TEST, "train_targets": "targets", "test_targets": "targets", "alpha": "nonneg_float"},
    ),
    _call(
        "class_separation",
        probes.class_separation,
        lambda: {"features": _features(), "labels": _labels()},
        {"features": "features", "labels": "class_ids"},
    ),
    _call(
        "silhouette",
        probes.silhouette,
        lambda: {"features": _features(), "labels": _labels(), "metric": "cosine"},
        {"features": "features", "labels": "class_ids", "metric": "choice"},
    ),
    _call(
        "simplex_mse",
        probes.simplex_mse,
        lambda: {"probs": _probs(), "target": _softmax(N, K, 7)},
        {"probs": "probs", "target": "probs"},
    ),
    _call(
        "softmax_mse",
        probes.softmax_mse,
        lambda: {"logits": _logits(), "target": _probs()},
        {"logits": "logits", "target": "probs"},
    ),
    _call(
        "transfer_mse",
        probes.transfer_mse,
        lambda: {
            "train_features": _features(),
            "train_targets": _softmax(N, 3, 10),
            "test_features": _features(seed=8),
            "test_targets": _softmax(N, 3, 11),
            "seed": 0,
            "val_fraction": 0.2,
            "max_iter": 20,
            "patience": 5,
            "tolerance": 1e-9,
            "device": "cpu",
        },
        {
            **_TRAIN_TEST,
            "train_targets": "probs",
            "test_targets": "probs",
            "seed": "nonneg_int",
            "val_fraction": "unit_float",
            "max_iter": "pos_int",
            "patience": "pos_int",
            "tolerance": "pos_float",
            "device": "device",
        },
    ),
    _call(
        "transport_1d",
        probes.transport_1d,
        lambda: {"values": _vector(10, 6), "reference": _vector(N, 7, 5.0, 20.0)},
        {"values": "features", "reference": "features"},
    ),
    _call(
        "tsne",
        probes.tsne,
        lambda: {"features": _features(), "perplexity": 3.0, "seed": 0, "max_samples": 10},
        {"features": "features", "perplexity": "pos_float", "seed": "nonneg_int", "max_samples": "optional_pos_int"},
    ),
    _call(
        "within_group_accuracy",
        probes.within_group_accuracy,
        lambda: {
            "proba": _probs(),
            "fine_labels": _labels(),
            "groups": np.array([0, 0, 1, 1]),
            "classes": np.arange(K),
        },
        {"proba": "probs", "fine_labels": "paired_labels", "groups": "group_ids", "classes": "optional_class_ids"},
    ),
    _call(
        "SoftmaxHead",
        probes.SoftmaxHead,
        lambda: {"in_features": D, "out_features": 3},
        {"in_features": "pos_int", "out_features": "pos_int"},
    ),
    _call(
        "SoftmaxHead.forward",
        lambda **kw: _softmax_head()(**kw),
        lambda: {"x": _features()},
        {"x": "batch_features"},
    ),
]


def _softmax_head() -> probes.SoftmaxHead:
    torch.manual_seed(0)
    return probes.SoftmaxHead(D, 3)
