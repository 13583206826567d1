"""The training runs of "Learnable label smoothing": :class:`Train`, its :class:`Variant` and :class:`Overhead`.

:class:`Train` trains one network with one criterion for one seed (a
:class:`~c2f_utils.experiments.TrainingRun`: its data, model, criterion, recipe and probes are
public, and its run is ``fit`` over them, then :meth:`Train.outcome`); :class:`Variant` trains
the same parts elsewhere or with an input augmentation; :class:`Overhead` times LS and LLS.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ...constants import CIFAR10_NAMES, LLS_ABLATIONS
from ...experiments import Experiment, Recipe, TrainingRun, fit_parts, param
from ...runs import RunOutput
from .methods import AUGMENTATIONS, METHODS, TEACHERS, input_augmentation, make_criterion, make_model

if TYPE_CHECKING:
    import torch
    from torch import nn

    from ... import data as c2f_data
    from ... import train as c2f_train

__all__ = ["Overhead", "Train", "TrainData", "Variant"]

DATASETS = ("digits", "mnist10k", *CIFAR10_NAMES)
MODELS = ("mlp", "lenet", "resnet18", "resnet20")


@dataclass
class TrainData:
    """The data of one :class:`Train` run: the pair the network is fit on (``train``: images and
    fine labels), both labeled splits, and the ``transform`` and ``mixer`` of its input
    augmentation (:class:`~c2f_utils.augment.MixedBatches` for Mixup and CutMix, else None).
    ``criterion`` is the criterion :meth:`Train.criterion` built for it, unmixed: the outcome
    reads its learned Q."""

    train: tuple[torch.Tensor, torch.Tensor]
    train_split: c2f_data.LabeledData
    test_split: c2f_data.LabeledData
    transform: Callable[[torch.Tensor], torch.Tensor] | None
    mixer: Any
    criterion: nn.Module | None = None

    @property
    def n_classes(self) -> int:
        """Number of (fine) classes."""
        return self.train_split.n_classes()

    @property
    def shape(self) -> tuple[int, ...]:
        """One input's shape ``(C, H, W)``."""
        return tuple(self.train_split.x.shape[1:])


@dataclass(frozen=True)
class Train(TrainingRun):
    """Train ``model`` on ``dataset`` with ``method``. Arrays: test ``confusion`` and ``soft_confusion``
    (rows: true class), training-feature class ``centres``, a seeded subset of test features, ``q_logits``
    (LLS variants) and the weights ``state/*`` (teacher methods).

    Its parts: :meth:`data`, :meth:`build_model`, :meth:`build_criterion`, :meth:`recipe`, :meth:`probes`;
    :meth:`outcome` measures the trained network."""

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
    dataset: str = param("dataset", choices=DATASETS)
    model: str = param("network (and teacher)", choices=MODELS)
    alpha: float = param("smoothing weight of LS and LLS", ge=0, le=1)
    method: str = param("training criterion", choices=(*METHODS[:-1], *LLS_ABLATIONS))
    warmup_epochs: int = param("linear learning-rate warm-up epochs", ge=0)
    schedule: str = param("schedule after warm-up", choices=("cosine", "multistep"))
    milestones: tuple[int, ...] = param("multistep epochs counted after the warm-up", ge=1)
    weight_decay: float = param("weight decay of the network and (as an L2 term) of Q", ge=0)
    tsne_samples: int = param("test samples kept for t-SNE", ge=2)

    def train_config(self) -> c2f_train.TrainConfig:
        """SGD with momentum 0.9 (also Q's), the schedule, the warm-up if shorter than the run."""
        from ... import train as c2f_train

        warmup = self.warmup_epochs if self.epochs > self.warmup_epochs else 0
        names = ("epochs", "batch_size", "lr", "weight_decay", "schedule", "milestones", "seed", "device")
        return c2f_train.TrainConfig(momentum=0.9, warmup_epochs=warmup, **{n: getattr(self, n) for n in names})

    def data(self, augmentation: str = "standard") -> TrainData:
        """Both splits of ``dataset``, with an input ``augmentation`` of
        :data:`~c2f_utils.chapters.lls.AUGMENTATIONS` on top of the dataset's crops and flips
        (:class:`Variant`; the run's is ``"standard"``)."""
        from ... import data as c2f_data

        train, test = c2f_data.load(self.dataset, "train"), c2f_data.load(self.dataset, "test")
        transform, mixer = input_augmentation(self.dataset, augmentation, train.x.shape[-1])
        return TrainData((train.x, train.fine), train, test, transform, mixer)

    def build_model(self, data: TrainData) -> nn.Module:
        """The network ``model`` of :data:`~c2f_utils.chapters.lls.NETWORKS` for ``data``'s classes and input shape."""
        return make_model(self.model, data.n_classes, data.shape)

    def build_criterion(self, data: TrainData) -> nn.Module:
        """The criterion of ``method`` (:func:`~c2f_utils.chapters.lls.make_criterion`, kept as
        ``data.criterion``), mixed on the labels of the last mix when the augmentation mixes images."""
        crit, _ = make_criterion(self.method, data.n_classes, self.alpha, self.weight_decay)
        data.criterion = crit
        return data.mixer.criterion(crit) if data.mixer is not None else crit

    def recipe(self, data: TrainData) -> Recipe:
        """:meth:`train_config`, and the augmentation's input ``transform``."""
        return Recipe(self.train_config(), {"transform": data.transform})

    def probes(self, data: TrainData, criterion: nn.Module) -> list[c2f_train.Callback]:
        """The criterion's own callbacks (LLS: the Q-matrix update; OLS: its moving targets); a mixed
        criterion's are those of the criterion it mixes."""
        from ... import losses as c2f_losses

        return list(c2f_losses.callbacks(getattr(criterion, "base", criterion)))

    def outcome(self, data: TrainData, result: c2f_train.TrainResult) -> RunOutput:
        """Test accuracy, silhouette and last training loss; the confusions, class centres, kept test
        features, learned Q (LLS variants) and weights (teacher methods)."""
        import torch

        from ... import losses as c2f_losses
        from ... import models as c2f_models
        from ... import probes as c2f_probes
        from ... import train as c2f_train

        train, test, k, res = data.train_split, data.test_split, data.n_classes, result
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
        if isinstance(data.criterion, c2f_losses.LLSLoss):
            arrays["q_logits"] = data.criterion.q_logits.detach().cpu().numpy()
        if self.method in TEACHERS:
            arrays.update(c2f_models.state_arrays(res.model))
        return RunOutput(metrics=metrics, history=res.history, arrays=arrays)


