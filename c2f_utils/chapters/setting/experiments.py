"""Experiments of "The coarse-to-fine setting": a network trained on coarse (or fine) labels, probed.

:class:`TrainAndProbe` trains one network for one seed (a :class:`~c2f_utils.experiments.TrainingRun`:
its data, model, criterion, recipe and probes are public, and its run is ``fit`` over them);
:class:`RawInputProbe` fits the same probe on the raw pixels. :data:`CHAPTER` holds their grids
per profile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from ...experiments import Chapter, Experiment, Grid, Recipe, TrainingRun, param
from ...runs import RunOutput
from .. import register

if TYPE_CHECKING:
    import numpy as np
    import torch

    from ... import data as c2f_data
    from ... import train as c2f_train

__all__ = ["CHAPTER", "NETWORKS", "RawInputProbe", "SettingData", "TrainAndProbe"]

DATASETS = ("digits", "mnist10k", "mnist")
COARSENINGS = ("lt5", "parity")


NETWORKS = {
    "digits": ("mlp", {"hidden": (128,)}),
    "mnist10k": ("lenet5", {}),
    "mnist": ("lenet5", {}),
}
"""The chapter's network per dataset, ``(models.create name, options)``: an MLP ``64-128-feature_dim``
on digits, LeNet-5 on MNIST (and its 10k split)."""


def _probe(features_train, fine_train, features_test, fine_test, groups, max_train, seed) -> dict[str, float]:
    from ... import probes as c2f_probes

    res = c2f_probes.linear_probe(
        features_train, fine_train, features_test, fine_test, max_train=max_train or None, seed=seed
    )
    return {
        "fine_probe_acc": res.test_score,
        "within_coarse_acc": c2f_probes.within_group_accuracy(
            res.test_prediction, fine_test, groups[res.classes], res.classes
        ),
    }


def _fine_to_coarse(train: c2f_data.LabeledData, coarsening: str) -> torch.Tensor:
    """Coarse class of each fine class, read off the training labels."""
    import torch

    fine, coarse = train.fine, train.labels(coarsening)
    table = torch.zeros(int(fine.max()) + 1, dtype=torch.int64)
    table[fine] = coarse
    return table


@dataclass(frozen=True)
class SettingData:
    """The data of one :class:`TrainAndProbe` run: the pair the network is fit on (``train``,
    images and the labels of its labeling), both labeled splits for the probes, and the coarse
    class of each digit (``groups``)."""

    train: tuple[torch.Tensor, torch.Tensor]
    train_split: c2f_data.LabeledData
    test_split: c2f_data.LabeledData
    target: str
    groups: np.ndarray


@dataclass(frozen=True)
class TrainAndProbe(TrainingRun):
    """Train on ``labeling`` (``"coarse"`` or ``"fine"``) and probe the features over epochs.

    SGD (momentum 0.9, cosine schedule) with cross-entropy. History columns: ``test_acc`` (the
    network on its own labeling), ``fine_probe_acc`` (linear probe, 10 digits) and
    ``within_coarse_acc`` (the probe's fine accuracy when the coarse class is given, see
    :func:`~c2f_utils.probes.within_group_accuracy`).
    """

    name: ClassVar[str] = "setting.train_and_probe"
    uses: ClassVar[tuple[str, ...]] = ("data.core", "models.lenet5", "models.mlp", "probes.linear", "train")
    dataset: str = param("dataset (fine labels: the digit)", choices=DATASETS)
    labeling: str = param("labels the network is trained on", choices=("coarse", "fine"))
    coarsening: str = param("coarse labeling trained on", choices=COARSENINGS)
    feature_dim: int = param("size of the penultimate (feature) layer", ge=1)
    probe_every: int = param("probe the features every this many epochs", ge=1)
    probe_max_train: int = param("probe fit on at most this many samples (0: all)", ge=0)

    def data(self) -> SettingData:
        """Both splits of ``dataset``; the network is fit on the labels of ``labeling``."""
        from ... import data as c2f_data

        train = c2f_data.load(self.dataset, "train")
        test = c2f_data.load(self.dataset, "test")
        target = self.coarsening if self.labeling == "coarse" else "fine"
        groups = _fine_to_coarse(train, self.coarsening).numpy()
        return SettingData((train.x, train.labels(target)), train, test, target, groups)

    def build_model(self, data: SettingData) -> torch.nn.Module:
        """The network of ``dataset`` (:data:`NETWORKS`), ``feature_dim`` features."""
        from ... import models as c2f_models

        name, options = NETWORKS[self.dataset]
        shape = tuple(data.train_split.x.shape[1:])
        n_classes = data.train_split.n_classes(data.target)
        return c2f_models.create(name, n_classes=n_classes, input_shape=shape, feature_dim=self.feature_dim, **options)

    def build_criterion(self, data: SettingData) -> torch.nn.Module:
        """Cross-entropy on the labels of ``labeling``."""
        import torch

        return torch.nn.CrossEntropyLoss()

    def recipe(self, data: SettingData) -> Recipe:
        """SGD, momentum 0.9, cosine schedule."""
        from ... import train as c2f_train

        recipe = dict(lr=self.lr, momentum=0.9, schedule="cosine", seed=self.seed, device=self.device)
        return Recipe(c2f_train.TrainConfig(self.epochs, self.batch_size, **recipe))

    def probes(self, data: SettingData, criterion: torch.nn.Module) -> list[c2f_train.Callback]:
        """Every ``probe_every`` epochs and at the last: the network's test accuracy on its labeling,
        and the linear probe of the fine label on its frozen features."""
        from ... import train as c2f_train

        train, test = data.train_split, data.test_split

        def probe(state: c2f_train.EpochState) -> dict[str, float] | None:
            if state.epoch % self.probe_every and state.epoch != self.epochs:
                return None
            tr = c2f_train.extract_features(state.model, train.x, device=state.device)
            te = c2f_train.extract_features(state.model, test.x, device=state.device)
            out = _probe(tr.features, train.fine, te.features, test.fine, data.groups, self.probe_max_train, self.seed)
            out["test_acc"] = float((te.logits.argmax(1) == test.labels(data.target)).float().mean())
            return out

        return [probe]

    def outcome(self, data: SettingData, result: c2f_train.TrainResult) -> RunOutput:
        """The last probe's three accuracies, and the history."""
        last = result.history.iloc[-1]
        metrics = {k: float(last[k]) for k in ("test_acc", "fine_probe_acc", "within_coarse_acc")}
        return RunOutput(metrics=metrics, history=result.history)


