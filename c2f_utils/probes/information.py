"""Exact empirical information planes of a discrete output, and the IB Lagrangian.

Kudo (TMLR 2025) reads label smoothing as an information bottleneck whose
representation is the model's output :math:`T \\in \\{1, \\dots, K\\}`. Because
:math:`T` is one discrete variable and :math:`p(T \\mid x_i)` is the softmax output
for sample :math:`x_i`, the empirical mutual informations are *computed*, not
estimated (paper §3, §5.1). With :math:`\\hat p(x_i, y)` the empirical joint
(each row one distinct input):

.. math::

    \\hat p(t) = \\sum_i \\hat p(x_i)\\, p(t \\mid x_i), \\qquad
    \\hat p(t, y) = \\sum_i \\hat p(x_i, y)\\, p(t \\mid x_i),

    \\hat I(X;T) = \\sum_i \\hat p(x_i)\\, D_{KL}\\big[p(T \\mid x_i) \\,\\|\\, \\hat p(T)\\big], \\qquad
    \\hat I(T;Y) = \\sum_{t,y} \\hat p(t, y) \\log \\frac{\\hat p(t, y)}{\\hat p(t)\\, \\hat p(y)} .

All values are in nats. The functions here:

- :func:`info_plane`: the point :math:`(\\hat I(X;T), \\hat I(T;Y))` of given outputs;
- :func:`output_mutual_information`: its :math:`\\hat I(X;T)` alone, for outputs without labels;
- :func:`ls_info_plane`: where the label-smoothing optimum lands (Proposition 4.5 in
  closed form; for contradicting labels the optimum :math:`(1-\\alpha)\\hat p(y \\mid x)
  + \\alpha / K`);
- :func:`ib_lagrangian`: the IB-Lagrangian solutions of a finite joint (paper §5.2.2):
  an ``N x K`` logit matrix optimised with Adam on the exact
  :math:`-\\hat I(T;Y) + \\beta \\hat I(X;T)` (Eq. 5).

References
----------
.. [1] S. Kudo. Label Smoothing is a Pragmatic Information Bottleneck. TMLR 2025.
.. [2] N. Tishby, F. C. Pereira, W. Bialek. The information bottleneck method. 1999.
.. [3] A. Kolchinsky, B. D. Tracey, S. Van Kuyk. Caveats for information bottleneck
   in deterministic scenarios. ICLR 2019.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from .._checks import ConvergenceWarning, check_bool, check_device, check_number, check_positive_int

__all__ = [
    "IBSolution",
    "InfoPlanePoint",
    "empirical_joint",
    "entropy",
    "ib_lagrangian",
    "info_plane",
    "label_information",
    "ls_info_plane",
    "output_mutual_information",
]

ArrayLike = np.ndarray | Tensor | Sequence[float]
_SUM_TOL = 1e-4


class InfoPlanePoint(NamedTuple):
    """A point of the information plane, in nats."""

    i_xt: float
    """Empirical :math:`\\hat I(X;T)`."""
    i_ty: float
    """Empirical :math:`\\hat I(T;Y)`."""


def _as_float64(name: str, value: ArrayLike) -> Tensor:
    if isinstance(value, Tensor):
        t = value.detach().to("cpu", torch.float64)
    else:
        try:
            t = torch.as_tensor(np.asarray(value, dtype=np.float64))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"Expected `{name}` to be an array of numbers, got {type(value).__name__}") from exc
    if not torch.isfinite(t).all():
        raise ValueError(f"Expected finite values in `{name}`, got {int((~torch.isfinite(t)).sum())} non-finite")
    return t


def _check_probabilities(name: str, p: Tensor) -> None:
    if p.ndim != 2 or p.shape[0] == 0 or p.shape[1] < 2:
        raise ValueError(f"Expected `{name}` of shape (N, K) with N >= 1 and K >= 2, got {tuple(p.shape)}")
    if (p < 0).any():
        raise ValueError(f"Expected non-negative `{name}`, got a minimum of {float(p.min()):.3g}")
    sums = p.sum(1)
    bad = (sums - 1).abs() > _SUM_TOL
    if bad.any():
        i = int(bad.nonzero()[0])
        raise ValueError(f"Expected every row of `{name}` to sum to 1, got {float(sums[i]):.6g} in row {i}")


def empirical_joint(labels: ArrayLike, n_classes: int | None = None) -> Tensor:
    """The empirical joint :math:`\\hat p(x_i, y)` as an ``(N, K)`` float64 matrix summing to 1.

    Parameters
    ----------
    labels : array
        Either hard labels, integers of shape ``(N,)`` (one label per input:
        :math:`\\hat p(x_i, y) = \\mathbb 1[y = y_i] / N`); or label counts
        ``(N, K)``, non-negative integers such as CIFAR-10H's annotator counts (each
        annotation one sample: :math:`\\hat p(x_i, y) = c_{iy} / \\sum c`); or label
        distributions ``(N, K)`` whose rows sum to 1 (each input weighted
        :math:`1/N`).
    n_classes : int, optional
        ``K`` for hard labels; defaults to ``max(labels) + 1``. Must match ``K`` of a
        matrix.
    """
    return _empirical_joint(labels, n_classes, "labels")


def _label_tensor(name: str, labels: ArrayLike) -> Tensor:
    """``labels`` as a tensor (unchanged if it is one), raising naming ``name`` if it holds no numbers."""
    if isinstance(labels, Tensor):
        return labels
    arr = np.asarray(labels)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"Expected `{name}` to be an array of numbers, got {type(labels).__name__}")
    return torch.as_tensor(arr)


def _empirical_joint(labels: ArrayLike, n_classes: int | None, name: str) -> Tensor:
    """:func:`empirical_joint` with error messages naming the argument ``name``."""
    if n_classes is not None:
        check_positive_int("n_classes", n_classes, minimum=2)
    raw = _label_tensor(name, labels)
    if raw.ndim == 1:
        if raw.is_floating_point() and not torch.equal(raw, raw.round()):
            raise TypeError(f"Expected integer class labels in 1-D `{name}`, got non-integer values")
        y = raw.to(torch.int64)
        if len(y) == 0:
            raise ValueError(f"Expected `{name}` with at least one sample, got none")
        k = n_classes if n_classes is not None else max(int(y.max()) + 1, 2)
        if (y < 0).any() or (y >= k).any():
            raise ValueError(f"Expected `{name}` in [0, {k - 1}], got values in [{int(y.min())}, {int(y.max())}]")
        joint = torch.zeros(len(y), k, dtype=torch.float64)
        joint[torch.arange(len(y)), y] = 1.0 / len(y)
        return joint
    m = _as_float64(name, raw)
    if m.ndim != 2 or m.shape[0] == 0 or m.shape[1] < 2:
        raise ValueError(f"Expected `{name}` of shape (N,) or (N, K) with K >= 2, got {tuple(m.shape)}")
    if n_classes is not None and m.shape[1] != n_classes:
        raise ValueError(f"Expected `{name}` with n_classes={n_classes} columns, got {m.shape[1]}")
    if (m < 0).any():
        raise ValueError(f"Expected non-negative `{name}`, got a minimum of {float(m.min()):.3g}")
    sums = m.sum(1)
    if ((sums - 1).abs() <= _SUM_TOL).all():
        return m / sums[:, None] / len(m)
    if torch.equal(m, m.round()) and (sums > 0).all():
        return m / m.sum()
    i = int(((sums - 1).abs() > _SUM_TOL).nonzero()[0])
    raise ValueError(
        f"Expected `{name}` rows summing to 1 (distributions) or non-negative integer counts with no empty row, "
        f"got a row summing to {float(sums[i]):.6g} in row {i}"
    )


def entropy(p: ArrayLike, dim: int = -1) -> Tensor:
    """Shannon entropy :math:`-\\sum p \\log p` in nats along ``dim`` (``0 \\log 0 = 0``).

    Differentiable for tensors; ``p`` is not renormalised.
    """
    t = p if isinstance(p, Tensor) else torch.as_tensor(np.asarray(p, dtype=np.float64))
    return -torch.special.xlogy(t, t).sum(dim)


def _information_xt(cond: Tensor, px: Tensor, log_cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """The one implementation of :math:`\\hat I(X;T) = \\hat H(T) - \\sum_i \\hat p(x_i) H(p(T \\mid x_i))`.

    Returns ``(I(X;T), H(T))``, differentiable. ``log_cond``, when given, is
    :math:`\\log p(t \\mid x_i)` (a log-softmax): it keeps :math:`H(T \\mid X)` exact and
    its gradient finite for saturated rows; otherwise ``0 log 0 = 0`` by ``xlogy``.
    """
    h_t = entropy(px @ cond)
    h_t_given_x = entropy(cond, dim=1) if log_cond is None else -(cond * log_cond).sum(1)
    return h_t - (px * h_t_given_x).sum(), h_t


def _plane_terms(cond: Tensor, joint: Tensor, log_cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Differentiable exact :math:`(\\hat I(X;T), \\hat I(T;Y))` from ``p(t|x_i)`` and ``p(x_i, y)``.

    :math:`\\hat I(T;Y) = \\hat H(T) + \\hat H(Y) - \\hat H(T, Y)`, finite at zeros by ``xlogy``.
    """
    i_xt, h_t = _information_xt(cond, joint.sum(1), log_cond)
    i_ty = h_t + entropy(joint.sum(0)) - entropy((cond.T @ joint).flatten())
    return i_xt, i_ty