@dataclass(frozen=True)
class Variant(Experiment):
    """A :class:`Train` run of the ``recipe`` (the ``main`` grid's, overrides included) with
    another ``method`` and ``seed``, on another ``dataset``/``model`` (``""``: the recipe's;
    App. E, Fig. 8) or with an input ``augmentation`` on top of the crops and flips (App. F,
    Table 8). Metrics and arrays as :class:`Train`. A plain experiment, not a
    :class:`~c2f_utils.experiments.TrainingRun`: its recipe (``lr``, ``epochs``...) is a field, a
    :class:`Train`, whose parts it runs."""

    name: ClassVar[str] = "lls.variant"
    uses: ClassVar[tuple[str, ...]] = (*Train.uses, "augment")
    recipe: Train = param("the main grid's recipe (its dataset and network unless set here)")
    dataset: str = param("dataset ('' for the recipe's)", choices=("", *DATASETS))
    model: str = param("network ('' for the recipe's)", choices=("", *MODELS))
    augmentation: str = param("input augmentation on top of crops and flips (Table 8)", choices=AUGMENTATIONS)
    method: str = param("training criterion", choices=TEACHERS)
    seed: int = param("training seed (initialisation, batch order, and the run's other draws)", ge=0)  # as Train's

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
        """:meth:`train`'s parts, its data with ``augmentation``, in the order of its run."""
        run = self.train()
        return fit_parts(run, run.data(self.augmentation))


@dataclass(frozen=True)
class Overhead(Experiment):
    """Table 9: parameters and median epoch time of LS and LLS, training copies of one network an epoch
    at a time, interleaved (load changes affect both alike), after one uncounted round. Not a
    :class:`~c2f_utils.experiments.TrainingRun`: it times two networks, one epoch per ``fit``."""

    name: ClassVar[str] = "lls.overhead"
    uses: ClassVar[tuple[str, ...]] = tuple(c for c in Train.uses if c != "probes.geometry")
    dataset: str = param("dataset", choices=DATASETS)
    model: str = param("network (and teacher)", choices=MODELS)
    alpha: float = param("smoothing weight of LS and LLS", ge=0, le=1)
    lr: float = param("learning rate of the run's optimizer", gt=0)  # as Train's (one parameter)
    batch_size: int = param("mini-batch size", ge=1)
    device: str = param("device to train on", device=True)
    epochs: int = param("epochs of each criterion timed for Table 9", ge=1)
    seed: int = param("seed of the two networks' initialisation", ge=0)

    def run(self) -> RunOutput:
        from ... import data as c2f_data
        from ... import models as c2f_models
        from ... import train as c2f_train

        train = c2f_data.load(self.dataset, "train")
        k, (aug, _) = train.n_classes(), input_augmentation(self.dataset)
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
