"""The methods of "Learnable label smoothing": names, networks, criteria, augmentations, the paper's numbers.

The chapter's tables (:data:`NETWORKS`, :data:`CRITERIA`) from its names to the registries'
(:func:`c2f_utils.models.create`, :func:`c2f_utils.losses.create`), the builders
:func:`make_model` and :func:`make_criterion` over them, and the numbers typed from the paper
(:data:`PAPER`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..._checks import check_choice
from ...constants import CIFAR10_CLASSES, CIFAR10_NAMES, LLS_ABLATIONS

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "AUGMENTATIONS",
    "CLASS_NAMES",
    "CRITERIA",
    "METHODS",
    "NETWORKS",
    "PAPER",
    "STUDENT_KINDS",
    "SUBSET_METHODS",
    "TEACHERS",
    "TRIOS",
    "make_criterion",
    "make_model",
]

METHODS = ("1-hot", "LS", "OLS", "TF-KD_reg", "LLS")
TEACHERS = ("1-hot", "LS", "LLS")
STUDENT_KINDS = ("alone", "KD 1-hot", "KD LS", "KD LLS", "LLS-ST")
TEACHER_OF = {"alone": "1-hot", "KD 1-hot": "1-hot", "KD LS": "LS", "KD LLS": "LLS", "LLS-ST": "LLS"}
SUBSET_METHODS = ("1-hot", "LS", "LLS", "LLS-ST")
"""The criteria of Tables 6-7: LLS-ST reuses the Q learned by the full-data LLS run."""
AUGMENTATIONS = ("standard", "cutout", "mixup", "cutmix", "randaugment")
"""Input augmentations of Table 8 (App. F), each on top of the dataset's crops and flips."""
CLASS_NAMES = {
    "digits": tuple(str(d) for d in range(10)),
    "mnist10k": tuple(str(d) for d in range(10)),
    **dict.fromkeys(CIFAR10_NAMES, CIFAR10_CLASSES),
}
"""Class names of each dataset, in label order (the committed runs are read without the data)."""
TRIOS = {
    "digits": ("4", "9", "0"),
    "mnist10k": ("4", "9", "0"),
    **dict.fromkeys(CIFAR10_NAMES, ("cat", "dog", "truck")),
}
"""Per dataset, two related classes and a third (Figure 6's cat, dog and truck)."""

PAPER = {
    "table3_cifar10_alexnet": dict(zip(METHODS, (79.98, 80.66, 80.71, 80.78, 80.88), strict=True)),
    "table4_tiny_r18": dict(
        zip(LLS_ABLATIONS, (26.44, 64.14, 63.26, 63.80, 63.40, 62.91, 63.03, 26.58, 64.58), strict=True)
    ),
    "table5_cifar100_r34_r18": dict(zip(STUDENT_KINDS[1:], (78.67, 79.40, 79.66, 79.57), strict=True)),
    "table2_cifar100_r18_1hot": 75.87,
    "table6_cifar100_r18": dict(zip(SUBSET_METHODS, (73.70, 74.56, 74.75, 74.92), strict=True)),
    "table7_cifar100_r18": dict(zip(SUBSET_METHODS, (83.24, 83.56, 83.66, 83.64), strict=True)),
    "table8_imagenet100_r18": {
        ("standard", "1-hot"): 81.72,
        ("standard", "LLS"): 82.72,
        ("cutout", "1-hot"): 82.86,
        ("cutout", "LLS"): 82.96,
        ("mixup", "1-hot"): 81.88,
        ("mixup", "LLS"): 82.48,
        ("cutmix", "1-hot"): 83.50,
        ("cutmix", "LLS"): 83.68,
        ("randaugment", "1-hot"): 82.88,
        ("randaugment", "LLS"): 83.50,
    },
    "table9_time_overhead_pct": 1.4,
}
"""Numbers typed from the paper (accuracy in %), for reference only."""


