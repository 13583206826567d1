"""Table 2 and §4 of "Representation transfer by optimal transport": compression of a teacher
into a student (:class:`Compress`, its run ``fit`` over the same public parts as a
:class:`~c2f_utils.experiments.TrainingRun`) and the timings of a step and of a plan (:class:`Cost`).
"""

from __future__ import annotations

import copy
import dataclasses
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ...experiments import Anatomy, Experiment, Recipe, param
from ...runs import RunOutput
from .networks import COMPRESSION_METHODS, TRAINED_SOURCES, accuracy_of, load_split, make_model, source_holdout
from .penalties import ReferenceRegularizer, Regularizer, penalty
from .transfer import Finetune, Reference, compression_recipe

if TYPE_CHECKING:
    import torch
    from torch import nn

    from ... import data as c2f_data
    from ... import models as c2f_models
    from ... import train as c2f_train

__all__ = ["Compress", "CompressionData", "Cost"]


@dataclass(frozen=True)
class CompressionData:
    """The parts of one :class:`Compress` run that draw no random number: the pair the student is
    fit on (``train``: 80% of the training split), the held-out 20% (``val``), the test split, the
    frozen ``teacher`` (on the run's device), and the penalty towards it (``regularizer``, ``None``
    for none) with its epoch ``callbacks``."""

    train: tuple[torch.Tensor, torch.Tensor]
    val: c2f_data.LabeledData
    test: c2f_data.LabeledData
    teacher: nn.Module
    regularizer: Regularizer | None
    callbacks: list[Callable[[c2f_train.EpochState], Any]]


