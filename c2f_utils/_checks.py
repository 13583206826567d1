"""Argument validation shared by the public functions.

Every check raises with a message naming the argument and the offending value,
in the style of torchmetrics: ``Expected `alpha` in [0, 1], got 1.5``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch


class ConvergenceWarning(UserWarning):
    """An iterative solver stopped at its iteration limit before meeting its tolerance."""


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool | np.bool_)


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` as a bool if it is one (Python or NumPy), else raise: ``"no"`` or ``1`` are not booleans."""
    if not _is_bool(value):
        raise TypeError(f"Expected `{name}` to be a bool, got {value!r} ({type(value).__name__})")
    return bool(value)


def check_positive_int(name: str, value: Any, *, minimum: int = 1) -> int:
    """Return ``value`` as an int if it is an integer (NumPy integers too) >= ``minimum``, else raise."""
    if _is_bool(value) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"Expected `{name}` to be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_number(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """Return ``value`` as a float if it is finite and inside the given interval, else raise."""
    if _is_bool(value) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"Expected `{name}` to be a finite number, got {value!r}")
    too_low = low is not None and (value < low if low_inclusive else value <= low)
    too_high = high is not None and (value > high if high_inclusive else value >= high)
    if too_low or too_high:
        left = "[" if low_inclusive else "("
        right = "]" if high_inclusive else ")"
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        raise ValueError(f"Expected `{name}` in {left}{lo}, {hi}{right}, got {value!r}")
    return float(value)


_FLOAT32_MAX = float(np.finfo(np.float32).max)

MIN_TEMPERATURE = 1e-3
MAX_TEMPERATURE = 1e4
"""Bounds of a softmax temperature: logits of a few units divided by less than ``MIN_TEMPERATURE``
overflow float32 (a 1e-39 temperature gives NaN), and ``MAX_TEMPERATURE ** 2`` (the distillation
scaling) must stay a usable float."""


def check_temperature(name: str, value: Any) -> float:
    """Return ``value`` as a float if it is a usable temperature, in ``[MIN_TEMPERATURE, MAX_TEMPERATURE]``."""
    return check_number(name, value, low=MIN_TEMPERATURE, high=MAX_TEMPERATURE)


def check_choice(name: str, value: Any, choices: Collection[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``, else raise."""
    if value not in choices:
        raise ValueError(f"Expected `{name}` to be one of {sorted(map(str, choices))}, got {value!r}")
    return value