NETWORKS: dict[str, tuple[str, dict[str, Any]]] = {
    "mlp": ("mlp", {"hidden": (128,), "feature_dim": 32}),
    "mlp_small": ("mlp", {"hidden": (24,), "feature_dim": 16}),
    "lenet": ("lenet5", {}),
    "resnet18": ("resnet18", {}),
    "resnet20": ("cifar_resnet", {"depth": 20}),
}
"""The chapter's networks, ``name -> (models.create name, options)``: MLPs ``in-128-32-K`` (``"mlp"``) and
``in-24-16-K`` (``"mlp_small"``), LeNet-5, ResNet-18 and -20."""
CRITERIA: dict[str, tuple[str, dict[str, Any], dict[str, str]]] = {
    "1-hot": ("ce", {}, {}),
    "LS": ("ls", {}, {"label_smoothing": "alpha"}),
    "OLS": ("ols", {"alpha": 0.5}, {}),
    "TF-KD_reg": ("tfkd", {"alpha": 0.1, "temperature": 20.0, "correct_prob": 0.9, "multiplier": 1.0}, {}),
    **{
        row: ("lls", {"terms": terms}, {"alpha": "alpha", "q_weight_decay": "weight_decay"})
        for row, terms in LLS_ABLATIONS.items()
    },
}
"""The criterion of each method and Table 4 row, ``method -> (losses.create name, options, run options)``,
the run options naming the run's field (``alpha``, ``weight_decay``) that sets each: ``"1-hot"``:
cross-entropy; ``"LS"``: ``nn.CrossEntropyLoss(label_smoothing=alpha)``; ``"OLS"``:
:class:`~c2f_utils.losses.OnlineLabelSmoothing` (alpha 0.5); ``"TF-KD_reg"``:
:class:`~c2f_utils.losses.TFKDReg` (alpha 0.1, T 20, a 0.9, as its official code); LLS and its
ablations: :class:`~c2f_utils.losses.LLSLoss` with the terms of the row, plus
:math:`\\tfrac\\lambda2\\|T\\|^2` on Q's logits with :math:`\\lambda` = ``weight_decay``
(``fit`` does not decay criterion parameters)."""


def make_model(name: str, n_classes: int, x_shape: Sequence[int]) -> nn.Module:
    """The network ``name`` of :data:`NETWORKS`; ``x_shape`` is one input's shape ``(C, H, W)``."""
    from ... import models as c2f_models

    kind, options = NETWORKS[check_choice("model", name, NETWORKS)]
    return c2f_models.create(kind, n_classes=n_classes, input_shape=x_shape, **options)


def make_criterion(method: str, n_classes: int, alpha: float, weight_decay: float) -> tuple[nn.Module, list]:
    """The criterion of ``method`` (:data:`CRITERIA`) and its ``fit`` callbacks."""
    from ... import losses as c2f_losses

    kind, options, from_run = CRITERIA[check_choice("method", method, CRITERIA)]
    run = {"alpha": alpha, "weight_decay": weight_decay}
    crit = c2f_losses.create(kind, n_classes=n_classes, **options, **{k: run[f] for k, f in from_run.items()})
    return crit, c2f_losses.callbacks(crit)


def input_augmentation(dataset: str, augmentation: str = "standard", side: int = 32):
    """``(transform, mixer)`` for ``fit``: the dataset's crops and flips (CIFAR-10; none on
    digits), then ``augmentation`` (:data:`AUGMENTATIONS`; Cutout of half the image ``side``,
    16 px on CIFAR as DeVries & Taylor, RandAugment 2 ops at
    magnitude 9, Mixup and CutMix with Beta(1, 1)); ``mixer`` is the
    :class:`~c2f_utils.augment.MixedBatches` whose criterion the run must use, or None."""
    from ... import augment
    from ... import train as c2f_train

    if augmentation not in AUGMENTATIONS:
        raise ValueError(f"Expected `augmentation` in {list(AUGMENTATIONS)}, got {augmentation!r}")
    base = c2f_train.crop_flip(4, True) if dataset in CIFAR10_NAMES else None
    mixer = augment.MixedBatches(augmentation) if augmentation in augment.MIXES else None
    extra = {"cutout": lambda: augment.cutout(max(1, side // 2)), "randaugment": augment.randaugment}.get(augmentation)
    steps = [t for t in (base, extra() if extra else None, mixer.transform if mixer else None) if t is not None]
    if not steps:
        return None, None

    def transform(x):
        for step in steps:
            x = step(x)
        return x

    return transform, mixer
