"""Penalties of "Representation transfer by optimal transport": the regularizer of each method
towards a frozen reference network (:data:`PENALTIES`, :func:`penalty`), as
:func:`~c2f_utils.train.fit` takes them, with their epoch callbacks (the plan traces).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch
    from torch import nn

    from ... import losses as c2f_losses
    from ... import models as c2f_models
    from ... import train as c2f_train

__all__ = ["PENALTIES", "Penalty", "ReferenceRegularizer", "Regularizer", "penalty"]

Regularizer = Callable[["torch.Tensor", "c2f_models.ModelOutput"], "torch.Tensor"]
"""What ``fit(regularizer=...)`` calls: ``(inputs, model output) -> penalty`` (a scalar tensor)."""
Penalty = tuple["Regularizer | None", list[Callable[["c2f_train.EpochState"], Any]]]
"""A method's penalty: its :data:`Regularizer` (or None) and the callbacks that record its traces."""


def _neurons(activations: torch.Tensor) -> torch.Tensor:
    """A layer's output as ``(n, d)``: one column per neuron; a convolutional map's channel is
    described by its spatial mean on each of the ``n`` images (as the pooled penultimate layer)."""
    return activations.mean(dim=(2, 3)) if activations.ndim == 4 else activations.flatten(1)


class ReferenceRegularizer:
    """``alpha * (Omega(features, reference features) + Omega(layer, reference layer))`` for
    :func:`fit`, recording the penultimate plan's traces.

    The second term (the paper's intermediate layer, §4.2) is present when ``layer`` names a
    module of ``model`` (and of ``reference``, the same architecture): forward hooks keep that
    module's output of the last forward pass of each network. Call :meth:`close` to remove them.
    """

    def __init__(
        self,
        omega: c2f_losses.OTRegularizer,
        reference: nn.Module,
        alpha: float,
        model: nn.Module | None = None,
        layer: str = "",
    ) -> None:
        self.omega, self.reference, self.alpha = omega, reference, alpha
        self.traces: list[float] = []
        self.inner = copy.deepcopy(omega) if layer else None
        self._seen: dict[str, torch.Tensor] = {}
        self._handles: list[Any] = []
        if layer:
            if model is None:
                raise ValueError(f"Expected the trained `model` with `layer` {layer!r}, got None")
            for role, network in (("model", model), ("reference", reference)):
                modules = dict(network.named_modules())
                if layer not in modules:
                    raise ValueError(f"Expected `layer` among the {role}'s modules, got {layer!r}")
                self._handles.append(modules[layer].register_forward_hook(self._keep(role)))

    def _keep(self, role: str) -> Callable[..., None]:
        def save(_module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
            self._seen[role] = output

        return save

    def close(self) -> None:
        """Remove the forward hooks of the intermediate layer."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def __call__(self, x: torch.Tensor, out: c2f_models.ModelOutput) -> torch.Tensor:
        from ... import models as c2f_models

        value = self.omega(out.features, c2f_models.reference_outputs(self.reference, x).features)
        if self.omega.plan == "ot" and self.omega.last_trace is not None:
            self.traces.append(self.omega.last_trace)
        if self.inner is not None:  # the hooks hold this batch's outputs of the layer
            value = value + self.inner(_neurons(self._seen["model"]), _neurons(self._seen["reference"]))
        return self.alpha * value

    def epoch_trace(self, state: c2f_train.EpochState) -> dict[str, float] | None:
        if state.epoch == 0 or not self.traces:
            return None
        mean, self.traces = float(np.mean(self.traces)), []
        return {"plan_trace": mean}


def _no_penalty(**_: Any) -> Penalty:
    return None, []


def _weights(loss: str, *, alpha: float, model: nn.Module, reference: nn.Module, l2sp_beta: float, **_: Any) -> Penalty:
    """L2 (towards 0) or L2-SP (towards the reference's weights; ``l2sp_beta`` on the new head) of ``model``."""
    from ... import losses as c2f_losses

    options = {"alpha": alpha} if loss == "l2" else {"reference": reference, "alpha": alpha, "beta": l2sp_beta}
    weights = c2f_losses.create(loss, **options)
    return (lambda x, out: weights(model)), []


def _distillation(*, alpha: float, reference: nn.Module, temperature: float, **_: Any) -> Penalty:
    """``alpha`` times KD (KL divergence, :math:`\\tau^2` scaling) towards the reference's logits."""
    from ... import losses as c2f_losses
    from ... import models as c2f_models

    kd = c2f_losses.create("kd", temperature=temperature, divergence="kl", t2_scaling=True)
    return (lambda x, out: alpha * kd(out.logits, c2f_models.reference_outputs(reference, x).logits)), []


def _representation(
    plan: str, *, alpha: float, model: nn.Module, reference: nn.Module, solver: str, layer: str, **_: Any
) -> Penalty:
    """:math:`\\Omega` with the ``plan`` (identity, uniform, ot) on the features, and ``layer``."""
    from ... import losses as c2f_losses

    reg = ReferenceRegularizer(c2f_losses.create("ot", plan=plan, solver=solver), reference, alpha, model, layer)
    return reg, [reg.epoch_trace]


PENALTIES: dict[str, Callable[..., Penalty]] = {
    "none": _no_penalty,
    "l2": functools.partial(_weights, "l2"),
    "l2sp": functools.partial(_weights, "l2sp"),
    "kd": _distillation,
    "omega_i": functools.partial(_representation, "identity"),
    "omega_u": functools.partial(_representation, "uniform"),
    "omega_p": functools.partial(_representation, "ot"),
}
"""Each method's penalty builder, called with the keywords of :func:`penalty`."""


def penalty(
    method: str,
    *,
    alpha: float,
    model: nn.Module | None,
    reference: nn.Module,
    l2sp_beta: float = 0.0,
    temperature: float = 1.0,
    solver: str = "exact",
    layer: str = "",
) -> Penalty:
    """The penalty of ``method`` (:data:`PENALTIES`) towards the frozen ``reference`` and its epoch
    callbacks (``solver``: how :math:`\\Omega_P`'s plan is computed; ``layer``: the intermediate module
    the representation regularizers also penalize, ``""`` for none; ``model``: the trained network,
    which L2, L2-SP and ``layer`` read)."""
    if method not in PENALTIES:
        raise ValueError(f"Expected `method` in {list(PENALTIES)}, got {method!r}")
    return PENALTIES[method](
        alpha=alpha,
        model=model,
        reference=reference,
        l2sp_beta=l2sp_beta,
        temperature=temperature,
        solver=solver,
        layer=layer,
    )
