"""Experiments of "Label smoothing as an information bottleneck": the runs of Figures 3, 4, 6 and 7-8.

:class:`Plane`, :class:`Nuisance` and :class:`Saliency` each train one network: they are
:class:`~c2f_utils.experiments.TrainingRun` (their data, model, criterion, recipe and probes are
public, and their run is ``fit`` over them, then ``outcome`` of the trained network).
:class:`IBCurve` runs the IB-Lagrangian solver and :class:`RawNuisanceProbe` a probe on the raw
pixels. :mod:`~c2f_utils.chapters.ls_ib.profiles` holds their grids per profile.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ... import paths
from ..._checks import check_choice
from ...constants import CIFAR10_NAMES, CIFAR10H_COUNTS
from ...experiments import Experiment, Recipe, TrainingRun, param
from ...runs import RunOutput

if TYPE_CHECKING:
    import torch
    from torch import nn

    from ... import data as c2f_data
    from ... import train as c2f_train

__all__ = [
    "GRADCAM_LAYERS",
    "LOSSES",
    "MODELS",
    "NETWORKS",
    "IBCurve",
    "LsIbData",
    "Nuisance",
    "Plane",
    "RawNuisanceProbe",
    "Saliency",
    "make_model",
    "resolve_counts_dataset",
    "training_subset",
]


@lru_cache(maxsize=8)
def _load(name: str, split: str) -> c2f_data.LabeledData:
    """Each dataset split is generated or decoded once per process (the runs share it)."""
    from ... import data as c2f_data

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
LOSSES: dict[str, tuple[str, str]] = {"ls": ("ce", "label_smoothing"), "cp": ("confidence", "beta")}
"""Per criterion of the chapter, ``(losses.create name, the option its strength sets)``: ``ls``, label
smoothing α (Eq. 2-3; 0 is cross-entropy); ``cp``, the confidence penalty β (Eq. 10)."""


def _architecture(dataset: str, network: str) -> tuple[str, dict[str, Any]]:
    models = MODELS[check_choice("network", network, NETWORKS)]
    if dataset not in models:
        raise ValueError(f"Expected `dataset` among {sorted(models)} for network={network!r}, got {dataset!r}")
    return models[dataset]


def make_model(
    dataset: str, input_shape: tuple[int, ...], n_classes: int = 10, network: str = "default"
) -> tuple[nn.Module, nn.Module | None]:
    """The network of ``dataset`` (:data:`MODELS`) for inputs of ``input_shape`` (one image's) and its
    Grad-CAM layer (:data:`GRADCAM_LAYERS`)."""
    from ... import models as c2f_models

    name, options = _architecture(dataset, network)
    model = c2f_models.create(name, n_classes=n_classes, input_shape=input_shape, **options)
    layer = GRADCAM_LAYERS[name]
    return model, None if layer is None else model.get_submodule(layer)


def _loss(loss: str, strength: float) -> nn.Module:
    """The criterion ``loss`` of :data:`LOSSES` at ``strength``."""
    from ... import losses as c2f_losses

    name, option = LOSSES[loss]
    return c2f_losses.create(name, **{option: strength})


@dataclass(frozen=True)
class LsIbData:
    """The data of one training run: the pair the network is fit on (``train``: the training
    images and their class) and both labeled splits, which the run's ``outcome`` reads."""

    train: tuple[torch.Tensor, torch.Tensor]
    train_split: c2f_data.LabeledData
    test_split: c2f_data.LabeledData


@dataclass(frozen=True)
class LsIbTraining(TrainingRun):
    """The training recipe shared by the experiments that train a network (``dataset`` is theirs).

    Its probes are the base's (the criterion's own callbacks: none for label smoothing and the
    confidence penalty): the chapter measures the trained network once, in ``outcome``.
    """

    optimizer: str = param("'sgd' (momentum 0.9, lr / 10 at 1/2 and 3/4) or 'adam' (cosine)", choices=("sgd", "adam"))
    augment: bool = param("random crop and flip on colour (CIFAR) images")
    network: str = param("'default' (the paper's ResNets on its data) or 'lenet' (LeNet-5, CPU)", choices=NETWORKS)

    def data(self) -> LsIbData:
        """Both splits of ``dataset``; the network is fit on the training images and their class."""
        train = _load(self.dataset, "train")
        return LsIbData((train.x, train.fine), train, _load(self.dataset, "test"))

    def build_model(self, data: LsIbData) -> nn.Module:
        """The network of ``dataset`` and ``network`` (:func:`make_model`) for the training images."""
        train = data.train_split
        return make_model(self.dataset, tuple(train.x.shape[1:]), train.n_classes(), self.network)[0]

    def build_criterion(self, data: LsIbData) -> nn.Module:
        """Label smoothing ``alpha`` (0: cross-entropy; :data:`LOSSES`)."""
        return _loss("ls", self.alpha)

    def recipe(self, data: LsIbData) -> Recipe:
        """``optimizer`` with no weight decay, as in the paper: SGD (momentum 0.9, lr / 10 at 1/2 and
        3/4 of the epochs) or Adam (cosine); random crops and flips of colour images if ``augment``."""
        from ... import train as c2f_train

        recipe = {k: getattr(self, k) for k in ("epochs", "batch_size", "optimizer", "lr", "seed", "device")}
        # the paper's SGD: epochs 80 and 120 of 160 (at least epoch 1: a one-epoch run keeps its lr)
        steps = (max(1, self.epochs // 2), max(1, 3 * self.epochs // 4))
        schedule = {"schedule": "multistep", "milestones": steps} if self.optimizer == "sgd" else {"schedule": "cosine"}
        config = c2f_train.TrainConfig(**recipe, momentum=0.9, weight_decay=0.0, **schedule)
        augment = self.augment and data.train_split.x.shape[1] == 3
        return Recipe(config, {"transform": c2f_train.crop_flip()} if augment else {})

    def gradcam_layer(self, model: nn.Module) -> nn.Module | None:
        """The module of ``model`` that Grad-CAM reads (:data:`GRADCAM_LAYERS`; none for an MLP)."""
        layer = GRADCAM_LAYERS[_architecture(self.dataset, self.network)[0]]
        return None if layer is None else model.get_submodule(layer)


@dataclass(frozen=True)
class Plane(LsIbTraining):
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

    @property
    def loss(self) -> str:
        """The run's criterion in :data:`LOSSES`: ``"cp"`` when ``beta`` is set, else ``"ls"``."""
        return "cp" if self.beta else "ls"

    def data(self) -> LsIbData:
        """The stratified subset of ``n_train`` training images (:func:`training_subset`) and the test split."""
        train = training_subset(_load(self.dataset, "train"), self.n_train)
        return LsIbData((train.x, train.fine), train, _load(self.dataset, "test"))

    def build_criterion(self, data: LsIbData) -> nn.Module:
        """Label smoothing ``alpha``, or the confidence penalty ``beta`` when it is set (:data:`LOSSES`)."""
        return _loss(self.loss, self.beta if self.beta else self.alpha)

    def outcome(self, data: LsIbData, result: c2f_train.TrainResult) -> RunOutput:
        """On each split: the plane point of the softmax outputs, H(Y), the accuracy and, for LS,
        the optimum's I(X;T); and the number of training images."""
        import torch

        from ... import probes as c2f_probes
        from ... import train as c2f_train

        metrics: dict[str, float] = {"n_train": len(data.train_split)}
        for split, d in (("train", data.train_split), ("test", data.test_split)):
            logits = c2f_train.extract_features(result.model, d.x, device=self.device).logits
            probs = torch.softmax(logits.double(), dim=1)
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
    from ...data.core import stratified_split

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
    device: str = param("device to train on", device=True)  # as the training runs (one shared parameter)

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
        from ... import data as c2f_data
        from ... import probes as c2f_probes
        from ... import train as c2f_train

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
class RawNuisanceProbe(Experiment):
    """Figure 6 reference: the nuisance probe on the raw pixels (5000 training images)."""

    name: ClassVar[str] = "ls_ib.raw_nuisance_probe"
    uses: ClassVar[tuple[str, ...]] = ("data.core", "probes.linear")
    dataset: str = param("Figure 6 data", choices=_OCCLUDED)

    def run(self) -> dict[str, float]:
        from ... import probes as c2f_probes

        train, test = _load(self.dataset, "train"), _load(self.dataset, "test")
        x, y = (train.x.flatten(1), test.x.flatten(1)), (train.meta["nuisance"], test.meta["nuisance"])
        return {"nuisance_probe_acc": c2f_probes.linear_probe(x[0], y[0], x[1], y[1], max_train=5000).test_score}


@dataclass(frozen=True)
class Nuisance(LsIbTraining):
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

    def outcome(self, data: LsIbData, result: c2f_train.TrainResult) -> dict[str, float]:
        """Target accuracy (test and training), and the linear probe of the occluder's digit on the
        frozen penultimate features (fit on the training images, scored on the test images)."""
        from ... import probes as c2f_probes
        from ... import train as c2f_train

        train, test = data.train_split, data.test_split
        tr, te = (c2f_train.extract_features(result.model, d.x, device=self.device) for d in (train, test))
        p = c2f_probes.linear_probe(
            tr.features, train.meta["nuisance"], te.features, test.meta["nuisance"], seed=self.seed
        )
        acc = float((te.logits.argmax(1) == test.fine).float().mean())
        train_acc = float((tr.logits.argmax(1) == train.fine).float().mean())
        metrics = {"target_acc": acc, "train_acc": train_acc}
        return metrics | {"nuisance_probe_acc": p.test_score, "nuisance_probe_train_acc": p.train_score}


@dataclass(frozen=True)
class Saliency(LsIbTraining):
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

    def outcome(self, data: LsIbData, result: c2f_train.TrainResult) -> RunOutput:
        """Accuracies; Grad-CAM of the true class on every test image (:meth:`gradcam_layer`) and the
        share of each map in the digit's box, overall and per digit; ``n_show`` maps kept."""
        from ... import probes as c2f_probes
        from ... import train as c2f_train

        train, test, model = data.train_split, data.test_split, result.model
        logits = c2f_train.extract_features(model, test.x, device=self.device).logits
        train_logits = c2f_train.extract_features(model, train.x, device=self.device).logits
        maps = c2f_probes.gradcam_maps(model, test.x, self.gradcam_layer(model), test.fine)
        mass = c2f_probes.box_mass(maps, test.meta["box"])
        show = np.random.default_rng(self.seed).choice(len(test), self.n_show, replace=False)
        acc = float((logits.argmax(1) == test.fine).float().mean())
        metrics = {"test_acc": acc, "box_mass": float(np.nanmean(mass)), "empty_maps": int(np.isnan(mass).sum())}
        metrics["train_acc"] = float((train_logits.argmax(1) == train.fine).float().mean())
        metrics["box_area"] = float(c2f_probes.box_area_fraction(test.meta["box"], *test.x.shape[-2:]).mean())
        metrics |= {f"box_mass_{c}": float(np.nanmean(mass[test.fine.numpy() == c])) for c in range(10)}
        shown = {"images": test.x[show, 0].numpy().astype(np.float32), "boxes": test.meta["box"][show].numpy()}
        return RunOutput(metrics=metrics, arrays={"show": show, "maps": maps[show].astype(np.float32), **shown})
