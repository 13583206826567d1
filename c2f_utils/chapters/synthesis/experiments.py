"""Experiments of "Synthesis": one network per criterion, strength and seed, measured; its distilled student.

:class:`Train` trains one network on the coarse labels under one criterion, in the five parts of a
training run (its :meth:`~Train.data`, :meth:`~Train.network`, :meth:`~Train.loss`, :meth:`~Train.recipe`
and :meth:`~Train.probes`, public for the notebook), then measures it (:meth:`~Train.outcome`);
:class:`Distill` trains a small student from a :class:`Train` run. :data:`CHAPTER` holds their grids
per profile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from ...experiments import SEED_HELP, Chapter, Experiment, Grid, Recipe, TrainingRun, param
from ...runs import RunOutput
from .. import register
from .protocol import CRITERIA, DATASETS, MODELS, coarsening, make_criterion, make_model

if TYPE_CHECKING:
    import torch
    from torch import nn

    from ... import data as c2f_data
    from ... import train as c2f_train

__all__ = ["CHAPTER", "STRENGTHS", "Distill", "SynthesisData", "Train"]


def _subsample(n: int, at_most: int, seed: int) -> np.ndarray:
    rows = np.arange(n)
    return rows if n <= at_most else np.sort(np.random.default_rng(seed).choice(n, at_most, replace=False))


def _knn_accuracy(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray) -> float:
    """Accuracy of a 10-nearest-neighbour vote (cosine) fit on the training features."""
    from sklearn.neighbors import KNeighborsClassifier

    knn = KNeighborsClassifier(n_neighbors=10, metric="cosine").fit(train_x, train_y)
    return float(knn.score(test_x, test_y))


@dataclass(frozen=True)
class SynthesisData:
    """The data of one :class:`Train` run: the pair the network is fit on (``train``: the training
    images and their coarse labels), the four labeled splits of :meth:`Train.split` (``splits``), the
    name of their coarse labeling, and the number of coarse classes and the input shape the network
    is built for."""

    train: tuple[torch.Tensor, torch.Tensor]
    splits: dict[str, c2f_data.LabeledData]
    coarse: str
    n_classes: int
    input_shape: tuple[int, ...]


@dataclass(frozen=True)
class Train(TrainingRun):
    """Train one network on the coarse labels with ``criterion`` at ``strength``, then measure it.

    The classes ``held_out`` (fine labels) are removed from training, validation and the
    coarse and fine test metrics; a ``val_fraction`` of the remaining training set,
    stratified on the coarse labels, is the validation split (selection of ``strength``).
    Metrics (:data:`~c2f_utils.chapters.synthesis.protocol.MEASUREMENTS`, test split unless said):
    ``val_acc``; ``test_acc`` (coarse); ``fine_probe_acc`` (logistic regression on training features)
    and ``fine_knn_acc``; ``separation`` (coarse classes,
    :func:`~c2f_utils.probes.class_separation`); ``entropy_anchor`` (bits, 100 uniform anchors) and
    ``entropy_knn`` (nats); ``i_xt``, ``i_ty`` (:func:`~c2f_utils.probes.info_plane` of the
    softmax outputs and coarse labels); ``ece`` (15 bins); ``fewshot_acc`` (2-way 5-shot
    nearest class mean on the held-out classes' test features, 15 queries per class; fewer
    shots and queries where a held-out class has fewer than 20 test images, ``fewshot_shots``).
    The network's weights are stored for :class:`Distill`.

    A :class:`~c2f_utils.experiments.TrainingRun`: its run is ``fit`` over :meth:`data`,
    :meth:`build_model`, :meth:`build_criterion`, :meth:`recipe` and :meth:`probes`, then :meth:`outcome`.
    """

    name: ClassVar[str] = "synthesis.train"
    uses: ClassVar[tuple[str, ...]] = (
        "data.core",
        "losses.confidence",
        "losses.fierce",
        "losses.smoothing",
        "models.lenet5",
        "models.mlp",
        "models.resnet",
        "models.state",
        "probes.calibration",
        "probes.entropy",
        "probes.fewshot",
        "probes.information",
        "probes.linear",
        "train",
    )
    dataset: str = param("dataset (coarse labels: its natural coarsening)", choices=DATASETS)
    held_out: tuple[int, ...] = param("fine classes held out of training, for transfer")
    model: str = param("network", choices=MODELS)
    feature_dim: int = param("size of the penultimate layer (mlp, lenet)", ge=2)
    criterion: str = param("training criterion", choices=CRITERIA)
    strength: float = param("the criterion's hyperparameter (see STRENGTH_NAMES)", ge=0)
    val_fraction: float = param("share of the training set held out for validation", gt=0, lt=1)
    probe_max: int = param("examples used by the probes, at most (0: all)", ge=0)
    warmup_epochs: int = param(
        "epochs of linear learning-rate warm-up, for every criterion alike (real: 2; without it 3 of 39 LeNet-5 "
        "runs stayed at the majority class)",
        ge=0,
        default=0,
    )

    def split(self) -> dict[str, c2f_data.LabeledData]:
        """``train``, ``val`` and ``test`` without the held-out classes, and ``held_out``
        (the held-out classes' test images)."""
        import torch

        from ... import data as c2f_data

        train, test = c2f_data.load(self.dataset, "train"), c2f_data.load(self.dataset, "test")
        fine_classes = set(train.fine.unique().tolist())
        if not set(self.held_out) <= fine_classes or len(set(self.held_out)) < 2:
            raise ValueError(f"Expected `held_out` as two or more fine classes of {self.dataset}, got {self.held_out}")
        held = torch.tensor(self.held_out)
        kept_train = train.subset(torch.nonzero(~torch.isin(train.fine, held)).flatten())
        fit_rows, val_rows = c2f_data.core.stratified_split(
            kept_train.labels(coarsening(self.dataset)), self.val_fraction, self.seed
        )
        return {
            "train": kept_train.subset(fit_rows),
            "val": kept_train.subset(val_rows),
            "test": test.subset(torch.nonzero(~torch.isin(test.fine, held)).flatten()),
            "held_out": test.subset(torch.nonzero(torch.isin(test.fine, held)).flatten()),
        }

    def data(self) -> SynthesisData:
        """The four splits (:meth:`split`); the network is fit on the training split's coarse labels."""
        splits = self.split()
        train, coarse = splits["train"], coarsening(self.dataset)
        n_classes = int(train.labels(coarse).max()) + 1
        return SynthesisData((train.x, train.labels(coarse)), splits, coarse, n_classes, tuple(train.x.shape[1:]))

    def build_model(self, data: SynthesisData) -> nn.Module:
        """The network ``model`` (:data:`~c2f_utils.chapters.synthesis.protocol.NETWORKS`,
        :func:`~c2f_utils.chapters.synthesis.protocol.make_model`) with ``feature_dim`` features."""
        return make_model(self.model, data.n_classes, data.input_shape, self.feature_dim)

    def build_criterion(self, data: SynthesisData) -> nn.Module:
        """The criterion ``criterion`` at ``strength`` (:data:`~c2f_utils.chapters.synthesis.protocol.LOSSES`,
        :func:`~c2f_utils.chapters.synthesis.protocol.make_criterion`; FIERCE's anchors drawn from ``seed``), on the
        network's features (their size read off a copy of the network built under a forked random
        state, so that no draw of the run is spent on it)."""
        import torch

        with torch.random.fork_rng(devices=[]):
            features = self.build_model(data).feature_dim
        return make_criterion(self.criterion, self.strength, data.n_classes, features, self.seed)

    def recipe(self, data: SynthesisData) -> Recipe:
        """The recipe every criterion shares: SGD (momentum 0.9, weight decay 5e-4, cosine schedule
        after ``warmup_epochs`` of linear warm-up), accuracy on the validation split after every epoch,
        and random crops and flips for CIFAR images (none for the 8x8 digits)."""
        from ... import train as c2f_train

        recipe = dict(lr=self.lr, momentum=0.9, schedule="cosine", weight_decay=5e-4, warmup_epochs=self.warmup_epochs)
        config = c2f_train.TrainConfig(self.epochs, self.batch_size, seed=self.seed, device=self.device, **recipe)
        val = data.splits["val"]
        transform = c2f_train.crop_flip(4, True) if self.dataset != "digits" else None
        return Recipe(config, {"val_data": (val.x, val.labels(data.coarse)), "transform": transform})

    def probes(self, data: SynthesisData, criterion: nn.Module) -> list[c2f_train.Callback]:
        """The criterion's own callbacks only (online LS: the next epoch's targets); the network
        is measured once, after training (:meth:`outcome`)."""
        from ... import losses as c2f_losses

        return list(c2f_losses.callbacks(criterion))

    def outcome(self, data: SynthesisData, result: c2f_train.TrainResult) -> RunOutput:
        """The battery of measurements (:data:`~c2f_utils.chapters.synthesis.protocol.MEASUREMENTS`) on the
        trained network, its history, and its weights (for :class:`Distill`)."""
        import torch

        from ... import losses as c2f_losses
        from ... import models as c2f_models
        from ... import probes as c2f_probes
        from ... import train as c2f_train

        parts, coarse = data.splits, data.coarse
        train, val, test, held = parts["train"], parts["val"], parts["test"], parts["held_out"]
        model = result.model
        out = {name: c2f_train.extract_features(model, d.x, device=self.device) for name, d in parts.items()}
        tr_rows = _subsample(len(train), self.probe_max or len(train), self.seed)
        te_rows = _subsample(len(test), self.probe_max or len(test), self.seed + 1)
        f_tr, f_te = out["train"].features.numpy()[tr_rows], out["test"].features.numpy()[te_rows]
        fine_tr, fine_te = train.fine.numpy()[tr_rows], test.fine.numpy()[te_rows]
        coarse_te = test.labels(coarse)
        probs = torch.softmax(out["test"].logits, 1)
        point = c2f_probes.info_plane(probs, coarse_te)
        anchors = c2f_losses.FIERCELoss(
            f_te.shape[1], n_anchors=100, generator=torch.Generator().manual_seed(self.seed)
        ).anchors
        smallest = int(torch.bincount(held.fine)[list(self.held_out)].min())
        if smallest < 2:
            raise ValueError(f"Expected at least 2 test images per held-out class, got {smallest} ({self.held_out})")
        n_shot = min(5, smallest - 1)
        n_way, n_query = len(self.held_out), min(15, smallest - n_shot)
        feats = out["held_out"].features
        shots = c2f_probes.few_shot_eval(feats, held.fine, n_way, n_shot, n_query, n_episodes=500, seed=self.seed)
        metrics = {
            "val_acc": float((out["val"].logits.argmax(1) == val.labels(coarse)).float().mean()),
            "test_acc": float((out["test"].logits.argmax(1) == coarse_te).float().mean()),
            "fine_probe_acc": c2f_probes.linear_probe(f_tr, fine_tr, f_te, fine_te, seed=self.seed).test_score,
            "fine_knn_acc": _knn_accuracy(f_tr, fine_tr, f_te, fine_te),
            "separation": c2f_probes.class_separation(f_te, coarse_te.numpy()[te_rows]),
            "entropy_anchor": float(c2f_probes.anchor_entropy(f_te, anchors, "cosine") / np.log(2)),
            "entropy_knn": c2f_probes.knn_entropy(f_te),
            "i_xt": point.i_xt,
            "i_ty": point.i_ty,
            "ece": c2f_probes.calibration(probs, coarse_te).ece,
            "fewshot_acc": shots.mean,
            "fewshot_shots": n_shot,
        }
        return RunOutput(metrics=metrics, history=result.history, arrays=c2f_models.state_arrays(model))


@dataclass(frozen=True)
class Distill(Experiment):
    """A small student trained on the coarse labels by knowledge distillation from a
    :class:`Train` run (its ``criterion``, ``strength`` and ``seed`` follow this run's).

    The student is an MLP with one hidden layer of ``student_width`` units on the flat
    inputs, trained with the teacher's recipe on Hinton et al.'s objective at temperature
    ``temperature`` (hard-label weight 0.1, soft term scaled by :math:`T^2`). Metric:
    ``student_acc``, its coarse test accuracy.

    A plain experiment, not a :class:`~c2f_utils.experiments.TrainingRun`: its recipe (epochs,
    learning rate, batch size, device) is its teacher's; it reads the teacher's :meth:`Train.data`,
    :meth:`Train.network` and :meth:`Train.recipe` (without the validation split).
    """

    name: ClassVar[str] = "synthesis.distill"
    uses: ClassVar[tuple[str, ...]] = (*Train.uses, "losses.distill")  # and the teacher's
    teacher: Train = param("the teacher's run (strength and seed follow this run's)")
    strength: float = param("the criterion's hyperparameter (see STRENGTH_NAMES)", ge=0)
    seed: int = param(SEED_HELP, ge=0)
    student_width: int = param("hidden units of the student MLP", ge=1)
    temperature: float = param("distillation temperature", gt=0)

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "teacher", self.teacher.replace(strength=self.strength, seed=self.seed))

    def requires(self) -> list[Experiment]:
        return [self.teacher]

    def student(self, data: SynthesisData) -> nn.Module:
        """The student: an MLP with one hidden layer of ``student_width`` units, as many features."""
        from ... import models as c2f_models

        width = self.student_width
        return c2f_models.create(
            "mlp", n_classes=data.n_classes, input_shape=data.input_shape, hidden=(width,), feature_dim=width
        )

    def run(self) -> RunOutput:
        from ... import losses as c2f_losses
        from ... import models as c2f_models
        from ... import train as c2f_train

        t = self.teacher
        data = t.data()
        t_net = c2f_models.load_state_arrays(t.build_model(data), t.cached().arrays)
        crit, regularizer = c2f_losses.teacher_objective(
            t_net.to(c2f_train.resolve_device(t.device)), temperature=self.temperature, beta=0.1
        )
        c2f_train.seed_everything(self.seed)
        student = self.student(data)
        recipe = t.recipe(data)
        res = c2f_train.fit(
            student, data.train, crit, recipe.config, regularizer=regularizer, transform=recipe.options["transform"]
        )
        test = data.splits["test"]
        acc = c2f_train.evaluate(res.model, (test.x, test.labels(data.coarse)), device=t.device)["acc"]
        return RunOutput(metrics={"student_acc": acc}, history=res.history)


