"""Table 2 of "FIERCE": features trained on base classes, evaluated on novel classes.

:class:`FewShotRun` trains a network on the base classes and evaluates its features on the
novel classes by nearest-class-mean episodes (:func:`~c2f_utils.probes.few_shot_eval`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ...constants import CIFAR10_NAMES
from ...experiments import Recipe, param
from ...runs import RunOutput
from .experiments import CriterionRun

if TYPE_CHECKING:
    from torch import Tensor, nn

    from ... import data as c2f_data
    from ... import train as c2f_train

__all__ = ["FEWSHOT_NETWORKS", "FewShotData", "FewShotRun"]

FEWSHOT_NETWORKS: dict[str, tuple[str, dict[str, Any]]] = {
    "digits": ("mlp", {"input_shape": (64,), "hidden": (256,), "feature_dim": 128}),
    **dict.fromkeys(CIFAR10_NAMES, ("lenet5", {"input_shape": (3, 32, 32)})),
    "cifar_fs": ("resnet18", {"input_shape": (3, 32, 32)}),
}
"""The few-shot networks (:class:`FewShotRun`), ``dataset -> (models.create name, options)``: an MLP
``64-256-128`` on digits, LeNet-5 (84 features) on CIFAR-10, ResNet-18 on CIFAR-FS."""


@dataclass(frozen=True)
class FewShotData:
    """The data of one :class:`FewShotRun`: the pair the network is fit on (``train``: base-class
    images and classes), and the base and novel splits (:meth:`FewShotRun.load_data`)."""

    train: tuple[Tensor, Tensor]
    base: c2f_data.LabeledData
    novel: c2f_data.LabeledData


@dataclass(frozen=True)
class FewShotRun(CriterionRun):
    """Train on base classes, then 5-way 1- and 5-shot nearest-class-mean on novel classes (Table 2).

    Digits: base classes 0-4 (an MLP 64-256-128), novel classes 5-9 (all five in every
    episode). CIFAR-FS: ResNet-18 on the 64 base classes, the 20 novel classes. SGD with
    Nesterov momentum 0.9, weight decay 5e-4, lr x0.1 at 1/3 and 2/3 of training
    (official: every 100 of 350 epochs). The final model is evaluated (the official code
    keeps the epoch with the best validation accuracy).
    """

    name: ClassVar[str] = "fierce.fewshot"
    version: ClassVar[int] = 2  # 2: learning-rate warm-up, the step schedule counted from its end
    uses: ClassVar[tuple[str, ...]] = (
        "data.core",
        "data.splits",
        "losses.fierce",
        "models.lenet5",
        "models.mlp",
        "models.resnet",
        "probes.fewshot",
        "train",
    )
    dataset: str = param("dataset split into base and novel classes", choices=("digits", *CIFAR10_NAMES, "cifar_fs"))
    episodes: int = param("evaluation episodes", ge=1)
    warmup_epochs: int = param("epochs of linear learning-rate warm-up before the step schedule", ge=0)

    def load_data(self) -> tuple[c2f_data.LabeledData, c2f_data.LabeledData]:
        """Base-class training data and novel-class evaluation data.

        Digits: 0-4 base, 5-9 novel (all images). CIFAR-10: training images of classes
        0-4 (airplane ... deer) base, test images of classes 5-9 (dog ... truck) novel.
        """
        from ... import data as c2f_data

        if self.dataset == "digits":
            full = c2f_data.load("digits", "all")
            return c2f_data.class_subset(full, range(5)), c2f_data.class_subset(full, range(5, 10))
        if self.dataset in CIFAR10_NAMES:
            base = c2f_data.class_subset(c2f_data.load(self.dataset, "train"), range(5))
            return base, c2f_data.class_subset(c2f_data.load(self.dataset, "test"), range(5, 10))
        return c2f_data.load(self.dataset, "train"), c2f_data.load(self.dataset, "test")

    def _criterion_setting(self) -> tuple[int, dict[str, dict[str, Any]]]:
        return {"digits": 128, "cifar10": 84, "cifar10_jpeg": 84}.get(self.dataset, 512), {}

    def data(self) -> FewShotData:
        """Base and novel classes (:meth:`load_data`); the network is fit on the base classes."""
        base, novel = self.load_data()
        return FewShotData((base.x, base.fine), base, novel)

    def build_model(self, data: FewShotData) -> nn.Module:
        """The network of the dataset (:data:`FEWSHOT_NETWORKS`) on the base classes."""
        from ... import models as c2f_models

        name, options = FEWSHOT_NETWORKS[self.dataset]
        return c2f_models.create(name, n_classes=int(data.base.fine.max()) + 1, **options)

    def recipe(self, data: FewShotData) -> Recipe:
        """SGD with Nesterov momentum 0.9, weight decay 5e-4, ``warmup_epochs`` of linear warm-up,
        then lr x0.1 at 1/3 and 2/3 of the epochs after it."""
        from ... import train as c2f_train

        steps = self.epochs - self.warmup_epochs  # the step schedule counts from the end of the warm-up
        milestones = (max(1, steps // 3), max(2, 2 * steps // 3))
        config = c2f_train.TrainConfig(
            epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, momentum=0.9, nesterov=True, weight_decay=5e-4,
            schedule="multistep", milestones=milestones, warmup_epochs=self.warmup_epochs, seed=self.seed,
            device=self.device, progress=False,
        )  # fmt: skip
        return Recipe(config)

    def outcome(self, data: FewShotData, result: c2f_train.TrainResult) -> RunOutput:
        """5-way 1- and 5-shot accuracy (15 queries per class, ``episodes`` episodes) of the final
        network's features on the novel classes, the training accuracy; the history."""
        from ... import probes as c2f_probes
        from ... import train as c2f_train

        novel = data.novel
        feats = c2f_train.extract_features(result.model, novel.x, device=self.device).features
        one = c2f_probes.few_shot_eval(feats, novel.fine, 5, 1, 15, self.episodes, seed=self.seed)
        five = c2f_probes.few_shot_eval(feats, novel.fine, 5, 5, 15, self.episodes, seed=self.seed)
        metrics = {"acc_1shot": one.mean, "acc_1shot_ci": one.ci95, "acc_5shot": five.mean, "acc_5shot_ci": five.ci95}
        return RunOutput({**metrics, "train_acc": float(result.history.iloc[-1].train_acc)}, result.history)
