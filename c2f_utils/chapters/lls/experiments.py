"""Chapter "Learnable label smoothing": the LLS paper's experiments at laptop scale.

Experiments: :class:`Train` (one network, one criterion, one seed), :class:`Distill` (a
student taught by a :class:`Train` teacher run, or by its Q-matrix alone) and :class:`Overhead`
(LS and LLS timed). Report: the tables, the measured figures, the plots and :func:`scorecard`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from ... import report
from ..._checks import check_choice
from ...constants import CIFAR10_CLASSES, CIFAR10_NAMES, LLS_ABLATIONS
from ...experiments import Chapter, Config, Experiment, Grid, param
from ...runs import RunOutput, RunResult, results_frame
from .. import register

if TYPE_CHECKING:
    import torch
    from torch import nn

    from ... import train as c2f_train

__all__ = [
    "CHAPTER", "CLASS_NAMES", "METHODS", "PAPER", "STUDENT_KINDS", "TRIOS", "Distill", "Overhead", "Train",
    "ablation_table", "accuracy_table", "card", "distillation_table", "geometry_figure", "geometry_summary",
    "make_criterion", "make_model", "overhead_table", "plot_geometry", "plot_q_and_confusion", "q_confusion_agreement",
    "q_figure", "q_summary", "results_table", "scorecard",
]  # fmt: skip
__all__ += ["AUGMENTATIONS", "CHECKS", "MAJORITY", "SUBSET_METHODS", "Subset", "Variant", "validity"]
__all__ += ["CRITERIA", "NETWORKS"]
__all__ += [
    "ablation_q_figure",
    "ablation_q_summary",
    "augmentation_table",
    "fig8_figure",
    "plot_ablation_q",
    "subset_table",
]

#: The label-smoothing methods compared in Tables 1-3 (``main`` grid).
METHODS = ("1-hot", "LS", "OLS", "TF-KD_reg", "LLS")
TEACHERS = ("1-hot", "LS", "LLS")
STUDENT_KINDS = ("alone", "KD 1-hot", "KD LS", "KD LLS", "LLS-ST")
_TEACHER_OF = {"alone": "1-hot", "KD 1-hot": "1-hot", "KD LS": "LS", "KD LLS": "LLS", "LLS-ST": "LLS"}
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


# --------------------------------------------------------------------------- building blocks


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


def _augmentation(dataset: str, augmentation: str = "standard", side: int = 32):
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


# --------------------------------------------------------------------------- experiments


@dataclass(frozen=True)
class _Setup(Experiment):
    """The fields that :class:`Train` and :class:`Overhead` share."""

    dataset: str = param("dataset", choices=("digits", "mnist10k", *CIFAR10_NAMES))
    model: str = param("network (and teacher)", choices=("mlp", "lenet", "resnet18", "resnet20"))
    alpha: float = param("smoothing weight of LS and LLS", ge=0, le=1)
    lr: float = param("SGD learning rate (momentum 0.9), also Q's", gt=0)
    batch_size: int = param("mini-batch size", ge=1)
    device: str = param("device to train on", device=True)


@dataclass(frozen=True)
class Train(_Setup):
    """Train ``model`` on ``dataset`` with ``method``. Arrays: test ``confusion`` and ``soft_confusion``
    (rows: true class), training-feature class ``centres``, a seeded subset of test features, ``q_logits``
    (LLS variants) and the weights ``state/*`` (teacher methods)."""

    name: ClassVar[str] = "lls.train"
    uses: ClassVar[tuple[str, ...]] = (
        "data.core",
        "losses.smoothing",
        "models.lenet5",
        "models.mlp",
        "models.resnet",
        "models.state",
        "probes.geometry",
        "train",
    )
    method: str = param("training criterion", choices=(*METHODS[:-1], *LLS_ABLATIONS))
    seed: int = param("training seed", ge=0)
    epochs: int = param("training epochs", ge=1)
    warmup_epochs: int = param("linear learning-rate warm-up epochs", ge=0)
    schedule: str = param("schedule after warm-up", choices=("cosine", "multistep"))
    milestones: tuple[int, ...] = param("multistep epochs counted after the warm-up", ge=1)
    weight_decay: float = param("weight decay of the network and (as an L2 term) of Q", ge=0)
    tsne_samples: int = param("test samples kept for t-SNE", ge=2)

    def train_config(self) -> c2f_train.TrainConfig:
        """The recipe: SGD with momentum 0.9, the schedule, the warm-up if shorter than the run."""
        from ... import train as c2f_train

        warmup = self.warmup_epochs if self.epochs > self.warmup_epochs else 0
        names = ("epochs", "batch_size", "lr", "weight_decay", "schedule", "milestones", "seed", "device")
        return c2f_train.TrainConfig(momentum=0.9, warmup_epochs=warmup, **{n: getattr(self, n) for n in names})

    def run(self) -> RunOutput:
        return self.train_and_probe()

    def train_and_probe(self, augmentation: str = "standard") -> RunOutput:
        """:meth:`run` with an input ``augmentation`` of :data:`AUGMENTATIONS` (:class:`Variant`)."""
        import torch

        from ... import data as c2f_data
        from ... import losses as c2f_losses
        from ... import models as c2f_models
        from ... import probes as c2f_probes
        from ... import train as c2f_train

        train, test = c2f_data.load(self.dataset, "train"), c2f_data.load(self.dataset, "test")
        k, (aug, mixer) = train.n_classes(), _augmentation(self.dataset, augmentation, train.x.shape[-1])
        c2f_train.seed_everything(self.seed)
        net = make_model(self.model, k, tuple(train.x.shape[1:]))
        crit, callbacks = make_criterion(self.method, k, self.alpha, self.weight_decay)
        loss = mixer.criterion(crit) if mixer is not None else crit
        res = c2f_train.fit(net, (train.x, train.fine), loss, self.train_config(), callbacks=callbacks, transform=aug)
        te = c2f_train.extract_features(res.model, test.x, device=self.device)
        tr = c2f_train.extract_features(res.model, train.x, device=self.device)
        pred, probs = te.logits.argmax(1), torch.softmax(te.logits, 1).numpy()
        keep = np.arange(len(test))
        if len(keep) > self.tsne_samples:
            keep = np.sort(np.random.default_rng(0).choice(len(keep), self.tsne_samples, replace=False))
        arrays = {
            "confusion": c2f_probes.confusion(test.fine, pred, k),
            "soft_confusion": np.stack([probs[test.fine.numpy() == c].mean(0) for c in range(k)]),
            "centres": c2f_probes.class_centres(tr.features, train.fine, k),
            "test_features": te.features.numpy()[keep],
            "test_labels": test.fine.numpy()[keep],
        }
        metrics = {
            "test_acc": float((pred == test.fine).float().mean()),
            "silhouette": c2f_probes.silhouette(te.features, test.fine),
        }
        metrics["train_loss"] = float(res.history.train_loss.iloc[-1])
        if isinstance(crit, c2f_losses.LLSLoss):
            arrays["q_logits"] = crit.q_logits.detach().cpu().numpy()
        if self.method in TEACHERS:
            arrays.update(c2f_models.state_arrays(res.model))
        return RunOutput(metrics=metrics, history=res.history, arrays=arrays)


@dataclass(frozen=True)
class Distill(Experiment):
    """Train a ``student`` network alone (1-hot), by KD from a teacher run (Eq. 6, beta 0, T 1), or
    by LLS-ST, the LLS teacher's Q-matrix alone (:class:`~c2f_utils.losses.SubstituteTeacherLoss`).

    ``teacher``'s method and seed are set from ``kind`` and ``seed``; its recipe also trains the student."""

    name: ClassVar[str] = "lls.distill"
    uses: ClassVar[tuple[str, ...]] = (*Train.uses, "losses.distill")
    teacher: Train = param("the teacher's run (method and seed follow kind and seed)")
    student: str = param("student network of Table 5", choices=("mlp_small", "lenet", "resnet20"))
    kind: str = param("how the student is taught", choices=STUDENT_KINDS)
    seed: int = param("training seed", ge=0)

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "teacher", self.teacher.replace(method=_TEACHER_OF[self.kind], seed=self.seed))

    def requires(self) -> list[Experiment]:
        return [] if self.kind == "alone" else [self.teacher]

    def run(self) -> RunOutput:
        import torch

        from ... import data as c2f_data
        from ... import losses as c2f_losses
        from ... import models as c2f_models
        from ... import train as c2f_train

        t = self.teacher
        train, test = c2f_data.load(t.dataset, "train"), c2f_data.load(t.dataset, "test")
        k, shape, regularizer = train.n_classes(), tuple(train.x.shape[1:]), None
        if self.kind == "alone":
            crit: nn.Module = c2f_losses.create("ce")
        elif self.kind == "LLS-ST":  # the teacher is its Q-matrix
            q_logits = torch.as_tensor(t.cached().arrays["q_logits"])
            crit = c2f_losses.create("substitute_teacher", q_logits=q_logits, alpha=t.alpha)
        else:  # the teacher is a network
            t_net = c2f_models.load_state_arrays(make_model(t.model, k, shape), t.cached().arrays)
            crit, regularizer = c2f_losses.teacher_objective(
                t_net.to(c2f_train.resolve_device(t.device)), temperature=1.0, beta=0.0
            )
        c2f_train.seed_everything(self.seed)
        net = make_model(self.student, k, shape)
        aug, _ = _augmentation(t.dataset)
        res = c2f_train.fit(net, (train.x, train.fine), crit, t.train_config(), regularizer=regularizer, transform=aug)
        acc = c2f_train.evaluate(res.model, (test.x, test.fine), device=t.device)["acc"]
        return RunOutput(metrics={"test_acc": acc}, history=res.history)


@dataclass(frozen=True)
class Variant(Experiment):
    """A :class:`Train` run of the ``recipe`` (the ``main`` grid's, overrides included) with
    another ``method`` and ``seed``, on another ``dataset``/``model`` (``""``: the recipe's;
    App. E, Fig. 8) or with an input ``augmentation`` on top of the crops and flips (App. F,
    Table 8). Metrics and arrays as :class:`Train`."""

    name: ClassVar[str] = "lls.variant"
    uses: ClassVar[tuple[str, ...]] = (*Train.uses, "augment")
    recipe: Train = param("the main grid's recipe (its dataset and network unless set here)")
    dataset: str = param("dataset ('' for the recipe's)", choices=("", "digits", "mnist10k", *CIFAR10_NAMES))
    model: str = param("network ('' for the recipe's)", choices=("", "mlp", "lenet", "resnet18", "resnet20"))
    augmentation: str = param("input augmentation on top of crops and flips (Table 8)", choices=AUGMENTATIONS)
    method: str = param("training criterion", choices=TEACHERS)
    seed: int = param("training seed", ge=0)

    def train(self) -> Train:
        """The :class:`Train` run this variant trains (without its augmentation)."""
        changes = {"method": self.method, "seed": self.seed}
        changes |= {name: getattr(self, name) for name in ("dataset", "model") if getattr(self, name)}
        return self.recipe.replace(**changes)

    def components(self) -> tuple[str, ...]:
        return tuple(sorted({*super().components(), *self.train().components()}))

    def data_needs(self) -> list[str]:
        return self.train().data_needs()

    def run(self) -> RunOutput:
        return self.train().train_and_probe(self.augmentation)


@dataclass(frozen=True)
class Subset(Experiment):
    """Tables 6-7 (App. D): train on half of the training set with ``method``, the
    ``teacher``'s recipe and seed: ``"samples"``, a random half of the images (drawn with the
    seed), tested on the whole test set; ``"classes"``, the first half of the classes with all
    their images, tested on their test images. ``"LLS-ST"`` trains towards the Q learned by the
    full-data LLS run (``teacher``, method LLS, same seed): its logits restricted to the
    subset's classes, a softmax over them (:class:`~c2f_utils.losses.SubstituteTeacherLoss`).
    Metrics ``test_acc`` and ``n_train``; the history has ``train_acc``."""

    name: ClassVar[str] = "lls.subset"
    uses: ClassVar[tuple[str, ...]] = (*Train.uses, "losses.distill")
    teacher: Train = param("the full-data LLS run whose Q LLS-ST reuses (method and seed set here)")
    subset: str = param("half of the training set kept", choices=("samples", "classes"))
    method: str = param("criterion on the subset", choices=SUBSET_METHODS)
    seed: int = param("training seed", ge=0)
    grad_clip: float = param(
        "clip the gradient to this global L2 norm at every step (0: no clipping)", ge=0, default=0.0, omit_default=True
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "teacher", self.teacher.replace(method="LLS", seed=self.seed))

    def requires(self) -> list[Experiment]:
        return [self.teacher] if self.method == "LLS-ST" else []

    def components(self) -> tuple[str, ...]:
        return tuple(sorted({*super().components(), *self.teacher.components()}))

    def data_needs(self) -> list[str]:
        return self.teacher.data_needs()

    def data(self) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor], int]:
        """``(train, test, K)``: the kept training images and labels, the test images and
        labels it is judged on, and the number of classes."""
        import torch

        from ... import data as c2f_data

        train, test = c2f_data.load(self.teacher.dataset, "train"), c2f_data.load(self.teacher.dataset, "test")
        k = train.n_classes()
        if self.subset == "classes":
            k = k // 2
            keep, test_keep = train.fine < k, test.fine < k
        else:
            chosen = np.random.default_rng(self.seed).choice(len(train), len(train) // 2, replace=False)
            keep, test_keep = torch.as_tensor(np.isin(np.arange(len(train)), chosen)), torch.ones(len(test), dtype=bool)
        return (train.x[keep], train.fine[keep]), (test.x[test_keep], test.fine[test_keep]), k

    def criterion(self, n_classes: int) -> tuple[nn.Module, list]:
        """The criterion on ``n_classes`` classes and its callbacks (:func:`make_criterion`;
        LLS-ST: the teacher's Q logits restricted to the first ``n_classes`` classes)."""
        import torch

        from ... import losses as c2f_losses

        t = self.teacher
        if self.method == "LLS-ST":
            q_logits = torch.as_tensor(t.cached().arrays["q_logits"])[:n_classes, :n_classes]
            return c2f_losses.create("substitute_teacher", q_logits=q_logits, alpha=t.alpha), []
        return make_criterion(self.method, n_classes, t.alpha, t.weight_decay)

    def run(self) -> RunOutput:
        from ... import train as c2f_train

        t = self.teacher
        (x, y), test, k = self.data()
        c2f_train.seed_everything(self.seed)
        net = make_model(t.model, k, tuple(x.shape[1:]))
        crit, callbacks = self.criterion(k)
        aug, _ = _augmentation(t.dataset)
        cfg = dataclasses.replace(t.train_config(), grad_clip=self.grad_clip or None)
        res = c2f_train.fit(net, (x, y), crit, cfg, callbacks=callbacks, transform=aug)
        acc = c2f_train.evaluate(res.model, test, device=t.device)["acc"]
        return RunOutput(metrics={"test_acc": acc, "n_train": len(y)}, history=res.history)


@dataclass(frozen=True)
class Overhead(_Setup):
    """Table 9: parameters and median epoch time of LS and LLS, training copies of one network an epoch
    at a time, interleaved (load changes affect both alike), after one uncounted round."""

    name: ClassVar[str] = "lls.overhead"
    uses: ClassVar[tuple[str, ...]] = tuple(c for c in Train.uses if c != "probes.geometry")
    epochs: int = param("epochs of each criterion timed for Table 9", ge=1)
    seed: int = param("seed of the two networks' initialisation", ge=0)

    def run(self) -> RunOutput:
        from ... import data as c2f_data
        from ... import models as c2f_models
        from ... import train as c2f_train

        train = c2f_data.load(self.dataset, "train")
        k, (aug, _) = train.n_classes(), _augmentation(self.dataset)
        nets, times = {}, {"LS": [], "LLS": []}
        for name in times:
            c2f_train.seed_everything(self.seed)
            nets[name] = make_model(self.model, k, tuple(train.x.shape[1:]))
        crits = {name: make_criterion(name, k, self.alpha, 0.0)[0] for name in times}
        cfg = c2f_train.TrainConfig(1, self.batch_size, lr=self.lr, momentum=0.9, seed=self.seed, device=self.device)
        for _ in range(self.epochs + 1):
            for name in times:
                start = time.perf_counter()
                c2f_train.fit(nets[name], (train.x, train.fine), crits[name], cfg, transform=aug)
                times[name].append(time.perf_counter() - start)
        n_net = c2f_models.count_parameters(nets["LS"])
        metrics = {"params_LS": n_net, "params_LLS": n_net + c2f_models.count_parameters(crits["LLS"])}
        return RunOutput(metrics=metrics | {f"epoch_s_{n}": float(np.median(t[1:])) for n, t in times.items()})


def _profile(
    main: Train,
    seeds: tuple[int, ...],
    alphas: tuple[float, ...],
    student: str,
    timed: int,
    fig8: tuple[str, str],
    few: tuple[int, ...],
    subset: tuple[tuple[int, ...], float] | None = None,
) -> dict:
    """A profile's grids: ``seeds`` for the main grid (Tables 3, Figs 3-6), its alphas and Fig. 8;
    ``few`` (parameters ``ablation.seeds``, ``distill.seeds``, ``subset.seeds``, ``table8.seeds``)
    for the costlier grids of Tables 4-8; ``subset``: Tables 6-7's own ``(seeds, grad_clip)``
    (default ``(few, 0.0)``)."""
    subset_seeds, clip = (few, 0.0) if subset is None else subset
    shared = {name: getattr(main, name) for name in ("dataset", "model", "alpha", "lr", "batch_size", "device")}
    overhead = Overhead(**shared, epochs=timed, seed=0)
    variant = Variant(main, dataset=fig8[0], model=fig8[1], augmentation="standard", method="1-hot", seed=seeds[0])
    return {
        "main": Grid(main, sweep={"method": METHODS, "seed": seeds}, fixed=("method",)),
        "ablation": Grid(
            main, {"method": tuple(LLS_ABLATIONS), "seed": few}, "ablation", fixed=("method",), own=("seed",)
        ),
        "distill": Grid(
            Distill(main, student=student, kind="alone", seed=0),
            {"kind": STUDENT_KINDS, "seed": few},
            "distill",
            fixed=("kind",),
            follow={"teacher": "main"},
            own=("seed",),
        ),
        "alpha": Grid(main.replace(method="LLS"), sweep={"alpha": alphas, "seed": seeds}, fixed=("method",)),
        "overhead": Grid(overhead, group="overhead", fixed=("seed",), own=("epochs",)),
        "subset": Grid(
            Subset(main, subset="samples", method="1-hot", seed=seeds[0], grad_clip=clip),
            {"subset": ("samples", "classes"), "method": SUBSET_METHODS, "seed": subset_seeds},
            "subset",
            fixed=("subset", "method"),
            follow={"teacher": "main"},
            own=("seed",),
        ),
        "fig8": Grid(
            variant,
            {"method": TEACHERS, "seed": seeds},
            "fig8",
            fixed=("augmentation", "method"),
            follow={"recipe": "main"},
            own=("dataset", "model"),
        ),
        "table8": Grid(
            variant.replace(dataset="", model=""),
            {"augmentation": AUGMENTATIONS[1:], "method": ("1-hot", "LLS"), "seed": few},
            "table8",
            fixed=("dataset", "model", "method"),
            follow={"recipe": "main"},
            own=("seed",),
        ),
    }


_RECIPE = dict(alpha=0.1, batch_size=128, method="1-hot", seed=0, schedule="cosine", milestones=(), weight_decay=5e-4)
_QUICK = Train(
    **_RECIPE, dataset="digits", model="mlp", lr=0.2, device="cpu", epochs=20, warmup_epochs=0, tsne_samples=540
)
_REAL = Train(
    **_RECIPE,
    dataset="cifar10_jpeg",
    model="lenet",
    lr=0.05,
    device="cpu",
    epochs=10,
    warmup_epochs=0,
    tsne_samples=1000,
)
_PAPER = Train(
    **_RECIPE | dict(schedule="multistep", milestones=(140, 215)),
    dataset="cifar10",
    model="resnet18",
    lr=0.1,
    device="auto",
    epochs=300,
    warmup_epochs=10,
    tsne_samples=2000,
)
#: The chapter: its experiments' grids per profile (``python -m c2f_utils.run --list lls``).
CHAPTER = register(
    Chapter(
        "lls",
        "lls.md",
        "Learnable label smoothing",
        {
            # quick: Fig. 8 on the same digits and MLP (the main grid's runs, read from the cache)
            "quick": _profile(_QUICK, (0, 1, 2), (0.05, 0.1, 0.3), "mlp_small", 6, ("digits", "mlp"), (0, 1, 2)),
            # real: CIFAR-10 (the offline JPEG copy, 20,000 training images) with LeNet-5 for 10 epochs
            # on a CPU, 5 seeds (Tables 4, 5 and 8: 3, for the CPU budget); Fig. 8 on the 10,000 MNIST test
            # digits (8,000 to train) with LeNet-5, for the paper's FashionMNIST (not available offline).
            # Tables 6-7 clip the gradient to norm 1 for every method (without it an LLS-ST run on the
            # half of the classes stayed at chance).
            "real": _profile(
                _REAL,
                (0, 1, 2, 3, 4),
                (0.05, 0.1, 0.3),
                "mlp_small",
                6,
                ("mnist10k", "lenet"),
                (0, 1, 2, 3, 4),
                subset=((0, 1, 2, 3, 4), 1.0),
            ),
            "paper": _profile(
                _PAPER,
                (0, 1, 2, 3, 4),
                (0.05, 0.1, 0.2, 0.3, 0.4, 0.5),
                "resnet20",
                3,
                ("mnist10k", "lenet"),
                (0, 1, 2, 3, 4),
            ),
        },
        shared=(
            *("seed", "device", "dataset", "model", "alpha", "batch_size", "lr", "student", "epochs"),
            *("warmup_epochs", "schedule", "milestones", "weight_decay", "tsne_samples"),
        ),
    )
)


# --------------------------------------------------------------------------- tables


def accuracy_table(results: Sequence[RunResult], by: str = "method", paper: dict[str, float] | None = None):
    """Test accuracy (%) per ``by`` group: mean ± 95% CI, standard deviation over seeds, paper beside."""
    frame = results_frame(results)
    table = report.mean_ci_table(frame, by, {"test_acc": "test accuracy (%)"}, digits=2, scale=100)
    table.insert(1, "std", (100 * frame.groupby(by, sort=False).test_acc.std()).round(2))
    if paper is not None:
        table["paper (reference)"] = [paper.get(name, np.nan) for name in table.index]
    return table


def _gains(results: Sequence[RunResult], by: str, reference: str) -> list[str]:
    """Paired (by seed) accuracy difference of every group to ``reference``, in pp, mean ± 95% CI."""
    frame = results_frame(results)
    pairs = [report.paired_columns(frame, "test_acc", by, name, reference) for name in frame[by].unique()]
    return [report.format_mean_ci(*report.mean_ci(100 * (a - b)), 2) for a, b in pairs]


def ablation_table(results: Sequence[RunResult]) -> pd.DataFrame:
    """Table 4: which terms each row keeps, its accuracy, and its paired difference to full LLS."""
    table = accuracy_table(results, paper=PAPER["table4_tiny_r18"])
    table["minus LLS (pp)"] = _gains(results, "method", "LLS")
    marks = {t: ["✓" if t in LLS_ABLATIONS[row] else "✗" for row in table.index] for t in LLS_ABLATIONS["LLS"]}
    return pd.DataFrame(marks, index=table.index).join(table)


def distillation_table(results: Sequence[RunResult]) -> pd.DataFrame:
    """Table 5: student accuracy per teacher, with the paired gain over the student alone."""
    table = accuracy_table(results, by="kind", paper=PAPER["table5_cifar100_r34_r18"])
    table["gain over alone (pp)"] = _gains(results, "kind", "alone")
    return table


def q_confusion_agreement(results: Sequence[RunResult], permutations: int = 999) -> pd.DataFrame:
    """Figures 3-4 measured, per seed: Spearman correlation (off the diagonal) and Mantel p-value
    (:func:`~c2f_utils.probes.matrix_agreement`) of the LLS run's Q with its hard and soft test
    confusions; as a yardstick, that of the soft confusions of the 1-hot and LLS networks."""
    import torch

    from ... import probes as c2f_probes

    by_key = {(r.params["method"], r.params["seed"]): r for r in results}
    rows = []
    for (method, seed), r in by_key.items():
        if method != "LLS":
            continue
        q = torch.softmax(torch.as_tensor(r.arrays["q_logits"]), 1).numpy()
        row: dict[str, Any] = {"seed": seed}
        for name in ("confusion", "soft_confusion"):
            agr = c2f_probes.matrix_agreement(q, r.arrays[name], permutations=permutations, seed=seed)
            row |= {f"spearman_{name}": agr.spearman, f"p_{name}": agr.p_value, f"top1_{name}": agr.top1}
        if ("1-hot", seed) in by_key:
            ref = by_key[("1-hot", seed)].arrays["soft_confusion"]
            yardstick = c2f_probes.matrix_agreement(ref, r.arrays["soft_confusion"], permutations=0)
            row["spearman_soft_confusion_1hot_vs_lls"] = yardstick.spearman
        rows.append(row)
    return pd.DataFrame(rows).set_index("seed")


def geometry_summary(results: Sequence[RunResult], trio: Sequence[str], class_names: Sequence[str]) -> pd.DataFrame:
    """Figures 5-6 measured, per method and seed: equidistance (CV), agreement with 1-hot, and the
    trio ratio, distance of the related pair over their mean distance to the third (< 1: closer)."""
    from ... import probes as c2f_probes

    a, b, c = (list(class_names).index(name) for name in trio)
    runs = {(r.params["method"], r.params["seed"]): r for r in results if r.params["method"] in TEACHERS}
    dist = {key: c2f_probes.normalized_cosine_distances(r.arrays["centres"]) for key, r in runs.items()}
    rows = []
    for (method, seed), d in dist.items():
        ref = dist.get(("1-hot", seed))
        agree = np.nan if ref is None else c2f_probes.matrix_agreement(d, ref, permutations=0).spearman
        trio_ratio = (d[a, b] + d[b, a]) / 2 / ((d[a, c] + d[c, a] + d[b, c] + d[c, b]) / 4)
        silhouette_ = runs[(method, seed)].metrics["silhouette"]
        rows.append((method, seed, c2f_probes.equidistance(d), agree, trio_ratio, silhouette_))
    columns = ["method", "seed", "equidistance_cv", "spearman_vs_1hot", "trio_ratio", "silhouette"]
    return pd.DataFrame(rows, columns=columns)


def overhead_table(result: RunResult) -> pd.DataFrame:
    """Table 9 at this scale: parameters and median epoch time of LS and LLS (this machine's timings)."""
    m = result.metrics
    rows = {n: {"parameters": int(m[f"params_{n}"]), "epoch time (s)": m[f"epoch_s_{n}"]} for n in ("LS", "LLS")}
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("criterion")
    table.insert(1, "parameters +%", 100 * (table["parameters"] / table.loc["LS", "parameters"] - 1))
    table["time +%"] = 100 * (table["epoch time (s)"] / table.loc["LS", "epoch time (s)"] - 1)
    return table.round(3)


def subset_table(results: Sequence[RunResult]) -> pd.DataFrame:
    """Tables 6-7 at this scale: test accuracy (%) per subset (``samples``: Table 6, ``classes``:
    Table 7) and criterion, mean ± 95% CI over seeds, the paired gain of LLS-ST over each
    criterion, and the paper's CIFAR-100 / ResNet-18 column beside (a reference)."""
    frames = []
    for subset, table_id in (("samples", "table6_cifar100_r18"), ("classes", "table7_cifar100_r18")):
        runs = [r for r in results if r.params["subset"] == subset]
        if not runs:
            continue
        table = accuracy_table(runs, paper=PAPER[table_id])
        table.insert(len(table.columns) - 1, "LLS-ST minus (pp)", _gains(runs, "method", "LLS-ST"))
        table.index = pd.MultiIndex.from_product([[subset], table.index], names=["subset", "method"])
        frames.append(table)
    return pd.concat(frames) if frames else pd.DataFrame()


def augmentation_table(results: Sequence[RunResult], main: Sequence[RunResult]) -> pd.DataFrame:
    """Table 8 at this scale: test accuracy (%) of 1-hot and LLS with each input augmentation
    (``results``, the ``table8`` grid) and without (``main``'s runs of the same seeds), mean
    ± 95% CI, LLS's paired gain over 1-hot, and the paper's ImageNet-100 / ResNet-18 column."""
    seeds = {r.params["seed"] for r in results}
    plain = [r for r in main if r.params["method"] in ("1-hot", "LLS") and r.params["seed"] in seeds]
    frame = results_frame([*plain, *results]).assign(
        augmentation=lambda f: f.get("augmentation", pd.Series(dtype=object)).fillna("standard")
    )
    rows = []
    for aug in AUGMENTATIONS:
        part = frame[frame.augmentation == aug]
        if part.empty:
            continue
        gain = report.paired_columns(part, "test_acc", "method", "LLS", "1-hot")
        for method in ("1-hot", "LLS"):
            acc = 100 * part[part.method == method].test_acc
            rows.append(
                {
                    "augmentation": aug,
                    "method": method,
                    "test accuracy (%)": report.format_mean_ci(*report.mean_ci(acc), 2) if len(acc) else "—",
                    "seeds": len(acc),
                    "LLS minus 1-hot (pp)": report.format_mean_ci(*report.mean_ci(100 * (gain[0] - gain[1])), 2)
                    if method == "LLS"
                    else "",
                    "paper (reference)": PAPER["table8_imagenet100_r18"][(aug, method)],
                }
            )
    return pd.DataFrame(rows).set_index(["augmentation", "method"]) if rows else pd.DataFrame()


def ablation_q_summary(results: Sequence[RunResult]) -> pd.DataFrame:
    """Fig. 9 measured, per ablation row (mean over seeds): the learned Q's mean diagonal
    (1 / K: uniform rows) and the Spearman correlation of its off-diagonal entries with the
    run's test confusion (:func:`~c2f_utils.probes.matrix_agreement`)."""
    import torch

    from ... import probes as c2f_probes

    rows = []
    for r in results:
        if "q_logits" not in r.arrays:
            continue
        q = torch.softmax(torch.as_tensor(r.arrays["q_logits"]), 1).numpy()
        agreement = c2f_probes.matrix_agreement(q, r.arrays["confusion"], permutations=0).spearman
        rows.append(
            {"method": r.params["method"], "Q diagonal": float(np.diag(q).mean()), "Spearman vs confusion": agreement}
        )
    if not rows:
        return pd.DataFrame()
    table = pd.DataFrame(rows).groupby("method", sort=False).mean()
    return table.reindex([m for m in LLS_ABLATIONS if m in table.index]).round(3)


# --------------------------------------------------------------------------- figures


def _heatmap(ax, matrix: np.ndarray, names: Sequence[str], title: str, fmt: str = ".2f") -> None:
    """Heatmap with the diagonal masked (it would dominate the colour scale)."""
    import seaborn as sns

    shown = matrix.copy()
    np.fill_diagonal(shown, np.nan)
    kw = {"annot": True, "fmt": fmt, "annot_kws": {"size": 6}, "square": True, "cbar": False, "cmap": "viridis"}
    sns.heatmap(shown, ax=ax, xticklabels=names, yticklabels=names, **kw)
    ax.set_title(title)


def plot_q_and_confusion(result: RunResult, class_names: Sequence[str]):
    """Figures 3-4: the learned Q, the test confusion and the soft confusion (diagonals masked)."""
    import torch

    from ...plots import panel_grid

    q = torch.softmax(torch.as_tensor(result.arrays["q_logits"]), 1).numpy()
    fig, axes = panel_grid(3, panel=(5.0, 4.6))
    shown = (q, result.arrays["confusion"], result.arrays["soft_confusion"])
    titles = ("learned Q (train)", "confusion (test)", "mean predicted probability (test)")
    for ax, m, title in zip(axes, shown, titles, strict=True):
        _heatmap(ax, m, class_names, title)
        ax.set(xlabel="related / predicted class", ylabel="true class")
    fig.tight_layout()
    return fig


def _scatter(ax, feats: np.ndarray, names: np.ndarray, order: Sequence[str], title: str, **kw: Any) -> None:
    import seaborn as sns

    from ... import probes as c2f_probes

    emb, index = c2f_probes.tsne(feats, seed=0, perplexity=min(30.0, (len(feats) - 1) / 3))
    sns.scatterplot(x=emb[:, 0], y=emb[:, 1], hue=names[index], hue_order=list(order), linewidth=0, ax=ax, **kw)
    ax.set(title=title, xticks=[], yticks=[])


def plot_geometry(results: Sequence[RunResult], class_names: Sequence[str], trio: Sequence[str], seed: int):
    """Figures 5-6: t-SNE of test features, class-centre distances, and the trio alone, per teacher method."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from ... import probes as c2f_probes
    from ...plots import MAX_WIDTH

    by = {r.params["method"]: r for r in results if r.params["seed"] == seed and r.params["method"] in TEACHERS}
    idx = [list(class_names).index(c) for c in trio]
    fig, axes = plt.subplots(3, len(TEACHERS), figsize=(MAX_WIDTH, MAX_WIDTH * 1.05))
    for j, method in enumerate(TEACHERS):
        feats, labels = by[method].arrays["test_features"], by[method].arrays["test_labels"]
        names, last = np.asarray(class_names)[labels], j == len(TEACHERS) - 1
        _scatter(axes[0, j], feats, names, class_names, f"{method}: t-SNE (test)", s=6, palette="tab10", legend=last)
        d = c2f_probes.normalized_cosine_distances(by[method].arrays["centres"])
        _heatmap(axes[1, j], d, class_names, f"{method}: centre distances", fmt=".2f")
        mask = np.isin(labels, idx)
        title = f"{method}: {'/'.join(trio)}  d({trio[0]},{trio[1]})={d[idx[0], idx[1]]:.3f}"
        _scatter(axes[2, j], feats[mask], names[mask], trio, title, s=10)
    sns.move_legend(axes[0, -1], "upper left", bbox_to_anchor=(1, 1), fontsize="small")
    fig.tight_layout()
    return fig


def plot_ablation_q(results: Sequence[RunResult], class_names: Sequence[str], seed: int):
    """Fig. 9: the learned Q (softmax of its logits, diagonal masked) of every ablation row
    that learns one, for ``seed``."""
    import torch

    from ...plots import panel_grid

    runs = [r for r in results if r.params["seed"] == seed and "q_logits" in r.arrays]
    order = [m for m in LLS_ABLATIONS if any(r.params["method"] == m for r in runs)]
    by = {r.params["method"]: r for r in runs}
    fig, axes = panel_grid(len(order), panel=(3.6, 3.4))
    for ax, method in zip(axes, order, strict=False):
        q = torch.softmax(torch.as_tensor(by[method].arrays["q_logits"]), 1).numpy()
        _heatmap(ax, q, class_names, method, fmt=".2f")
        ax.tick_params(labelsize=5)
        for text in ax.texts:
            text.set_fontsize(4)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- scorecard


_TABLES = {"main": accuracy_table, "ablation": ablation_table, "distill": distillation_table, "subset": subset_table}


def results_table(config: Config, gid: str) -> pd.DataFrame:
    """The table of grid ``gid`` (``"main"``, ``"ablation"``, ``"distill"``, ``"subset"`` or
    ``"table8"``) from the runs of ``config``."""
    if gid not in (*_TABLES, "table8"):
        raise ValueError(f"Expected `gid` in {[*_TABLES, 'table8']}, got {gid!r}")
    if gid == "main":
        return accuracy_table(config.results(gid), paper=PAPER["table3_cifar10_alexnet"])
    if gid == "table8":
        return augmentation_table(config.results(gid), config.results("main"))
    return _TABLES[gid](config.results(gid))


def _first_lls(config: Config) -> RunResult:
    return next(r for r in config.results("main") if r.params["method"] == "LLS")


def q_figure(config: Config):
    """Figures 3-4 from the runs of ``config`` (live or committed): :func:`plot_q_and_confusion`
    of the first LLS run of the ``main`` grid."""
    return plot_q_and_confusion(_first_lls(config), CLASS_NAMES[config["dataset"]])


def q_summary(config: Config) -> pd.Series:
    """The learned :math:`Q` of the run :func:`q_figure` draws: the range of its off-diagonal
    and diagonal entries against the uniform :math:`1/K`, and each class's most related class
    (largest off-diagonal entry of its row)."""
    import torch

    first = _first_lls(config)
    names = CLASS_NAMES[config["dataset"]]
    q = torch.softmax(torch.as_tensor(first.arrays["q_logits"]), 1)
    off = q[~torch.eye(len(q), dtype=torch.bool)]
    related = q.clone().fill_diagonal_(0).argmax(1)
    return pd.Series(
        {
            "seed": first.params["seed"],
            "off-diagonal range": f"[{off.min():.3f}, {off.max():.3f}]",
            "diagonal range": f"[{q.diagonal().min():.3f}, {q.diagonal().max():.3f}]",
            "uniform 1/K": f"{1 / len(q):.3f}",
            "most related class": ", ".join(f"{names[i]} -> {names[j]}" for i, j in enumerate(related.tolist())),
        },
        name="learned Q",
    )


def geometry_figure(config: Config):
    """Figures 5-6 from the runs of ``config`` (live or committed): :func:`plot_geometry` of the
    ``main`` grid's first seed, with the dataset's trio (:data:`TRIOS`)."""
    dataset = config["dataset"]
    return plot_geometry(config.results("main"), CLASS_NAMES[dataset], TRIOS[dataset], seed=config["seeds"][0])


def fig8_figure(config: Config):
    """Fig. 8 (App. E) from the runs of ``config``: :func:`plot_geometry` of the ``fig8`` grid's
    first seed (the dataset of ``fig8.dataset``, the network of ``fig8.model``)."""
    dataset = config["fig8.dataset"] or config["dataset"]
    return plot_geometry(config.results("fig8"), CLASS_NAMES[dataset], TRIOS[dataset], seed=config["seeds"][0])


def ablation_q_figure(config: Config):
    """Fig. 9 (App. H) from the runs of ``config``: :func:`plot_ablation_q` of the ``ablation``
    grid's first seed."""
    runs = config.results("ablation")
    return plot_ablation_q(runs, CLASS_NAMES[config["dataset"]], seed=min(r.params["seed"] for r in runs))


MAJORITY = 0.11
"""Largest class share of the training labels (ten balanced classes: digits, CIFAR-10), an upper bound."""
CHECKS = (report.above_majority("train_acc", MAJORITY),)
"""What a working ``main``/``ablation`` run is: training accuracy above the majority class by 0.05."""


def _teacher_beats_student(main: Sequence[RunResult]) -> report.Check:
    """A distilled student counts when its teacher run (same method and seed) is better than it on the test set."""
    teachers = {(r.params["method"], r.params["seed"]): r.metrics["test_acc"] for r in main}

    def rule(run: RunResult) -> str | None:
        if run.params["kind"] == "alone":
            return None
        key = (_TEACHER_OF[run.params["kind"]], run.params["seed"])
        if key not in teachers:
            return f"teacher {key[0]} seed {key[1]} invalid or missing"
        if teachers[key] <= run.metrics["test_acc"]:
            return f"teacher acc {teachers[key]:.3g} <= student acc {run.metrics['test_acc']:.3g}"
        return None

    return report.Check("teacher better than its student", rule)


def _subset_majority(run: RunResult) -> float:
    """Largest class share of a subset run's training labels: half of ten balanced classes
    (a bound, as :data:`MAJORITY`) or the whole set's."""
    return 0.21 if run.params["subset"] == "classes" else MAJORITY


def validity(config: Config) -> dict[str, report.Validity]:
    """:data:`CHECKS` on the runs of the ``main``, ``ablation``, ``fig8`` and ``table8`` grids,
    and on the ``subset`` runs against their own majority class; a distilled student needs a
    valid teacher that beats it (:func:`c2f_utils.report.valid_runs`)."""

    def label(r: RunResult) -> str:
        extra = [r.params[k] for k in ("subset", "augmentation") if r.params.get(k, "standard") != "standard"]
        return " ".join(map(str, (*extra, r.params.get("method", r.params.get("kind")), "seed", r.params["seed"])))

    grids = ("main", "ablation", "fig8", "table8")
    out = {grid: report.valid_runs(config.results(grid), CHECKS, label=label) for grid in grids}
    subset_check = (report.above_majority("train_acc", _subset_majority),)
    out["subset"] = report.valid_runs(config.results("subset"), subset_check, label=label)
    teacher = _teacher_beats_student(out["main"].valid)
    out["distill"] = report.valid_runs(config.results("distill"), (teacher,), label=label)
    return out


def card(config: Config) -> pd.DataFrame:
    """:func:`scorecard` of the valid runs of ``config`` (live or committed), with its agreement and geometry."""
    checked = validity(config)
    main = checked["main"].valid
    geometry = geometry_summary(main, TRIOS[config["dataset"]], CLASS_NAMES[config["dataset"]])
    return scorecard(config, q_confusion_agreement(main), geometry, checked)


def scorecard(
    config: Config,
    agreement: pd.DataFrame,
    geometry: pd.DataFrame,
    validity: dict[str, report.Validity] | None = None,
) -> pd.DataFrame:
    """The scorecard (:mod:`c2f_utils.report`) from the runs of ``config`` (read from the cache).

    Only the valid runs of ``validity`` (:func:`validity`; all runs when None) count, and each
    row lists the runs it excluded. "A beats B" is a paired difference over seeds (same
    initialisation and batch order). A "fails to train" claim is about the runs that fail: its
    ablated runs are all kept. The Q-confusion agreement is one Spearman correlation per seed
    (independent runs) tested against 0, its expectation when one matrix's classes are
    relabelled at random (the Mantel null)."""
    checked = validity or {}
    runs = {grid: config.results(grid) for grid in ("main", "ablation", "distill")}
    kept = {g: checked[g].valid if g in checked else runs[g] for g in runs}
    frames = {grid: results_frame(kept[grid]) for grid in kept}
    frames["distill"] = frames["distill"].rename(columns={"kind": "method"})
    every_ablation = results_frame(runs["ablation"])
    scales = {"main": "(CIFAR-10, AlexNet)", "ablation": "(Tiny-ImageNet, R18)", "distill": "(CIFAR-100, R34 -> R18)"}
    where = report.where(config.profile, config["dataset"], config["seeds"])
    t3, t4, t5 = PAPER["table3_cifar10_alexnet"], PAPER["table4_tiny_r18"], PAPER["table5_cifar100_r34_r18"]
    claims: list[report.Claim] = []

    def of(grid: str, *names: str) -> report.Validity | None:
        if grid not in checked:
            return None
        return checked[grid].where(kind=names) if grid == "distill" else checked[grid].where(method=names)

    def claim(text: str, grid: str, a: str, b: str, paper: float | None = None, min_effect: float = 0.0) -> None:
        """A > B, paired by seed: test accuracy in the ``grid`` runs, or a column of the geometry summary."""
        if grid in frames:
            frame, column, scale, runs_of = frames[grid], "test_acc", 100.0, of(grid, a, b)
            if min_effect:  # "B fails": every run of B, valid or not, with the valid runs of A
                frame = pd.concat([frame[frame.method == a], every_ablation[every_ablation.method == b]])
                runs_of = of(grid, a)
        else:
            frame, column, scale, runs_of = geometry, grid, 1.0, of("main", a, b)
        finding = report.compare(
            report.greater, frame, column, "method", a, b, scale=scale, min_effect=min_effect, digits=2
        )
        reference = "qualitative" if paper is None else f"{paper:+.2f} pp {scales[grid]}"
        seeds = config[f"{grid}.seeds"] if grid in ("ablation", "distill") else config["seeds"]
        claims.append(
            report.Claim(text, finding, report.where(config.profile, config["dataset"], seeds), reference, runs_of)
        )

    for base in METHODS[:-1]:
        claim(f"LLS beats {base} (Tables 1-3)", "main", "LLS", base, t3["LLS"] - t3[base])
    for name, paper in (("confusion", "qualitative (heatmaps)"), ("soft_confusion", "not in the paper")):
        values = agreement[f"spearman_{name}"] if len(agreement) else []
        finding = report.judge(report.greater, values, value=0.0, paired=False, digits=2)
        text = f"Q follows the test {name.replace('_', ' ')} (Figs 3-4)"
        claims.append(report.Claim(text, finding, where, paper, of("main", "LLS")))
    for row in ("No RCE", "No Pred EM", "No Targets EM", "FCE only", "Symmetric CE", "Forward KL"):
        claim(f"full LLS beats '{row}' (Table 4)", "ablation", "LLS", row, t4["LLS"] - t4[row])
    for row in ("No FCE", "Reverse KL"):  # "fails" = at least 5 pp below full LLS (the paper: 38 pp)
        claim(f"'{row}' fails to train (Table 4)", "ablation", "LLS", row, t4["LLS"] - t4[row], min_effect=5.0)
    claim("LS makes class centres more equidistant than 1-hot (Fig. 5)", "equidistance_cv", "1-hot", "LS")
    claim("LLS keeps more class structure than LS (Fig. 5)", "equidistance_cv", "LLS", "LS")
    claim("LS pulls the related trio pair apart more than LLS (Fig. 6)", "trio_ratio", "LS", "LLS")
    claim("LLS clusters are more compact than 1-hot (Fig. 5, t-SNE)", "silhouette", "LLS", "1-hot")
    claim("an LLS teacher beats an LS teacher (Table 5)", "distill", "KD LLS", "KD LS", t5["KD LLS"] - t5["KD LS"])
    alone = PAPER["table2_cifar100_r18_1hot"]  # the paper's R18 trained alone: Table 2
    claim("LLS-ST helps a student over training alone (Table 5)", "distill", "LLS-ST", "alone", t5["LLS-ST"] - alone)
    # No profile has the paper's scale: Tiny-ImageNet R18 on a GPU (Table 9), CIFAR-10 AlexNet (Table 3).
    t9 = PAPER["table9_time_overhead_pct"]
    time_pct = [overhead_table(config.results("overhead")[0]).loc["LLS", "time +%"]]
    finding = report.paper_check(time_pct, t9, tolerance=1.0, scale_matches=False, digits=1)
    claims.append(report.Claim("LLS costs little time (Table 9)", finding, where, f"+{t9}% (Tiny-ImageNet, R18, GPU)"))
    lls_acc = 100 * frames["main"].query("method == 'LLS'").test_acc if len(frames["main"]) else []
    finding = report.judge(report.paper_check, lls_acc, paper=t3["LLS"], tolerance=1.0, scale_matches=False, digits=2)
    text = "absolute LLS accuracy (Table 3)"
    claims.append(report.Claim(text, finding, where, f"{t3['LLS']}% {scales['main']}", of("main", "LLS")))
    claims += _appendix_claims(config, checked)
    return report.scorecard(claims)


def _appendix_claims(config: Config, checked: dict[str, report.Validity]) -> list[report.Claim]:
    """The claims of Apps. D-F (Tables 6-8, Fig. 8) from the valid runs of ``checked``
    (all runs of a grid it does not check)."""
    kept = {g: checked[g].valid if g in checked else config.results(g) for g in ("subset", "fig8", "table8")}
    claims: list[report.Claim] = []

    def runs_of(grid: str, **params: Any) -> report.Validity | None:
        return checked[grid].where(**params) if grid in checked else None

    def pp(value: float) -> str:
        return f"{value:+.2f} pp"

    where = report.where(config.profile, config["dataset"], config["subset.seeds"])
    subsets = results_frame(kept["subset"])
    tables = {"samples": ("Table 6", "table6_cifar100_r18"), "classes": ("Table 7", "table7_cifar100_r18")}
    pairs = {"samples": (("LLS-ST", "1-hot"), ("LLS-ST", "LS"), ("LLS-ST", "LLS")),
             "classes": (("LLS", "1-hot"), ("LLS", "LS"), ("LLS-ST", "1-hot"))}  # fmt: skip
    for subset, (table, paper_id) in tables.items():
        frame = subsets[subsets.subset == subset] if len(subsets) else subsets
        for a, b in pairs[subset]:
            finding = report.compare(report.greater, frame, "test_acc", "method", a, b, scale=100.0, digits=2)
            paper = f"{pp(PAPER[paper_id][a] - PAPER[paper_id][b])} (CIFAR-100, R18)"
            text = f"{a} beats {b} on half the {subset} ({table})"
            claims.append(report.Claim(text, finding, where, paper, runs_of("subset", subset=subset, method=(a, b))))
    t8 = PAPER["table8_imagenet100_r18"]
    aug_where = report.where(config.profile, config["dataset"], config["table8.seeds"])
    augmented = results_frame(kept["table8"])
    for aug in AUGMENTATIONS[1:]:
        frame = augmented[augmented.augmentation == aug] if len(augmented) else augmented
        finding = report.compare(report.greater, frame, "test_acc", "method", "LLS", "1-hot", scale=100.0, digits=2)
        paper = f"{pp(t8[(aug, 'LLS')] - t8[(aug, '1-hot')])} (ImageNet-100, R18)"
        text = f"LLS adds to {aug}: {aug} + LLS beats {aug} alone (Table 8)"
        claims.append(report.Claim(text, finding, aug_where, paper, runs_of("table8", augmentation=aug)))
    dataset = config["fig8.dataset"] or config["dataset"]
    geometry = geometry_summary(kept["fig8"], TRIOS[dataset], CLASS_NAMES[dataset])
    fig8_where = report.where(config.profile, dataset, config["seeds"])
    for text, column, a, b in (
        ("LS makes class centres more equidistant than 1-hot (Fig. 8)", "equidistance_cv", "1-hot", "LS"),
        ("LLS keeps more class structure than LS (Fig. 8)", "equidistance_cv", "LLS", "LS"),
        ("LLS clusters are more compact than 1-hot (Fig. 8, t-SNE)", "silhouette", "LLS", "1-hot"),
    ):
        finding = report.compare(report.greater, geometry, column, "method", a, b, digits=2)
        claims.append(
            report.Claim(text, finding, fig8_where, "qualitative (FashionMNIST, LeNet)", runs_of("fig8", method=(a, b)))
        )
    return claims