@dataclass(frozen=True)
class Compress(Anatomy, Experiment):
    """Table 2: train a student (``"M"``: the teacher's feature width, ``"S"``: slim) with
    ``method`` towards the teacher; metrics ``val_acc`` and ``test_acc``.

    An :class:`~c2f_utils.experiments.Anatomy` (its run is :func:`~c2f_utils.train.fit` over
    :meth:`data`, :meth:`build_model`, :meth:`build_criterion`, :meth:`recipe`, :meth:`probes`) but
    not a :class:`~c2f_utils.experiments.TrainingRun`: it has no ``lr`` nor ``batch_size`` field
    (its recipe fixes them), and adding them would change its runs' keys.
    """

    name: ClassVar[str] = "ot_transfer.compress"
    uses: ClassVar[tuple[str, ...]] = tuple(
        c for c in Finetune.uses if c not in ("models.pretrained_resnet", "probes.transport", "weights")
    )
    component_fields: ClassVar[dict[str, dict[Any, tuple[str, ...]]]] = Reference.component_fields
    dataset: str = param("compression data set", choices=(*TRAINED_SOURCES, "cifar10"))
    student: str = param("student network", choices=("S", "M"))
    method: str = param("regularizer towards the teacher", choices=COMPRESSION_METHODS)
    alpha: float = param("regularization strength (0 for none)", ge=0)
    temperature: float = param("KD temperature (ignored unless the method is KD)", gt=0)
    seed: int = param("training seed (initialisation, batch order, and the run's other draws)", ge=0)
    teacher_epochs: int = param("teacher training epochs", ge=1)
    epochs: int = param("student training epochs", ge=1)
    device: str = param("device to train on", device=True)
    warmup_epochs: int = param("student epochs of linear learning-rate warm-up (fewer than epochs)", ge=0, default=0)
    grad_clip: float = param(
        "clip the gradient to this global L2 norm at every step (0: no clipping)",
        ge=0,
        default=0.0,
        omit_default=True,
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.warmup_epochs and self.warmup_epochs >= self.epochs:
            raise ValueError(f"Expected `warmup_epochs` < epochs ({self.epochs}), got {self.warmup_epochs}")
        if self.method == "omega_i" and self.student != "M":
            raise ValueError(f"Expected `student` 'M' for omega_i (identity plan: d = d'), got {self.student!r}")

    def teacher(self) -> Reference:
        """The teacher's run."""
        return Reference(role="teacher", dataset=self.dataset, epochs=self.teacher_epochs, device=self.device)

    def requires(self) -> list[Experiment]:
        return [self.teacher()]

    def data(self) -> CompressionData:
        """The 80/20 hold-out of the training split, the test split, the cached teacher (frozen, on
        the run's device) and the penalty of ``method`` towards it."""
        from ... import models as c2f_models
        from ... import train as c2f_train

        teacher = c2f_models.freeze(self.teacher().network().to(c2f_train.resolve_device(self.device)))
        (fit_part, val), test = source_holdout(self.dataset), load_split(self.dataset, "test")
        regularizer, callbacks = penalty(
            self.method, alpha=self.alpha, model=None, reference=teacher, temperature=self.temperature
        )
        return CompressionData((fit_part.x, fit_part.fine), val, test, teacher, regularizer, callbacks)

    def build_model(self, data: CompressionData) -> nn.Module:
        """The student network of :func:`make_model`, initialised from the seed."""
        return make_model(self.student, self.dataset)

    def build_criterion(self, data: CompressionData) -> nn.Module:
        """Cross-entropy on the ten classes."""
        from ... import losses as c2f_losses

        return c2f_losses.create("ce")

    def recipe(self, data: CompressionData) -> Recipe:
        """The recipe of the references (batch 64, :func:`compression_recipe`) with the run's
        warm-up and gradient clipping; fit's options: the penalty of ``data`` and the augmentation
        (``None`` on digits)."""
        config, transform = compression_recipe(self.dataset, self.epochs, 64, self.seed, self.device)
        config = dataclasses.replace(config, warmup_epochs=self.warmup_epochs, grad_clip=self.grad_clip or None)
        return Recipe(config, {"regularizer": data.regularizer, "transform": transform})

    def probes(self, data: CompressionData, criterion: nn.Module) -> list[c2f_train.Callback]:
        """The penalty's epoch callbacks and the criterion's."""
        from ... import losses as c2f_losses

        return [*data.callbacks, *c2f_losses.callbacks(criterion)]

    def outcome(self, data: CompressionData, result: c2f_train.TrainResult) -> RunOutput:
        """Held-out and test accuracy of the trained student."""
        from ... import train as c2f_train

        if isinstance(data.regularizer, ReferenceRegularizer):
            data.regularizer.close()
        dev = c2f_train.resolve_device(self.device)
        return RunOutput(
            metrics={
                "val_acc": accuracy_of(result.model, data.val, dev),
                "test_acc": accuracy_of(result.model, data.test, dev),
            }
        )


def _median_ms(fn: Callable[[], Any], repeats: int, device: torch.device) -> float:
    import torch

    def call() -> float:
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - start

    call()  # warm-up
    return 1000 * statistics.median(call() for _ in range(repeats))


def _step_times(network: str, batch_size: int, repeats: int, dev: torch.device) -> dict[str, float]:
    """Median ms of one SGD step of ``network`` with no regularizer, L2-SP and Ω_P (exact, proximal)."""
    import torch
    from torch import nn

    from ... import losses as c2f_losses
    from ... import models as c2f_models
    from ... import train as c2f_train

    c2f_train.seed_everything(0)
    model, shape = (
        (make_model("source"), (1, 8, 8)) if network == "mlp" else (c2f_models.cifar_resnet(20, 10), (3, 32, 32))
    )
    model, x = model.to(dev).train(), torch.rand(batch_size, *shape).to(dev)
    reference = c2f_models.freeze(copy.deepcopy(model))
    y = torch.randint(0, model.head.out_features, (batch_size,), device=dev)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    l2sp = c2f_losses.L2SP(reference, 0.01, 0.01).to(dev)
    regs: dict[str, Callable[[c2f_models.ModelOutput], Any]] = {
        "none": lambda out: 0.0,
        "l2sp": lambda out: l2sp(model),
    }
    for solver in ("exact", "proximal"):
        omega = ReferenceRegularizer(c2f_losses.OTRegularizer("ot", solver), reference, 0.01)
        regs[f"omega_p {solver}"] = lambda out, omega=omega: omega(x, out)

    def step(reg: Callable[[c2f_models.ModelOutput], Any]) -> None:
        out = model(x)
        loss = nn.functional.cross_entropy(out.logits, y) + reg(out)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return {name: _median_ms(lambda reg=reg: step(reg), repeats, dev) for name, reg in regs.items()}


@dataclass(frozen=True)
class Cost(Experiment):
    """§4: median time (ms) of one SGD step per network (no regularizer, L2-SP, Ω_P exact and
    proximal, side by side), and of one plan between two ``n x d`` representations per solver
    and ``d``, with the plan's relative gap to the exact cost."""

    name: ClassVar[str] = "ot_transfer.cost"
    uses: ClassVar[tuple[str, ...]] = ("losses.transport", "models.mlp", "models.resnet", "models.state", "train")
    networks: tuple[str, ...] = param("networks whose step is timed", choices=("mlp", "resnet20"))
    n: int = param("mini-batch size: examples per neuron", ge=2)
    dims: tuple[int, ...] = param("neurons d of the timed plans", ge=1)
    prox_max_dim: int = param("largest d timed with the proximal solver", ge=1)
    repeats: int = param("timed repetitions per measurement (median)", ge=1)
    device: str = param("device to train on", device=True)

    def run(self) -> RunOutput:
        import torch

        from ... import losses as c2f_losses
        from ... import train as c2f_train

        dev = c2f_train.resolve_device(self.device)
        steps = [(net, k, ms) for net in self.networks for k, ms in _step_times(net, self.n, self.repeats, dev).items()]
        g, plans = torch.Generator().manual_seed(0), []
        for d in self.dims:
            cost = c2f_losses.neuron_cost(
                torch.randn(self.n, d, generator=g).to(dev), torch.randn(self.n, d, generator=g).to(dev)
            )
            exact = (c2f_losses.transport_plan(cost, "exact") * cost).sum()
            for solver in ("exact", "proximal") if d <= self.prox_max_dim else ("exact",):
                ms = _median_ms(lambda c=cost, s=solver: c2f_losses.transport_plan(c, s), self.repeats, dev)
                plans.append((d, solver, ms, float((c2f_losses.transport_plan(cost, solver) * cost).sum() / exact - 1)))
        arrays = dict(zip(("network", "regularizer", "step_ms"), map(np.array, zip(*steps, strict=True)), strict=True))
        arrays |= dict(zip(("d", "solver", "ms", "gap"), map(np.array, zip(*plans, strict=True)), strict=True))
        return RunOutput(arrays=arrays)
