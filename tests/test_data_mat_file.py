"""A hyperspectral scene of your own, under a name of its own, through FIERCE's unmixing (issue 29).

The scene is a tiny fake written with :func:`scipy.io.savemat` in the Samson layout (``Y`` bands
x pixels in MATLAB's column-major order, ``GT`` endmembers, ``S_GT`` a rows x cols x materials
abundance image), under a file name no loader knows.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.io import savemat

from c2f_utils import run
from c2f_utils.chapters import fierce
from c2f_utils.data.folders import unmixing_file

ROWS, BANDS = 12, 8


def _scene(seed: int = 0) -> dict[str, np.ndarray]:
    """Abundances of pixel ``p = r + c * ROWS`` (column-major) and spectra that follow them."""
    rng = np.random.default_rng(seed)
    while True:
        a = rng.dirichlet(np.full(3, 0.7), ROWS * ROWS)
        if np.bincount(a.argmax(1), minlength=3).min() >= 10:
            break
    gt = rng.uniform(0.1, 1, (3, BANDS))
    y = a @ gt + rng.normal(0, 0.005, (ROWS * ROWS, BANDS))
    return {"Y": y.T, "GT": gt, "S_GT": a.reshape(ROWS, ROWS, 3, order="F"), "abundances": a}


def _write(path: Path, arrays: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    savemat(path, {k: v for k, v in arrays.items() if k != "abundances"})
    return path


def test_a_mat_file_is_read_under_its_own_name_with_its_checksum(tmp_path: Path) -> None:
    scene = _scene()
    path = _write(tmp_path / "lake_tahoe_crop.mat", scene)
    data = unmixing_file("all", path)
    assert data.name == "lake_tahoe_crop"
    assert data.meta["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert data.meta["pixel_order"] == "F"
    np.testing.assert_allclose(data.fine.numpy(), scene["abundances"], rtol=1e-5, atol=1e-6)
    train, test = unmixing_file("train", path), unmixing_file("test", path)
    assert len(train) + len(test) == ROWS * ROWS and 0 < len(test) < len(train)


def test_a_wrong_pixel_order_is_refused_naming_the_parameter(tmp_path: Path) -> None:
    path = _write(tmp_path / "scene.mat", _scene())
    assert unmixing_file("all", path, pixel_order="F").meta["pixel_order"] == "F"
    with pytest.raises(ValueError, match=r"Expected `pixel_order` to pair .* got 'C'.*pass pixel_order='F'"):
        unmixing_file("all", path, pixel_order="C")


def test_array_keys_settle_what_content_cannot(tmp_path: Path) -> None:
    """Two candidate spectra of the same shape, neither with a conventional name: the reader
    asks for `data_key`; given it, it reads that array."""
    scene = _scene()
    arrays = {"radiance": scene["Y"], "noise": scene["Y"][:, ::-1].copy(), "GT": scene["GT"], "S_GT": scene["S_GT"]}
    path = _write(tmp_path / "two.mat", arrays)
    with pytest.raises(KeyError, match="pass `data_key`"):
        unmixing_file("all", path)
    data = unmixing_file("all", path, data_key="radiance")
    np.testing.assert_allclose(data.x.numpy(), scene["Y"].T, rtol=1e-5)
    with pytest.raises(KeyError, match=r"Expected `data_key` among the numeric arrays .* got 'Z'"):
        unmixing_file("all", path, data_key="Z")
    with pytest.raises(ValueError, match=r"Expected `abundance_key` to name abundances .* got 'GT'"):
        unmixing_file("all", path, data_key="radiance", abundance_key="GT")
    with pytest.raises(ValueError, match=r"Expected `endmember_key` to name a 3 x 8 array .* got 'S_GT'"):
        unmixing_file("all", path, data_key="radiance", endmember_key="S_GT")


def test_unmixing_file_checks_its_arguments(tmp_path: Path) -> None:
    path = _write(tmp_path / "scene.mat", _scene())
    with pytest.raises(FileNotFoundError, match=r"Expected `path` to be a \.mat file, got .*none\.mat"):
        unmixing_file("all", tmp_path / "none.mat")
    with pytest.raises(ValueError, match="Expected `path`"):
        unmixing_file("all", "")
    with pytest.raises(ValueError, match="`split`"):
        unmixing_file("val", path)
    with pytest.raises(ValueError, match="`pixel_order`"):
        unmixing_file("all", path, pixel_order="row")
    with pytest.raises(ValueError, match="`data_key`"):
        unmixing_file("all", path, data_key="")


def test_the_experiment_checks_its_file_parameters(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"dataset 'mat_file' with `path`"):
        fierce.CHAPTER.configure("quick", **{"unmix.dataset": "mat_file"})
    with pytest.raises(ValueError, match=r"path='x.mat' only with dataset 'mat_file'"):
        fierce.CHAPTER.configure("quick", **{"unmix.path": "x.mat"})
    with pytest.raises(ValueError, match="`pixel_order` 'auto' with dataset 'synthetic_unmixing'"):
        fierce.CHAPTER.configure("quick", **{"unmix.pixel_order": "F"})
    with pytest.raises(ValueError, match=r"Expected `unmix\.pixel_order` to be one of"):
        fierce.CHAPTER.configure("quick", **{"unmix.pixel_order": "rows"})


def _unmix(path: Path, *extra: str) -> list[str]:
    tiny = ["-p", "unmix.epochs", "2", "-p", "unmix.seeds", "0", "-p", "unmix.probe_every", "1"]
    own = ["-p", "unmix.dataset", "mat_file", "-p", "unmix.path", str(path)]
    return ["fierce", "--only", "unmix", *own, *tiny, *extra]


@pytest.mark.slow
def test_your_own_mat_file_runs_through_unmixing_with_only(
    capsys: pytest.CaptureFixture, tmp_path: Path, monkeypatch
) -> None:
    """End to end through the runner: no loader knows the file's name, the other experiments'
    data are absent, the runs are keyed and recorded by the file's name and content."""
    monkeypatch.setenv("C2F_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("C2F_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.chdir(tmp_path)
    path = _write(tmp_path / "scenes" / "lake_tahoe_crop.mat", _scene())
    assert run.main([*_unmix(path), "--check-data"]) == 0, capsys.readouterr().out
    assert "every dataset found" in capsys.readouterr().out
    assert run.main([*_unmix(path), "--workers", "1"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert sorted(r["params"]["criterion"] for r in lines) == ["ce", "fierce", "ls"]
    assert {r["params"]["path"] for r in lines} == {str(path)} and {r["grid"] for r in lines} == {"unmix"}
    for r in lines:
        assert 0 <= r["metrics"]["test_acc"] <= 1 and np.isfinite(r["metrics"]["transfer_mse_test"])
        record = json.loads((tmp_path / "cache" / "runs" / "fierce.unmixing" / r["key"] / "record.json").read_text())
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert record["provenance"]["declared"]["data_file"] == {"name": "lake_tahoe_crop", "sha256": digest}
    # another file content under the same path is another run: a path alone never answers from the cache
    old_keys = {r["key"] for r in lines}
    _write(path, _scene(seed=1))
    assert run.main([*_unmix(path), "--plan"]) == 0
    planned = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(planned) == 3 and not any(r["cached"] for r in planned) and not old_keys & {r["key"] for r in planned}


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["-p", "unmix.pixel_order", "C"], "`pixel_order`"),
        (["-p", "unmix.data_key", "radiance"], "`data_key`"),
        (["-p", "unmix.abundance_key", "GT"], "`abundance_key`"),
    ],
)
def test_a_wrong_pixel_order_or_key_is_reported_naming_the_parameter(
    capsys: pytest.CaptureFixture, tmp_path: Path, monkeypatch, extra: list[str], named: str
) -> None:
    monkeypatch.setenv("C2F_CACHE_DIR", str(tmp_path / "cache"))
    path = _write(tmp_path / "scene.mat", _scene())
    assert run.main([*_unmix(path, *extra), "--check-data"]) == 2
    out = capsys.readouterr().out
    assert f"mat_file {path}" in out and named in out


def test_a_missing_file_is_reported_by_check_data(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    assert run.main([*_unmix(tmp_path / "none.mat"), "--check-data"]) == 2
    assert "no such file" in capsys.readouterr().out