@dataclass(frozen=True)
class RawInputProbe(Experiment):
    """The same probe on the raw inputs (flattened pixels): what was there before training."""

    name: ClassVar[str] = "setting.raw_input_probe"
    uses: ClassVar[tuple[str, ...]] = ("data.core", "probes.linear")
    dataset: str = param("dataset (fine labels: the digit)", choices=DATASETS)
    coarsening: str = param("coarse labeling trained on", choices=COARSENINGS)
    probe_max_train: int = param("probe fit on at most this many samples (0: all)", ge=0)

    def run(self) -> dict[str, float]:
        from ... import data as c2f_data

        train = c2f_data.load(self.dataset, "train")
        test = c2f_data.load(self.dataset, "test")
        groups = _fine_to_coarse(train, self.coarsening).numpy()
        return _probe(train.x.flatten(1), train.fine, test.x.flatten(1), test.fine, groups, self.probe_max_train, 0)


def _profile(dataset: str, seeds: tuple[int, ...], device: str, **train: int | float) -> dict[str, Grid]:
    raw = RawInputProbe(dataset=dataset, coarsening="lt5", probe_max_train=train["probe_max_train"])
    base = TrainAndProbe(dataset=dataset, labeling="coarse", coarsening="lt5", seed=seeds[0], device=device, **train)
    return {
        "train": Grid(base, sweep={"labeling": ("coarse", "fine"), "seed": seeds}, fixed=("labeling",)),
        "raw": Grid(raw),
    }


_PROFILES = {
    # quick: embedded digits on a CPU
    "quick": dict(
        dataset="digits",
        seeds=(0, 1, 2),
        device="cpu",
        epochs=30,
        lr=0.05,
        batch_size=64,
        feature_dim=32,
        probe_every=1,
        probe_max_train=0,
    ),
    # real: the MNIST test set split 80/20
    "real": dict(
        dataset="mnist10k",
        seeds=(0, 1, 2, 3, 4),
        device="cpu",
        epochs=20,
        lr=0.05,
        batch_size=128,
        feature_dim=84,
        probe_every=2,
        probe_max_train=0,
    ),
    # paper: MNIST, LeNet-5
    "paper": dict(
        dataset="mnist",
        seeds=(0, 1, 2, 3, 4),
        device="auto",
        epochs=20,
        lr=0.05,
        batch_size=128,
        feature_dim=84,
        probe_every=2,
        probe_max_train=10000,
    ),
}

#: The chapter: its experiments' grids in the ``quick``, ``real`` and ``paper`` profiles (``--list setting``).
CHAPTER = register(
    Chapter(
        "setting",
        "setting.md",
        "The coarse-to-fine setting",
        {profile: _profile(**values) for profile, values in _PROFILES.items()},
    )
)
