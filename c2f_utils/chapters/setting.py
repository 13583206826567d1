"""Chapter "The coarse-to-fine setting": what coarse training leaves of the fine labels.

A network is trained with cross-entropy on a *coarse* labeling (digit < 5) and, as a
reference, on the *fine* one (the digit). After every epoch its penultimate features
are frozen and probed: a linear probe (logistic regression) fit on training-set
features predicts the fine label of test images. Chance is 10%; a probe on the raw
pixels gives the information available before any training.

Experiments: :class:`TrainAndProbe` (one network, one seed) and :class:`RawInputProbe`.
Report: :func:`summary_table`, :func:`scorecard`, :func:`plot_histories`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import pandas as pd

from .. import report
from ..experiments import Chapter, Config, Experiment, Grid, param
from ..runs import RunOutput, RunResult
from . import register

if TYPE_CHECKING:
    import torch

    from .. import data as c2f_data
    from .. import train as c2f_train

__all__ = [
    "CHAPTER",
    "CHECKS",
    "MAJORITY",
    "NETWORKS",
    "RawInputProbe",
    "TrainAndProbe",
    "card",
    "figure",
    "histories",
    "make_model",
    "plot_histories",
    "scorecard",
    "summary_table",
    "validity",
]

DATASETS = ("digits", "mnist10k", "mnist")
COARSENINGS = ("lt5", "parity")


NETWORKS = {
    "digits": ("mlp", {"hidden": (128,)}),
    "mnist10k": ("lenet5", {}),
    "mnist": ("lenet5", {}),
}
"""The chapter's network per dataset, ``(models.create name, options)``: an MLP ``64-128-feature_dim``
on digits, LeNet-5 on MNIST (and its 10k split)."""


def make_model(dataset: str, n_classes: int, feature_dim: int, input_shape: tuple[int, ...]) -> torch.nn.Module:
    """The network of ``dataset`` (:data:`NETWORKS`) for inputs of ``input_shape`` (one image's)."""
    from .. import models as c2f_models

    name, options = NETWORKS[dataset]
    return c2f_models.create(name, n_classes=n_classes, input_shape=input_shape, feature_dim=feature_dim, **options)


def _probe(features_train, fine_train, features_test, fine_test, groups, max_train, seed) -> dict[str, float]:
    from .. import probes as c2f_probes

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
class TrainAndProbe(Experiment):
    """Train on ``labeling`` (``"coarse"`` or ``"fine"``) and probe the features over epochs.

    History columns: ``test_acc`` (the network on its own labeling), ``fine_probe_acc``
    (linear probe, 10 digits) and ``within_coarse_acc`` (the probe's fine accuracy when
    the coarse class is given, see :func:`~c2f_utils.probes.within_group_accuracy`).
    """

    name: ClassVar[str] = "setting.train_and_probe"
    uses: ClassVar[tuple[str, ...]] = ("data.core", "models.lenet5", "models.mlp", "probes.linear", "train")
    dataset: str = param("dataset (fine labels: the digit)", choices=DATASETS)
    labeling: str = param("labels the network is trained on", choices=("coarse", "fine"))
    coarsening: str = param("coarse labeling trained on", choices=COARSENINGS)
    seed: int = param("training seed", ge=0)
    epochs: int = param("training epochs", ge=1)
    lr: float = param("SGD learning rate (momentum 0.9, cosine schedule)", gt=0)
    batch_size: int = param("mini-batch size", ge=1)
    feature_dim: int = param("size of the penultimate (feature) layer", ge=1)
    probe_every: int = param("probe the features every this many epochs", ge=1)
    probe_max_train: int = param("probe fit on at most this many samples (0: all)", ge=0)
    device: str = param("device to train on", device=True)

    def run(self) -> RunOutput:
        from .. import data as c2f_data
        from .. import train as c2f_train

        train = c2f_data.load(self.dataset, "train")
        test = c2f_data.load(self.dataset, "test")
        target = self.coarsening if self.labeling == "coarse" else "fine"
        groups = _fine_to_coarse(train, self.coarsening).numpy()
        c2f_train.seed_everything(self.seed)
        model = make_model(self.dataset, train.n_classes(target), self.feature_dim, tuple(train.x.shape[1:]))

        def probe(state: c2f_train.EpochState) -> dict[str, float] | None:
            if state.epoch % self.probe_every and state.epoch != self.epochs:
                return None
            tr = c2f_train.extract_features(state.model, train.x, device=state.device)
            te = c2f_train.extract_features(state.model, test.x, device=state.device)
            out = _probe(tr.features, train.fine, te.features, test.fine, groups, self.probe_max_train, self.seed)
            out["test_acc"] = float((te.logits.argmax(1) == test.labels(target)).float().mean())
            return out

        recipe = dict(lr=self.lr, momentum=0.9, schedule="cosine", seed=self.seed, device=self.device)
        config = c2f_train.TrainConfig(self.epochs, self.batch_size, **recipe)
        history = c2f_train.fit(model, (train.x, train.labels(target)), config=config, callbacks=[probe]).history
        last = history.iloc[-1]
        metrics = {k: float(last[k]) for k in ("test_acc", "fine_probe_acc", "within_coarse_acc")}
        return RunOutput(metrics=metrics, history=history)


@dataclass(frozen=True)
class RawInputProbe(Experiment):
    """The same probe on the raw inputs (flattened pixels): what was there before training."""

    name: ClassVar[str] = "setting.raw_input_probe"
    uses: ClassVar[tuple[str, ...]] = ("data.core", "probes.linear")
    dataset: str = param("dataset (fine labels: the digit)", choices=DATASETS)
    coarsening: str = param("coarse labeling trained on", choices=COARSENINGS)
    probe_max_train: int = param("probe fit on at most this many samples (0: all)", ge=0)

    def run(self) -> dict[str, float]:
        from .. import data as c2f_data

        train = c2f_data.load(self.dataset, "train")
        test = c2f_data.load(self.dataset, "test")
        groups = _fine_to_coarse(train, self.coarsening).numpy()
        return _probe(train.x.flatten(1), train.fine, test.x.flatten(1), test.fine, groups, self.probe_max_train, 0)


def _profile(dataset: str, seeds: tuple[int, ...], device: str, **train: int | float) -> dict[str, Grid]:
    raw = RawInputProbe(dataset, "lt5", train["probe_max_train"])
    base = TrainAndProbe(dataset=dataset, labeling="coarse", coarsening="lt5", seed=seeds[0], device=device, **train)
    return {
        "train": Grid(base, sweep={"labeling": ("coarse", "fine"), "seed": seeds}, fixed=("labeling",)),
        "raw": Grid(raw),
    }


_RECIPE = ("dataset", "seeds", "device", "epochs", "lr", "batch_size", "feature_dim", "probe_every", "probe_max_train")
_PROFILES = {  # quick: embedded digits on a CPU; real: the MNIST test set split 80/20; paper: MNIST, LeNet-5
    "quick": ("digits", (0, 1, 2), "cpu", 30, 0.05, 64, 32, 1, 0),
    "real": ("mnist10k", (0, 1, 2, 3, 4), "cpu", 20, 0.05, 128, 84, 2, 0),
    "paper": ("mnist", (0, 1, 2, 3, 4), "auto", 20, 0.05, 128, 84, 2, 10000),
}

#: The chapter: its experiments' grids in the ``quick``, ``real`` and ``paper`` profiles (``--list setting``).
CHAPTER = register(
    Chapter(
        "setting",
        "setting.md",
        "The coarse-to-fine setting",
        {profile: _profile(**dict(zip(_RECIPE, values, strict=True))) for profile, values in _PROFILES.items()},
    )
)


def histories(results: list[RunResult]) -> pd.DataFrame:
    """Long-format history of the ``train`` runs, with ``trained_on`` and ``seed`` columns."""
    frames = [r.history.assign(trained_on=r.params["labeling"], seed=r.params["seed"]) for r in results]
    if not frames:  # every run invalid
        return pd.DataFrame(columns=["epoch", "trained_on", "seed", "fine_probe_acc", "within_coarse_acc", "test_acc"])
    return pd.concat(frames, ignore_index=True)


MAJORITY = {"coarse": 0.52, "fine": 0.12}
"""Largest class share of each labeling, an upper bound over digits and MNIST (digits 0-4 are
51.4% of MNIST's test set, digit 1 is 11.4%): a network at this training accuracy answers one class."""
CHECKS = (report.above_majority("train_acc", lambda run: MAJORITY[run.params["labeling"]], margin=0.05),)
"""What a working ``train`` run is: training accuracy above its labeling's majority class by 0.05."""


def validity(results: list[RunResult]) -> report.Validity:
    """:data:`CHECKS` on the ``train`` runs (:func:`c2f_utils.report.valid_runs`)."""
    return report.valid_runs(results, CHECKS, label=lambda r: f"{r.params['labeling']} seed {r.params['seed']}")


def summary_table(history: pd.DataFrame, raw: dict[str, float]) -> pd.DataFrame:
    """Fine-label probe accuracy at initialisation, after training, and on raw inputs (mean ± 95% CI)."""
    columns = {"fine_probe_acc": "fine probe accuracy", "within_coarse_acc": "fine accuracy given coarse"}
    parts = []
    for stage, epoch in (("at initialisation", 0), ("after training", history.epoch.max())):
        table = report.mean_ci_table(history[history.epoch == epoch], "trained_on", columns)
        table.index = [f"network trained on {t} labels, {stage}" for t in table.index]
        parts.append(table)
    raw_row = pd.DataFrame({label: [f"{raw[c]:.3f}"] for c, label in columns.items()} | {"seeds": [1]})
    parts.append(raw_row.set_axis(["raw pixels (deterministic probe)"]))
    return pd.concat(parts).rename_axis("features")


def scorecard(
    history: pd.DataFrame, raw: dict[str, float], config, validity: report.Validity | None = None
) -> pd.DataFrame:
    """The chapter's claims, what we measured, and the book's verdict (:mod:`c2f_utils.report`).

    ``history`` holds the valid runs only (:func:`validity`, listed in the scorecard).
    Comparisons between networks are paired by seed (each seed fixes the initialisation
    and the batch order of both runs); comparisons with chance and with the raw-pixel
    probe (deterministic) are against a constant.
    """
    last = history[history.epoch == history.epoch.max()].sort_values("seed")
    first = history[history.epoch == 0].sort_values("seed")
    where = report.where(config.profile, config["dataset"], config["seeds"])

    def col(frame: pd.DataFrame, labeling: str, metric: str = "fine_probe_acc") -> list[float]:
        return frame[frame.trained_on == labeling][metric].tolist()

    n_groups = 5  # digits per coarse class for lt5 and parity
    at_init = first[first.trained_on == "coarse"].assign(trained_on="init")
    coarse_only = None if validity is None else validity.where(labeling="coarse")
    greater, less = report.greater, report.less
    claims = [
        report.Claim(
            "coarse training keeps fine information well above chance",
            report.judge(greater, col(last, "coarse"), value=0.1, paired=False),
            where,
            "premise (fine probe accuracy > 0.10, chance)",
            validity=coarse_only,
        ),
        report.Claim(
            "within a coarse class, digits stay separable",
            report.judge(greater, col(last, "coarse", "within_coarse_acc"), value=1 / n_groups, paired=False),
            where,
            f"premise (fine accuracy given coarse > {1 / n_groups:.2f}, chance)",
            validity=coarse_only,
        ),
        report.Claim(
            "coarse training keeps less fine information than fine training",
            report.compare(less, last, "fine_probe_acc", "trained_on", "coarse", "fine"),
            where,
            "premise (coarse-trained < fine-trained probe)",
            validity=validity,
        ),
        report.Claim(
            "coarse training discards fine information present in the input",
            report.judge(less, col(last, "coarse"), value=raw["fine_probe_acc"], paired=False),
            where,
            "premise (coarse-trained < raw-pixel probe)",
            validity=coarse_only,
        ),
        report.Claim(
            "coarse training adds fine information over random features",
            report.compare(greater, pd.concat([last, at_init]), "fine_probe_acc", "trained_on", "coarse", "init"),
            where,
            "premise (trained > initialisation probe)",
            validity=coarse_only,
        ),
    ]
    return report.scorecard(claims)


def plot_histories(history: pd.DataFrame, raw: dict[str, float], title: str = ""):
    """The chapter's figure: own-task accuracy, fine probe and fine-given-coarse accuracy over epochs.

    Dotted black lines mark the same probes on the raw pixels.
    """
    from ..plots import plot_over_epochs

    fig, axes = plot_over_epochs(
        history.dropna(subset=["fine_probe_acc"]),
        ["test_acc", "fine_probe_acc", "within_coarse_acc"],
        hue="trained_on",
        titles=["network on its own labels", "linear probe: fine label", "fine label given coarse"],
        ylabels=["test accuracy", "probe test accuracy", "probe test accuracy"],
    )
    for ax, key in zip(axes[1:], ("fine_probe_acc", "within_coarse_acc"), strict=True):
        ax.axhline(raw[key], color="k", lw=1, ls=":", label="raw pixels")
    axes[-1].legend(fontsize="small")
    if title:
        fig.suptitle(title, y=1.03)
    return fig


def figure(config: Config):
    """:func:`plot_histories` of the runs of ``config`` (live or committed)."""
    title = f"{config.profile}: {config['dataset']}, trained on '{config['coarsening']}' vs on the fine labels"
    return plot_histories(histories(config.results("train")), config.results("raw")[0].metrics, title)


def card(config: Config) -> pd.DataFrame:
    """:func:`scorecard` of the runs of ``config`` (live or committed)."""
    valid = validity(config.results("train"))
    return scorecard(histories(valid.valid), config.results("raw")[0].metrics, config, valid)
