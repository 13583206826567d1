"""Chapter "Synthesis": every criterion of the book on one coarse-to-fine benchmark.

One protocol for all: the same network trains on the same *coarse* labels with the same
epochs, seeds and recipe under each criterion of the book (cross-entropy, label
smoothing, the confidence penalty, FIERCE, LLS, online label smoothing, TF-KD_reg). Each
criterion's own hyperparameter is chosen on a validation split from a declared grid, the
same size for all. Two classes (one per coarse class) are held out of training entirely,
for transfer.

Every trained network then gets the same battery of measurements (:class:`Train`): coarse
accuracy; fine-label linear-probe and k-NN accuracy of the penultimate features; their class
separation (Kornblith et al. 2021); their entropy (FIERCE's anchor estimate and a k-NN
estimate); the information-plane point of the outputs; calibration; few-shot accuracy on
the held-out classes; and, as a teacher, the accuracy of a small distilled student
(:class:`Distill`).

Report: :func:`selected`, :func:`summary_table`, :func:`tradeoff_figure`,
:func:`rank_correlations`, :func:`best_per_measurement`, :func:`scorecard`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from ... import report
from ..._checks import check_choice
from ...experiments import Chapter, Config, Experiment, Grid, param
from ...runs import RunOutput, results_frame
from .. import register

if TYPE_CHECKING:
    from torch import nn

    from ... import data as c2f_data
    from ... import train as c2f_train

__all__ = [
    "CHAPTER",
    "CHECKS",
    "CRITERIA",
    "LOSSES",
    "MEASUREMENTS",
    "NETWORKS",
    "STRENGTHS",
    "STRENGTH_NAMES",
    "TIE_MARGIN",
    "Distill",
    "Train",
    "best_per_measurement",
    "card",
    "coarsening",
    "frame",
    "leaders",
    "majority",
    "make_criterion",
    "make_model",
    "rank_correlations",
    "scorecard",
    "selected",
    "summary",
    "summary_table",
    "tradeoff",
    "tradeoff_figure",
    "validity",
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
no "best" (:func:`summary_table`, :func:`best_per_measurement`)."""
MODELS = ("mlp", "lenet", "resnet20")
DATASETS = ("digits", "cifar10", "cifar10_jpeg", "cifar100")
_COARSENING = {"digits": "lt5", "cifar10": "vehicle", "cifar10_jpeg": "vehicle", "cifar100": "superclass"}


# --------------------------------------------------------------------------- pieces


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


def _subsample(n: int, at_most: int, seed: int) -> np.ndarray:
    rows = np.arange(n)
    return rows if n <= at_most else np.sort(np.random.default_rng(seed).choice(n, at_most, replace=False))


def _knn_accuracy(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray) -> float:
    """Accuracy of a 10-nearest-neighbour vote (cosine) fit on the training features."""
    from sklearn.neighbors import KNeighborsClassifier

    knn = KNeighborsClassifier(n_neighbors=10, metric="cosine").fit(train_x, train_y)
    return float(knn.score(test_x, test_y))


# --------------------------------------------------------------------------- experiments


