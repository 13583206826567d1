"""Argument validation shared by the public functions.

Every check raises with a message naming the argument and the offending value,
in the style of torchmetrics: ``Expected `alpha` in [0, 1], got 1.5``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
import torch


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


def check_choice(name: str, value: Any, choices: Collection[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``, else raise."""
    if value not in choices:
        raise ValueError(f"Expected `{name}` to be one of {sorted(map(str, choices))}, got {value!r}")
    return value


def as_array(name: str, value: Any, ndim: int | Sequence[int]) -> np.ndarray:
    """``value`` (a tensor or array-like) as a numpy array with ``ndim`` (or one of several) dimensions,
    finite where it is floating point; raises naming ``name`` otherwise."""
    arr = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
    allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if arr.ndim not in allowed:
        raise ValueError(f"Expected `{name}` with {' or '.join(map(str, allowed))} dimension(s), got shape {arr.shape}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"Expected finite values in `{name}`, got {int((~np.isfinite(arr)).sum())} non-finite")
    return arr


def check_same_length(x_name: str, x: Any, y_name: str, y: Any) -> None:
    """Raise unless ``x`` and ``y`` have the same, non-zero number of samples (first axis)."""
    if len(x) != len(y):
        raise ValueError(f"Expected `{x_name}` and `{y_name}` of equal length, got {len(x)} and {len(y)}")
    if len(x) == 0:
        raise ValueError(f"Expected `{x_name}` with at least one sample, got none")
