"""Hyperspectral scenes of the user's own (``data.load("samson", files=...)``) with odd content (issue 30)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.io import savemat

from c2f_utils import data
from c2f_utils.data import DataIntegrityError


def _scene() -> dict[str, Any]:
    rng = np.random.default_rng(0)
    abundances = rng.dirichlet(np.ones(3), 60)
    endmembers = rng.uniform(0.1, 1, (3, 8))
    return {"Y": (abundances @ endmembers).T, "S_GT": abundances.T, "GT": endmembers}


def _load(root: Path, scene: dict[str, Any] | bytes, files: Any = "mine.mat") -> data.LabeledData:
    (root / "hyperspectral").mkdir(parents=True, exist_ok=True)
    path = root / "hyperspectral" / "mine.mat"
    if isinstance(scene, bytes):
        path.write_bytes(scene)
    else:
        savemat(path, scene)
    return data.load("samson", split="all", files=files, data_dir=root)


@pytest.mark.parametrize("files", ["mine.mat", ("mine.mat",), Path("mine.mat"), ["mine.mat"]])
def test_files_may_be_one_name_or_a_sequence(tmp_path: Path, files: Any) -> None:
    scene = _scene()
    loaded = _load(tmp_path, scene, files)  # a str was iterated: "missing file .../m"
    np.testing.assert_allclose(loaded.fine.numpy(), scene["S_GT"].T, rtol=1e-6)


@pytest.mark.parametrize(
    ("files", "error", "match"),
    [
        (("mine.mat", "mine.mat"), ValueError, "`files` with distinct names"),
        ((), ValueError, "`files` as one or more"),
        (3, TypeError, "`files` as a file name"),
    ],
)
def test_bad_files_are_named(tmp_path: Path, files: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        _load(tmp_path, _scene(), files)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_scene_with_a_missing_value_is_refused(tmp_path: Path, value: float) -> None:
    scene = _scene()
    scene["Y"][3, 7] = value
    with pytest.raises(ValueError, match=r"mine\.mat: Expected finite values in the array 'Y', got 1 NaN"):
        _load(tmp_path, scene)


@pytest.mark.parametrize("max_value", [0.0, -1000.0])
def test_a_non_positive_max_value_is_refused(tmp_path: Path, max_value: float) -> None:
    scene = _scene()
    scene.update(Y=np.round(scene["Y"] * 1000).astype(np.int32), maxValue=max_value)  # 0 gave inf pixels
    with pytest.raises(ValueError, match="positive, finite `maxValue`"):
        _load(tmp_path, scene)
    scene["maxValue"] = 1000.0
    np.testing.assert_allclose(_load(tmp_path, scene).x.numpy(), _scene()["Y"].T, atol=1e-3)


@pytest.mark.parametrize("content", [b"", b"not a MATLAB file\n"])
def test_an_empty_or_foreign_file_is_reported_as_damaged(tmp_path: Path, content: bytes) -> None:
    with pytest.raises(DataIntegrityError, match=r"mine\.mat cannot be read \(ValueError: not a MATLAB file"):
        _load(tmp_path, content)