@dataclass(frozen=True)
class Train(Experiment):
    """Train one network on the coarse labels with ``criterion`` at ``strength``, then measure it.

    The classes ``held_out`` (fine labels) are removed from training, validation and the
    coarse and fine test metrics; a ``val_fraction`` of the remaining training set,
    stratified on the coarse labels, is the validation split (selection of ``strength``).
    Metrics (:data:`MEASUREMENTS`, test split unless said): ``val_acc``; ``test_acc`` (coarse);
    ``fine_probe_acc`` (logistic regression on training features) and ``fine_knn_acc``; ``separation`` (coarse classes,
    :func:`~c2f_utils.probes.class_separation`); ``entropy_anchor`` (bits, 100 uniform anchors) and
    ``entropy_knn`` (nats); ``i_xt``, ``i_ty`` (:func:`~c2f_utils.probes.info_plane` of the
    softmax outputs and coarse labels); ``ece`` (15 bins); ``fewshot_acc`` (2-way 5-shot
    nearest class mean on the held-out classes' test features, 15 queries per class; fewer
    shots and queries where a held-out class has fewer than 20 test images, ``fewshot_shots``).
    The network's weights are stored for :class:`Distill`.
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
    seed: int = param("training seed (initialisation, batches, anchors)", ge=0)
    epochs: int = param("training epochs", ge=1)
    lr: float = param("SGD learning rate (momentum 0.9, cosine schedule)", gt=0)
    batch_size: int = param("mini-batch size", ge=1)
    val_fraction: float = param("share of the training set held out for validation", gt=0, lt=1)
    probe_max: int = param("examples used by the probes, at most (0: all)", ge=0)
    device: str = param("device to train on", device=True)
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
            kept_train.labels(_COARSENING[self.dataset]), self.val_fraction, self.seed
        )
        return {
            "train": kept_train.subset(fit_rows),
            "val": kept_train.subset(val_rows),
            "test": test.subset(torch.nonzero(~torch.isin(test.fine, held)).flatten()),
            "held_out": test.subset(torch.nonzero(torch.isin(test.fine, held)).flatten()),
        }

    def train_config(self) -> c2f_train.TrainConfig:
        """The recipe every criterion shares."""
        from ... import train as c2f_train

        recipe = dict(lr=self.lr, momentum=0.9, schedule="cosine", weight_decay=5e-4, warmup_epochs=self.warmup_epochs)
        return c2f_train.TrainConfig(self.epochs, self.batch_size, seed=self.seed, device=self.device, **recipe)

    def augmentation(self):
        """Random crop and flip for CIFAR images, none for the 8x8 digits."""
        from ... import train as c2f_train

        return c2f_train.crop_flip(4, True) if self.dataset != "digits" else None

    def build(self, n_classes: int, input_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
        """The seeded network and the criterion."""
        from ... import train as c2f_train

        c2f_train.seed_everything(self.seed)
        net = make_model(self.model, n_classes, input_shape, self.feature_dim)
        return net, make_criterion(self.criterion, self.strength, n_classes, net.feature_dim, self.seed)

    def run(self) -> RunOutput:
        import torch

        from ... import losses as c2f_losses
        from ... import models as c2f_models
        from ... import probes as c2f_probes
        from ... import train as c2f_train

        parts = self.split()
        train, val, test, held = parts["train"], parts["val"], parts["test"], parts["held_out"]
        coarse = _COARSENING[self.dataset]
        k = int(train.labels(coarse).max()) + 1
        net, crit = self.build(k, tuple(train.x.shape[1:]))
        result = c2f_train.fit(
            net,
            (train.x, train.labels(coarse)),
            crit,
            self.train_config(),
            val_data=(val.x, val.labels(coarse)),
            callbacks=c2f_losses.callbacks(crit),  # online LS: next epoch's targets
            transform=self.augmentation(),
        )
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
    """

    name: ClassVar[str] = "synthesis.distill"
    uses: ClassVar[tuple[str, ...]] = (*Train.uses, "losses.distill")  # and the teacher's
    teacher: Train = param("the teacher's run (strength and seed follow this run's)")
    strength: float = param("the criterion's hyperparameter (see STRENGTH_NAMES)", ge=0)
    seed: int = param("training seed (initialisation, batches, anchors)", ge=0)
    student_width: int = param("hidden units of the student MLP", ge=1)
    temperature: float = param("distillation temperature", gt=0)

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "teacher", self.teacher.replace(strength=self.strength, seed=self.seed))

    def requires(self) -> list[Experiment]:
        return [self.teacher]

    def run(self) -> RunOutput:
        from ... import losses as c2f_losses
        from ... import models as c2f_models
        from ... import train as c2f_train

        t = self.teacher
        parts = t.split()
        train, test = parts["train"], parts["test"]
        coarse = _COARSENING[t.dataset]
        k = int(train.labels(coarse).max()) + 1
        shape = tuple(train.x.shape[1:])
        t_net = c2f_models.load_state_arrays(make_model(t.model, k, shape, t.feature_dim), t.cached().arrays)
        crit, regularizer = c2f_losses.teacher_objective(
            t_net.to(c2f_train.resolve_device(t.device)), temperature=self.temperature, beta=0.1
        )
        c2f_train.seed_everything(self.seed)
        width = self.student_width
        student = c2f_models.create("mlp", n_classes=k, input_shape=shape, hidden=(width,), feature_dim=width)
        res = c2f_train.fit(
            student,
            (train.x, train.labels(coarse)),
            crit,
            t.train_config(),
            regularizer=regularizer,
            transform=t.augmentation(),
        )
        acc = c2f_train.evaluate(res.model, (test.x, test.labels(coarse)), device=t.device)["acc"]
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