def as_array(name: str, value: Any, ndim: int | Sequence[int]) -> np.ndarray:
    """``value`` (a tensor or array-like) as a numpy array with ``ndim`` (or one of several) dimensions,
    finite where it is floating point; raises naming ``name`` otherwise."""
    import torch

    if isinstance(value, torch.Tensor):
        # numpy has no bfloat16: such a tensor is read as float32, which holds every bfloat16 value exactly
        value = value.detach().cpu()
        arr = (value.float() if value.dtype == torch.bfloat16 else value).numpy()
    else:
        arr = np.asarray(value)
    allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if arr.ndim not in allowed:
        raise ValueError(f"Expected `{name}` with {' or '.join(map(str, allowed))} dimension(s), got shape {arr.shape}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"Expected finite values in `{name}`, got {int((~np.isfinite(arr)).sum())} non-finite")
    return arr


MAX_MAGNITUDE = 1e150
"""Largest magnitude :func:`check_magnitude` lets through: squares and their sums stay finite in float64."""


def check_magnitude(name: str, arr: np.ndarray, limit: float = MAX_MAGNITUDE) -> np.ndarray:
    """Return the finite array ``arr`` if no entry exceeds ``limit`` in magnitude, else raise naming ``name``:
    a mean squared error (or a variance, a distance) of 1e200 values overflows float64 to inf."""
    if arr.size and arr.dtype.kind in "fiu":
        largest = float(np.abs(arr).max())
        if largest > limit:
            raise ValueError(
                f"Expected `{name}` with magnitudes up to {limit:g} (larger ones overflow), got {largest:g}"
            )
    return arr


def check_same_length(x_name: str, x: Any, y_name: str, y: Any) -> None:
    """Raise unless ``x`` and ``y`` have the same, non-zero number of samples (first axis)."""
    if len(x) != len(y):
        raise ValueError(f"Expected `{x_name}` and `{y_name}` of equal length, got {len(x)} and {len(y)}")
    if len(x) == 0:
        raise ValueError(f"Expected `{x_name}` with at least one sample, got none")


def _dims(ndim: int | Sequence[int]) -> tuple[int, ...]:
    return (ndim,) if isinstance(ndim, int) else tuple(ndim)


def check_tensor(
    name: str,
    value: Any,
    *,
    ndim: int | Sequence[int],
    floating: bool | None = None,
    min_rows: int = 1,
    allow_neg_inf: bool = False,
) -> torch.Tensor:
    """Return ``value`` if it is a tensor with ``ndim`` dimensions (or one of several), at least
    ``min_rows`` rows (an empty batch is an error), of a floating (``floating=True``) or integer
    (``False``) dtype, and with no NaN or infinite entry (``-inf`` allowed with
    ``allow_neg_inf``: a logit of a zero probability); raises naming ``name`` otherwise.

    Values (finiteness here, ranges and sums in the checks built on it) are checked for
    tensors on the CPU only: on a GPU the check would synchronise with the device at every
    call, and :func:`~c2f_utils.train.fit` stops on a non-finite loss there anyway."""
    import torch

    if not isinstance(value, torch.Tensor):
        raise TypeError(f"Expected `{name}` to be a torch.Tensor, got {type(value).__name__}")
    allowed = _dims(ndim)
    if value.ndim not in allowed:
        raise ValueError(
            f"Expected `{name}` with {' or '.join(map(str, allowed))} dimension(s), got shape {tuple(value.shape)}"
        )
    if floating is True and not value.is_floating_point():
        raise TypeError(f"Expected `{name}` to be a floating-point tensor, got {value.dtype}")
    if floating is False and (value.is_floating_point() or value.is_complex() or value.dtype == torch.bool):
        raise TypeError(f"Expected `{name}` to be an integer tensor, got {value.dtype}")
    if value.ndim and value.shape[0] < min_rows:
        raise ValueError(f"Expected `{name}` with at least {min_rows} row(s), got shape {tuple(value.shape)}")
    if value.is_floating_point() and value.device.type == "cpu":
        bad = torch.isnan(value) | (value == math.inf)
        if not allow_neg_inf:
            bad |= value == -math.inf
        n_bad = int(bad.sum())
        if n_bad:
            raise ValueError(f"Expected finite values in `{name}`, got {n_bad} NaN or infinite")
    return value


def check_logits(name: str, value: Any) -> torch.Tensor:
    """Return ``value`` if it is a float ``(N, K)`` tensor of logits, ``N >= 1``,
    ``K >= 2``, with no NaN or ``+inf``; ``-inf`` is a zero probability and allowed,
    but not a whole row of it (no distribution); float64 logits must lie within float32's
    range (the losses compute in float32); raises naming ``name`` otherwise."""
    import torch

    check_tensor(name, value, ndim=2, floating=True, allow_neg_inf=True)
    if value.dtype == torch.float64 and value.device.type == "cpu":
        finite = value.detach()[torch.isfinite(value.detach())]
        largest = float(finite.abs().max()) if finite.numel() else 0.0
        if largest > _FLOAT32_MAX:  # the losses compute in float32
            raise ValueError(f"Expected `{name}` within the range of float32, got {largest:g}")
    if value.shape[1] < 2:
        raise ValueError(f"Expected `{name}` of shape (N, K) with K >= 2, got {tuple(value.shape)}")
    if value.device.type == "cpu" and bool(torch.isinf(value).all(dim=1).any()):
        raise ValueError(f"Expected `{name}` with at least one finite logit per row, got a row of -inf")
    return value


def check_labels(
    name: str,
    value: Any,
    *,
    num_classes: int,
    rows: int | None = None,
    like: str = "logits",
    ignore_index: int | None = None,
) -> torch.Tensor:
    """Return ``value`` as int64 if it is a 1-D integer tensor of class labels in
    ``[0, num_classes)`` (or equal to ``ignore_index``, with at least one label that is not),
    with ``rows`` entries (one per row of the argument ``like``) if given; raises naming
    ``name`` otherwise."""
    check_tensor(name, value, ndim=1, floating=False)
    if rows is not None and value.shape[0] != rows:
        raise ValueError(f"Expected `{name}` with one label per row of `{like}` ({rows}), got {value.shape[0]}")
    if value.device.type != "cpu":
        return value.long()
    kept = value if ignore_index is None else value[value != ignore_index]
    if kept.numel() == 0:
        raise ValueError(f"Expected `{name}` with at least one label that is not ignore_index={ignore_index}")
    low, high = int(kept.min()), int(kept.max())
    if low < 0 or high >= num_classes:
        also = "" if ignore_index is None else f" (or ignore_index={ignore_index})"
        raise ValueError(f"Expected `{name}` in [0, {num_classes - 1}]{also}, got values in [{low}, {high}]")
    return value.long()


def check_probs(
    name: str,
    value: Any,
    *,
    rows: int | None = None,
    like: str = "logits",
    atol: float = 1e-4,
    min_entry: float = 0.0,
) -> torch.Tensor:
    """Return ``value`` if it is a float ``(N, K)`` tensor whose rows are probability
    distributions (entries >= ``min_entry``, each row summing to 1 within ``atol``), with
    ``rows`` rows (one per row of the argument ``like``) if given; raises naming ``name``
    otherwise. Ground-truth proportions read from files (hyperspectral abundances) are only
    approximately on the simplex: check them with a loose ``atol`` (0.1) and ``min_entry``
    (-0.01), which still catch counts, percentages and swapped arguments."""
    check_tensor(name, value, ndim=2, floating=True)
    if rows is not None and value.shape[0] != rows:
        raise ValueError(f"Expected `{name}` with one row per row of `{like}` ({rows}), got {tuple(value.shape)}")
    if value.device.type != "cpu":
        return value
    low = float(value.min())
    if low < min_entry:
        raise ValueError(f"Expected `{name}` with entries >= {min_entry:g}, got a minimum of {low}")
    worst = float((value.sum(dim=1) - 1).abs().max())
    if worst > atol:
        raise ValueError(f"Expected the rows of `{name}` to sum to 1, got a row sum off by {worst:.3g}")
    return value


def check_module(name: str, value: Any, *, attribute: str | None = None) -> torch.nn.Module:
    """Return ``value`` if it is a ``torch.nn.Module`` (with the attribute ``attribute``, if
    given), else raise a TypeError naming ``name``."""
    import torch

    if not isinstance(value, torch.nn.Module):
        raise TypeError(f"Expected `{name}` to be a torch.nn.Module, got {type(value).__name__}")
    if attribute is not None and not hasattr(value, attribute):
        raise TypeError(f"Expected `{name}` with an attribute `{attribute}`, got a {type(value).__name__} without")
    return value


def check_device(name: str, value: Any, *, str_only: bool = False) -> torch.device:
    """Return ``value`` as a ``torch.device`` if it is a device name (or, unless ``str_only``, a
    ``torch.device``) that torch understands, else raise naming ``name``."""
    import torch

    kinds = str if str_only else str | torch.device
    if not isinstance(value, kinds):
        wanted = "a device name (str)" if str_only else "a device name (str) or a torch.device"
        raise TypeError(f"Expected `{name}` to be {wanted}, got {value!r}")
    try:
        device = torch.device(value)
    except RuntimeError as exc:
        raise ValueError(f"Expected `{name}` to be a device such as 'cpu' or 'cuda', got {value!r}") from exc
    return check_device_available(name, device)


def check_device_available(name: str, device: torch.device) -> torch.device:
    """Return ``device`` if this machine has it: its backend (``torch.cuda``, ``torch.mps``...)
    is available and its index below the backend's device count; raise naming ``name``
    otherwise. A valid name is not enough: ``"mps"`` on Linux or ``"cuda:1"`` on a one-GPU
    machine would fail later, deep inside a run."""
    import torch

    if device.type in ("cpu", "meta"):
        return device
    backend = getattr(torch, device.type, None)
    is_available = getattr(backend, "is_available", None) or getattr(
        getattr(torch.backends, device.type, None), "is_available", None
    )
    if is_available is None or not is_available():
        raise ValueError(f"Expected `{name}` to be available, got {str(device)!r} but {device.type} is not available")
    count = getattr(backend, "device_count", None)
    if device.index is not None and count is not None and device.index >= count():
        raise ValueError(f"Expected `{name}` to be available, got {str(device)!r} but there are {count()} device(s)")
    return device


def check_integer_values(name: str, arr: np.ndarray) -> np.ndarray:
    """Return ``arr`` if it holds integers: an integer (or boolean) dtype, or a floating dtype
    whose (finite) values are all whole numbers; raise naming ``name`` otherwise."""
    if arr.dtype.kind in "biu":
        return arr
    if arr.dtype.kind != "f":
        raise TypeError(f"Expected `{name}` to hold integers, got dtype {arr.dtype}")
    if not np.isfinite(arr).all() or (arr != np.round(arr)).any():
        raise ValueError(f"Expected `{name}` to hold integers, got non-integer values of dtype {arr.dtype}")
    return arr