_TWO = {
    "ls": (0.1, 0.3),
    "confidence": (0.1, 0.5),
    "fierce": (0.1, 0.5),
    "lls": (0.1, 0.3),
    "ols": (0.5, 0.9),
    "tfkd": (0.1, 0.5),
}
_THREE = {
    "ls": (0.05, 0.1, 0.3),
    "confidence": (0.05, 0.1, 0.5),
    "fierce": (0.05, 0.1, 0.5),
    "lls": (0.05, 0.1, 0.3),
    "ols": (0.5, 0.7, 0.9),
    "tfkd": (0.05, 0.1, 0.5),
}
STRENGTHS = {"quick": _TWO, "real": _TWO, "paper": _THREE}
"""Each criterion's declared grid of ``strength`` per profile: the same size for all criteria of a
profile (two values on a CPU, three on a GPU); cross-entropy has none."""


def _profile(
    *, base: Train, seeds: tuple[int, ...], strengths: dict[str, tuple[float, ...]], student_width: int
) -> dict[str, Grid]:
    grids: dict[str, Grid] = {}
    for criterion in CRITERIA:
        values = strengths.get(criterion, (0.0,))
        train = base.replace(criterion=criterion, strength=values[0])
        sweep = {"strength": values, "seed": seeds} if criterion != "ce" else {"seed": seeds}
        fixed = ("criterion",) if criterion != "ce" else ("criterion", "strength")
        grids[f"train_{criterion}"] = Grid(base=train, sweep=sweep, group=criterion, fixed=fixed)
        distill = Distill(
            teacher=train, strength=values[0], seed=seeds[0], student_width=student_width, temperature=4.0
        )
        follow = {"teacher": f"train_{criterion}"}
        grids[f"distill_{criterion}"] = Grid(base=distill, sweep=sweep, group=criterion, fixed=fixed[1:], follow=follow)
    return grids