def info_plane(probs: ArrayLike, labels: ArrayLike) -> InfoPlanePoint:
    """Exact empirical information-plane point of a discrete output (Kudo 2025, §3 and §5.1).

    .. math::

        \\hat I(X;T) = \\hat H(T) - \\sum_i \\hat p(x_i) H\\big(p(T \\mid x_i)\\big), \\qquad
        \\hat I(T;Y) = \\hat H(T) + \\hat H(Y) - \\hat H(T, Y),

    with :math:`\\hat p(t, y) = \\sum_i \\hat p(x_i, y) p(t \\mid x_i)` (the Markov chain
    :math:`Y - X - T`).

    Parameters
    ----------
    probs : array, shape (N, K_T)
        Row ``i`` is :math:`p(T \\mid x_i)`, e.g. the softmax output for sample ``i``;
        each row a distinct input.
    labels : array
        Hard labels ``(N,)``, or label counts / distributions ``(N, K)`` for inputs
        with several labels (see :func:`empirical_joint`).

    Returns
    -------
    InfoPlanePoint
        ``(i_xt, i_ty)`` in nats; always ``i_ty <= i_xt`` (data processing inequality).

    Raises
    ------
    ValueError
        If a row of ``probs`` does not sum to 1 or has negative entries, a label is out
        of range, or ``probs`` and ``labels`` have different numbers of rows.
    """
    cond = _as_float64("probs", probs)
    _check_probabilities("probs", cond)
    label_t = _label_tensor("labels", labels)
    if label_t.ndim not in (1, 2):
        raise ValueError(f"Expected `labels` of shape (N,) or (N, K), got {tuple(label_t.shape)}")
    if label_t.shape[0] != cond.shape[0]:
        raise ValueError(
            f"Expected `probs` and `labels` with the same number of rows, got {cond.shape[0]} and {label_t.shape[0]}"
        )
    n_classes = cond.shape[1] if label_t.ndim == 1 else None
    joint = empirical_joint(label_t, n_classes)
    i_xt, i_ty = _plane_terms(cond, joint)
    # Rounding can leave -1e-16 where the exact value is 0.
    return InfoPlanePoint(max(float(i_xt), 0.0), max(float(i_ty), 0.0))


