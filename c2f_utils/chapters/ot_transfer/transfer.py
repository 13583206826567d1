"""Table 1 of "Representation transfer by optimal transport": the trained reference networks
(:class:`Reference`: the transfer source, the compression teacher) and fine-tuning
(:class:`Finetune`, a :class:`~c2f_utils.experiments.TrainingRun` whose data, model, criterion,
recipe and probes are public and whose run is ``fit`` over them).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ...experiments import Experiment, Recipe, TrainingRun, param
from ...runs import RunOutput
from .networks import (
    CNN_DATA,
    CNN_LAYERS,
    CROP,
    DIGIT_INPUTS,
    FGVC_SIZE,
    LAYERS,
    RESNET_LAYERS,
    SOURCE,
    TARGET,
    TRAINED_SOURCES,
    TRANSFER_METHODS,
    _center_crop,
    _paper_schedule,
    accuracy_of,
    imagenet_resnet101,
    load_split,
    make_model,
    source_holdout,
)
from .penalties import Penalty, ReferenceRegularizer, Regularizer, penalty

if TYPE_CHECKING:
    import torch
    from torch import nn

    from ... import data as c2f_data
    from ... import train as c2f_train

__all__ = ["Finetune", "Reference", "TransferData", "compression_recipe"]


def compression_recipe(
    dataset: str, epochs: int, batch_size: int, seed: int, device: str
) -> tuple[c2f_train.TrainConfig, Callable[[torch.Tensor], torch.Tensor] | None]:
    """Training recipe of sources, teachers and students: the digits' short cosine schedule; on
    the CIFAR-10 JPEG copy SGD 0.05 with a cosine schedule, weight decay 5e-4 and 4-pixel padded
    crops and mirrors (LeNet-5 has no batch norm: 0.1 is too large for it); or App. A.2 on CIFAR
    (He et al. 2016a: SGD 0.1, divided by 10 at 80K and 120K of 160K iterations, weight decay
    1e-4, 4-pixel padded crops and mirrors)."""
    from ... import train as c2f_train

    if dataset in DIGIT_INPUTS:
        return c2f_train.TrainConfig(epochs, batch_size, lr=0.05, schedule="cosine", seed=seed, device=device), None
    if dataset == CNN_DATA:
        cfg = c2f_train.TrainConfig(
            epochs, batch_size, lr=0.05, weight_decay=5e-4, schedule="cosine", seed=seed, device=device
        )
        return cfg, c2f_train.crop_flip(4)
    milestones = _paper_schedule(epochs, (0.5, 0.75))
    cfg = c2f_train.TrainConfig(
        epochs,
        batch_size,
        lr=0.1,
        weight_decay=1e-4,
        schedule="multistep",
        milestones=milestones,
        seed=seed,
        device=device,
    )
    return cfg, c2f_train.crop_flip(4)


@dataclass(frozen=True)
class Reference(Experiment):
    """A reference network, trained once: the transfer ``"source"`` (classes 0-4, seed 0,
    batch 32) or the compression ``"teacher"`` (80% of the training split, seed 100, batch 64;
    on CIFAR-10 the ResNet-110 of :func:`make_model` with the recipe of :class:`Compress`).
    On ``cifar10_jpeg`` the source is a LeNet-5 and the teacher a ResNet-8 (:func:`make_model`).

    The paper's transfer source is not trained here: it is ImageNet-pretrained
    (:func:`imagenet_resnet101`), so the ``"source"`` role exists for the digits only.
    """

    name: ClassVar[str] = "ot_transfer.reference"
    uses: ClassVar[tuple[str, ...]] = (
        "data.core",
        "data.splits",
        "models.mlp",
        "models.resnet",
        "models.state",
        "train",
    )
    component_fields: ClassVar[dict[str, dict[Any, tuple[str, ...]]]] = {"dataset": {CNN_DATA: ("models.lenet5",)}}
    role: str = param("which reference", choices=("source", "teacher"))
    dataset: str = param("data set", choices=(*TRAINED_SOURCES, "cifar10"))
    epochs: int = param("training epochs", ge=1)
    device: str = param("device to run on", device=True)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.role == "source" and self.dataset not in TRAINED_SOURCES:
            raise ValueError(
                f"Expected `dataset` in {list(TRAINED_SOURCES)} for the 'source' role "
                "(the paper's source is ImageNet-pretrained, "
                f"see imagenet_resnet101), got {self.dataset!r}"
            )

    def network(self) -> nn.Module:
        """The trained network (run, or read from the cache), in eval mode."""
        from ... import models as c2f_models

        return c2f_models.load_state_arrays(make_model(self.role, self.dataset), self.cached().arrays).eval()

    def run(self) -> RunOutput:
        from ... import data as c2f_data
        from ... import models as c2f_models
        from ... import train as c2f_train

        if self.role == "source":
            train, test = (c2f_data.class_subset(load_split(self.dataset, s), SOURCE) for s in ("train", "test"))
            seed, batch_size = 0, 32
        else:
            train, test = source_holdout(self.dataset)[0], load_split(self.dataset, "test")
            seed, batch_size = 100, 64
        c2f_train.seed_everything(seed)
        model = make_model(self.role, self.dataset)
        cfg, transform = compression_recipe(self.dataset, self.epochs, batch_size, seed, self.device)
        c2f_train.fit(model, (train.x, train.fine), config=cfg, transform=transform)
        acc = accuracy_of(model, test, c2f_train.resolve_device(self.device))
        return RunOutput(metrics={"test_acc": acc}, arrays=c2f_models.state_arrays(model))


@dataclass(frozen=True)
class TransferData:
    """The parts of one :class:`Finetune` run that draw no random number: the few-shot pair the
    network is fit on (``train``), the validation and test splits, the ``network`` to fine-tune (a
    copy of the source; :meth:`Finetune.model` re-initialises its head), the frozen ``reference``
    (the source, on the run's device), and the penalty towards it (``regularizer``, ``None`` for
    none) with its epoch ``callbacks`` (the plan traces)."""

    train: tuple[torch.Tensor, torch.Tensor]
    val: c2f_data.LabeledData
    test: c2f_data.LabeledData
    network: nn.Module
    reference: nn.Module
    regularizer: Regularizer | None
    callbacks: list[Callable[[c2f_train.EpochState], Any]]


@dataclass(frozen=True)
class Finetune(TrainingRun):
    """Table 1: fine-tune the source network on the few-shot target with regularizer ``method``.

    SGD (momentum 0.9) at ``lr``, with a cosine schedule (fgvc_aircraft: divided by 10 after 2/3 of
    the ``epochs``); ``batch_size`` (at least 2) is the n examples that describe a neuron; ``seed``
    draws the few-shot sample, the new head and the batch order.

    Metrics: ``val_acc``, ``test_acc`` and ``trace_<layer>``, the trace of the optimal
    plan between the pretrained and the fine-tuned representations of the target validation
    images at each layer of :meth:`layers` (Figure 2; the paper computes it on a validation
    set). History: ``plan_trace`` per epoch, the mean trace of the mini-batch plans of
    :math:`\\Omega_P` at the penultimate layer (Figure 3).

    :math:`\\Omega_{I,U,P}` penalize the penultimate layer and, when ``intermediate`` names a
    module, that module's output too, with the same plan type and strength (§4.2: the paper
    adds the 19th of ResNet-101's 33 residual units); a convolutional channel is described
    by its spatial mean on each image of the mini-batch.
    """

    name: ClassVar[str] = "ot_transfer.finetune"
    version: ClassVar[int] = 2  # 2: the intermediate-layer term; Figure 2's traces on the validation images
    uses: ClassVar[tuple[str, ...]] = (
        "data.core",
        "data.splits",
        "losses.distill",
        "losses.transport",
        "models.mlp",
        "models.pretrained_resnet",
        "models.resnet",
        "models.state",
        "probes.transport",
        "train",
        "weights",
    )
    dataset: str = param(
        "transfer target (digits, mnist10k: 0-4 -> 5-9; fgvc_aircraft: ImageNet ResNet-101 -> 100 aircraft variants)",
        choices=(*TRAINED_SOURCES, "fgvc_aircraft"),
    )
    method: str = param("regularizer towards the source network", choices=TRANSFER_METHODS)
    alpha: float = param("regularization strength (0 for none)", ge=0)
    shots: int = param("labelled target images per class for training (and as many for validation)", ge=1)
    pretrain_epochs: int = param(
        "epochs of the source training on the digits 0-4 (unused by fgvc_aircraft: ImageNet weights)", ge=1
    )
    l2sp_beta: float = param("L2-SP strength on the new head", ge=0)
    solver: str = param(
        "how the plan of Ω_P is computed: 'exact' (network simplex, CPU) or 'proximal' (IPOT, on the device)",
        choices=("exact", "proximal"),
        default="exact",
    )
    intermediate: str = param(
        "module whose output Ω_I, Ω_U, Ω_P also penalize (the paper's intermediate layer; '' for none)",
        default="",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.batch_size < 2:
            raise ValueError(f"Expected `batch_size` >= 2 (the examples that describe a neuron), got {self.batch_size}")
        if self.intermediate and self.intermediate not in self.layers():
            raise ValueError(
                f"Expected `intermediate` '' or one of the layers {list(self.layers())}, got {self.intermediate!r}"
            )

    def check_data(self) -> list[str]:
        """For ``fgvc_aircraft``, the ImageNet ResNet-101 weights file (checksum verified)."""
        from torchvision.models import ResNet101_Weights

        from ... import weights as c2f_weights
        from ...weights import WeightsChecksumError, WeightsNotFoundError

        problems = []
        if self.dataset == "fgvc_aircraft":
            try:
                c2f_weights.load_weights(ResNet101_Weights.IMAGENET1K_V1, download=False)
            except (WeightsNotFoundError, WeightsChecksumError) as exc:
                problems.append(f"ResNet-101 ImageNet weights: {exc}")
        return problems

    def source(self) -> Reference:
        """The source network's run (digits, CIFAR-10 JPEG; the fgvc_aircraft source is :func:`imagenet_resnet101`)."""
        if self.dataset not in TRAINED_SOURCES:
            raise ValueError(
                f"Expected `dataset` in {list(TRAINED_SOURCES)} for a trained source run, got {self.dataset!r}: "
                "its source is ImageNet-pretrained (imagenet_resnet101)"
            )
        return Reference(role="source", dataset=self.dataset, epochs=self.pretrain_epochs, device=self.device)

    def requires(self) -> list[Experiment]:
        return [self.source()] if self.dataset in TRAINED_SOURCES else []

    def layers(self) -> tuple[str, ...]:
        """The modules whose representations Figure 2 compares (``LAYERS``, ``CNN_LAYERS`` or
        ``RESNET_LAYERS``), the penultimate one last."""
        if self.dataset in DIGIT_INPUTS:
            return LAYERS
        return CNN_LAYERS if self.dataset == CNN_DATA else RESNET_LAYERS

    def penalty(self, model: nn.Module, reference: nn.Module) -> Penalty:
        """The run's regularizer towards the frozen ``reference`` (penultimate layer, and
        ``intermediate`` for the representation regularizers) and its epoch callbacks (the
        plan traces), as :func:`~c2f_utils.train.fit` takes them."""
        return penalty(
            self.method,
            alpha=self.alpha,
            model=model,
            reference=reference,
            l2sp_beta=self.l2sp_beta,
            solver=self.solver,
            layer=self.intermediate,
        )

    def data(self) -> TransferData:
        """The source network and the target's splits (:class:`TransferData`).

        Digits and ``mnist10k``: the cached source MLP (trained on the digits 0-4), ``shots``
        images per class of the digits 5-9 for training and as many for validation, the test
        digits 5-9. ``cifar10_jpeg``: the same with the cached LeNet-5 source (trained on the
        classes 0-4: airplane, automobile, bird, cat, deer) and the classes 5-9 (dog, frog,
        horse, ship, truck). ``fgvc_aircraft``: :func:`imagenet_resnet101`, ``shots`` + ``shots``
        images per variant of the trainval split, the test split (center crops).
        """
        from ... import data as c2f_data
        from ... import models as c2f_models
        from ... import train as c2f_train

        rng = np.random.default_rng([self.seed, 6])
        if self.dataset in TRAINED_SOURCES:
            source = self.source().network()
            train, val = c2f_data.few_shot_split(load_split(self.dataset, "train"), TARGET, self.shots, rng)
            test = c2f_data.class_subset(load_split(self.dataset, "test"), TARGET, relabel=True)
        else:
            # App. A.1: the creators' trainval split, cut into `shots` training and `shots` validation
            # images per variant (33 + 33 of about 67), and their test split.
            trainval = c2f_data.load(self.dataset, "trainval", size=FGVC_SIZE)
            classes = range(len(trainval.fine_names))
            train, val = c2f_data.few_shot_split(trainval, classes, self.shots, rng)
            test = c2f_data.load(self.dataset, "test", size=FGVC_SIZE)
            source = imagenet_resnet101(len(classes))
            val, test = _center_crop(val, CROP), _center_crop(test, CROP)
        network = copy.deepcopy(source)
        reference = c2f_models.freeze(copy.deepcopy(source).to(c2f_train.resolve_device(self.device)))
        regularizer, callbacks = self.penalty(network, reference)
        return TransferData((train.x, train.fine), val, test, network, reference, regularizer, callbacks)

    def build_model(self, data: TransferData) -> nn.Module:
        """The copy of the source in ``data``, its head re-initialised (a new task: the last layer
        starts from scratch, seeded)."""
        data.network.head.reset_parameters()
        return data.network

    def build_criterion(self, data: TransferData) -> nn.Module:
        """Cross-entropy on the target classes."""
        from ... import losses as c2f_losses

        return c2f_losses.create("ce")

    def recipe(self, data: TransferData) -> Recipe:
        """SGD (momentum 0.9) with a cosine schedule (fgvc_aircraft: divided by 10 after 2/3 of the
        epochs); fit's options: the penalty of ``data`` and the augmentation (4-pixel padded crops
        and mirrors on ``cifar10_jpeg``, random 224 x 224 crops and mirrors on fgvc_aircraft, none
        on digits)."""
        from ... import train as c2f_train

        common = dict(lr=self.lr, seed=self.seed, device=self.device)
        if self.dataset in TRAINED_SOURCES:
            config = c2f_train.TrainConfig(self.epochs, self.batch_size, schedule="cosine", **common)
            transform = c2f_train.crop_flip(4) if self.dataset == CNN_DATA else None
        else:
            milestones = _paper_schedule(self.epochs, (2 / 3,))  # 9,000 iterations, lr / 10 after 6,000
            config = c2f_train.TrainConfig(
                self.epochs, self.batch_size, schedule="multistep", milestones=milestones, **common
            )
            transform = c2f_train.crop_flip(0, True, size=CROP)  # App. A.1.2: random crop and mirror
        return Recipe(config, {"regularizer": data.regularizer, "transform": transform})

    def probes(self, data: TransferData, criterion: nn.Module) -> list[c2f_train.Callback]:
        """The penalty's epoch callbacks (the mean plan trace of :math:`\\Omega_{I,U,P}`) and the criterion's."""
        from ... import losses as c2f_losses

        return [*data.callbacks, *c2f_losses.callbacks(criterion)]

    def outcome(self, data: TransferData, result: c2f_train.TrainResult) -> RunOutput:
        """Validation and test accuracy, the plan trace between the reference's and the trained
        network's representations of the validation images at each layer, and the history
        (the penalty's hooks are removed first)."""
        from ... import probes as c2f_probes
        from ... import train as c2f_train

        if isinstance(data.regularizer, ReferenceRegularizer):
            data.regularizer.close()
        dev, model = c2f_train.resolve_device(self.device), result.model
        metrics = {"val_acc": accuracy_of(model, data.val, dev), "test_acc": accuracy_of(model, data.test, dev)}
        layers = self.layers()
        before = c2f_probes.layer_representations(data.reference, data.val.x.to(dev), layers)
        after = c2f_probes.layer_representations(model, data.val.x.to(dev), layers)
        metrics |= {f"trace_{layer}": c2f_probes.ot_plan_trace(before[layer], after[layer]) for layer in layers}
        return RunOutput(metrics=metrics, history=result.history)
