"""Argument checks shared by the report modules: a sample of numbers, a table's columns, digits, a margin.

Their names are public for the modules of :mod:`c2f_utils.report`; they are not part of its API."""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from .._checks import check_number, check_positive_int


def check_sample(name: str, values: Iterable[float]) -> np.ndarray:
    """``values`` as a non-empty 1-D float array of finite numbers; raises naming the argument ``name``."""
    if isinstance(values, str | bytes | Mapping) or not isinstance(values, Iterable):
        raise TypeError(f"Expected `{name}` to be a sequence of numbers, got {type(values).__name__}")
    items = list(values)
    if not all(isinstance(v, numbers.Real) and not isinstance(v, bool | np.bool_) for v in items):
        raise TypeError(f"Expected `{name}` to be a sequence of numbers, got {items!r:.80}")
    x = np.asarray(items, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"Expected `{name}` to be a non-empty 1-D sequence of numbers, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"Expected finite values in `{name}`, got {x.tolist()}")
    return x


def check_digits(digits: int) -> int:
    """``digits``, a number of decimal places (an int >= 0)."""
    return check_positive_int("digits", digits, minimum=0)


def check_frame(frame: Any, *columns: tuple[str, Any]) -> pd.DataFrame:
    """``frame`` if it is a DataFrame holding every named column; raises naming the argument."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"Expected `frame` to be a pandas DataFrame, got {type(frame).__name__}")
    for arg, names in columns:
        for name in names if isinstance(names, list | tuple) else [names]:
            if not isinstance(name, str) or name not in frame.columns:
                raise ValueError(
                    f"Expected `{arg}` to name columns of `frame`, got {name!r}; it has {list(frame.columns)}"
                )
    if frame.empty:
        raise ValueError("Expected `frame` with at least one row, got an empty frame")
    return frame


def check_margin(margin: float | None) -> float | None:
    """``margin``, a declared margin (> 0), or None."""
    return None if margin is None else check_number("margin", margin, low=0, low_inclusive=False)