def output_mutual_information(probs: ArrayLike) -> float:
    """Mutual information (nats) between the input and the output class of a classifier.

    .. math:: \\hat I(X; T) = \\hat H\\Big(\\frac1N \\sum_n p_n\\Big) - \\frac1N \\sum_n H(p_n),

    with :math:`p_n = p(T \\mid x_n)` the output distribution for input :math:`n` and the
    empirical input distribution (Müller et al. 2019): the :math:`\\hat I(X;T)` of
    :func:`info_plane`, which needs no labels.

    Raises
    ------
    ValueError
        If ``probs`` is not ``(N, K)`` with ``K >= 2`` or a row is not a distribution.
    """
    cond = _as_float64("probs", probs)
    _check_probabilities("probs", cond)
    px = torch.full((cond.shape[0],), 1.0 / cond.shape[0], dtype=torch.float64)
    return max(float(_information_xt(cond, px)[0]), 0.0)


def label_information(labels: ArrayLike, n_classes: int | None = None) -> InfoPlanePoint:
    """:math:`(\\hat H(Y), \\hat I(X;Y))` of a labeling: the plane's scale and the DPI ceiling.

    Without contradicting labels :math:`\\hat I(X;Y) = \\hat H(Y)`; with them
    :math:`\\hat I(T;Y) \\le \\min(\\hat I(X;T), \\hat I(X;Y))` for every output ``T``
    (data processing inequality). Returned as an :class:`InfoPlanePoint`
    ``(i_xt=H(Y), i_ty=I(X;Y))``.
    """
    joint = empirical_joint(labels, n_classes)
    h_y = float(entropy(joint.sum(0)))
    h_y_given_x = float(entropy(joint.flatten()) - entropy(joint.sum(1)))
    return InfoPlanePoint(h_y, max(h_y - h_y_given_x, 0.0))


