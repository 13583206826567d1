"""Chapter "Label smoothing as an information bottleneck" (Kudo, TMLR 2025).

Experiments, one cached run each: :class:`Plane` (Figure 3), :class:`IBCurve`
(Figure 4, deterministic), :class:`Nuisance`, :class:`RawNuisanceProbe` (Figure 6), :class:`Saliency`
(Figures 7-8). Report: :func:`plane_frame`, :func:`ib_frame`, the ``plot_*`` figures, :func:`scorecard`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from .. import paths, report
from .._checks import check_choice
from ..constants import CIFAR10_NAMES, CIFAR10H_COUNTS
from ..experiments import Chapter, Config, Experiment, Grid, param
from ..runs import RunOutput, RunResult, results_frame
from . import register

if TYPE_CHECKING:
    from torch import nn

    from .. import data as c2f_data
    from .. import train as c2f_train

__all__ = [
    "CHAPTER",
    "GRADCAM_LAYERS",
    "MODELS",
    "NETWORKS",
    "IBCurve",
    "Nuisance",
    "Plane",
    "RawNuisanceProbe",
    "Saliency",
    "make_model",
]
__all__ += ["ib_frame", "plane_frame", "plot_ib", "plot_nuisance", "plot_plane", "plot_saliency", "scorecard"]
__all__ += ["card", "ib_figure", "nuisance_figure", "plane_figure", "saliency_figure"]
__all__ += ["nuisance_table", "plane_table", "saliency_table"]
__all__ += ["CHECKS", "MAJORITY", "PROPOSITION_TRAIN_ACC", "validity"]
__all__ += ["ACCURACY_MARGIN", "GAIN_TOLERANCE", "PLANE_TOLERANCE", "resolve_counts_dataset", "training_subset"]

PLANE_TOLERANCE = 0.05
"""Nats: "on the line / at the point" (Figure 3 claims), fixed before the runs (about 2% of H(Y))."""
GAIN_TOLERANCE = 1e-3
"""Nats: the smallest gain over the LS curve counted as a gain (the IB solver's numerical resolution)."""
ACCURACY_MARGIN = 0.01
"""Equivalence margin of the "no accuracy gain" claims: 1 accuracy point, declared before the runs."""


@lru_cache(maxsize=8)
def _load(name: str, split: str) -> c2f_data.LabeledData:
    """Each dataset split is generated or decoded once per process (the runs share it)."""
    from .. import data as c2f_data

    return c2f_data.load(name, split)


_MLP = ("mlp", {"hidden": (256,), "feature_dim": 128})
_LENET, _RESNET20 = ("lenet5", {}), ("cifar_resnet", {"depth": 20})
_COLOUR = ("cifar10", "cifar10_jpeg", "occluded_cifar", "occluded_cifar10_jpeg")
_CLUTTERED_MNIST = ("cluttered_mnist", "cluttered_mnist10k")
MODELS: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {
    "default": {
        "digits": _MLP,
        "occluded_digits": _MLP,
        "cluttered_digits": _LENET,
        **dict.fromkeys(_CLUTTERED_MNIST, _RESNET20),
        **dict.fromkeys(_COLOUR, ("cifar_resnet", {"depth": 56})),
    },
    "lenet": {
        "cluttered_digits": _LENET,
        **dict.fromkeys(_CLUTTERED_MNIST, ("lenet5", {"image_size": 60})),  # the 60x60 canvas of §5.3.2
        **dict.fromkeys(_COLOUR, _LENET),
    },
}
"""Per network and dataset, ``(models.create name, options)``: ``default``, the chapter's network for the
data (an MLP ``in-256-128-K`` or LeNet-5 on the embedded stand-ins, the paper's ResNet-56 on CIFAR-10 and
ResNet-20 on cluttered MNIST); ``lenet``, LeNet-5 on the 28x28, 32x32 or 60x60 (cluttered MNIST) images of
the real data (the real profile, on a CPU)."""
NETWORKS = tuple(MODELS)
"""The networks of :data:`MODELS`."""
GRADCAM_LAYERS = {"mlp": None, "lenet5": "conv2", "cifar_resnet": "stages.2"}
"""The module Grad-CAM reads for each architecture (none for an MLP): LeNet-5's last convolution,
a ResNet's last stage."""


def make_model(
    dataset: str, input_shape: tuple[int, ...], n_classes: int = 10, network: str = "default"
) -> tuple[nn.Module, nn.Module | None]:
    """The network of ``dataset`` (:data:`MODELS`) for inputs of ``input_shape`` (one image's) and its
    Grad-CAM layer (:data:`GRADCAM_LAYERS`)."""
    from .. import models as c2f_models

    models = MODELS[check_choice("network", network, NETWORKS)]
    if dataset not in models:
        raise ValueError(f"Expected `dataset` among {sorted(models)} for network={network!r}, got {dataset!r}")
    name, options = models[dataset]
    model = c2f_models.create(name, n_classes=n_classes, input_shape=input_shape, **options)
    layer = GRADCAM_LAYERS[name]
    return model, None if layer is None else model.get_submodule(layer)


@dataclass(frozen=True)
class _Training(Experiment):
    """The training recipe shared by the experiments that train a network (``dataset`` is theirs)."""

    seed: int = param("training seed", ge=0)
    epochs: int = param("training epochs (Figures 3, 6, 7)", ge=1)
    optimizer: str = param("'sgd' (momentum 0.9, lr / 10 at 1/2 and 3/4) or 'adam' (cosine)", choices=("sgd", "adam"))
    lr: float = param("initial learning rate", gt=0)
    batch_size: int = param("mini-batch size", ge=1)
    augment: bool = param("random crop and flip on colour (CIFAR) images")
    device: str = param("device to train (or solve) on", device=True)
    network: str = param("'default' (the paper's ResNets on its data) or 'lenet' (LeNet-5, CPU)", choices=NETWORKS)

    def train_config(self) -> c2f_train.TrainConfig:
        """The run's :class:`~c2f_utils.train.TrainConfig`: no weight decay, as in the paper."""
        from .. import train as c2f_train

        recipe = {k: getattr(self, k) for k in ("epochs", "batch_size", "optimizer", "lr", "seed", "device")}
        # the paper's SGD: epochs 80 and 120 of 160 (at least epoch 1: a one-epoch run keeps its lr)
        steps = (max(1, self.epochs // 2), max(1, 3 * self.epochs // 4))
        schedule = {"schedule": "multistep", "milestones": steps} if self.optimizer == "sgd" else {"schedule": "cosine"}
        return c2f_train.TrainConfig(**recipe, momentum=0.9, weight_decay=0.0, **schedule)

    def _fit(self, train: c2f_data.LabeledData, criterion: nn.Module) -> tuple[nn.Module, nn.Module | None]:
        from .. import train as c2f_train

        c2f_train.seed_everything(self.seed)
        model, layer = make_model(self.dataset, tuple(train.x.shape[1:]), train.n_classes(), self.network)
        transform = c2f_train.crop_flip() if self.augment and train.x.shape[1] == 3 else None
        c2f_train.fit(model, (train.x, train.fine), criterion, self.train_config(), transform=transform)
        return model, layer


@dataclass(frozen=True)
class Plane(_Training):
    """Figure 3: train with label smoothing ``alpha`` (Eq. 2-3) or the confidence penalty ``beta``
    (Eq. 10); the exact plane points of the training and test outputs and, for LS, the closed-form
    optimum's I(X;T) (Prop. 4.5).

    With ``n_train`` the network trains on a stratified subset of that many training images
    (:func:`training_subset`, the same for every run), small enough for it to fit its labels
    (Assumption 4.3); the training plane is that subset's, the test plane the whole test split's.
    """

    name: ClassVar[str] = "ls_ib.plane"
    version: ClassVar[int] = 2  # 2: n_train, the training subset
    uses: ClassVar[tuple[str, ...]] = (
        "data.core",
        "losses.confidence",
        "models.lenet5",
        "models.mlp",
        "models.resnet",
        "probes.information",
        "train",
    )
    dataset: str = param("Figure 3 data", choices=("digits", *CIFAR10_NAMES))
    alpha: float = param("label-smoothing strengths of Figure 3", ge=0, le=1)
    beta: float = param("confidence-penalty weights of Figure 3 (then alpha = 0)", ge=0)
    n_train: int = param("training images of Figure 3, a stratified subset (0: the whole split)", ge=0)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.alpha and self.beta:
            raise ValueError(f"Expected `alpha` or `beta` to be 0, got alpha={self.alpha} and beta={self.beta}")

    def run(self) -> RunOutput:
        import torch
        from torch import nn

        from .. import losses as c2f_losses
        from .. import probes as c2f_probes
        from .. import train as c2f_train

        criterion = (
            c2f_losses.ConfidencePenalty(self.beta) if self.beta else nn.CrossEntropyLoss(label_smoothing=self.alpha)
        )
        train = training_subset(_load(self.dataset, "train"), self.n_train)
        model, _ = self._fit(train, criterion)
        metrics: dict[str, float] = {"n_train": len(train)}
        for split, d in (("train", train), ("test", _load(self.dataset, "test"))):
            probs = torch.softmax(c2f_train.extract_features(model, d.x, device=self.device).logits.double(), dim=1)
            metrics[f"{split}_i_xt"], metrics[f"{split}_i_ty"] = c2f_probes.info_plane(probs, d.fine)
            metrics[f"{split}_h_y"] = c2f_probes.label_information(d.fine, 10).i_xt
            metrics[f"{split}_acc"] = float((probs.argmax(1) == d.fine).double().mean())
            if not self.beta:
                metrics[f"{split}_ls_optimum"] = c2f_probes.ls_info_plane(
                    self.alpha, torch.bincount(d.fine, minlength=10)
                ).i_xt
        return RunOutput(metrics=metrics)


def training_subset(data: c2f_data.LabeledData, n: int) -> c2f_data.LabeledData:
    """``n`` images of ``data`` drawn stratified on the label (seed 0, whatever the run's seed),
    in their original order; all of it when ``n`` is 0 or at least its size."""
    from ..data.core import stratified_split

    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ValueError(f"Expected `n` to be an integer >= 0, got {n!r}")
    if n == 0 or n >= len(data):
        return data
    return data.subset(stratified_split(data.fine, n / len(data), 0)[1])


_COUNTS = ("auto", "cifar10h", "annotator_counts")


def resolve_counts_dataset(name: str) -> str:
    """``"auto"`` -> ``"cifar10h"`` when its file is in the data folder, else ``"annotator_counts"``.

    Only the file's presence is looked at (planning a run reads no data): a damaged copy is
    refused with its checksum when the run reads it.
    """
    if name != "auto":
        return name
    return "cifar10h" if paths.data_dir().joinpath(*CIFAR10H_COUNTS).is_file() else "annotator_counts"


@dataclass(frozen=True)
class IBCurve(Experiment):
    """Figure 4: IB-Lagrangian solutions (Adam on an ``N x K`` logit matrix, §5.2.2) and the LS optimum
    curve on labels with contradictions. The solver starts near the soft labels (noise seeded by ``seed``)
    and solves the betas in increasing order, each from the previous solution. It is deterministic: one
    run is one replicate (other starts move its points by less than 1e-3 nats).
    """

    name: ClassVar[str] = "ls_ib.ib_curve"
    uses: ClassVar[tuple[str, ...]] = ("data.core", "probes.information", "train")
    dataset: str = param("Figure 4 labels ('auto': cifar10h if in the data folder)", choices=_COUNTS)
    betas: tuple[float, ...] = param("IB Lagrangian betas", ge=0)
    steps: int = param("Adam steps per beta of the IB-Lagrangian solver", ge=1)
    seed: int = param("seed of the solver's start noise", ge=0)
    device: str = param("device to train (or solve) on", device=True)

    def params(self) -> dict[str, Any]:
        """The fields, ``dataset`` resolved (:func:`resolve_counts_dataset`): the key names the data read."""
        return {**super().params(), "dataset": resolve_counts_dataset(self.dataset)}

    def components(self) -> tuple[str, ...]:
        """The declared components, with the dataset ``dataset`` resolves to (as :meth:`params` has it)."""
        return tuple(sorted({*super().components(), f"data.{resolve_counts_dataset(self.dataset)}"}))

    def data_needs(self) -> list[str]:
        """CIFAR-10H when ``dataset`` is or resolves to it; nothing for the embedded counts."""
        return [d for d in (resolve_counts_dataset(self.dataset),) if d != "annotator_counts"]

    def run(self) -> RunOutput:
        from .. import data as c2f_data
        from .. import probes as c2f_probes
        from .. import train as c2f_train

        dataset = resolve_counts_dataset(self.dataset)
        counts = c2f_data.load(dataset, "all" if dataset == "annotator_counts" else "test").meta["counts"]
        solver = {"lr": 0.1, "init": "labels", "init_scale": 0.5, "warm_start": True, "seed": self.seed}
        sols = c2f_probes.ib_lagrangian(
            counts, sorted(self.betas), steps=self.steps, device=c2f_train.resolve_device(self.device), **solver
        )
        alphas = np.linspace(0, 1, 101)
        ls = np.array([tuple(c2f_probes.ls_info_plane(float(a), counts)) for a in alphas])
        arrays = {k: np.array([getattr(s, k) for s in sols]) for k in ("beta", "i_xt", "i_ty", "change", "converged")}
        ceiling = c2f_probes.label_information(counts)
        return RunOutput(
            metrics={
                "h_y": ceiling.i_xt,
                "i_xy": ceiling.i_ty,
                "n_items": len(counts),
                "ib_converged": float(np.mean([s.converged for s in sols])),
            },
            arrays={**arrays, "ls_alpha": alphas, "ls_i_xt": ls[:, 0], "ls_i_ty": ls[:, 1]},
        )


_OCCLUDED = ("occluded_digits", "occluded_cifar", "occluded_cifar10_jpeg")


@dataclass(frozen=True)
class Nuisance(_Training):
    """Figure 6: target accuracy with LS ``alpha``, and a linear probe of the nuisance (the
    occluder's digit) fit on the frozen penultimate features of the training set."""

    name: ClassVar[str] = "ls_ib.nuisance"
    version: ClassVar[int] = 2  # 2: the training accuracy recorded
    uses: ClassVar[tuple[str, ...]] = (
        "data.core",
        "models.lenet5",
        "models.mlp",
        "models.resnet",
        "probes.linear",
        "train",
    )
    dataset: str = param("Figure 6 data", choices=_OCCLUDED)
    alpha: float = param("label-smoothing strengths of Figure 6", ge=0, le=1)

    def run(self) -> dict[str, float]:
        from torch import nn

        from .. import probes as c2f_probes
        from .. import train as c2f_train

        train, test = _load(self.dataset, "train"), _load(self.dataset, "test")
        model, _ = self._fit(train, nn.CrossEntropyLoss(label_smoothing=self.alpha))
        tr, te = (c2f_train.extract_features(model, d.x, device=self.device) for d in (train, test))
        p = c2f_probes.linear_probe(
            tr.features, train.meta["nuisance"], te.features, test.meta["nuisance"], seed=self.seed
        )
        acc = float((te.logits.argmax(1) == test.fine).float().mean())
        train_acc = float((tr.logits.argmax(1) == train.fine).float().mean())
        metrics = {"target_acc": acc, "train_acc": train_acc}
        return metrics | {"nuisance_probe_acc": p.test_score, "nuisance_probe_train_acc": p.train_score}


@dataclass(frozen=True)
class RawNuisanceProbe(Experiment):
    """Figure 6 reference: the nuisance probe on the raw pixels (5000 training images)."""

    name: ClassVar[str] = "ls_ib.raw_nuisance_probe"
    uses: ClassVar[tuple[str, ...]] = ("data.core", "probes.linear")
    dataset: str = param("Figure 6 data", choices=_OCCLUDED)

    def run(self) -> dict[str, float]:
        from .. import probes as c2f_probes

        train, test = _load(self.dataset, "train"), _load(self.dataset, "test")
        x, y = (train.x.flatten(1), test.x.flatten(1)), (train.meta["nuisance"], test.meta["nuisance"])
        return {"nuisance_probe_acc": c2f_probes.linear_probe(x[0], y[0], x[1], y[1], max_train=5000).test_score}


@dataclass(frozen=True)
class Saliency(_Training):
    """Figures 7-8: train on cluttered digits with LS ``alpha`` (0: CE); Grad-CAM of the true
    class on every test image; the share of saliency inside the original digit's box. The
    ``n_show`` images drawn (seeded by ``seed``) are kept with their maps and boxes, so that the
    figure is drawn from the record alone."""

    name: ClassVar[str] = "ls_ib.saliency"
    version: ClassVar[int] = 2  # 2: the training accuracy and the shown images and boxes recorded
    uses: ClassVar[tuple[str, ...]] = (
        "data.core",
        "models.lenet5",
        "models.mlp",
        "models.resnet",
        "probes.saliency",
        "train",
    )
    dataset: str = param("Figures 7-8 data", choices=("cluttered_digits", *_CLUTTERED_MNIST))
    alpha: float = param("label-smoothing strengths of Figures 7-8 (0: CE; none: not run)", ge=0, le=1)
    n_show: int = param("saliency maps kept per run for the figure", ge=1)

    def run(self) -> RunOutput:
        from torch import nn

        from .. import probes as c2f_probes
        from .. import train as c2f_train

        train, test = _load(self.dataset, "train"), _load(self.dataset, "test")
        model, layer = self._fit(train, nn.CrossEntropyLoss(label_smoothing=self.alpha))
        logits = c2f_train.extract_features(model, test.x, device=self.device).logits
        train_logits = c2f_train.extract_features(model, train.x, device=self.device).logits
        maps = c2f_probes.gradcam_maps(model, test.x, layer, test.fine)
        mass = c2f_probes.box_mass(maps, test.meta["box"])
        show = np.random.default_rng(self.seed).choice(len(test), self.n_show, replace=False)
        acc = float((logits.argmax(1) == test.fine).float().mean())
        metrics = {"test_acc": acc, "box_mass": float(np.nanmean(mass)), "empty_maps": int(np.isnan(mass).sum())}
        metrics["train_acc"] = float((train_logits.argmax(1) == train.fine).float().mean())
        metrics["box_area"] = float(c2f_probes.box_area_fraction(test.meta["box"], *test.x.shape[-2:]).mean())
        metrics |= {f"box_mass_{c}": float(np.nanmean(mass[test.fine.numpy() == c])) for c in range(10)}
        shown = {"images": test.x[show, 0].numpy().astype(np.float32), "boxes": test.meta["box"][show].numpy()}
        return RunOutput(metrics=metrics, arrays={"show": show, "maps": maps[show].astype(np.float32), **shown})


def _profile(datasets: tuple[str, ...], sweeps: tuple[tuple, ...], seeds: tuple[int, ...], **recipe: Any) -> dict:
    """The grids of one profile; an empty saliency sweep plans no run of Figures 7-8.

    ``recipe["networks"]``, ``recipe["epochs"]``, ``recipe["batch_size"]`` and ``recipe["lr"]``
    map a group (plane, nuisance, saliency) to its :data:`NETWORKS` entry, epochs, batch size and
    learning rate; ``recipe["n_train"]`` is Figure 3's training subset (0: the whole split).
    """
    steps, n_show, n_train = recipe.pop("ib_steps"), recipe.pop("n_show"), recipe.pop("n_train")
    networks, epochs, batch = recipe.pop("networks"), recipe.pop("epochs"), recipe.pop("batch_size")
    lrs = recipe.pop("lr")
    plane, ib, nuisance, saliency = datasets  # and the sweeps: plane α and β, nuisance α, saliency α

    def grid(cls: type[_Training], dataset: str, field: str, values: tuple, group: str, **fields: Any) -> Grid:
        per_group = {"network": networks[group], "epochs": epochs[group], "batch_size": batch[group]}
        per_group["lr"] = lrs[group]
        base = cls(dataset=dataset, seed=seeds[0], **{field: 0.0}, **fields, **recipe, **per_group)
        fixed = tuple(f for f in ("alpha", "beta") if f in fields)
        return Grid(base, sweep={field: values, "seed": seeds}, group=group, fixed=fixed)

    return {
        "plane": grid(Plane, plane, "alpha", sweeps[0], "plane", beta=0.0, n_train=n_train),
        "plane_cp": grid(Plane, plane, "beta", sweeps[1], "plane", alpha=0.0, n_train=n_train),
        "ib": Grid(IBCurve(ib, (*_TENTHS, 1.0), steps, 0, recipe["device"]), group="ib", fixed=("seed",)),
        "nuisance": grid(Nuisance, nuisance, "alpha", sweeps[2], "nuisance"),
        "raw_nuisance": Grid(RawNuisanceProbe(nuisance), group="nuisance"),
        "saliency": grid(Saliency, saliency, "alpha", sweeps[3], "saliency", n_show=n_show),
    }


def _each(value: Any) -> dict[str, Any]:
    """The same value for the three training groups."""
    return dict.fromkeys(("plane", "nuisance", "saliency"), value)


_TENTHS = tuple(round(0.1 * i, 1) for i in range(10))
_SHARED = ("seed", "device", "optimizer", "augment")
_DEFAULT = _each("default")
_QUICK_GRIDS = _profile(
    ("digits", "auto", "occluded_digits", "cluttered_digits"),
    (_TENTHS, (0.5, 2.0), (0.0, 0.8), ()),
    (0, 1, 2),
    **{"epochs": _each(30), "optimizer": "adam", "lr": _each(0.005), "batch_size": _each(128), "augment": False},
    **{"device": "cpu", "ib_steps": 100, "n_show": 8, "networks": _DEFAULT, "n_train": 0},
)
# real: Figure 3 on 200 CIFAR-10 training images (the offline JPEG copy, 20 a class), which
# LeNet-5 fits (Assumption 4.3: training accuracy >= 0.99 at every alpha and beta, the criterion
# fixed before the plane was looked at; one recipe for all); Figure 4 on CIFAR-10H; Figure 6 on
# Occluded CIFAR built from the JPEG copy and the MNIST test digits (occluded_cifar10_jpeg);
# Figures 7-8 on Cluttered MNIST built from the MNIST test digits (cluttered_mnist10k).
_REAL_GRIDS = _profile(
    ("cifar10_jpeg", "cifar10h", "occluded_cifar10_jpeg", "cluttered_mnist10k"),
    ((0.0, 0.2, 0.4, 0.6, 0.8), (0.5, 2.0), (0.0, 0.8), (0.0, 0.1)),
    (0, 1, 2, 3, 4),
    **{"epochs": {"plane": 150, "nuisance": 10, "saliency": 10}, "optimizer": "adam", "augment": False},
    **{"batch_size": {"plane": 20, "nuisance": 128, "saliency": 64}, "device": "cpu", "n_train": 200},
    **{"lr": {"plane": 0.002, "nuisance": 0.002, "saliency": 0.005}},
    **{"ib_steps": 3000, "n_show": 8, "networks": _each("lenet")},
)
_PAPER_GRIDS = _profile(
    ("cifar10", "cifar10h", "occluded_cifar", "cluttered_mnist"),
    (_TENTHS, (0.5, 1.0, 2.0), _TENTHS, (0.0, 0.1)),
    (0, 1, 2, 3, 4),
    **{"epochs": _each(160), "optimizer": "sgd", "lr": _each(0.1), "batch_size": _each(128), "augment": True},
    **{"device": "auto", "ib_steps": 3000, "n_show": 20, "networks": _DEFAULT, "n_train": 0},
)
_TITLE = "Label smoothing as an information bottleneck"
#: The chapter: its experiments' grids per profile (``python -m c2f_utils.run --list ls_ib``).
CHAPTER = register(
    Chapter("ls_ib", "ls_ib.md", _TITLE, {"quick": _QUICK_GRIDS, "real": _REAL_GRIDS, "paper": _PAPER_GRIDS}, _SHARED)
)


# --------------------------------------------------------------------------- report


def plane_frame(results: list[RunResult]) -> pd.DataFrame:
    """Figure 3 runs, one row each: ``loss`` (``"ls"``/``"cp"``), ``strength`` (α or β), ``seed``, metrics."""
    frame = results_frame(results)
    return frame.assign(loss=np.where(frame.beta > 0, "cp", "ls"), strength=frame.alpha + frame.beta)


def plot_plane(frame: pd.DataFrame, title: str = ""):
    """Figure 3: the empirical plane of the training set (left) and the test set (right)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), sharex=True, sharey=True)
    ls, cp = frame[frame.loss == "ls"], frame[frame.loss == "cp"]
    for ax, split in zip(axes, ("train", "test"), strict=True):
        h_y = float(frame[f"{split}_h_y"].iloc[0])
        ax.plot([0, h_y, 1.15 * h_y], [0, h_y, h_y], color="k", lw=1.2, label="empirical IB curve")
        sc = ax.scatter(ls[f"{split}_i_xt"], ls[f"{split}_i_ty"], c=ls.strength, cmap="viridis", s=28, zorder=3)
        ax.scatter(cp[f"{split}_i_xt"], cp[f"{split}_i_ty"], marker="x", color="C3", s=40, label="conf. penalty")
        ax.scatter([h_y], [h_y], marker="*", s=160, fc="none", ec="k", zorder=4, label="CE optimum (H(Y), H(Y))")
        ax.set(title=f"{split} set", xlabel="I(X;T) [nats]", ylabel="I(T;Y) [nats]", aspect="equal")
    fig.colorbar(sc, ax=axes, label="label smoothing α", shrink=0.8)
    axes[0].legend(fontsize="small", loc="lower right")
    sns.despine(fig)
    fig.suptitle(title)
    return fig


def ib_frame(result: RunResult) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Figure 4: the solutions with their gain over the LS curve at equal I(X;T) (NaN outside the
    curve's range), the LS curve, and the data's ``h_y``, ``i_xy``, ``n_items``, ``dataset``."""
    a = result.arrays
    order = np.argsort(a["ls_i_xt"])
    inside = (a["i_xt"] >= a["ls_i_xt"].min()) & (a["i_xt"] <= a["ls_i_xt"].max())
    ls_here = np.where(inside, np.interp(a["i_xt"], a["ls_i_xt"][order], a["ls_i_ty"][order]), np.nan)
    solutions = pd.DataFrame({"beta": a["beta"], "i_xt": a["i_xt"], "i_ty": a["i_ty"], "ls_i_ty_same_i_xt": ls_here})
    solutions["gain_over_ls"] = solutions.i_ty - ls_here
    curve = pd.DataFrame({"alpha": a["ls_alpha"], "i_xt": a["ls_i_xt"], "i_ty": a["ls_i_ty"]})
    return solutions, curve, {"dataset": result.params["dataset"], **result.metrics}


def plot_ib(solutions: pd.DataFrame, curve: pd.DataFrame, info: dict[str, Any]):
    """Figure 4: IB-Lagrangian solutions, the LS optimum curve and the DPI bound (right: zoomed)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4))
    xs = np.array([0, info["i_xy"], 1.05 * info["h_y"]])
    for ax in axes:
        ax.plot(xs, np.minimum(xs, info["i_xy"]), color="k", lw=1, ls="--", label="DPI bound min(I(X;T), I(X;Y))")
        ax.plot(curve.i_xt, curve.i_ty, color="C0", lw=1.6, label="LS optimum, α from 0 to 1")
        sc = ax.scatter(solutions.i_xt, solutions.i_ty, c=solutions.beta, cmap="magma", s=26, zorder=3, vmin=0, vmax=1)
        ax.set(
            xlabel="I(X;T) [nats]", ylabel="I(T;Y) [nats]", title=f"{info['dataset']}: {int(info['n_items'])} inputs"
        )
    top = solutions[solutions.i_xt > 0.5 * info["h_y"]]  # right panel: the informative end
    if len(top):
        axes[1].set(xlim=(top.i_xt.min() - 0.05, info["h_y"] + 0.02), ylim=(top.i_ty.min() - 0.05, info["i_xy"] + 0.03))
    fig.colorbar(sc, ax=axes, label="IB Lagrangian β", shrink=0.8)
    axes[0].legend(fontsize="small", loc="lower right")
    sns.despine(fig)
    return fig


def plot_nuisance(frame: pd.DataFrame, raw: float, target_name: str, nuisance_name: str):
    """Figure 6: target accuracy and nuisance-probe accuracy against α (mean ± sd over seeds)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    sns.lineplot(frame, x="alpha", y="target_acc", errorbar="sd", marker="o", ax=axes[0])
    sns.lineplot(frame, x="alpha", y="nuisance_probe_acc", errorbar="sd", marker="o", ax=axes[1], color="C1")
    axes[1].axhline(raw, color="k", ls=":", lw=1, label="probe on raw pixels")
    axes[1].axhline(0.1, color="grey", ls="--", lw=1, label="chance")
    axes[0].set(title=f"{target_name} (the model)", xlabel="label smoothing α", ylabel="test accuracy")
    axes[1].set(title=f"{nuisance_name} from frozen features", xlabel="label smoothing α", ylabel="probe test accuracy")
    axes[1].legend(fontsize="small")
    sns.despine(fig)
    return fig


def plot_saliency(results: list[RunResult], alpha: float):
    """Figures 7-8: each seed's random test sample, then the Grad-CAM maps of CE and of LS ``alpha``
    (drawn from the records: the shown images, their boxes and maps)."""
    import matplotlib.pyplot as plt

    runs = {(r.params["alpha"], r.params["seed"]): r.arrays for r in results}
    seeds = sorted({s for _, s in runs})
    n = len(results[0].arrays["show"])
    fig, axes = plt.subplots(3 * len(seeds), n, figsize=(1.1 * n, 3.5 * len(seeds)), squeeze=False)
    for r, seed in enumerate(seeds):
        ce = runs[(0.0, seed)]
        rows = (("image", None), ("CE", ce["maps"]), (f"LS {alpha:g}", runs[(alpha, seed)]["maps"]))
        for (k, (name, maps)), j in itertools.product(enumerate(rows), range(n)):
            top, left, h, w = ce["boxes"][j].tolist()
            ax = axes[3 * r + k, j]
            ax.imshow(ce["images"][j], cmap="gray")
            if maps is not None:
                ax.imshow(maps[j], cmap="jet", alpha=0.5, vmin=0, vmax=1)
            ax.add_patch(plt.Rectangle((left - 0.5, top - 0.5), w, h, fill=False, ec="lime", lw=0.8))
            ax.set(xticks=[], yticks=[], ylabel=(f"seed {seed}\n{name}" if k == 0 else name) if j == 0 else "")
    fig.tight_layout(pad=0.2)
    return fig


_NUISANCE_NAMES = {"occluded_digits": ("target digit", "occluder digit")}


def nuisance_figure(config: Config):
    """:func:`plot_nuisance` of the Figure 6 runs of ``config`` (live or committed)."""
    dataset = config["nuisance.dataset"]
    names = _NUISANCE_NAMES.get(dataset, ("CIFAR-10 class", "MNIST occluder digit"))
    raw = config.results("raw_nuisance")[0].metrics["nuisance_probe_acc"]
    return plot_nuisance(results_frame(config.results("nuisance")), raw, *names)


def saliency_figure(config: Config):
    """:func:`plot_saliency` of the Figures 7-8 runs of ``config`` (live or committed)."""
    return plot_saliency(config.results("saliency"), max(config["saliency.alphas"]))


_NO_COMPARISON = report.not_tested("no IB solution in the LS curve's range")

PROPOSITION_TRAIN_ACC = 0.99
"""Training accuracy Propositions 4.4-4.5 assume (a model that fits its training labels): below it
the Figure 3 runs are outside the propositions' hypothesis and their claims are not tested."""
MAJORITY = 0.12
"""Largest class share of the ten digit or object classes (every dataset of the chapter), an upper bound."""
CHECKS: dict[str, tuple[report.Check, ...]] = {
    "plane": (report.at_least("train_acc", PROPOSITION_TRAIN_ACC, "train acc"),),
    "nuisance": (report.above_majority("target_acc", MAJORITY),),
    "saliency": (report.above_majority("test_acc", MAJORITY),),
}
"""What a working run is, per group: Figure 3's fit their training labels (the propositions'
hypothesis); Figures 6-8's classify their held-out target above the majority class."""


def validity(results: list[RunResult], group: str) -> report.Validity:
    """:data:`CHECKS` ``[group]`` on ``results`` (:func:`c2f_utils.report.valid_runs`)."""

    def label(r: RunResult) -> str:
        strength = f"β={r.params['beta']:g}" if r.params.get("beta") else f"α={r.params['alpha']:g}"
        return f"{strength} seed {r.params['seed']}"

    return report.valid_runs(results, CHECKS[group], label=label)


_CLAIM = {
    "ce": "CE reaches (H(Y), H(Y)) on the training set: distance < {tol} nats (Prop. 4.4, Fig. 3)",
    "line": "LS solutions lie on the IB line I(T;Y) = I(X;T): largest gap over α < {tol} nats (Prop. 4.5, Fig. 3)",
    "optimum": "each LS model reaches the LS optimum's I(X;T): largest distance over α < {tol} nats (Prop. 4.5)",
    "ib": "with contradicting labels, IB solutions beat the LS optimum: largest gain in I(T;Y), nats (§5.2.2, Fig. 4)",
    "nuisance": "LS (α={alpha:g} vs 0) removes nuisance information from the penultimate features (§5.3.1, Fig. 6)",
    "accuracy": "LS (α={alpha:g} vs 0) gives no accuracy gain on the occluded task: within ±{margin:g} (§5.3.1)",
    "saliency": "LS puts more Grad-CAM saliency on the original digit than CE: share in the digit's box (§5.3.2)",
    "clutter_acc": "CE and LS reach the same accuracy on cluttered digits: within ±{margin:g} (§5.3.2)",
    "digit1": "{model}: the saliency of digit 1 spreads beyond the digit more than for other digits (App. A.4)",
}
_PAPER_SAYS = {
    "ce": "Fig. 3: CE at (H(Y), H(Y)) on CIFAR-10 and Flowers-102 (no number)",
    "line": "Fig. 3: all LS points on the line (no number)",
    "optimum": "implied by Prop. 4.5 under Assumption 4.3 (not plotted)",
    "ib": "Fig. 4: solutions above the LS curve on CIFAR-10H (no number)",
    "nuisance": "Fig. 6: MNIST probe accuracy falls markedly with α (no number in the text)",
    "accuracy": "Fig. 6: CIFAR-10 accuracy flat in α",
    "saliency": "Fig. 7-8: CE attends to the clutter, LS to the original digit (maps only)",
    "clutter_acc": "CE 97.99 %, LS 98.05 % (Cluttered MNIST, ResNet-20)",
    "digit1": "Fig. 8: digit-1 maps cover the whole image, more so with LS",
}


def plane_figure(config: Config):
    """:func:`plot_plane` of the Figure 3 runs of ``config`` (live or committed)."""
    plane = plane_frame(config.results("plane") + config.results("plane_cp"))
    return plot_plane(plane, f"{config.profile}: {config['plane.dataset']}, {len(config['seeds'])} seeds")


_PLANE_COLUMNS = {
    "train_acc": "train accuracy",
    "train_i_xt": "train I(X;T)",
    "train_i_ty": "train I(T;Y)",
    "train_ls_optimum": "LS optimum",
    "test_i_xt": "test I(X;T)",
    "test_i_ty": "test I(T;Y)",
    "test_acc": "test accuracy",
}
_NUISANCE_COLUMNS = {
    "train_acc": "train accuracy",
    "target_acc": "target accuracy",
    "nuisance_probe_acc": "nuisance probe (test)",
    "nuisance_probe_train_acc": "nuisance probe (train)",
}
_SALIENCY_COLUMNS = {"train_acc": "train accuracy", "test_acc": "test accuracy", "box_mass": "share in the box"}


def plane_table(config: Config) -> pd.DataFrame:
    """Figure 3's runs of ``config`` (live or committed), mean ± 95% CI over seeds per criterion
    (``loss``: ls or cp) and strength: training accuracy, the planes and the LS optimum's I(X;T)."""
    frame = plane_frame(config.results("plane") + config.results("plane_cp"))
    columns = {"ls": _PLANE_COLUMNS, "cp": {k: v for k, v in _PLANE_COLUMNS.items() if k != "train_ls_optimum"}}
    parts = {
        loss: report.mean_ci_table(frame[frame.loss == loss], "strength", cols)
        for loss, cols in columns.items()
        if (frame.loss == loss).any()
    }
    table = pd.concat(parts, names=["loss"])
    return table[[*_PLANE_COLUMNS.values(), "seeds"]].fillna("—")


def nuisance_table(config: Config) -> pd.DataFrame:
    """Figure 6's runs of ``config`` (live or committed), mean ± 95% CI over seeds per α."""
    return report.mean_ci_table(results_frame(config.results("nuisance")), "alpha", _NUISANCE_COLUMNS)


def saliency_table(config: Config) -> pd.DataFrame:
    """Figures 7-8's runs of ``config`` (live or committed), mean ± 95% CI over seeds per α:
    accuracies, the share of saliency in the digit's box, and that share per digit."""
    per_digit = {f"box_mass_{c}": f"digit {c}" for c in range(10)}
    frame = results_frame(config.results("saliency"))
    return report.mean_ci_table(frame, "alpha", {**_SALIENCY_COLUMNS, **per_digit})


def ib_figure(config: Config):
    """:func:`plot_ib` of the Figure 4 run of ``config`` (live or committed)."""
    return plot_ib(*ib_frame(config.results("ib")[0]))


def card(config: Config) -> pd.DataFrame:
    """:func:`scorecard` of the valid runs of ``config`` (live or committed), listing the others."""
    checked = {
        "plane": validity(config.results("plane") + config.results("plane_cp"), "plane"),
        "nuisance": validity(config.results("nuisance"), "nuisance"),
        "saliency": validity(config.results("saliency"), "saliency"),
    }
    valid_plane = checked["plane"].valid
    plane = plane_frame(valid_plane) if valid_plane else pd.DataFrame()
    nuisance = results_frame(checked["nuisance"].valid)
    saliency = results_frame(checked["saliency"].valid)
    run = bool(config.results("saliency"))
    return scorecard(plane, ib_frame(config.results("ib")[0])[0], nuisance, saliency, config, checked, run)


def _claim(
    cid: str, finding: report.Finding, where: str, validity: report.Validity | None = None, **fmt: Any
) -> report.Claim:
    text = _CLAIM[cid].format(tol=PLANE_TOLERANCE, margin=ACCURACY_MARGIN, **fmt)
    return report.Claim(text, finding, where, _PAPER_SAYS[cid], validity)


def scorecard(
    plane: pd.DataFrame,
    ib: pd.DataFrame,
    nuisance: pd.DataFrame,
    saliency: pd.DataFrame,
    config: Config,
    validity: dict[str, report.Validity] | None = None,
    saliency_run: bool | None = None,
):
    """Claims, the paper's figure or number, ours and the verdict (:mod:`c2f_utils.report`).

    Declared before the runs: :data:`PLANE_TOLERANCE`, :data:`GAIN_TOLERANCE`, :data:`ACCURACY_MARGIN`,
    and what a working run is (:data:`CHECKS`). The frames hold the valid runs only; ``validity``
    (per group) lists every run with why it was excluded. Runs of different α share their seed and
    are compared paired; "no accuracy gain" compares CE with the largest α of the sweep
    (pre-declared, never the best α on the test set). ``ib`` is :func:`ib_frame`'s solutions;
    ``saliency`` is empty when Figures 7-8 did not run (``saliency_run``, default: not empty).
    """
    seeds, profile = config["seeds"], config.profile
    checked = validity or {}
    plane = plane if len(plane) else pd.DataFrame(columns=["loss", "strength", "seed", "alpha", "beta"])
    ls = plane[plane.loss == "ls"].sort_values("seed")
    ce = ls[ls.strength == 0]
    ce_dist = np.maximum(abs(ce.train_i_xt - ce.train_h_y), abs(ce.train_i_ty - ce.train_h_y)) if len(ce) else []
    off_line = (ls.train_i_xt - ls.train_i_ty).groupby(ls.seed).max() if len(ls) else []
    off_optimum = (ls.train_i_xt - ls.train_ls_optimum).abs().groupby(ls.seed).max() if len(ls) else []
    gains, ib_data = ib.gain_over_ls.dropna(), resolve_counts_dataset(config["ib.dataset"])
    ib_finding = report.deterministic(gains.max(), at_least=GAIN_TOLERANCE) if len(gains) else _NO_COMPARISON
    at, at_nuisance = (report.where(profile, config[f"{g}.dataset"], seeds) for g in ("plane", "nuisance"))
    alpha = max(config["nuisance.alphas"])
    less = report.less
    pairs = {m: report.compare(less, nuisance, m, "alpha", alpha, 0.0) for m in ("nuisance_probe_acc",)}
    accuracy = report.compare(report.equivalent, nuisance, "target_acc", "alpha", alpha, 0.0, margin=ACCURACY_MARGIN)
    on_plane = checked.get("plane")
    plane_ce, plane_ls = (
        (None, None) if on_plane is None else (on_plane.where(alpha=0.0, beta=0.0), on_plane.where(beta=0.0))
    )
    on_nuisance = None if "nuisance" not in checked else checked["nuisance"].where(alpha=(0.0, alpha))
    claims = [
        _claim("ce", report.judge(less, ce_dist, value=PLANE_TOLERANCE, paired=False), at, plane_ce),
        _claim("line", report.judge(less, off_line, value=PLANE_TOLERANCE, paired=False), at, plane_ls),
        _claim("optimum", report.judge(less, off_optimum, value=PLANE_TOLERANCE, paired=False), at, plane_ls),
        _claim("ib", ib_finding, report.where(profile, ib_data, [0]) + " (deterministic: one run)"),
        _claim("nuisance", pairs["nuisance_probe_acc"], at_nuisance, on_nuisance, alpha=alpha),
        _claim("accuracy", accuracy, at_nuisance, on_nuisance, alpha=alpha),
    ]
    run = (not saliency.empty) if saliency_run is None else saliency_run
    return report.scorecard(claims + _saliency_claims(saliency, config, run, checked.get("saliency")))


def _saliency_claims(
    frame: pd.DataFrame, config: Config, run: bool, validity: report.Validity | None
) -> list[report.Claim]:
    if not run:
        not_run = report.not_tested("not run in this profile (saliency.alphas = [])")
        return [_claim("saliency", not_run, f"{config.profile}; {config['saliency.dataset']}")]
    alpha, seeds = max(config["saliency.alphas"]), config["seeds"]
    at = report.where(config.profile, config["saliency.dataset"], seeds) + f"; LS α={alpha:g}"
    frame = frame.sort_values("seed") if len(frame) else frame
    claims = [
        _claim("saliency", report.compare(report.greater, frame, "box_mass", "alpha", alpha, 0.0), at, validity),
        _claim(
            "clutter_acc",
            report.compare(report.equivalent, frame, "test_acc", "alpha", alpha, 0.0, margin=ACCURACY_MARGIN),
            at,
            validity,
        ),
    ]
    others = [f"box_mass_{c}" for c in range(10) if c != 1]
    for model, a in (("CE", 0.0), ("LS", alpha)):
        g = frame[frame.alpha == a] if len(frame) else frame
        one = None if validity is None else validity.where(alpha=a)
        found = report.judge(
            report.less, g.box_mass_1 if len(g) else [], g[others].mean(axis=1) if len(g) else [], paired=True
        )
        claims.append(_claim("digit1", found, at, one, model=model))
    return claims
