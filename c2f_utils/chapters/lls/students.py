"""The students of "Learnable label smoothing": :class:`Distill` (Table 5) and :class:`Subset` (Tables 6-7).

Both train one network with the recipe of a :class:`~c2f_utils.chapters.lls.Train` run, their
``teacher`` field, and read that run from the cache when they need its weights or its Q.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from ...experiments import Experiment, Recipe, param
from ...runs import RunOutput
from .methods import STUDENT_KINDS, SUBSET_METHODS, TEACHER_OF, input_augmentation, make_criterion, make_model
from .training import Train, TrainData

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["TEACHING", "Distill", "Subset"]


def _alone(teacher: Train, data: TrainData) -> tuple[nn.Module, None]:
    """No teacher: cross-entropy on the labels."""
    from ... import losses as c2f_losses

    return c2f_losses.create("ce"), None


def _by_q(teacher: Train, data: TrainData) -> tuple[nn.Module, None]:
    """The teacher is its learned Q-matrix (:class:`~c2f_utils.losses.SubstituteTeacherLoss`)."""
    import torch

    from ... import losses as c2f_losses

    q_logits = torch.as_tensor(teacher.cached().arrays["q_logits"])
    return c2f_losses.create("substitute_teacher", q_logits=q_logits, alpha=teacher.alpha), None


def _by_network(teacher: Train, data: TrainData) -> tuple[nn.Module, Callable]:
    """The teacher is its trained network, frozen (:func:`~c2f_utils.losses.teacher_objective`, beta 0, T 1)."""
    from ... import losses as c2f_losses
    from ... import models as c2f_models
    from ... import train as c2f_train

    net = c2f_models.load_state_arrays(teacher.build_model(data), teacher.cached().arrays)
    return c2f_losses.teacher_objective(net.to(c2f_train.resolve_device(teacher.device)), temperature=1.0, beta=0.0)


TEACHING: dict[str, Callable[[Train, TrainData], tuple[nn.Module, Callable | None]]] = {
    "alone": _alone,
    "KD 1-hot": _by_network,
    "KD LS": _by_network,
    "KD LLS": _by_network,
    "LLS-ST": _by_q,
}
"""How a :class:`Distill` student of each kind is taught, ``kind -> builder(teacher run, data)`` of its
criterion and ``fit`` regularizer: alone (cross-entropy), by KD from the teacher's network, or by
LLS-ST from the LLS teacher's Q."""


@dataclass(frozen=True)
class Distill(Experiment):
    """Train a ``student`` network alone (1-hot), by KD from a teacher run (Eq. 6, beta 0, T 1), or
    by LLS-ST, the LLS teacher's Q-matrix alone (:class:`~c2f_utils.losses.SubstituteTeacherLoss`).

    ``teacher``'s method and seed are set from ``kind`` and ``seed``; its recipe also trains the student.
    A plain experiment, not a :class:`~c2f_utils.experiments.TrainingRun`: its recipe (``lr``,
    ``epochs``...) is its teacher's; its parts (:meth:`data`, :meth:`criterion`, :meth:`model`,
    :meth:`recipe`) are public all the same."""

    name: ClassVar[str] = "lls.distill"
    uses: ClassVar[tuple[str, ...]] = (*Train.uses, "losses.distill")
    teacher: Train = param("the teacher's run (method and seed follow kind and seed)")
    student: str = param("student network of Table 5", choices=("mlp_small", "lenet", "resnet20"))
    kind: str = param("how the student is taught", choices=STUDENT_KINDS)
    seed: int = param("training seed", ge=0)

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "teacher", self.teacher.replace(method=TEACHER_OF[self.kind], seed=self.seed))

    def requires(self) -> list[Experiment]:
        return [] if self.kind == "alone" else [self.teacher]

    def data(self) -> TrainData:
        """The teacher run's data (:meth:`~c2f_utils.chapters.lls.Train.data`): the student is trained and
        tested on it."""
        return self.teacher.data()

    def build_criterion(self, data: TrainData) -> tuple[nn.Module, Callable | None]:
        """The student's criterion and ``fit`` regularizer for ``kind`` (:data:`TEACHING`); a
        teacher is read from its cached run."""
        return TEACHING[self.kind](self.teacher, data)

    def build_model(self, data: TrainData) -> nn.Module:
        """The ``student`` network of :data:`~c2f_utils.chapters.lls.NETWORKS` (built after the seed is set)."""
        return make_model(self.student, data.n_classes, data.shape)

    def recipe(self, data: TrainData) -> Recipe:
        """The teacher's recipe (:meth:`~c2f_utils.chapters.lls.Train.recipe`): it trains the student too."""
        return self.teacher.recipe(data)

    def run(self) -> RunOutput:
        from ... import train as c2f_train

        data = self.data()
        crit, regularizer = self.build_criterion(data)  # a teacher network is built before the seed is set
        c2f_train.seed_everything(self.seed)
        net, recipe = self.build_model(data), self.recipe(data)
        res = c2f_train.fit(net, data.train, crit, recipe.config, regularizer=regularizer, **recipe.options)
        test = data.test_split
        acc = c2f_train.evaluate(res.model, (test.x, test.fine), device=self.teacher.device)["acc"]
        return RunOutput(metrics={"test_acc": acc}, history=res.history)


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

    def build_criterion(self, n_classes: int) -> tuple[nn.Module, list]:
        """The criterion on ``n_classes`` classes and its callbacks (:func:`~c2f_utils.chapters.lls.make_criterion`;
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
        crit, callbacks = self.build_criterion(k)
        aug, _ = input_augmentation(t.dataset)
        cfg = dataclasses.replace(t.train_config(), grad_clip=self.grad_clip or None)
        res = c2f_train.fit(net, (x, y), crit, cfg, callbacks=callbacks, transform=aug)
        acc = c2f_train.evaluate(res.model, test, device=t.device)["acc"]
        return RunOutput(metrics={"test_acc": acc, "n_train": len(y)}, history=res.history)
