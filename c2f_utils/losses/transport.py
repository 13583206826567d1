"""Representation regularizers: optimal transport between neurons, L2-SP and L2.

Li, Grandvalet, Flamary, Courty & Dou, *Representation Transfer by Optimal
Transport* (arXiv:2007.06737). A neuron is summarised by its activations on the
``n`` examples of the mini-batch; two representations are two *sets* of neurons,
compared by the optimal transport cost between them, which does not change when the
neurons of either representation are permuted.

- :func:`neuron_cost`: the cost matrix of Eq. (3).
- :func:`transport_plan`: the optimal plan with uniform marginals, exact (``ot.emd``)
  or by the proximal-point scheme of IPOT (Xie et al. 2019).
- :class:`OTRegularizer`: :math:`\\Omega_P` (Eq. 4) and the degraded
  :math:`\\Omega_I` (Eq. 5) and :math:`\\Omega_U` (Eq. 6).
- :class:`L2SP` (Li, Grandvalet & Davoine 2018) and :class:`L2Penalty`: the
  parameter regularizers the paper compares with.

References
----------
.. [1] X. Li, Y. Grandvalet, R. Flamary, N. Courty, D. Dou. Representation Transfer
   by Optimal Transport. arXiv:2007.06737, 2020.
.. [2] Y. Xie, X. Wang, R. Wang, H. Zha. A Fast Proximal Point Method for Computing
   Exact Wasserstein Distance. UAI 2019.
.. [3] X. Li, Y. Grandvalet, F. Davoine. Explicit Inductive Bias for Transfer
   Learning with Convolutional Networks. ICML 2018.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import ot
import torch
from torch import Tensor, nn

from .._checks import ConvergenceWarning, check_bool, check_choice, check_number, check_positive_int, check_tensor

__all__ = [
    "L2SP",
    "ConvergenceWarning",
    "L2Penalty",
    "OTRegularizer",
    "ProximalPlan",
    "ipot",
    "neuron_cost",
    "proximal_plan",
    "round_to_marginals",
    "transport_plan",
]

PLANS = ("ot", "identity", "uniform")
SOLVERS = ("exact", "proximal")


def _check_representations(features: Tensor, ref_features: Tensor) -> None:
    for name, value in (("features", features), ("ref_features", ref_features)):
        if not isinstance(value, Tensor):
            raise TypeError(f"Expected `{name}` to be a torch.Tensor, got {type(value).__name__}")
        if value.ndim != 2 or value.shape[0] == 0 or value.shape[1] == 0:
            raise ValueError(f"Expected `{name}` of shape (batch, neurons) with both > 0, got {tuple(value.shape)}")
        if not value.is_floating_point():
            raise TypeError(f"Expected `{name}` of a floating dtype, got {value.dtype}")
        if not torch.isfinite(value.detach()).all():
            bad = int((~torch.isfinite(value.detach())).sum())
            raise ValueError(f"Expected finite activations in `{name}`, got {bad} non-finite value(s)")
    if features.shape[0] != ref_features.shape[0]:
        raise ValueError(
            f"Expected `features` and `ref_features` computed on the same batch, "
            f"got batch sizes {features.shape[0]} and {ref_features.shape[0]}"
        )


def neuron_cost(features: Tensor, ref_features: Tensor) -> Tensor:
    """Distances between the neurons of two representations of the same batch (Eq. 3).

    .. math::
        M_{ij} = \\lVert \\mathbf A_i - \\mathbf T_j \\rVert_2
        = \\Big(\\sum_{k=1}^n (a_{ki} - t_{kj})^2\\Big)^{1/2},

    where column ``i`` of ``features`` (``n x d``) holds the activations
    :math:`\\mathbf A_i` of neuron ``i`` on the ``n`` examples and column ``j`` of
    ``ref_features`` (``n x d'``) those of reference neuron ``j``.

    Computed in float64; squared distances below :math:`10^{-12}` times
    :math:`\\lVert a\\rVert^2 + \\lVert t\\rVert^2` are the rounding residue of the
    cancellation in :math:`\\lVert a\\rVert^2 + \\lVert t\\rVert^2 - 2 a^\\top t` and count as 0
    (identical neurons cost exactly 0);
    the gradient at :math:`M_{ij} = 0` is taken as 0 (a subgradient of the norm), so
    it stays finite. Differentiable with respect to both arguments.

    Returns
    -------
    Tensor ``(d, d')``, float64, on the inputs' device.
    """
    _check_representations(features, ref_features)
    a = features.to(torch.float64).T
    t = ref_features.to(torch.float64).T
    scale = (a * a).sum(1, keepdim=True) + (t * t).sum(1)[None, :]
    sq = scale - 2.0 * (a @ t.T)
    # Rounding leaves a residual of order 1e-16 * scale where the neurons are identical: a squared
    # distance below 1e-12 * scale is cancellation noise and counts as 0.
    positive = sq > 1e-12 * scale
    # sqrt'(0) is infinite: evaluate it only where the cost is positive (double-where trick).
    return torch.where(positive, torch.sqrt(torch.where(positive, sq, torch.ones_like(sq))), torch.zeros_like(sq))


class ProximalPlan(NamedTuple):
    """What :func:`ipot` returns: the plans, the proximal steps taken, and the L1 error of
    the row marginals before rounding (the largest over the batch)."""

    plan: Tensor
    iterations: int
    marginal_error: float


def round_to_marginals(plan: Tensor, a: Tensor, b: Tensor) -> Tensor:
    r"""The nearest feasible plan in the sense of Altschuler, Weed & Rigollet (2017, Alg. 2).

    Rows above their marginal are scaled down to it, then columns; the missing mass
    :math:`e_a = a - P\mathbf 1`, :math:`e_b = b - P^\top\mathbf 1` is added as
    :math:`e_a e_b^\top / \lVert e_a \rVert_1`. The result has marginals ``a`` and ``b``
    exactly (to rounding) and moves the plan by at most
    :math:`2(\lVert P\mathbf 1 - a\rVert_1 + \lVert P^\top \mathbf 1 - b\rVert_1)` in L1.
    Batched over a leading dimension.
    """
    check_tensor("plan", plan, ndim=(2, 3), floating=True)
    check_tensor("a", a, ndim=(1, 2), floating=True)
    check_tensor("b", b, ndim=(1, 2), floating=True)
    if a.shape != plan.shape[:-1] or b.shape != plan.shape[:-2] + plan.shape[-1:] or 0 in plan.shape:
        raise ValueError(
            f"Expected `a` of shape {tuple(plan.shape[:-1])} and `b` of shape "
            f"{tuple(plan.shape[:-2] + plan.shape[-1:])} for a non-empty `plan` of shape {tuple(plan.shape)}, "
            f"got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    for name, value in (("plan", plan), ("a", a), ("b", b)):
        if value.device.type == "cpu" and bool((value < 0).any()):
            raise ValueError(f"Expected `{name}` with entries >= 0, got a minimum of {float(value.min())}")
    rows = plan.sum(-1, keepdim=True)
    plan = plan * torch.clamp(a[..., :, None] / rows.clamp_min(torch.finfo(plan.dtype).tiny), max=1.0)
    cols = plan.sum(-2, keepdim=True)
    plan = plan * torch.clamp(b[..., None, :] / cols.clamp_min(torch.finfo(plan.dtype).tiny), max=1.0)
    err_a = (a - plan.sum(-1)).clamp_min(0)
    err_b = (b - plan.sum(-2)).clamp_min(0)
    mass = err_a.sum(-1, keepdim=True).clamp_min(torch.finfo(plan.dtype).tiny)
    return plan + err_a[..., :, None] * err_b[..., None, :] / mass[..., None]


def _ipot_log_steps(
    kernel: Tensor,
    log_plan: Tensor,
    v: Tensor,
    log_a: Tensor,
    log_b: Tensor,
    first: int,
    max_iter: int,
    tol: float,
    check_every: int,
) -> tuple[Tensor, int, float]:
    """Steps ``first``, ..., ``max_iter`` of :func:`ipot` in the log domain (two ``logsumexp`` a step).

    The fallback of :func:`_ipot_steps` where a scaling step leaves the float64 range;
    returns the plan before rounding, the steps taken and the last row-marginal error."""
    error, k = float("inf"), first - 1
    for k in range(first, max_iter + 1):
        shifted = kernel + log_plan
        u = log_a - torch.logsumexp(shifted + v[:, None, :], dim=2)
        v = log_b - torch.logsumexp(shifted + u[:, :, None], dim=1)
        log_plan = shifted + u[:, :, None] + v[:, None, :]
        if k % check_every == 0 or k == max_iter:
            error = float((log_plan.exp().sum(2) - log_a.exp()).abs().sum(1).max())
            if error <= tol:
                break
    return log_plan.exp(), k, error


def _ipot_steps(
    kernel: Tensor, log_plan: Tensor, log_a: Tensor, log_b: Tensor, max_iter: int, tol: float, check_every: int
) -> tuple[Tensor, int, float]:
    """The steps of :func:`ipot` in the scaling domain, with the log plan brought up to date
    (and the plan recomputed from it) at every check; ``log_plan`` is updated in place."""
    batch, n, m = log_plan.shape
    gibbs = kernel.exp()
    plan = log_plan.exp()
    mu, nu = log_a.exp()[:, :, None], log_b.exp()[:, None, :]
    a = plan.new_empty(batch, n, 1)
    b = plan.new_ones(batch, 1, m)  # exp(v) with v = 0
    b_last = b.clone()  # b at the last check
    sum_log_a, sum_log_b = plan.new_zeros(batch, n, 1), plan.new_zeros(batch, 1, m)  # since the last check
    error, k, last = float("inf"), 0, 0
    for k in range(1, max_iter + 1):
        plan.mul_(gibbs)  # Q = G * P
        torch.bmm(plan, b.transpose(1, 2), out=a)
        torch.div(mu, a, out=a)  # a = mu / (Q b)
        torch.bmm(a.transpose(1, 2), plan, out=b)
        torch.div(nu, b, out=b)  # b = nu / (Q^T a)
        plan.mul_(a).mul_(b)  # P = diag(a) Q diag(b)
        sum_log_a.add_(a.log())
        sum_log_b.add_(b.log())
        if k % check_every == 0 or k == max_iter:
            if not bool(torch.isfinite(sum_log_a).all() and torch.isfinite(sum_log_b).all()):
                # a row or column of Q summed to 0 (or overflowed): redo the steps since the last check in logs
                return _ipot_log_steps(
                    kernel, log_plan, b_last[:, 0].log(), log_a, log_b, last + 1, max_iter, tol, check_every
                )
            # log P^(k) = log P^(last) + (k - last) K + sum log a + sum log b, exactly; the entries the
            # scaling steps flushed below float64's range are recomputed from it.
            log_plan.add_(kernel, alpha=k - last).add_(sum_log_a).add_(sum_log_b)
            torch.exp(log_plan, out=plan)
            sum_log_a.zero_()
            sum_log_b.zero_()
            b_last.copy_(b)
            last = k
            error = float((plan.sum(2) - mu[:, :, 0]).abs().sum(1).max())
            if error <= tol:
                break
    return plan, k, error


def ipot(
    cost: Tensor,
    beta: float = 0.01,
    max_iter: int = 2000,
    tol: float = 1e-3,
    *,
    init: Tensor | None = None,
    check_every: int = 5,
) -> ProximalPlan:
    """Optimal plans with uniform marginals by the proximal-point method IPOT, batched.

    Each iteration is one Bregman-proximal step (Xie et al. 2019, Alg. 1, one inner
    Sinkhorn sweep)

    .. math::
        \\mathbf P^{(k+1)} = \\mathop{\\arg\\min}_{\\mathbf P \\in \\Pi(\\mu, \\nu)}
        \\langle \\mathbf P, \\mathbf C \\rangle + \\beta\\, \\mathrm{KL}(\\mathbf P \\,\\|\\, \\mathbf P^{(k)}),

    whose fixed point is a solution of the unregularized problem (1). The cost is
    divided by its maximum first, so ``beta`` is relative to the largest cost.

    **Scaling domain.** The step is computed as in Alg. 1, with the Gibbs kernel
    :math:`\\mathbf G = \\exp(-\\mathbf C / (\\beta \\max \\mathbf C))` formed once and
    :math:`\\mathbf b^{(0)} = \\mathbf 1`:

    .. math::
        \\mathbf Q = \\mathbf G \\odot \\mathbf P^{(k)}, \\quad
        \\mathbf a = \\mu \\oslash \\mathbf Q \\mathbf b, \\quad
        \\mathbf b = \\nu \\oslash \\mathbf Q^\\top \\mathbf a, \\quad
        \\mathbf P^{(k+1)} = \\mathrm{diag}(\\mathbf a)\\, \\mathbf Q\\, \\mathrm{diag}(\\mathbf b),

    (``b`` carried from step to step): two matrix-vector products and three in-place
    products over the ``d x d'`` matrix a step, no exponential (the log-domain form, two
    ``logsumexp`` a step, was several times slower on the CPU). It runs in float64 whatever
    ``cost``'s dtype (the plan is returned in ``cost``'s dtype): the smallest entries of
    :math:`\\mathbf G` are :math:`e^{-1/\\beta}` (:math:`e^{-100} \\approx 3.7\\times 10^{-44}`
    at the default), at the edge of float32's range, and the entries of the plan off the
    optimal support keep shrinking geometrically.

    Plain scaling steps flush those entries to 0 once they leave float64's range
    (:math:`< 10^{-308}`), and a flushed entry never comes back, where the exact recurrence
    may revive it (seen on a ``6 x 7`` cost at ``tol=1e-8``: the plain steps stall at a row
    error of 1/21). So at every check the log plan is brought up to date exactly,
    :math:`\\log \\mathbf P^{(k)} = \\log \\mathbf P^{(j)} + (k - j)\\,\\log \\mathbf G +
    \\sum_{t=j+1}^{k} (\\log \\mathbf a^{(t)} \\oplus \\log \\mathbf b^{(t)})` since the last
    check ``j``, and the plan recomputed from it (one exponential every ``check_every`` steps).
    Where a row or column of :math:`\\mathbf Q` sums to 0 or a scaling overflows (``beta``
    below about :math:`1/700`, an ``init`` with entries near 0), the steps since the last check
    are redone in the log domain (:math:`\\log \\mathbf a, \\log \\mathbf b` by ``logsumexp``,
    in float64) up to the end: the same recurrence, several times slower.

    **Stopping.** After each column update the columns hold their marginal exactly; the
    iterations stop when the rows do too, to ``tol`` in L1 (total mass 1), checked every
    ``check_every`` steps (a check costs a device synchronisation). The plan is then
    rounded onto the transport polytope (:func:`round_to_marginals`), so its marginals are
    exact. At ``max_iter`` a :class:`ConvergenceWarning` is issued.

    **Warm start.** ``init`` (a previous plan, e.g. the last mini-batch's) replaces the
    uniform plan as :math:`\\mathbf P^{(0)}`; when the cost changed little, the
    proximal steps start next to their fixed point. POT's own proximal solver
    (``ot.solve_batch(method="proximal")``, 0.9.7) has the sign of the proximal term
    reversed (POT issue #842); this is its recurrence with the sign corrected.

    Parameters
    ----------
    cost : Tensor ``(d, d')`` or ``(B, d, d')``
        Cost matrices (non-negative, finite); gradients are not tracked.
    beta : float
        Proximal step parameter, relative to ``cost.max()``.
    max_iter : int
        Maximum number of proximal steps.
    tol : float
        Stopping threshold on :math:`\\lVert \\mathbf P\\mathbf 1 - \\mu \\rVert_1`.
    init : Tensor, optional
        Starting plans, positive, of ``cost``'s shape.
    check_every : int
        Steps between two checks of the tolerance.

    Returns
    -------
    ProximalPlan
        The rounded plans (``cost``'s shape and dtype), the steps taken and the row-marginal
        error before rounding (the largest over the batch).
    """
    if not isinstance(cost, Tensor) or cost.ndim not in (2, 3) or 0 in cost.shape:
        raise ValueError(f"Expected `cost` as a non-empty tensor (d, d') or (B, d, d'), got {cost!r:.80}")
    check_number("beta", beta, low=0, low_inclusive=False)
    check_positive_int("max_iter", max_iter)
    check_number("tol", tol, low=0)
    check_positive_int("check_every", check_every)
    c = cost.detach()
    if not torch.isfinite(c).all() or bool((c < 0).any()):
        raise ValueError("Expected `cost` with finite non-negative entries")
    if init is not None and (not isinstance(init, Tensor) or init.shape != c.shape or bool((init <= 0).any())):
        raise ValueError(f"Expected `init` as a positive plan of shape {tuple(c.shape)}, got {init!r:.80}")
    squeeze = c.ndim == 2
    if squeeze:
        c = c[None]
        init = init[None] if init is not None else None
    batch, n, m = c.shape
    scale = c.amax(dim=(1, 2), keepdim=True).clamp_min(torch.finfo(c.dtype).tiny)
    kernel = -(c.to(torch.float64) / scale.to(torch.float64)) / beta
    log_a = torch.full((batch, n), -float(np.log(n)), dtype=torch.float64, device=c.device)
    log_b = torch.full((batch, m), -float(np.log(m)), dtype=torch.float64, device=c.device)
    if init is None:
        log_plan = log_a[:, :, None] + log_b[:, None, :]
    else:
        start = init.detach().to(torch.float64)
        log_plan = (start / start.sum(dim=(1, 2), keepdim=True)).log()
    plan, k, error = _ipot_steps(kernel, log_plan, log_a, log_b, max_iter, tol, check_every)
    del kernel, log_plan
    if not error <= tol:  # the steps ran to max_iter (a NaN error counts as not converged)
        warnings.warn(
            f"IPOT stopped at max_iter={max_iter} with a row-marginal error of {error:.2e} > tol={tol:.1e}; "
            "the plan was rounded onto the marginals",
            ConvergenceWarning,
            stacklevel=2,
        )
    plan = round_to_marginals(plan.to(c.dtype), log_a.exp().to(c.dtype), log_b.exp().to(c.dtype))
    return ProximalPlan(plan[0] if squeeze else plan, k, error)


def proximal_plan(cost: Tensor, beta: float = 0.01, max_iter: int = 2000, tol: float = 1e-3) -> Tensor:
    """The plans of :func:`ipot` (cold start)."""
    return ipot(cost, beta, max_iter, tol).plan


def transport_plan(
    cost: Tensor, solver: str = "exact", *, beta: float = 0.01, max_iter: int = 2000, tol: float = 1e-3
) -> Tensor:
    """Optimal plan of problem (1) with uniform marginals :math:`1/d` and :math:`1/d'`.

    ``solver="exact"`` solves the linear program with POT's network simplex
    (``ot.emd``, on the CPU, the plan is moved back to ``cost``'s device);
    ``"proximal"`` runs :func:`proximal_plan` on ``cost``'s device. The plan is
    detached: by the envelope theorem the gradient of :math:`\\langle P, M\\rangle`
    at the optimum treats it as a constant.
    """
    check_choice("solver", solver, SOLVERS)
    check_number("beta", beta, low=0, low_inclusive=False)
    check_positive_int("max_iter", max_iter)
    check_number("tol", tol, low=0)
    check_tensor("cost", cost, ndim=2, floating=True)
    if 0 in cost.shape:
        raise ValueError(f"Expected `cost` as a non-empty (d, d') tensor, got shape {tuple(cost.shape)}")
    if solver == "proximal":
        return proximal_plan(cost, beta=beta, max_iter=max_iter, tol=tol)
    c = cost.detach().to("cpu", torch.float64).numpy()
    d, dp = c.shape
    plan = ot.emd(np.full(d, 1.0 / d), np.full(dp, 1.0 / dp), c, numItermax=max(100_000, 50 * d * dp))
    return torch.as_tensor(plan, dtype=cost.dtype, device=cost.device)


class OTRegularizer(nn.Module):
    """Representation regularizer :math:`\\Omega_P` and its degraded versions.

    Called as ``reg(features, ref_features)`` with the ``n x d`` activations of the
    trained network and the ``n x d'`` activations of the frozen reference on the
    same mini-batch:

    .. math::
        \\Omega = \\langle \\mathbf P, \\mathbf M \\rangle_F, \\qquad
        M_{ij} = \\lVert \\mathbf A_i - \\mathbf T_j \\rVert_2 \\quad \\text{(Eq. 3)}

    with :math:`\\mathbf P` the optimal plan of (1) between uniform marginals
    (``plan="ot"``, Eq. 4), the scaled identity :math:`\\mathbf I_d / d`
    (``plan="identity"``, :math:`\\Omega_I`, Eq. 5, needs ``d = d'``) or the uniform
    coupling :math:`\\mathbf 1_{d\\times d'}/(dd')` (``plan="uniform"``,
    :math:`\\Omega_U`, Eq. 6). The gradient treats the plan as a constant (envelope
    theorem, §2.3); the reference activations get no gradient.

    Following Eq. (3), :math:`M` is not normalised by the batch size: the scale of
    :math:`\\Omega` grows like :math:`\\sqrt n`. The value is returned in the features' dtype,
    or in float32 for half-precision features (whose range the sum of a cost may exceed).

    Parameters
    ----------
    plan : {"ot", "identity", "uniform"}
    solver : {"exact", "proximal"}
        How the optimal plan is computed (see :func:`transport_plan`); ignored for
        the fixed plans.
    beta, max_iter, tol : float, int, float
        Parameters of the proximal solver (:func:`ipot`; ``tol`` bounds the L1 error of the
        row marginals before the plan is rounded onto them).
    warm_start : bool
        Start the proximal solver from the last call's plan when the shapes agree. Off by
        default: measured on random 64 x 512 representations moved by a small step, the
        warm start took more proximal steps than a cold one (95 against 35 at ``tol=1e-2``),
        the previous, nearly sparse plan slowing the marginals down. The warm plan is not
        part of a training checkpoint: a resumed run restarts it cold.

    Attributes
    ----------
    last_plan : Tensor or None
        The plan of the last call (detached).
    last_value : float or None
        The last value of :math:`\\Omega`.
    last_iterations, last_marginal_error : int or float, or None
        The proximal solver's steps and its marginal error before rounding, at the last call.
    """

    def __init__(
        self,
        plan: str = "ot",
        solver: str = "exact",
        *,
        beta: float = 0.01,
        max_iter: int = 2000,
        tol: float = 1e-3,
        warm_start: bool = False,
    ) -> None:
        super().__init__()
        self.plan = check_choice("plan", plan, PLANS)
        self.solver = check_choice("solver", solver, SOLVERS)
        self.beta = check_number("beta", beta, low=0, low_inclusive=False)
        self.max_iter = check_positive_int("max_iter", max_iter)
        self.tol = check_number("tol", tol, low=0)
        self.warm_start = check_bool("warm_start", warm_start)
        self.last_plan: Tensor | None = None
        self.last_value: float | None = None
        self.last_iterations: int | None = None
        self.last_marginal_error: float | None = None

    def extra_repr(self) -> str:
        return f"plan={self.plan!r}, solver={self.solver!r}"

    @property
    def last_trace(self) -> float | None:
        """Trace of the last plan (``d = d'`` only): the share of neurons matched to themselves."""
        if self.last_plan is None or self.last_plan.shape[0] != self.last_plan.shape[1]:
            return None
        return float(torch.diagonal(self.last_plan).sum())

    def forward(self, features: Tensor, ref_features: Tensor) -> Tensor:
        _check_representations(features, ref_features)
        d, dp = features.shape[1], ref_features.shape[1]
        if self.plan == "identity" and d != dp:
            raise ValueError(f"Expected d = d' for the identity plan, got d={d} and d'={dp}")
        cost = neuron_cost(features, ref_features.detach())
        if self.plan == "ot" and self.solver == "proximal":
            last = self.last_plan
            warm = self.warm_start and last is not None and last.shape == cost.shape
            init = last.to(cost.device, cost.dtype).clamp_min(torch.finfo(cost.dtype).tiny) if warm else None
            solved = ipot(cost, self.beta, self.max_iter, self.tol, init=init)
            plan, self.last_iterations, self.last_marginal_error = solved
        elif self.plan == "ot":
            plan = transport_plan(cost, self.solver, beta=self.beta, max_iter=self.max_iter, tol=self.tol)
        elif self.plan == "identity":
            plan = torch.eye(d, dtype=cost.dtype, device=cost.device) / d
        else:
            plan = torch.full_like(cost, 1.0 / (d * dp))
        value = (plan * cost).sum()
        self.last_plan = plan.detach()
        self.last_value = float(value.detach())
        return value.to(torch.promote_types(features.dtype, torch.float32))


def _parameters(model: nn.Module) -> dict[str, Tensor]:
    if not isinstance(model, nn.Module):
        raise TypeError(f"Expected `model` to be an nn.Module, got {type(model).__name__}")
    return {name: p for name, p in model.named_parameters() if p.requires_grad}


class L2SP(nn.Module):
    """L2-SP (Li, Grandvalet & Davoine 2018): stay close to the starting point.

    .. math::
        \\Omega(\\mathbf w) = \\frac\\alpha2 \\lVert \\mathbf w_S - \\mathbf w_S^0 \\rVert_2^2
        + \\frac\\beta2 \\lVert \\mathbf w_{\\bar S} \\rVert_2^2,

    where :math:`\\mathbf w_S` are the parameters shared with the pre-trained model
    (starting point :math:`\\mathbf w_S^0`) and :math:`\\mathbf w_{\\bar S}` the new
    ones (the classification head). Called as ``reg(model)``.

    Parameters
    ----------
    reference : nn.Module or mapping of str to Tensor
        The pre-trained model (or its ``state_dict``); its values are copied.
    alpha, beta : float
        Strengths of the two terms.
    new : sequence of str
        Name prefixes of the new parameters (default ``("head.",)``); parameters
        missing from ``reference`` or of another shape are new as well.
    """

    def __init__(
        self,
        reference: nn.Module | Mapping[str, Tensor],
        alpha: float,
        beta: float = 0.0,
        new: Sequence[str] = ("head.",),
    ) -> None:
        super().__init__()
        self.alpha = check_number("alpha", alpha, low=0)
        self.beta = check_number("beta", beta, low=0)
        if isinstance(new, str):
            raise TypeError(f"Expected `new` as a sequence of name prefixes, got the string {new!r}")
        self.new = tuple(new)
        if isinstance(reference, nn.Module):
            values = {k: v for k, v in reference.named_parameters()}
        elif isinstance(reference, Mapping):
            values = dict(reference)
        else:
            raise TypeError(f"Expected `reference` as an nn.Module or a state_dict, got {type(reference).__name__}")
        self._names: dict[str, str] = {}
        for name, value in values.items():
            if name.startswith(self.new):
                continue
            buffer = "sp__" + name.replace(".", "__")
            self.register_buffer(buffer, value.detach().clone())
            self._names[name] = buffer

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, beta={self.beta}, new={self.new}, shared={len(self._names)}"

    def forward(self, model: nn.Module) -> Tensor:
        params = _parameters(model)
        if not params:
            raise ValueError("Expected `model` with trainable parameters, got none")
        shared = new = next(iter(params.values())).new_zeros(())
        for name, p in params.items():
            start = getattr(self, self._names[name]) if name in self._names else None
            if start is not None and start.shape == p.shape:
                shared = shared + (p - start.to(p.device, p.dtype)).pow(2).sum()
            else:
                new = new + p.pow(2).sum()
        return 0.5 * (self.alpha * shared + self.beta * new)


class L2Penalty(nn.Module):
    """Plain L2 regularization (weight decay), :math:`\\frac\\alpha2 \\lVert \\mathbf w \\rVert_2^2`.

    Called as ``reg(model)``, over every trainable parameter.
    """

    def __init__(self, alpha: float) -> None:
        super().__init__()
        self.alpha = check_number("alpha", alpha, low=0)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"

    def forward(self, model: nn.Module) -> Tensor:
        params = _parameters(model)
        if not params:
            raise ValueError("Expected `model` with trainable parameters, got none")
        return 0.5 * self.alpha * sum(p.pow(2).sum() for p in params.values())
