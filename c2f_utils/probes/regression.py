"""Reading a continuous fine target off features: 1-D optimal transport, softmax-linear heads.

FIERCE's age experiment (Baena et al. 2022, §5.1) trains a network with a 1-D feature
on a coarse split of age, then predicts each age by transporting the distribution of
the features onto the (assumed known) distribution of ages: in one dimension the
optimal transport plan is the monotone rearrangement (Villani 2009, Thm 2.18), i.e.
matching sorted features to sorted ages. The prediction is then interpolated with the
mean target of the predicted class.

FIERCE's unmixing experiment (§5.2, Table 1) reads a vector of proportions (material
abundances, a point of the simplex) off frozen features with a *transfer head*: a
linear map followed by a softmax, fit with the squared error on standardised features, to
convergence (:func:`transfer_mse`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import ot
import torch
from torch import Tensor, nn

from .._checks import (
    as_array,
    check_choice,
    check_device,
    check_logits,
    check_magnitude,
    check_number,
    check_positive_int,
    check_probs,
    check_same_length,
    check_tensor,
)
from ..models import ModelOutput
from ..train import resolve_device
from .linear import ArrayLike

__all__ = [
    "WHITEN_RCOND",
    "OTRegressionResult",
    "SoftmaxHead",
    "TransferResult",
    "ot_regression_1d",
    "simplex_mse",
    "softmax_mse",
    "transfer_mse",
    "transport_1d",
]


@dataclass(frozen=True)
class OTRegressionResult:
    """Result of :func:`ot_regression_1d`.

    ``mse_self`` and ``beta_self``: the best interpolation weight chosen on the evaluated
    set itself (the paper's protocol and the official code's); ``mse_val`` and
    ``beta_val``: the weight chosen on the validation set, then applied to the evaluated
    set (``nan`` without a validation set). ``mse_by_beta`` is the evaluated-set MSE for
    every weight of ``betas``; ``mse_class_mean`` the MSE of predicting each class's mean
    (``beta = 1``: no information from the features); ``sign`` the orientation used.
    """

    mse_self: float
    beta_self: float
    mse_val: float
    beta_val: float
    mse_class_mean: float
    mse_transport: float
    sign: int
    betas: np.ndarray
    mse_by_beta: np.ndarray
    prediction: np.ndarray


def transport_1d(values: ArrayLike, reference: ArrayLike) -> np.ndarray:
    r"""Image of each value under the optimal transport map onto ``reference``'s distribution.

    With uniform weights, the exact 1-D plan :math:`P` (``ot.emd_1d``) is turned into a
    map by barycentric projection, :math:`\hat y_i = N \sum_j P_{ij}\, y_j` (``N`` values),
    which for equal sizes and distinct values sends the ``k``-th smallest value to the
    ``k``-th smallest reference value. Equal values get the mean of their images (their
    order in ``values`` decides nothing).
    """
    x = as_array("values", values, 1).astype(np.float64)
    y = as_array("reference", reference, 1).astype(np.float64)
    if len(x) == 0 or len(y) == 0:
        raise ValueError(f"Expected non-empty `values` and `reference`, got {len(x)} and {len(y)}")
    plan = ot.emd_1d(x, y, dense=False).tocsr()
    matched = np.asarray(plan @ y).ravel() * len(x)
    # Equal values are indistinguishable: each gets the mean of what the group is matched to. The
    # plan's split among them follows their order in the array, which may carry the target
    # (files sorted by age): a constant feature must predict the mean, whatever the order.
    _, group = np.unique(x, return_inverse=True)
    return (np.bincount(group, weights=matched) / np.bincount(group))[group]


def _orientation(features: np.ndarray, predicted: np.ndarray, class_means: np.ndarray) -> int:
    """+1 if the features increase with the class mean target of the predicted class."""
    order = np.argsort(class_means)
    lo, hi = order[0], order[-1]
    if not ((predicted == lo).any() and (predicted == hi).any()):
        return 1  # one predicted class: the features carry no orientation, keep them as they are
    return 1 if features[predicted == hi].mean() >= features[predicted == lo].mean() else -1


def _interpolate(
    features: np.ndarray, predicted: np.ndarray, targets: np.ndarray, class_means: np.ndarray, sign: int
) -> tuple[np.ndarray, np.ndarray]:
    matched = transport_1d(sign * features, targets)
    return matched, class_means[predicted]


def _mse_curve(matched: np.ndarray, means: np.ndarray, targets: np.ndarray, betas: np.ndarray) -> np.ndarray:
    pred = betas[:, None] * means[None, :] + (1 - betas[:, None]) * matched[None, :]
    return ((pred - targets[None, :]) ** 2).mean(1)


def ot_regression_1d(
    features: ArrayLike,
    predicted_class: ArrayLike,
    targets: ArrayLike,
    class_means: ArrayLike,
    *,
    val: tuple[ArrayLike, ArrayLike, ArrayLike] | None = None,
    betas: ArrayLike | None = None,
    orientation: str = "class",
) -> OTRegressionResult:
    r"""Predict a continuous target from 1-D features by 1-D optimal transport (FIERCE §5.1).

    1. Orient the features: ``sign = +1`` if the samples predicted in the class with the
       largest mean target have larger features than those predicted in the class with
       the smallest (``orientation="class"``, uses no target); ``"oracle"`` keeps the
       orientation with the lower MSE (uses the targets, as a flip "if needed" does).
    2. Transport: :math:`\hat z_n = T(\text{sign}\cdot r_n)`, the monotone map of the
       features onto the distribution of the targets (:func:`transport_1d`); the
       target distribution is assumed known, as in the paper: here, the evaluated
       set's own targets (only their distribution is used, not their pairing).
    3. Interpolate with the mean target :math:`m_{c(n)}` of the predicted class:
       :math:`\hat z_n(\beta) = \beta m_{c(n)} + (1-\beta) \hat z_n`, for every ``beta``.

    Parameters
    ----------
    features : (N,) or (N, 1) array
        1-D features of the evaluated set.
    predicted_class : (N,) int array
        The network's predicted coarse class.
    targets : (N,) array
        The true fine targets (their distribution feeds step 2; the MSE compares with them).
    class_means : (C,) array
        Mean target of each coarse class (from the training set), ``C >= 1``.
    val : (features, predicted_class, targets), optional
        A validation set on which ``beta`` is chosen for ``mse_val``: a tuple or list of
        three arrays.
    betas : array, optional
        Interpolation weights in [0, 1]; 101 evenly spaced by default.
    orientation : {"class", "oracle"}
        How the sign of the features is chosen (step 1).
    """
    check_choice("orientation", orientation, ("class", "oracle"))
    f = as_array("features", features, (1, 2)).astype(np.float64)
    if f.ndim == 2 and f.shape[1] != 1:
        raise ValueError(f"Expected 1-D `features` (N,) or (N, 1), got shape {f.shape}")
    f = f.ravel()
    c = as_array("predicted_class", predicted_class, 1)
    z = check_magnitude("targets", as_array("targets", targets, 1).astype(np.float64))
    m = check_magnitude("class_means", as_array("class_means", class_means, 1).astype(np.float64))
    if len(m) == 0:
        raise ValueError("Expected `class_means` with at least one class, got none")
    check_same_length("features", f, "predicted_class", c)
    check_same_length("features", f, "targets", z)
    if c.dtype.kind not in "iu" or c.min() < 0 or c.max() >= len(m):
        raise ValueError(f"Expected `predicted_class` integers in [0, {len(m) - 1}], got values {np.unique(c)[:10]}")
    grid = np.linspace(0, 1, 101) if betas is None else as_array("betas", betas, 1).astype(np.float64)
    if len(grid) == 0 or grid.min() < 0 or grid.max() > 1:
        raise ValueError(f"Expected `betas` in [0, 1], got {grid}")

    sign = _orientation(f, c, m)
    matched, means = _interpolate(f, c, z, m, sign)
    curve = _mse_curve(matched, means, z, grid)
    if orientation == "oracle":
        matched_f, _ = _interpolate(f, c, z, m, -sign)
        curve_f = _mse_curve(matched_f, means, z, grid)
        if curve_f.min() < curve.min():
            sign, matched, curve = -sign, matched_f, curve_f
    best = int(np.argmin(curve))

    mse_val = beta_val = float("nan")
    if val is not None:
        if not isinstance(val, tuple | list) or len(val) != 3:
            raise TypeError(
                f"Expected `val` as a triple (features, predicted_class, targets), got {type(val).__name__}"
            )
        vf = as_array("val features", val[0], (1, 2)).astype(np.float64).ravel()
        vc = as_array("val predicted_class", val[1], 1)
        if vc.dtype.kind not in "iu" or (len(vc) and (vc.min() < 0 or vc.max() >= len(m))):
            raise ValueError(
                f"Expected `val` predicted_class integers in [0, {len(m) - 1}], got values {np.unique(vc)[:10]}"
            )
        vz = check_magnitude("val targets", as_array("val targets", val[2], 1).astype(np.float64))
        check_same_length("val features", vf, "val predicted_class", vc)
        check_same_length("val features", vf, "val targets", vz)
        # The validation set uses the orientation chosen on it the same way, never the evaluated set's.
        vsign = _orientation(vf, vc, m) if orientation == "class" else sign
        vmatched, vmeans = _interpolate(vf, vc, vz, m, vsign)
        beta_val = float(grid[int(np.argmin(_mse_curve(vmatched, vmeans, vz, grid)))])
        mse_val = float(_mse_curve(matched, means, z, np.array([beta_val]))[0])
    prediction = grid[best] * means + (1 - grid[best]) * matched
    return OTRegressionResult(
        mse_self=float(curve[best]),
        beta_self=float(grid[best]),
        mse_val=mse_val,
        beta_val=beta_val,
        mse_class_mean=float(((means - z) ** 2).mean()),
        mse_transport=float(((matched - z) ** 2).mean()),
        sign=sign,
        betas=grid,
        mse_by_beta=curve,
        prediction=prediction,
    )


# --------------------------------------------------------------------------- softmax-linear transfer head


class SoftmaxHead(nn.Module):
    r"""A linear map whose softmax predicts a point of the simplex (FIERCE's transfer head, Table 1).

    .. math:: \hat a = \operatorname{softmax}(W r + b),\qquad W \in \mathbb R^{m \times d}

    Parameters
    ----------
    in_features : int
        Size ``d`` of the (frozen) features it reads.
    out_features : int
        Number ``m`` of proportions it predicts (materials).
    generator : torch.Generator, optional
        Draws the initial weights (``nn.Linear``'s initialisation); torch's global generator without one.

    Notes
    -----
    :meth:`forward` returns a :class:`~c2f_utils.models.ModelOutput` (logits ``W r + b``,
    features ``r`` unchanged), so the head trains with :func:`~c2f_utils.train.fit`.
    """

    def __init__(self, in_features: int, out_features: int, generator: torch.Generator | None = None) -> None:
        super().__init__()
        check_positive_int("in_features", in_features)
        check_positive_int("out_features", out_features)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"Expected `generator` to be a torch.Generator or None, got {generator!r}")
        if generator is None:
            self.head = nn.Linear(in_features, out_features)
        else:  # nn.Linear's own initialisation, drawn from `generator` (none from torch's global one)
            self.head = torch.nn.utils.skip_init(nn.Linear, in_features, out_features)
            bound = 1 / math.sqrt(in_features)
            with torch.no_grad():
                nn.init.kaiming_uniform_(self.head.weight, a=math.sqrt(5), generator=generator)
                nn.init.uniform_(self.head.bias, -bound, bound, generator=generator)

    def forward(self, x: Tensor) -> ModelOutput:
        """Logits :math:`W x + b` of the ``(N, d)`` features ``x``, and ``x`` as the features.

        ``x`` must be a floating-point tensor of width ``d = in_features``, with finite values.
        """
        check_tensor("x", x, ndim=2, floating=True, min_rows=0)
        if x.dtype != self.head.weight.dtype:
            raise TypeError(f"Expected `x` of dtype {self.head.weight.dtype} (the head's parameters), got {x.dtype}")
        if x.shape[1] != self.head.in_features:
            raise ValueError(f"Expected `x` of shape (N, {self.head.in_features}), got {tuple(x.shape)}")
        return ModelOutput(self.head(x), x)


def _check_simplex_pair(pred_name: str, pred: Tensor, target_name: str, target: Tensor) -> None:
    """``pred`` (logits or probabilities, already checked) and ``target`` proportions of the same shape."""
    check_probs(target_name, target, atol=0.1, min_entry=-0.01)
    if pred.shape != target.shape:
        raise ValueError(
            f"Expected `{pred_name}` and `{target_name}` of the same shape (N, m), "
            f"got {tuple(pred.shape)} and {tuple(target.shape)}"
        )


def softmax_mse(logits: Tensor, target: Tensor) -> Tensor:
    r"""Mean over samples of the squared :math:`L_2` error of the softmax output (differentiable).

    .. math:: \frac1N \sum_{n=1}^N \big\|\operatorname{softmax}(z_n) - a_n\big\|_2^2

    The official code's raw and transfer MSE (Eq. 14 of the paper has a square root
    inside the sum; the printed numbers are this one). ``logits`` and ``target`` are
    ``(N, m)``, ``N >= 1``, ``m >= 2``; returns a scalar tensor, usable as a training
    criterion.

    Parameters
    ----------
    logits : Tensor ``(N, m)``
        Finite logits (``-inf`` allowed: a zero proportion).
    target : Tensor ``(N, m)``
        Proportions: finite, entries >= 0 and rows summing to 1 up to the noise of
        ground-truth files (an entry down to -0.01 and a row sum within 0.1 of 1 pass).
    """
    check_logits("logits", logits)
    _check_simplex_pair("logits", logits, "target", target)
    return (torch.softmax(logits, dim=1) - target).square().sum(1).mean()


def simplex_mse(probs: Tensor, target: Tensor) -> float:
    r""":math:`\frac1N \sum_n \|p_n - a_n\|_2^2` for predicted proportions ``probs`` (N, m), as a float.

    The evaluation counterpart of :func:`softmax_mse` for outputs already on the simplex
    (a classifier's softmax read as abundances: the *raw MSE* of Table 1).

    Parameters
    ----------
    probs : Tensor ``(N, m)``
        Probabilities: finite, entries >= 0, rows summing to 1 (within 1e-4).
    target : Tensor ``(N, m)``
        Proportions, checked as in :func:`softmax_mse`.
    """
    check_probs("probs", probs)
    _check_simplex_pair("probs", probs, "target", target)
    return float((probs - target).square().sum(1).mean())


WHITEN_RCOND = 1e-5
"""Directions of the centred features whose singular value is below this fraction of the largest
are dropped by :func:`transfer_mse`'s whitening (float32 features carry rounding noise at
about 1e-7 of their scale; dead ReLU units are constant)."""


@dataclass(frozen=True)
class TransferResult:
    """Result of :func:`transfer_mse`.

    ``train_mse``: the chosen head's MSE on every training row (fit and validation rows: the
    paper's protocol reads it); ``test_mse`` on the test rows; ``val_mse`` on the validation
    rows, which chose the parameters; ``iterations``: the function evaluation that gave them;
    ``stopped``: the evaluations run; ``converged``: whether the fit stopped on its tolerance
    or its patience rather than on ``max_iter``; ``rank``: the whitened directions kept.
    """

    train_mse: float
    test_mse: float
    val_mse: float
    iterations: int
    stopped: int
    converged: bool
    rank: int


def _whitener(x: Tensor) -> tuple[Tensor, Tensor]:
    """``(mean, projection)`` with ``(x - mean) @ projection`` centred, uncorrelated, of unit variance."""
    mean = x.mean(0)
    _, sv, vt = torch.linalg.svd(x - mean, full_matrices=False)
    keep = sv > WHITEN_RCOND * sv[0] if sv[0] > 0 else torch.zeros_like(sv, dtype=torch.bool)
    if not bool(keep.any()):  # constant features: the head can only learn the mean proportions
        return mean, torch.zeros(x.shape[1], 1, dtype=x.dtype, device=x.device)
    return mean, vt[keep].T / (sv[keep] / math.sqrt(len(x)))


class _Patience(Exception):
    """Raised inside an L-BFGS closure to stop a fit whose validation MSE stopped improving."""


def _mse(logits: Tensor, a: Tensor) -> Tensor:
    """:func:`softmax_mse` without its checks (called at every evaluation of an L-BFGS fit)."""
    return (torch.softmax(logits, 1) - a).square().sum(1).mean()


def transfer_mse(
    train_features: Tensor,
    train_targets: Tensor,
    test_features: Tensor,
    test_targets: Tensor,
    seed: int,
    *,
    val_rows: Tensor | None = None,
    val_fraction: float = 0.2,
    max_iter: int = 500,
    patience: int = 25,
    tolerance: float = 1e-10,
    device: str = "cpu",
) -> TransferResult:
    r"""Transfer MSE of frozen features: a softmax-linear head fit to convergence, stopped on validation rows.

    The head :math:`\hat a = \operatorname{softmax}(W z + b)` (:class:`SoftmaxHead`) reads the
    *whitened* features :math:`z = P^\top (r - \bar r)`: centred with the mean of the rows it
    is fit on and rotated and scaled by their singular value decomposition to unit,
    uncorrelated variance (directions below :data:`WHITEN_RCOND` of the largest singular value
    dropped). A linear head on :math:`z` is a linear head on :math:`r`, so the model is the
    paper's; whitening only makes the fit as easy for every set of features: features of
    different criteria differ in norm by an order of magnitude and are strongly correlated,
    and the result no longer depends on that (it is invariant to any invertible affine map of
    the features). It minimises, full batch,

    .. math:: \frac1N \sum_{n=1}^N \|\hat a_n - a_n\|_2^2

    by L-BFGS with a strong-Wolfe line search (``torch.optim.LBFGS``) on the training rows
    less validation rows (``val_rows``, or a seeded random ``val_fraction`` of them; never the
    test rows), and keeps the evaluated parameters with the lowest validation MSE (early
    stopping). It stops when the objective or the step changes by less than ``tolerance``
    in one iteration (L-BFGS's own test), when the validation MSE has not improved for
    ``patience`` function evaluations, or after ``max_iter`` iterations. The official code
    instead trains the head with Adam (:math:`10^{-2}`, mini-batches of 200) for a fixed 100
    epochs on the raw features, which does not converge on features of large norm. The head
    starts from its own generator seeded with ``seed``; torch's global random state is not
    touched.

    Parameters
    ----------
    train_features, test_features : Tensor
        ``(N, d)`` frozen features, finite, ``N >= 1`` (the training part needs at least two
        rows: one to fit, one to validate); read as float64.
    train_targets, test_targets : Tensor
        ``(N, m)`` proportions (rows on the simplex), checked as in :func:`softmax_mse`.
    seed : int
        Seed of the head's initialisation and of the random validation rows, >= 0.
    val_rows : Tensor, optional
        Boolean mask (one per training row) or indices of the training rows held out for the
        stopping (a spatial block of an image, say); some rows must remain to fit.
    val_fraction : float
        Share of random training rows held out when ``val_rows`` is not given, in (0, 1).
    max_iter : int
        Most L-BFGS iterations.
    patience : int
        Function evaluations without a better validation MSE before stopping.
    tolerance : float
        Change of the objective in one iteration below which the fit has converged, > 0.
    device : str
        Where the head is fit: ``"auto"`` or a device name torch knows.

    Returns
    -------
    TransferResult
        Training, test and validation MSE of the chosen iterate, and how the fit stopped.

    References
    ----------
    Baena, Drumetz & Gripon (2022), §5.2 and Table 1 ("transfer MSE").
    """
    for name, feats, targets in (
        ("train", train_features, train_targets),
        ("test", test_features, test_targets),
    ):
        check_tensor(f"{name}_features", feats, ndim=2, floating=True)
        check_probs(f"{name}_targets", targets, rows=len(feats), like=f"{name}_features", atol=0.1, min_entry=-0.01)
    seed = check_positive_int("seed", seed, minimum=0)
    max_iter = check_positive_int("max_iter", max_iter)
    patience = check_positive_int("patience", patience)
    tolerance = check_number("tolerance", tolerance, low=0, low_inclusive=False)
    val_fraction = check_number("val_fraction", val_fraction, low=0, high=1, low_inclusive=False, high_inclusive=False)
    if not (isinstance(device, str) and device == "auto"):
        check_device("device", device, str_only=True)
    if train_features.shape[1] != test_features.shape[1] or train_targets.shape[1] != test_targets.shape[1]:
        raise ValueError(
            f"Expected train and test of equal widths, got features {train_features.shape[1]} and "
            f"{test_features.shape[1]}, targets {train_targets.shape[1]} and {test_targets.shape[1]}"
        )
    n = len(train_features)
    held = torch.zeros(n, dtype=torch.bool)
    if val_rows is None:
        if n < 2:
            raise ValueError(
                f"Expected `train_features` with at least 2 rows (fit rows and `val_fraction`'s held-out rows), got {n}"
            )
        size = min(n - 1, max(1, round(val_fraction * n)))  # at least one row on each side
        held[torch.as_tensor(np.random.default_rng(seed).permutation(n)[:size])] = True
    else:
        rows = check_tensor("val_rows", val_rows, ndim=1, min_rows=1).cpu()
        if rows.dtype == torch.bool:
            if len(rows) != n:
                raise ValueError(f"Expected `val_rows` as a mask of the {n} training rows, got {len(rows)} entries")
            held = rows
        elif rows.is_floating_point() or int(rows.min()) < 0 or int(rows.max()) >= n:
            raise ValueError(f"Expected `val_rows` as a mask or indices of the {n} training rows, got {rows[:10]}")
        else:
            held[rows] = True
    if held.all() or not held.any():
        raise ValueError(
            f"Expected `val_rows` to hold out some but not all of the {n} training rows, got {int(held.sum())}"
        )
    where = resolve_device(device)
    xtr, xte = train_features.to(where, torch.float64), test_features.to(where, torch.float64)
    atr, ate = train_targets.to(where, torch.float64), test_targets.to(where, torch.float64)
    for name, feats in (("train_features", xtr), ("test_features", xte)):
        if not bool(torch.isfinite(feats).all()):
            raise ValueError(
                f"Expected `{name}` within the range of float64, got {int((~torch.isfinite(feats)).sum())} others"
            )
    held = held.to(where)
    mean, proj = _whitener(xtr[~held])
    ztr, zte = (xtr - mean) @ proj, (xte - mean) @ proj
    z_fit, a_fit, z_val, a_val = ztr[~held], atr[~held], ztr[held], atr[held]
    head = SoftmaxHead(proj.shape[1], atr.shape[1], generator=torch.Generator().manual_seed(seed)).to(
        where, torch.float64
    )
    opt = torch.optim.LBFGS(
        head.parameters(), lr=1, max_iter=max_iter, max_eval=2 * max_iter, history_size=20,
        line_search_fn="strong_wolfe", tolerance_grad=1e-12, tolerance_change=tolerance,
    )  # fmt: skip
    track = {"evals": 0, "best": math.inf, "at": 0, "state": None}

    def closure() -> Tensor:
        opt.zero_grad()
        loss = _mse(head(z_fit).logits, a_fit)
        loss.backward()
        with torch.no_grad():  # every parameter L-BFGS evaluates is a candidate; the validation rows pick
            current = float(_mse(head(z_val).logits, a_val))
        track["evals"] += 1
        if current < track["best"]:
            track.update(best=current, at=track["evals"], state={k: v.clone() for k, v in head.state_dict().items()})
        elif track["evals"] - track["at"] >= patience:
            raise _Patience
        return loss

    converged = True
    try:
        opt.step(closure)
        converged = int(opt.state_dict()["state"][0]["n_iter"]) < max_iter and track["evals"] < 2 * max_iter
    except _Patience:
        pass
    head.load_state_dict(track["state"])
    with torch.no_grad():
        train_mse = float(_mse(head(ztr).logits, atr))
        test_mse = float(_mse(head(zte).logits, ate))
    return TransferResult(
        train_mse=train_mse,
        test_mse=test_mse,
        val_mse=track["best"],
        iterations=track["at"],
        stopped=track["evals"],
        converged=converged,
        rank=int(proj.shape[1]),
    )