def ls_info_plane(alpha: float, class_counts: ArrayLike) -> InfoPlanePoint:
    """Where the label-smoothing optimum lands on the information plane.

    *Hard labels* (``class_counts`` 1-D: the number of training samples per class):
    under Assumptions 4.1 and 4.3 the optimum of :math:`\\mathcal L_{LS}(\\theta;
    \\alpha)` (Eq. 3) is :math:`p(T \\mid x_i) = q_{\\alpha, y_i}` (Eq. 2, uniform
    :math:`r`), a function of :math:`y_i` alone, so :math:`X - Y - T` and
    (Proposition 4.5)

    .. math::

        \\hat I(X;T) = \\hat I(T;Y) = H\\big((1-\\alpha)\\hat\\pi + \\tfrac{\\alpha}{K}\\big)
        - H\\big(q_{\\alpha}\\big), \\qquad
        H(q_\\alpha) = -\\big(1-\\alpha+\\tfrac{\\alpha}{K}\\big)\\log\\big(1-\\alpha+\\tfrac{\\alpha}{K}\\big)
        - (K-1)\\tfrac{\\alpha}{K}\\log\\tfrac{\\alpha}{K},

    with :math:`\\hat\\pi` the class frequencies: :math:`\\hat H(Y)` at
    :math:`\\alpha = 0`, 0 at :math:`\\alpha = 1`.

    *Contradicting labels* (``class_counts`` 2-D ``(N, K)``: counts or distributions
    of the labels of each input, e.g. CIFAR-10H): the cross-entropy against
    :math:`q_{\\alpha, y}` averaged over the labels of :math:`x_i` is minimised by the
    smoothed soft label :math:`p(T \\mid x_i) = (1-\\alpha)\\hat p(Y \\mid x_i) +
    \\alpha / K`, whose point is computed exactly with :func:`info_plane`.
    """
    check_number("alpha", alpha, low=0, high=1)
    counts = _as_float64("class_counts", class_counts)
    if counts.ndim == 2:
        joint = _empirical_joint(counts, None, "class_counts")
        k = joint.shape[1]
        soft = joint / joint.sum(1, keepdim=True)
        i_xt, i_ty = _plane_terms((1 - alpha) * soft + alpha / k, joint)
        return InfoPlanePoint(max(float(i_xt), 0.0), max(float(i_ty), 0.0))
    if counts.ndim != 1 or len(counts) < 2:
        raise ValueError(f"Expected `class_counts` of shape (K,) with K >= 2 or (N, K), got {tuple(counts.shape)}")
    if (counts < 0).any() or counts.sum() <= 0:
        raise ValueError(f"Expected non-negative `class_counts` with a positive total, got {counts.tolist()}")
    k = len(counts)
    pi = counts / counts.sum()
    on, off = 1 - alpha + alpha / k, alpha / k
    h_q = float(entropy(torch.tensor([on, *([off] * (k - 1))], dtype=torch.float64)))
    value = float(entropy((1 - alpha) * pi + alpha / k)) - h_q
    value = max(value, 0.0)
    return InfoPlanePoint(value, value)


