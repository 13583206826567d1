"""The synthesis protocol: its criteria, measurements, networks and losses, shared by the runs and the report.

:data:`CRITERIA` (with :data:`STRENGTH_NAMES`, what each one's ``strength`` is), :data:`MEASUREMENTS`
(each with the direction that serves a later task), :data:`NETWORKS` and :data:`LOSSES` (the tables
:func:`make_model` and :func:`make_criterion` build from), and :func:`coarsening`, the coarse labels of
each dataset.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..._checks import check_choice

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "CRITERIA",
    "DATASETS",
    "LABELS",
    "LOSSES",
    "MEASUREMENTS",
    "MODELS",
    "NETWORKS",
    "STRENGTH_NAMES",
    "coarsening",
    "make_criterion",
    "make_model",
]

CRITERIA = ("ce", "ls", "confidence", "fierce", "lls", "ols", "tfkd")
"""The criteria, in the order of the tables."""
LABELS = {
    "ce": "cross-entropy",
    "ls": "label smoothing",
    "confidence": "confidence penalty",
    "fierce": "FIERCE",
    "lls": "LLS",
    "ols": "online LS",
    "tfkd": "TF-KD_reg",
}
STRENGTH_NAMES = {
    "ce": "(none)",
    "ls": "smoothing α",
    "confidence": "β",
    "fierce": "λ",
    "lls": "α",
    "ols": "α",
    "tfkd": "α",
}
"""What ``strength`` is for each criterion."""
MEASUREMENTS = {
    "test_acc": ("coarse test accuracy", 1),
    "fine_probe_acc": ("fine linear probe", 1),
    "fine_knn_acc": ("fine k-NN", 1),
    "separation": ("class separation R²", 0),
    "entropy_anchor": ("feature entropy (anchors, bits)", 0),
    "entropy_knn": ("feature entropy (k-NN, nats)", 0),
    "i_xt": ("I(X;T) of the outputs (nats)", 0),
    "ece": ("calibration error (ECE)", -1),
    "fewshot_acc": ("held-out few-shot accuracy", 1),
    "student_acc": ("distilled student accuracy", 1),
}
"""Measurement -> (label, direction): 1 where higher serves a later task, -1 where lower does
(calibration error), 0 for the descriptive ones (separation, entropies, I(X;T)), which have
no "best" (:func:`~c2f_utils.chapters.synthesis.report.summary_table`,
:func:`~c2f_utils.chapters.synthesis.report.best_per_measurement`)."""
MODELS = ("mlp", "lenet", "resnet20")
DATASETS = ("digits", "cifar10", "cifar10_jpeg", "cifar100")
_COARSENING = {"digits": "lt5", "cifar10": "vehicle", "cifar10_jpeg": "vehicle", "cifar100": "superclass"}


def coarsening(dataset: str) -> str:
    """The coarse labeling the chapter trains on for ``dataset`` (its natural coarsening)."""
    if dataset not in _COARSENING:
        raise ValueError(f"Expected `dataset` in {list(DATASETS)}, got {dataset!r}")
    return _COARSENING[dataset]


NETWORKS: dict[str, tuple[str, dict[str, Any], dict[str, str]]] = {
    "mlp": ("mlp", {"hidden": (128,)}, {"feature_dim": "feature_dim"}),
    "lenet": ("lenet5", {}, {"feature_dim": "feature_dim"}),
    "resnet20": ("cifar_resnet", {"depth": 20}, {}),
}
"""The chapter's networks, ``model -> (models.create name, options, run options)``, the run options
naming the run's field that sets each: ``mlp`` (one hidden layer of 128 on flat inputs), ``lenet``
(LeNet-5), ``resnet20`` (the CIFAR ResNet-20, 64 features whatever ``feature_dim``)."""
LOSSES: dict[str, tuple[str, dict[str, Any], dict[str, str]]] = {
    "ce": ("ce", {}, {}),
    "ls": ("ls", {}, {"label_smoothing": "strength"}),
    "confidence": ("confidence", {}, {"beta": "strength"}),
    "fierce": ("fierce", {"n_anchors": 100, "unit": "bits"}, {"lam": "strength"}),
    "lls": ("lls", {}, {"alpha": "strength"}),
    "ols": ("ols", {}, {"alpha": "strength"}),
    "tfkd": ("tfkd", {}, {"alpha": "strength"}),
}
"""The criteria, ``criterion -> (losses.create name, options, run options)``: each takes the run's
``strength`` (:data:`STRENGTH_NAMES`) as its hyperparameter. FIERCE: cross-entropy minus ``strength``
times the anchor estimate of the feature entropy (in bits, 100 anchors drawn from the seed); LLS,
online LS and TF-KD_reg with their defaults otherwise."""


def make_model(model: str, n_classes: int, input_shape: tuple[int, ...], feature_dim: int) -> nn.Module:
    """The network ``model`` of :data:`NETWORKS` for inputs of ``input_shape``."""
    from ... import models as c2f_models

    name, options, from_run = NETWORKS[check_choice("model", model, NETWORKS)]
    run = {"feature_dim": feature_dim}
    return c2f_models.create(
        name, n_classes=n_classes, input_shape=input_shape, **options, **{k: run[f] for k, f in from_run.items()}
    )


def make_criterion(criterion: str, strength: float, n_classes: int, feature_dim: int, seed: int) -> nn.Module:
    """The criterion ``criterion`` of :data:`LOSSES` at its hyperparameter ``strength``
    (anchors, for FIERCE, drawn from ``seed``)."""
    import torch

    from ... import losses as c2f_losses

    name, options, from_run = LOSSES[check_choice("criterion", criterion, LOSSES)]
    run = {"strength": strength}
    return c2f_losses.create(
        name,
        n_classes=n_classes,
        feature_dim=feature_dim,
        generator=torch.Generator().manual_seed(seed),
        **options,
        **{k: run[f] for k, f in from_run.items()},
    )
