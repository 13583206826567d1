"""The shared argument validators of c2f_utils._checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from c2f_utils._checks import as_array, check_same_length


def test_as_array_accepts_tensors_and_checks_dimensions_and_finiteness() -> None:
    out = as_array("x", torch.arange(6.0).reshape(2, 3), 2)
    assert isinstance(out, np.ndarray) and out.shape == (2, 3)
    assert as_array("y", [1, 2, 3], (1, 2)).tolist() == [1, 2, 3]
    with pytest.raises(ValueError, match=r"`x` with 1 dimension\(s\), got shape \(2, 3\)"):
        as_array("x", np.zeros((2, 3)), 1)
    with pytest.raises(ValueError, match="finite values in `z`, got 1 non-finite"):
        as_array("z", [0.0, float("nan")], 1)


def test_check_same_length() -> None:
    check_same_length("a", [1, 2], "b", np.zeros(2))
    with pytest.raises(ValueError, match="`a` and `b` of equal length, got 2 and 3"):
        check_same_length("a", [1, 2], "b", [1, 2, 3])
    with pytest.raises(ValueError, match="at least one sample"):
        check_same_length("a", [], "b", [])
