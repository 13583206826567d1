"""The shared argument validators of c2f_utils._checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from c2f_utils._checks import as_array, check_labels, check_logits, check_probs, check_same_length, check_tensor


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


def test_check_tensor_rejects_each_kind_of_bad_tensor_and_passes_good_ones_through() -> None:
    x = torch.randn(3, 2)
    assert check_tensor("x", x, ndim=2, floating=True) is x
    with pytest.raises(TypeError, match=r"`x` to be a torch.Tensor, got ndarray"):
        check_tensor("x", x.numpy(), ndim=2)
    with pytest.raises(ValueError, match=r"`x` with 1 dimension\(s\), got shape \(3, 2\)"):
        check_tensor("x", x, ndim=1)
    with pytest.raises(ValueError, match=r"`x` with at least 1 row\(s\), got shape \(0, 2\)"):
        check_tensor("x", x[:0], ndim=2)
    with pytest.raises(TypeError, match=r"`x` to be a floating-point tensor, got torch\.int64"):
        check_tensor("x", torch.zeros(3, dtype=torch.int64), ndim=1, floating=True)
    with pytest.raises(TypeError, match=r"`y` to be an integer tensor, got torch\.bool"):
        check_tensor("y", torch.zeros(3, dtype=torch.bool), ndim=1, floating=False)
    for bad, n in ((float("nan"), 1), (float("inf"), 1), (-float("inf"), 1)):
        z = x.clone()
        z[0, 0] = bad
        with pytest.raises(ValueError, match=f"finite values in `x`, got {n} NaN or infinite"):
            check_tensor("x", z, ndim=2)
    z = x.clone()
    z[0, 0] = -float("inf")
    assert check_tensor("x", z, ndim=2, allow_neg_inf=True) is z  # a zero probability's logit


def test_check_logits_labels_and_probs() -> None:
    logits = torch.randn(4, 3)
    assert check_logits("logits", logits) is logits
    with pytest.raises(ValueError, match="K >= 2"):
        check_logits("logits", torch.randn(4, 1))
    row = logits.clone()
    row[1] = -float("inf")
    with pytest.raises(ValueError, match="one finite logit per row"):
        check_logits("logits", row)
    labels = torch.tensor([0, 2, 1, 2], dtype=torch.int32)
    out = check_labels("target", labels, num_classes=3, rows=4)
    assert out.dtype == torch.int64 and out.tolist() == labels.tolist()
    with pytest.raises(ValueError, match=r"`target` in \[0, 2\], got values in \[0, 3\]"):
        check_labels("target", torch.tensor([0, 3]), num_classes=3)
    with pytest.raises(ValueError, match=r"one label per row of `student_logits` \(4\), got 3"):
        check_labels("target", torch.tensor([0, 1, 2]), num_classes=3, rows=4, like="student_logits")
    assert check_labels("t", torch.tensor([-100, 1]), num_classes=3, ignore_index=-100).tolist() == [-100, 1]
    with pytest.raises(ValueError, match="not ignore_index=-100"):
        check_labels("t", torch.tensor([-100, -100]), num_classes=3, ignore_index=-100)
    probs = torch.softmax(logits, 1)
    assert check_probs("p", probs) is probs
    with pytest.raises(ValueError, match="entries >= 0"):
        check_probs("p", probs - 0.5)
    with pytest.raises(ValueError, match="sum to 1, got a row sum off by 1"):
        check_probs("p", probs * 2)
    assert check_probs("abundances", probs * 1.05, atol=0.1, min_entry=-0.01) is not None


def test_as_array_reads_bfloat16_as_float32() -> None:
    t = torch.tensor([[1.5, -2.0], [3.25, 0.0]], dtype=torch.bfloat16)
    arr = as_array("x", t, 2)
    assert arr.dtype == np.float32 and np.array_equal(arr, t.float().numpy())
    assert as_array("x", torch.ones(2, 2), 2).dtype == np.float32  # float32 stays as it is


def test_devices_are_checked_for_availability_not_by_name() -> None:
    from c2f_utils._checks import check_device

    assert check_device("device", "cpu") == torch.device("cpu")
    if not torch.backends.mps.is_available():
        with pytest.raises(ValueError, match="`device` to be available, got 'mps'"):
            check_device("device", "mps")
    with pytest.raises(ValueError, match="`device` to be available"):
        check_device("device", f"cuda:{torch.cuda.device_count()}")


def test_temperatures_and_magnitudes_have_sane_bounds() -> None:
    from c2f_utils._checks import MAX_TEMPERATURE, MIN_TEMPERATURE, check_magnitude, check_temperature

    assert check_temperature("t", MIN_TEMPERATURE) == MIN_TEMPERATURE
    for bad in (1e-39, 0.0, 1e200, MAX_TEMPERATURE * 2):
        with pytest.raises(ValueError, match="`t`"):
            check_temperature("t", bad)
    check_magnitude("x", np.array([1e149, -1e149]))
    with pytest.raises(ValueError, match="`x` with magnitudes"):
        check_magnitude("x", np.array([0.0, -1e200]))


def test_float64_logits_beyond_float32_are_refused() -> None:
    check_logits("logits", torch.tensor([[1e30, 0.0]], dtype=torch.float64))
    with pytest.raises(ValueError, match="`logits` within the range of float32"):
        check_logits("logits", torch.tensor([[1e200, 0.0]], dtype=torch.float64))