_RECIPE = dict(criterion="ce", strength=0.0, seed=0)
_QUICK = Train(
    **_RECIPE, dataset="digits", held_out=(4, 9), model="mlp", feature_dim=32, epochs=30, lr=0.05, batch_size=64,
    val_fraction=0.2, probe_max=0, device="cpu",
)  # fmt: skip
_REAL = Train(
    **_RECIPE, dataset="cifar10_jpeg", held_out=(7, 9), model="lenet", feature_dim=84, epochs=12, lr=0.05,
    batch_size=128, val_fraction=0.1, probe_max=2000, device="cpu", warmup_epochs=2,
)  # fmt: skip
_PAPER = Train(
    **_RECIPE, dataset="cifar100", held_out=(5, 8), model="resnet20", feature_dim=64, epochs=160, lr=0.1,
    batch_size=128, val_fraction=0.1, probe_max=5000, device="auto",
)  # fmt: skip

_PROFILES = {
    "quick": dict(base=_QUICK, seeds=(0, 1, 2), strengths=STRENGTHS["quick"], student_width=32),
    # real: CIFAR-10 (the offline JPEG copy), vehicles vs animals, horse and truck held out; 5 seeds; LeNet-5
    # teachers; students of 16 hidden units (49k weights, fewer than LeNet-5's 62k: with 256, more
    # than the teacher, students matched their teachers and one beat its teacher)
    "real": dict(base=_REAL, seeds=(0, 1, 2, 3, 4), strengths=STRENGTHS["real"], student_width=16),
    "paper": dict(base=_PAPER, seeds=(0, 1, 2), strengths=STRENGTHS["paper"], student_width=512),
}

#: The chapter (``python -m c2f_utils.run --list synthesis``).
CHAPTER = register(
    Chapter(
        "synthesis",
        "synthesis.md",
        "Synthesis: every criterion on one benchmark",
        {profile: _profile(**values) for profile, values in _PROFILES.items()},
        shared=(
            "seed",
            "device",
            "dataset",
            "held_out",
            "model",
            "feature_dim",
            "epochs",
            "lr",
            "batch_size",
            "val_fraction",
            "probe_max",
            "warmup_epochs",
            "student_width",
            "temperature",
        ),
    )
)
