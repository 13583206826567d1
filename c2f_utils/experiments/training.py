"""Training runs: one anatomy for every experiment that trains a network.

A :class:`TrainingRun` is an :class:`~c2f_utils.experiments.Experiment` whose run is one call
of :func:`c2f_utils.train.fit` over five parts, each a public method the notebook can call:

=========================  ========================================================
``data()``                 the run's data (:class:`RunData`: its ``train`` split and
                           whatever the other parts read: test split, class names...)
``build_model(data)``      the network, built after the seed is set
``build_criterion(data)``  the training criterion (an ``nn.Module``)
``recipe(data)``           how :func:`~c2f_utils.train.fit` trains (:class:`Recipe`: a
                           :class:`~c2f_utils.train.TrainConfig` and fit's options)
``probes(data, crit)``     the per-epoch callbacks: the chapter's probes and the
                           criterion's own (:func:`c2f_utils.losses.callbacks`)
=========================  ========================================================

:meth:`TrainingRun.run` is exactly::

    data = self.data()
    seed_everything(self.seed)
    model, criterion = self.build_model(data), self.build_criterion(data)
    recipe, callbacks = self.recipe(data), self.probes(data, criterion)
    result = fit(model, data.train, criterion, recipe.config, callbacks=callbacks, **recipe.options)
    return self.outcome(data, result)

and a chapter's *anatomy of one run* cell calls the same parts on ``run.replace(epochs=...)``
(overriding only the number of epochs), so what the reader sees is what the cached run executes.
The parts that build the network and the criterion are named ``build_model`` and
``build_criterion``, not ``model`` and ``criterion``: ``model``, ``criterion``, ``network`` and
``loss`` are fields of the chapters' runs (the network's and the criterion's names, ``-p model
resnet18``, ``-p criteria ce,ls``), in their run keys, and a method cannot share a field's name.

The five fields every training run has (``seed``, ``epochs``, ``lr``, ``batch_size``, ``device``)
are declared here once, with one help text each, and are keyword-only (a subclass's own fields
keep their order).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from .experiment import Experiment
from .parameters import param

if TYPE_CHECKING:
    from torch import nn

    from ..runs import RunOutput
    from ..train import Callback, TrainConfig, TrainResult

__all__ = ["SEED_HELP", "Anatomy", "Recipe", "RunData", "TrainingRun", "fit_parts"]

SEED_HELP = "training seed (initialisation, batch order, and the run's other draws)"
"""The help text of every run's ``seed``: a run that is no :class:`TrainingRun` but shares the chapter's
``seeds`` (a student that follows its teacher) declares its own with it."""


class RunData(Protocol):
    """What :meth:`TrainingRun.data` returns: anything with a ``train`` split that
    :func:`~c2f_utils.train.fit` accepts (a ``(inputs, targets)`` pair or a dataset)."""

    train: Any


@dataclass(frozen=True)
class Recipe:
    """How a run is trained: ``config`` and :func:`~c2f_utils.train.fit`'s keyword ``options``
    (``val_data``, ``regularizer``, ``transform``)."""

    config: TrainConfig
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from ..train import TrainConfig

        if not isinstance(self.config, TrainConfig):
            raise TypeError(f"Expected `config` to be a TrainConfig, got {type(self.config).__name__}")
        allowed = {"val_data", "regularizer", "transform"}
        if not isinstance(self.options, Mapping) or set(self.options) - allowed:
            raise ValueError(f"Expected `options` to hold only {sorted(allowed)}, got {dict(self.options)!r}")


class Anatomy:
    """The five parts of a run that trains one network (:meth:`data`, :meth:`build_model`,
    :meth:`build_criterion`, :meth:`recipe`, :meth:`probes`), :meth:`outcome` of the trained
    network, and :meth:`run` over exactly these (:func:`fit_parts`).

    A mixin for an :class:`~c2f_utils.experiments.Experiment` with a ``seed``: a
    :class:`TrainingRun`, or a run that takes its recipe from another (a student trained with
    its teacher's recipe, which has no ``lr`` or ``batch_size`` of its own).
    """

    def data(self) -> RunData:
        """The run's data; its ``train`` split is what the network is fit on."""
        raise NotImplementedError(f"{type(self).__name__} does not implement data()")

    def build_model(self, data: RunData) -> nn.Module:
        """The network to train (called after :func:`~c2f_utils.train.seed_everything`)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement build_model()")

    def build_criterion(self, data: RunData) -> nn.Module:
        """The training criterion (:func:`c2f_utils.losses.create`)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement build_criterion()")

    def recipe(self, data: RunData) -> Recipe:
        """The :class:`Recipe`: optimizer, schedule and :func:`~c2f_utils.train.fit`'s options."""
        raise NotImplementedError(f"{type(self).__name__} does not implement recipe()")

    def probes(self, data: RunData, criterion: nn.Module) -> Sequence[Callback]:
        """Per-epoch callbacks: the criterion's own (:func:`c2f_utils.losses.callbacks`) by default."""
        from .. import losses

        return list(losses.callbacks(criterion))

    def outcome(self, data: RunData, result: TrainResult) -> RunOutput | dict[str, float]:
        """What the run returns from the trained network; by default its last epoch's history row
        as metrics, and the history."""
        from ..runs import RunOutput

        last = result.history.iloc[-1]
        metrics = {k: float(v) for k, v in last.items() if k != "epoch" and v == v}
        return RunOutput(metrics=metrics, history=result.history)

    def run(self) -> RunOutput | dict[str, float]:
        """:func:`fit_parts` on :meth:`data`."""
        return fit_parts(self, self.data())


def fit_parts(run: Anatomy, data: RunData) -> RunOutput | dict[str, float]:
    """:func:`~c2f_utils.train.fit` over the parts of ``run`` on ``data``, then its outcome: the seed
    (``run.seed``), the network, the criterion, the recipe and the probes, in this order. A run
    trained on other data than its own (an augmentation on top) passes that data."""
    from ..train import fit, seed_everything

    seed_everything(run.seed)
    model, criterion = run.build_model(data), run.build_criterion(data)
    recipe, callbacks = run.recipe(data), run.probes(data, criterion)
    result = fit(model, data.train, criterion, recipe.config, callbacks=callbacks, **recipe.options)
    return run.outcome(data, result)


@dataclass(frozen=True, kw_only=True)
class TrainingRun(Anatomy, Experiment):
    """An experiment that trains one network with :func:`~c2f_utils.train.fit`: the parts of its
    :class:`Anatomy` and the five fields every training run has."""

    seed: int = param(SEED_HELP, ge=0)
    epochs: int = param("training epochs", ge=1)
    lr: float = param("learning rate of the run's optimizer", gt=0)
    batch_size: int = param("mini-batch size", ge=1)
    device: str = param("device to train on", device=True)
