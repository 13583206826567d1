"""Transport between the neurons of two representations, as an analysis tool (§5 of
Li et al., *Representation Transfer by Optimal Transport*).

:func:`ot_plan_trace` answers "how many neurons kept their role?": the optimal plan
between two representations of the same inputs (uniform marginals, costs of Eq. 3)
puts mass ``1/d`` on the diagonal for every neuron whose best match is itself.
:func:`layer_representations` reads the activations of named layers with forward
hooks, one neuron per channel for convolutional maps. :func:`permutation_probe` shows
why transport (§2): a copy of a network with permuted feature neurons computes the same
function, is at OT cost 0 from it, and the optimal plan recovers the permutation.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from .._checks import check_module, check_number, check_positive_int, check_tensor
from ..losses.transport import OTRegularizer, neuron_cost, transport_plan
from ..train import extract_features

__all__ = [
    "PlanAnalysis",
    "layer_representations",
    "ot_plan_analysis",
    "ot_plan_trace",
    "permutation_probe",
    "permute_features",
]


@dataclass(frozen=True)
class PlanAnalysis:
    """The optimal plan between two representations and what it says."""

    plan: np.ndarray
    """``(d, d')`` plan with uniform marginals, summing to 1."""
    cost: float
    """:math:`\\langle P, M \\rangle`, the transport cost (:math:`\\Omega_P`)."""
    trace: float | None
    """:math:`\\operatorname{tr} P` in [0, 1] (``d = d'`` only)."""
    match: np.ndarray
    """For each neuron of the first representation, the neuron of the second that gets most of its mass."""


def _as_tensor(name: str, value: Tensor | np.ndarray) -> Tensor:
    if isinstance(value, np.ndarray):
        value = torch.as_tensor(value)
    if not isinstance(value, Tensor):
        raise TypeError(f"Expected `{name}` as a tensor or array, got {type(value).__name__}")
    return value.detach().to(torch.float64)


def _representations(a: Tensor | np.ndarray, b: Tensor | np.ndarray) -> tuple[Tensor, Tensor]:
    """``a`` and ``b`` as float64 ``(n, d)`` and ``(n, d')`` tensors, ``n, d, d' >= 1``, finite."""
    a_t, b_t = _as_tensor("a", a), _as_tensor("b", b)
    for name, t in (("a", a_t), ("b", b_t)):
        check_tensor(name, t, ndim=2)
        if t.shape[1] == 0:
            raise ValueError(f"Expected `{name}` with at least one neuron (column), got shape {tuple(t.shape)}")
    if len(a_t) != len(b_t):
        raise ValueError(f"Expected `a` and `b` on the same inputs, got batch sizes {len(a_t)} and {len(b_t)}")
    return a_t, b_t


def ot_plan_analysis(a: Tensor | np.ndarray, b: Tensor | np.ndarray, solver: str = "exact") -> PlanAnalysis:
    """Optimal plan between representations ``a`` (``n x d``) and ``b`` (``n x d'``) of the same inputs.

    Raises ValueError for empty representations, different numbers of inputs or non-finite activations.
    """
    a_t, b_t = _representations(a, b)
    cost = neuron_cost(a_t, b_t)
    plan = transport_plan(cost, solver)
    square = plan.shape[0] == plan.shape[1]
    return PlanAnalysis(
        plan=plan.cpu().numpy(),
        cost=float((plan * cost).sum()),
        trace=float(torch.diagonal(plan).sum()) if square else None,
        match=plan.argmax(dim=1).cpu().numpy(),
    )


def ot_plan_trace(a: Tensor | np.ndarray, b: Tensor | np.ndarray, solver: str = "exact") -> float:
    """Trace of the optimal plan between two representations of the same inputs.

    .. math::
        \\operatorname{tr} \\mathbf P^\\star, \\quad
        \\mathbf P^\\star \\in \\mathop{\\arg\\min}_{\\mathbf P \\in \\Pi(\\mathbf 1_d/d,\\, \\mathbf 1_d/d)}
        \\langle \\mathbf P, \\mathbf M \\rangle, \\quad M_{ij} = \\lVert \\mathbf a_i - \\mathbf b_j \\rVert_2,

    in [0, 1]: the share of neurons matched to themselves (1 for identical
    representations, about 0 when the neurons are shuffled). Both must have the same
    number ``d`` of neurons and the same number ``n >= 1`` of inputs, with finite values.
    """
    a_t, b_t = _representations(a, b)
    if a_t.ndim == 2 and b_t.ndim == 2 and a_t.shape[1] != b_t.shape[1]:
        raise ValueError(
            f"Expected representations with the same number of neurons, got {a_t.shape[1]} and {b_t.shape[1]}"
        )
    return float(cast(float, ot_plan_analysis(a_t, b_t, solver).trace))


class _LayerShapeError(ValueError):
    """A hooked layer's output is neither ``(N, d)`` nor ``(N, C, H, W)``."""


def _check_inputs(name: str, x: object) -> Tensor:
    """``x`` as a non-empty batch tensor (at least one dimension) with finite values."""
    if isinstance(x, Tensor) and x.ndim == 0:
        raise ValueError(f"Expected `{name}` as a batch (N, ...), got a 0-d tensor")
    return check_tensor(name, x, ndim=x.ndim if isinstance(x, Tensor) else 1)


def _forward(model: nn.Module, x: Tensor) -> object:
    """``model(x)``, an error of the model on its input reported as one of the argument ``x``."""
    try:
        return model(x)
    except _LayerShapeError:
        raise
    except (RuntimeError, ValueError, TypeError) as exc:
        raise ValueError(f"Expected `x` to be a valid input of `model`, got shape {tuple(x.shape)}: {exc}") from exc


@torch.no_grad()
def layer_representations(
    model: nn.Module, x: Tensor, layers: Sequence[str], batch_size: int = 512
) -> dict[str, Tensor]:
    """Activations of the named submodules of ``model`` on ``x``, one column per neuron.

    A fully connected output ``(N, d)`` is returned as is; a convolutional map
    ``(N, C, H, W)`` becomes ``(N * H * W, C)``: a channel is one neuron, observed at
    every position of every input. The model runs in eval mode on ``x``'s device;
    results are on the CPU.

    Parameters
    ----------
    model : nn.Module
    x : Tensor
        A non-empty batch of inputs of ``model``, with finite values.
    layers : sequence of str
        Names of submodules of ``model`` (non-empty).
    batch_size : int
        Inputs per forward pass, >= 1.
    """
    check_module("model", model)
    _check_inputs("x", x)
    batch_size = check_positive_int("batch_size", batch_size)
    if isinstance(layers, str) or not layers:
        raise ValueError(f"Expected `layers` as a non-empty sequence of module names, got {layers!r}")
    modules = dict(model.named_modules())
    missing = [name for name in layers if name not in modules]
    if missing:
        raise ValueError(f"Expected `layers` among the model's modules, got unknown {missing}")
    store: dict[str, list[Tensor]] = {name: [] for name in layers}

    def hook(name: str):
        def save(_module: nn.Module, _inputs: object, output: Tensor) -> None:
            out = output.detach().float()
            if out.ndim == 4:
                out = out.permute(0, 2, 3, 1).reshape(-1, out.shape[1])
            elif out.ndim != 2:
                raise _LayerShapeError(
                    f"Expected layer {name!r} to output (N, d) or (N, C, H, W), got {tuple(out.shape)}"
                )
            store[name].append(out.cpu())

        return save

    handles = [modules[name].register_forward_hook(hook(name)) for name in layers]
    was_training = model.training
    model.eval()
    try:
        for i in range(0, len(x), batch_size):
            _forward(model, x[i : i + batch_size])
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return {name: torch.cat(parts) for name, parts in store.items()}


def permute_features(model: nn.Module, perm: Tensor) -> nn.Module:
    """A copy of an MLP (a ``body`` whose last ``Linear`` makes the features, a linear
    ``head``) whose feature neurons are reordered by ``perm``: the same function, with
    features ``model(x).features[:, perm]``.

    Parameters
    ----------
    model : nn.Module
        An MLP with ``body``, ``head`` and ``feature_dim`` (e.g. :class:`~c2f_utils.models.MLP`).
    perm : Tensor of int ``(feature_dim,)``
        A permutation of ``range(feature_dim)``.
    """
    check_module("model", model, attribute="feature_dim")
    check_tensor("perm", perm, ndim=1, floating=False, min_rows=0)
    if sorted(perm.tolist()) != list(range(model.feature_dim)):
        raise ValueError(f"Expected `perm` to be a permutation of range({model.feature_dim}), got {perm.tolist()}")
    out = copy.deepcopy(model)
    last = [m for m in out.body if isinstance(m, nn.Linear)][-1]
    with torch.no_grad():
        last.weight.copy_(last.weight[perm])
        last.bias.copy_(last.bias[perm])
        out.head.weight.copy_(out.head.weight[:, perm])
    return out


def permutation_probe(
    model: nn.Module, x: Tensor, fractions: Sequence[float] = (0.0, 0.25, 0.5, 1.0), seed: int = 0
) -> pd.DataFrame:
    """:math:`\\Omega_P`, :math:`\\Omega_I` and :math:`\\Omega_U` between an MLP and copies
    with a share of their feature neurons permuted (:func:`permute_features`), on ``x``.

    Each row: the share of neurons moved (a cyclic shift among a random subset drawn
    with ``seed``, so that none of them stays in place), the largest change of the
    logits, the three regularizers, the trace of the optimal plan and the share of
    neurons whose match in the plan is their true counterpart.

    Parameters
    ----------
    model : nn.Module
        An MLP as for :func:`permute_features`.
    x : Tensor
        A non-empty batch of inputs of ``model``, with finite values.
    fractions : sequence of float
        Shares of the feature neurons to move, each in [0, 1].
    seed : int
        Seed of the neurons drawn, >= 0.
    """
    check_module("model", model, attribute="feature_dim")
    _check_inputs("x", x)
    if isinstance(fractions, str):
        raise TypeError(f"Expected `fractions` as a sequence of numbers, got {fractions!r}")
    fractions = list(fractions)
    for frac in fractions:
        check_number("fractions", frac, low=0, high=1)
    seed = check_positive_int("seed", seed, minimum=0)  # torch.Generator refuses NumPy integers
    g, d = torch.Generator().manual_seed(seed), model.feature_dim
    base = extract_features(model, x, device="cpu")
    rows = []
    for frac in fractions:
        k, perm = round(frac * d), torch.arange(d)
        if k >= 2:
            chosen = torch.randperm(d, generator=g)[:k]
            perm[chosen] = chosen[torch.roll(torch.arange(k), 1)]
        out = extract_features(permute_features(model, perm), x, device="cpu")
        plan = ot_plan_analysis(out.features, base.features)
        omega_i, omega_u = (float(OTRegularizer(p)(out.features, base.features)) for p in ("identity", "uniform"))
        moved, logits = (perm != torch.arange(d)).float().mean().item(), float((out.logits - base.logits).abs().max())
        rows.append(
            [moved, logits, plan.cost, omega_i, omega_u, plan.trace, float((plan.match == perm.numpy()).mean())]
        )
    columns = ["neurons moved", "max |Δ logits|", "Ω_P", "Ω_I", "Ω_U", "trace of the plan", "permutation recovered"]
    return pd.DataFrame(rows, columns=columns)