@dataclass(frozen=True)
class IBSolution:
    """One IB-Lagrangian solution: its :math:`\\beta`, plane point and optimisation trace."""

    beta: float
    i_xt: float
    i_ty: float
    objective: float
    """Final :math:`-\\hat I(T;Y) + \\beta \\hat I(X;T)`."""
    trace: np.ndarray
    """Objective every ``record_every`` steps (the first entry is at initialisation)."""
    probs: np.ndarray | None = None
    """The solution :math:`p(T \\mid x_i)`, ``(N, K_T)``, when requested."""
    change: float = float("nan")
    """Relative change of the objective over the last ``record_every`` steps,
    :math:`|L_{s} - L_{s-r}| / \\max(1, |L_s|)`."""
    converged: bool = True
    """Whether ``change`` is at most the solver's ``tol`` (otherwise a :class:`ConvergenceWarning` was issued)."""


def ib_lagrangian(
    labels: ArrayLike,
    betas: Sequence[float],
    *,
    n_outputs: int | None = None,
    steps: int = 2000,
    lr: float = 0.05,
    init: str = "random",
    init_scale: float = 1.0,
    warm_start: bool = False,
    seed: int = 0,
    record_every: int = 50,
    keep_probs: bool = False,
    device: str | torch.device = "cpu",
    tol: float = 1e-5,
) -> list[IBSolution]:
    """Solve the empirical IB Lagrangian over all encoders of a finite joint (paper §5.2.2).

    Minimises, for each :math:`\\beta`, Eq. 5 on the empirical distribution,

    .. math::

        \\min_{W \\in \\mathbb R^{N \\times K_T}} \\; -\\hat I(T;Y) + \\beta\\, \\hat I(X;T),
        \\qquad p(T \\mid x_i) = \\operatorname{softmax}(W_i),

    computed exactly and differentiably (:func:`info_plane`'s formulas), with full-batch
    Adam. The softmax of a free ``N x K_T`` matrix can represent any encoder
    (Assumption 4.3), so the solutions trace the empirical IB curve up to local optima
    of this non-convex problem.

    Parameters
    ----------
    labels : array
        Hard labels ``(N,)`` or label counts / distributions ``(N, K)`` (see
        :func:`empirical_joint`). Every class ``0 .. K-1`` must occur (a class without
        samples makes the gradient NaN).
    betas : sequence of float
        Trade-offs :math:`\\beta \\ge 0`; each is solved from the same seeded start.
    n_outputs : int, optional
        Size :math:`K_T` of the output alphabet; defaults to the number of classes.
    steps, lr : int, float
        Adam iterations and learning rate (lr in (0, 10]).
    init : {"random", "labels"}
        Initial logits: ``"random"``, seeded normal noise of standard deviation
        ``init_scale``; ``"labels"``, :math:`\\log(0.9\\, \\hat p(y \\mid x_i) + 0.1/K)` plus
        that noise (a start near the cross-entropy optimum; needs ``n_outputs = K``).
        The IB Lagrangian is not convex (the trivial encoder :math:`p(T \\mid x)
        = p(T)` is a stationary point for every :math:`\\beta`), so the start
        matters; the paper does not state its own.
    init_scale : float
        Standard deviation of the seeded normal initial logits, in [0, 100].
    warm_start : bool
        (A Python or NumPy bool.) Solve the ``betas`` in the given order, each starting from the previous
        solution (continuation along the curve), instead of each from the start.
    seed : int
        Seed of the initial logits.
    record_every : int
        Objective recorded every this many steps.
    keep_probs : bool
        (A Python or NumPy bool.) Keep each solution's ``p(T|x)`` matrix.
    device : str or torch.device
        Where to optimise (``"cuda"`` helps for large ``N``); a device name torch knows.
    tol : float
        Convergence tolerance: a solution whose objective still changed by more than ``tol``
        (relative, :attr:`IBSolution.change`) over its last ``record_every`` steps is not
        converged; :attr:`IBSolution.converged` says so and a :class:`ConvergenceWarning`
        names the :math:`\\beta` values concerned.

    Returns
    -------
    list of IBSolution
        One per :math:`\\beta`, in the given order.

    Raises
    ------
    FloatingPointError
        If the objective becomes NaN or infinite (lower ``lr``); no solution with NaN
        coordinates is returned.
    """
    if len(betas) == 0:
        raise ValueError("Expected at least one value in `betas`, got none")
    for b in betas:
        check_number("betas", b, low=0)
    check_positive_int("steps", steps)
    # Logits beyond a few hundred saturate the softmax to exact zeros, whose logarithms make the
    # objective NaN: the step size and the initial spread are bounded to stay clear of that.
    check_number("lr", lr, low=0, low_inclusive=False, high=10)
    check_number("init_scale", init_scale, low=0, high=100)
    seed = check_positive_int("seed", seed, minimum=0)  # torch.Generator refuses NumPy integers
    check_positive_int("record_every", record_every)
    check_bool("warm_start", warm_start)
    check_bool("keep_probs", keep_probs)
    check_device("device", device)
    check_number("tol", tol, low=0)
    if init not in ("random", "labels"):
        raise ValueError(f"Expected `init` in ['random', 'labels'], got {init!r}")
    joint = empirical_joint(labels)
    empty = (joint.sum(0) == 0).nonzero().flatten().tolist()
    if empty:  # a zero column of the joint gives 0 * log 0 in the gradient: NaN from the first step
        raise ValueError(f"Expected every class of `labels` to occur, got no sample of classes {empty}")
    k_t = joint.shape[1] if n_outputs is None else check_positive_int("n_outputs", n_outputs, minimum=2)
    if init == "labels" and k_t != joint.shape[1]:
        raise ValueError(f"Expected `n_outputs` = {joint.shape[1]} classes with init='labels', got {k_t}")
    noise = torch.randn(joint.shape[0], k_t, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    start = init_scale * noise
    if init == "labels":
        start = start + torch.log(0.9 * joint / joint.sum(1, keepdim=True) + 0.1 / k_t)
    joint = joint.to(device)
    out = []
    for beta in betas:
        window_start = float("nan")
        logits = start.clone().to(device).requires_grad_(True)
        opt = torch.optim.Adam([logits], lr=lr)
        trace = []
        for step in range(steps + 1):
            logp = torch.log_softmax(logits, dim=1)
            i_xt, i_ty = _plane_terms(logp.exp(), joint, logp)
            loss = -i_ty + beta * i_xt
            if step % record_every == 0 or step == steps:
                trace.append(float(loss.detach()))
                if not np.isfinite(trace[-1]):
                    raise FloatingPointError(
                        f"The IB Lagrangian became {trace[-1]} at beta={float(beta)}, step {step}: "
                        f"lower `lr` (got {lr})"
                    )
            if step == steps - record_every:
                window_start = float(loss.detach())
            if step == steps:
                break
            opt.zero_grad()
            loss.backward()
            opt.step()
        if warm_start:
            start = logits.detach().cpu()
        probs = torch.softmax(logits.detach(), dim=1)
        i_xt, i_ty = _plane_terms(probs, joint)
        if not np.isfinite(window_start):  # fewer steps than one window: the change since the start
            window_start = trace[0]
        change = abs(trace[-1] - window_start) / max(1.0, abs(trace[-1]))
        out.append(
            IBSolution(
                beta=float(beta),
                i_xt=max(float(i_xt), 0.0),
                i_ty=max(float(i_ty), 0.0),
                objective=float(-i_ty + beta * i_xt),
                trace=np.asarray(trace),
                probs=probs.cpu().numpy() if keep_probs else None,
                change=change,
                converged=change <= tol,
            )
        )
    slow = [s.beta for s in out if not s.converged]
    if slow:
        warnings.warn(
            f"ib_lagrangian: {len(slow)} of {len(out)} solutions not converged after steps={steps} (relative change "
            f"over the last {min(record_every, steps)} steps > tol={tol:g}) at beta {slow}; raise `steps` or `lr`",
            ConvergenceWarning,
            stacklevel=2,
        )
    return out