def _profile(base: Train, seeds: tuple[int, ...], strengths: dict[str, tuple[float, ...]], width: int) -> dict:
    grids: dict[str, Grid] = {}
    for criterion in CRITERIA:
        values = strengths.get(criterion, (0.0,))
        train = base.replace(criterion=criterion, strength=values[0])
        sweep = {"strength": values, "seed": seeds} if criterion != "ce" else {"seed": seeds}
        fixed = ("criterion",) if criterion != "ce" else ("criterion", "strength")
        grids[f"train_{criterion}"] = Grid(train, sweep, group=criterion, fixed=fixed)
        distill = Distill(train, values[0], seeds[0], width, 4.0)
        follow = {"teacher": f"train_{criterion}"}
        grids[f"distill_{criterion}"] = Grid(distill, sweep, group=criterion, fixed=fixed[1:], follow=follow)
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

#: The chapter (``python -m c2f_utils.run --list synthesis``).
CHAPTER = register(
    Chapter(
        "synthesis",
        "synthesis.md",
        "Synthesis: every criterion on one benchmark",
        {
            "quick": _profile(_QUICK, (0, 1, 2), STRENGTHS["quick"], 32),
            # real: CIFAR-10 (the offline JPEG copy), vehicles vs animals, horse and truck held out; 5 seeds; LeNet-5
            # teachers; students of 16 hidden units (49k weights, fewer than LeNet-5's 62k: with 256, more
            # than the teacher, students matched their teachers and one beat its teacher)
            "real": _profile(_REAL, (0, 1, 2, 3, 4), STRENGTHS["real"], 16),
            "paper": _profile(_PAPER, (0, 1, 2), STRENGTHS["paper"], 512),
        },
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


# --------------------------------------------------------------------------- report


_COARSE_OF = {"lt5": lambda c: int(c >= 5), "vehicle": lambda c: int(c in (0, 1, 8, 9))}
"""Coarse class of each fine class for the ten-class coarsenings (digits: 5-9; CIFAR-10: vehicles)."""


def majority(run: Any) -> float:
    """Largest coarse class share of a ``train`` run's labels: the fine classes it keeps are
    balanced, so the share of the largest coarse group among them (CIFAR-10 without horse
    and truck: 5 animals of 8 classes, 0.625); CIFAR-100's 20 superclasses: at most 0.06."""
    scheme = _COARSENING[run.params["dataset"]]
    if scheme not in _COARSE_OF:
        return 0.06
    kept = [c for c in range(10) if c not in run.params["held_out"]]
    shares = [sum(_COARSE_OF[scheme](c) == g for c in kept) / len(kept) for g in (0, 1)]
    return max(shares)


CHECKS = (report.above_majority("train_acc", majority, margin=0.05),)
"""What a working ``train`` run is: training accuracy above its majority coarse class by 0.05
(a run that collapsed to one class measures nothing about its criterion)."""


def _teacher_beats_student(teachers: list[Any]) -> report.Check:
    accs = {(r.params["criterion"], r.params["strength"], r.params["seed"]): r.metrics["test_acc"] for r in teachers}

    def rule(run: Any) -> str | None:
        t = run.params["teacher"]["params"]
        key = (t["criterion"], t["strength"], t["seed"])
        if key not in accs:
            return "teacher run invalid"
        acc = run.metrics["student_acc"]
        return None if accs[key] > acc else f"teacher acc {accs[key]:.3g} <= student acc {acc:.3g}"

    return report.Check("a valid teacher better than its student", rule)


def _label(run: Any) -> str:
    p = _teacher_params(run)
    strength = "" if p["criterion"] == "ce" else f" {STRENGTH_NAMES[p['criterion']]}={p['strength']:g}"
    return f"{p['criterion']}{strength} seed {p['seed']}"


def validity(config: Config) -> dict[str, report.Validity]:
    """:data:`CHECKS` on the ``train`` runs; a distilled student needs a valid teacher that beats it."""
    teachers = report.valid_runs([r for c in CRITERIA for r in config.results(f"train_{c}")], CHECKS, _label)
    students = [r for c in CRITERIA for r in config.results(f"distill_{c}")]
    return {
        "train": teachers,
        "distill": report.valid_runs(students, (_teacher_beats_student(teachers.valid),), _label),
    }


def frame(config: Config, checked: dict[str, report.Validity] | None = None) -> pd.DataFrame:
    """One row per (criterion, strength, seed) of ``config``'s valid runs (live or committed,
    :func:`validity`): the teacher's metrics and its valid student's accuracy (NaN otherwise)."""
    checked = validity(config) if checked is None else checked
    teachers = results_frame(checked["train"].valid)
    students = pd.DataFrame(
        [
            {"criterion": r.params["teacher"]["params"]["criterion"], "strength": r.params["strength"],
             "seed": r.params["seed"], **r.metrics}
            for r in checked["distill"].valid
        ],
        columns=["criterion", "strength", "seed", "student_acc"],
    )  # fmt: skip
    keys = ["criterion", "strength", "seed"]
    return teachers.merge(students[[*keys, "student_acc"]], on=keys, how="left")


def selected(frame: pd.DataFrame) -> pd.DataFrame:
    """For each criterion, the rows (all seeds) of the ``strength`` with the best mean
    validation accuracy (ties: the smaller strength). The selection sees only ``val_acc``."""
    need = {"criterion", "strength", "seed", "val_acc"}
    if not isinstance(frame, pd.DataFrame) or not need <= set(frame.columns):
        raise ValueError(f"Expected `frame` with columns {sorted(need)}, got {frame!r:.80}")
    means = frame.groupby(["criterion", "strength"], as_index=False)["val_acc"].mean()
    best = means.sort_values(["criterion", "val_acc", "strength"], ascending=[True, False, True])
    best = best.drop_duplicates("criterion")[["criterion", "strength"]]
    out = frame.merge(best, on=["criterion", "strength"])
    order = {c: i for i, c in enumerate(CRITERIA)}
    return out.sort_values(["criterion", "seed"], key=lambda s: s.map(order) if s.name == "criterion" else s)


def summary_table(sel: pd.DataFrame, measurements: Sequence[str] = tuple(MEASUREMENTS)) -> pd.DataFrame:
    """Criteria x measurements: mean ± 95% interval over seeds of the selected runs.

    A cell of a directed measurement (:data:`MEASUREMENTS`) is marked ``*`` when its
    criterion is best in the column *and* beats the runner-up significantly: the paired
    difference over seeds (each seed fixes initialisation and batches for every criterion)
    has its whole 95% interval on the better side (:func:`c2f_utils.report.greater`, verdict "reproduced").
    """
    rows = {}
    for criterion, group in sel.groupby("criterion", sort=False):
        strength = group["strength"].iloc[0]
        name = LABELS[criterion] + ("" if criterion == "ce" else f" ({STRENGTH_NAMES[criterion]} = {strength:g})")
        rows[criterion] = {"criterion": name}
        for m in measurements:
            values = group.sort_values("seed")[m].dropna()
            rows[criterion][MEASUREMENTS[m][0]] = report.estimate(values).format(3) if len(values) else "—"
    table = pd.DataFrame.from_dict(rows, orient="index")
    for m, (best, runner) in _leaders(sel, measurements).items():
        if best is not None and _beats(sel, m, best, runner):
            table.loc[best, MEASUREMENTS[m][0]] += " *"
    return table.set_index("criterion")


def _leaders(sel: pd.DataFrame, measurements: Sequence[str]) -> dict[str, tuple[Any, Any]]:
    """Leader and runner-up of every directed measurement (descriptive ones are left out)."""
    out = {}
    for m in (m for m in measurements if MEASUREMENTS[m][1]):
        means = sel.groupby("criterion")[m].mean().dropna() * MEASUREMENTS[m][1]
        ranked = means.sort_values(ascending=False).index.tolist()
        out[m] = (ranked[0], ranked[1]) if len(ranked) > 1 else (None, None)
    return out


TIE_MARGIN = 0.01
"""Equivalence margin of a tie between two criteria on a directed measurement (accuracies, ECE):
one point, declared before the runs. A tie is shown by two one-sided tests, never by a lead
that is not significant."""


def _lead(sel: pd.DataFrame, m: str, a: str, b: str, test=None) -> report.Finding:
    """``a`` better than ``b`` on ``m`` (or ``test``, e.g. :func:`~c2f_utils.report.equivalent`), paired by seed."""
    sign = MEASUREMENTS[m][1]
    rows = sel.dropna(subset=[m])
    signed = rows.assign(**{m: sign * rows[m]})
    if test is report.equivalent:
        return report.compare(report.equivalent, signed, m, "criterion", a, b, margin=TIE_MARGIN)
    return report.compare(report.greater, signed, m, "criterion", a, b)


def _beats(sel: pd.DataFrame, m: str, a: str, b: str) -> bool:
    return _lead(sel, m, a, b).verdict == "reproduced"


def best_per_measurement(sel: pd.DataFrame, measurements: Sequence[str] = tuple(MEASUREMENTS)) -> pd.DataFrame:
    """For each directed measurement, the leading criterion, the runner-up, the verdict on
    "the leader beats the runner-up" (paired, 95%: the ``*`` of :func:`summary_table`) and on
    "they tie" (two one-sided tests within ±:data:`TIE_MARGIN`): the "which criterion for
    which later task" table, computed from the runs. A lead that is not established is not a
    tie: only the equivalence test says the two are the same."""
    rows = []
    for m, (best, runner) in _leaders(sel, measurements).items():
        if best is None:
            continue
        rows.append(
            {
                "measurement": MEASUREMENTS[m][0],
                "best": LABELS[best],
                "runner-up": LABELS[runner],
                "lead (paired, 95%)": _lead(sel, m, best, runner).verdict,
                f"tie within ±{TIE_MARGIN:g} (TOST)": _lead(sel, m, best, runner, report.equivalent).verdict,
            }
        )
    return pd.DataFrame(rows).set_index("measurement")


def rank_correlations(sel: pd.DataFrame, measurements: Sequence[str] = tuple(MEASUREMENTS)) -> pd.DataFrame:
    """Spearman rank correlation across criteria (their mean over seeds) between every pair
    of measurements: does one measurement order the criteria like another?"""
    means = sel.groupby("criterion")[list(measurements)].mean()
    return means.rename(columns={m: MEASUREMENTS[m][0] for m in measurements}).corr(method="spearman")


def tradeoff_figure(sel: pd.DataFrame, x: str = "test_acc", y: str = "fine_probe_acc"):
    """The trade-off: mean ``x`` against mean ``y`` per criterion, with 95% intervals over seeds."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.6, 4.0))
    for criterion, group in sel.groupby("criterion", sort=False):
        ex, ey = report.estimate(group[x]), report.estimate(group[y])
        ax.errorbar(
            ex.mean,
            ey.mean,
            xerr=[[ex.mean - ex.low], [ex.high - ex.mean]],
            yerr=[[ey.mean - ey.low], [ey.high - ey.mean]],
            fmt="o",
            capsize=3,
            label=LABELS[criterion],
        )
    ax.set(xlabel=MEASUREMENTS[x][0], ylabel=MEASUREMENTS[y][0], title="what coarse training keeps")
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def scorecard(sel: pd.DataFrame, config: Config, validity: dict[str, report.Validity] | None = None) -> pd.DataFrame:
    """Claims from outside the four papers and each paper's central claim, on the common benchmark.

    ``sel`` holds the valid runs only; ``validity`` (:func:`validity`) lists every run and why it
    was excluded. Across-criteria claims (Kornblith et al. 2021) correlate the criteria's means
    (one point per criterion); within-pair claims are paired over seeds.
    """
    where = report.where(config.profile, config["dataset"], config["seeds"])
    means = sel.groupby("criterion")[list(MEASUREMENTS)].mean().dropna()
    checked = validity or {}
    teachers, students = checked.get("train"), checked.get("distill")

    def pair(m: str, a: str, b: str, more: bool = True) -> report.Finding:
        return report.compare(report.greater if more else report.less, sel.dropna(subset=[m]), m, "criterion", a, b)

    def runs(a: str, b: str, grid: Any = None) -> report.Validity | None:
        if grid is None:
            return None
        picked = {c: sel[sel.criterion == c].strength.iloc[0] for c in (a, b) if (sel.criterion == c).any()}
        out = None
        for c in (a, b):
            part = [
                i
                for i, r in enumerate(grid.runs)
                if _teacher_params(r)["criterion"] == c
                and (c not in picked or _teacher_params(r)["strength"] == picked[c])
            ]
            sub = report.Validity(*(tuple(x[i] for i in part) for x in (grid.runs, grid.failures, grid.labels)))
            out = sub if out is None else out + sub
        return out

    across = f"{where}; one point per criterion"
    claims = [
        report.Claim(
            "Kornblith et al. 2021: criteria with higher accuracy give less transferable features "
            "(coarse accuracy vs fine probe, across criteria)",
            report.correlated(means["test_acc"], means["fine_probe_acc"], sign=-1),
            across,
            "negative (ImageNet, 8 objectives)",
            teachers,
        ),
        report.Claim(
            "Kornblith et al. 2021: more class separation, less transferable features (across criteria)",
            report.correlated(means["separation"], means["fine_probe_acc"], sign=-1),
            across,
            "negative",
            teachers,
        ),
        report.Claim(
            "Müller et al. 2019: label smoothing tightens class clusters (separation, LS vs CE)",
            pair("separation", "ls", "ce"),
            where,
            "qualitative (projections)",
            runs("ls", "ce", teachers),
        ),
        report.Claim(
            "Müller et al. 2019: a label-smoothed teacher distils worse (student accuracy, CE vs LS)",
            pair("student_acc", "ce", "ls"),
            where,
            "qualitative (Fig. 5)",
            runs("ce", "ls", students),
        ),
        report.Claim(
            "FIERCE: feature entropy keeps fine information (fine probe, FIERCE vs CE)",
            pair("fine_probe_acc", "fierce", "ce"),
            where,
            "FIERCE chapter",
            runs("fierce", "ce", teachers),
        ),
        report.Claim(
            "LS as IB: label smoothing compresses the outputs (I(X;T), LS vs CE)",
            pair("i_xt", "ls", "ce", more=False),
            where,
            "LS-IB chapter",
            runs("ls", "ce", teachers),
        ),
        report.Claim(
            "LLS: learned smoothing beats fixed smoothing (coarse accuracy, LLS vs LS)",
            pair("test_acc", "lls", "ls"),
            where,
            "LLS chapter",
            runs("lls", "ls", teachers),
        ),
    ]
    return report.scorecard(claims)


def _teacher_params(run: Any) -> dict[str, Any]:
    return run.params if "criterion" in run.params else run.params["teacher"]["params"]


def card(config: Config) -> pd.DataFrame:
    """:func:`scorecard` of the valid runs of ``config`` (live or committed), listing the others."""
    checked = validity(config)
    return scorecard(selected(frame(config, checked)), config, checked)


def summary(config: Config) -> pd.DataFrame:
    """:func:`summary_table` of the selected runs of ``config`` (live or committed)."""
    return summary_table(selected(frame(config)))


def leaders(config: Config) -> pd.DataFrame:
    """:func:`best_per_measurement` of the selected runs of ``config`` (live or committed)."""
    return best_per_measurement(selected(frame(config)))


def tradeoff(config: Config):
    """:func:`tradeoff_figure` of the selected runs of ``config`` (live or committed)."""
    return tradeoff_figure(selected(frame(config)))
