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

from collections.abc import Mapping, Sequence

import numpy as np
import ot
import torch
from torch import Tensor, nn

from .._checks import check_choice, check_number, check_positive_int

__all__ = ["L2SP", "L2Penalty", "OTRegularizer", "neuron_cost", "proximal_plan", "transport_plan"]

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


def proximal_plan(cost: Tensor, beta: float = 0.01, max_iter: int = 2000, tol: float = 1e-6) -> Tensor:
    """Optimal plans with uniform marginals by the proximal-point method IPOT, batched.

    Each iteration is one Bregman-proximal step (Xie et al. 2019, Alg. 1, one inner
    Sinkhorn sweep, log domain)

    .. math::
        \\mathbf P^{(k+1)} = \\mathop{\\arg\\min}_{\\mathbf P \\in \\Pi(\\mu, \\nu)}
        \\langle \\mathbf P, \\mathbf C \\rangle + \\beta\\, \\mathrm{KL}(\\mathbf P \\,\\|\\, \\mathbf P^{(k)}),

    which converges to a solution of the unregularized problem (1). The cost is
    divided by its maximum first, so ``beta`` is relative to the largest cost.

    This is the recurrence of POT's ``ot.solve_batch(..., method="proximal")``
    (``ot.batch._utils.proximal_bregman_log_plan_batch``) with the sign of the
    proximal term corrected: POT 0.9.7 builds the kernel from
    :math:`\\mathbf C + \\beta \\log \\mathbf P^{(k)}` instead of
    :math:`\\mathbf C - \\beta \\log \\mathbf P^{(k)}`, which makes every second
    iterate nearly uniform (POT issue #842, fixed by PR #844 after 0.9.7). The
    iterations stop when the plan moves by less than ``tol`` in L1 norm.

    Parameters
    ----------
    cost : Tensor ``(d, d')`` or ``(B, d, d')``
        Cost matrices (non-negative, finite); gradients are not tracked.
    beta : float
        Proximal step parameter, relative to ``cost.max()``; smaller converges in
        fewer iterations but needs a finer float precision.
    max_iter : int
        Maximum number of proximal steps.
    tol : float
        Stopping threshold on :math:`\\lVert \\mathbf P^{(k+1)} - \\mathbf P^{(k)}\\rVert_1`.

    Returns
    -------
    Tensor of the shape, dtype and device of ``cost``: plans summing to 1.
    """
    if not isinstance(cost, Tensor) or cost.ndim not in (2, 3) or 0 in cost.shape:
        raise ValueError(f"Expected `cost` as a non-empty tensor (d, d') or (B, d, d'), got {cost!r:.80}")
    check_number("beta", beta, low=0, low_inclusive=False)
    check_positive_int("max_iter", max_iter)
    check_number("tol", tol, low=0)
    c = cost.detach()
    if not torch.isfinite(c).all() or bool((c < 0).any()):
        raise ValueError("Expected `cost` with finite non-negative entries")
    squeeze = c.ndim == 2
    if squeeze:
        c = c[None]
    batch, n, m = c.shape
    scale = c.amax(dim=(1, 2), keepdim=True).clamp_min(torch.finfo(c.dtype).tiny)
    kernel = -(c / scale) / beta
    log_a = torch.full((batch, n), -float(np.log(n)), dtype=c.dtype, device=c.device)
    log_b = torch.full((batch, m), -float(np.log(m)), dtype=c.dtype, device=c.device)
    u, v = torch.zeros_like(log_a), torch.zeros_like(log_b)
    log_plan = log_a[:, :, None] + log_b[:, None, :]
    for k in range(max_iter):
        shifted = kernel + log_plan
        u = log_a - torch.logsumexp(shifted + v[:, None, :], dim=2)
        v = log_b - torch.logsumexp(shifted + u[:, :, None], dim=1)
        new = shifted + u[:, :, None] + v[:, None, :]
        # Checking convergence costs a device sync: do it every 10 steps, like POT.
        done = k % 10 == 9 and float((new.exp() - log_plan.exp()).abs().sum(dim=(1, 2)).max()) < tol
        log_plan = new
        if done:
            break
    plan = log_plan.exp()
    return plan[0] if squeeze else plan


def transport_plan(
    cost: Tensor, solver: str = "exact", *, beta: float = 0.01, max_iter: int = 2000, tol: float = 1e-6
) -> Tensor:
    """Optimal plan of problem (1) with uniform marginals :math:`1/d` and :math:`1/d'`.

    ``solver="exact"`` solves the linear program with POT's network simplex
    (``ot.emd``, on the CPU, the plan is moved back to ``cost``'s device);
    ``"proximal"`` runs :func:`proximal_plan` on ``cost``'s device. The plan is
    detached: by the envelope theorem the gradient of :math:`\\langle P, M\\rangle`
    at the optimum treats it as a constant.
    """
    check_choice("solver", solver, SOLVERS)
    if not isinstance(cost, Tensor) or cost.ndim != 2 or 0 in cost.shape:
        raise ValueError(f"Expected `cost` as a non-empty (d, d') tensor, got {cost!r:.80}")
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
    :math:`\\Omega` grows like :math:`\\sqrt n`.

    Parameters
    ----------
    plan : {"ot", "identity", "uniform"}
    solver : {"exact", "proximal"}
        How the optimal plan is computed (see :func:`transport_plan`); ignored for
        the fixed plans.
    beta, max_iter, tol : float, int, float
        Parameters of the proximal solver.

    Attributes
    ----------
    last_plan : Tensor or None
        The plan of the last call (detached).
    last_value : float or None
        The last value of :math:`\\Omega`.
    """

    def __init__(
        self, plan: str = "ot", solver: str = "exact", *, beta: float = 0.01, max_iter: int = 2000, tol: float = 1e-6
    ) -> None:
        super().__init__()
        self.plan = check_choice("plan", plan, PLANS)
        self.solver = check_choice("solver", solver, SOLVERS)
        self.beta = check_number("beta", beta, low=0, low_inclusive=False)
        self.max_iter = check_positive_int("max_iter", max_iter)
        self.tol = check_number("tol", tol, low=0)
        self.last_plan: Tensor | None = None
        self.last_value: float | None = None

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
        if self.plan == "ot":
            plan = transport_plan(cost, self.solver, beta=self.beta, max_iter=self.max_iter, tol=self.tol)
        elif self.plan == "identity":
            plan = torch.eye(d, dtype=cost.dtype, device=cost.device) / d
        else:
            plan = torch.full_like(cost, 1.0 / (d * dp))
        value = (plan * cost).sum()
        self.last_plan = plan.detach()
        self.last_value = float(value.detach())
        return value.to(features.dtype)


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
