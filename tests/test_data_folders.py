"""Your own images with a continuous target (c2f_utils.data.folders) and the FIERCE age run on them."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from c2f_utils.chapters import fierce
from c2f_utils.data import DatasetNotFoundError
from c2f_utils.data.folders import image_regression_folder


def _faces(folder: Path, n: int = 20) -> dict[str, float]:
    """``n`` (at most 31) solid-colour PNGs named ``<age>_x_<i>.png`` (grey level 8 i) and their ages."""
    folder.mkdir(parents=True, exist_ok=True)
    ages = {}
    for i in range(n):
        name = f"{10 + 3 * i}_x_{i:03d}.png"
        Image.fromarray(np.full((12, 10, 3), 8 * i, dtype=np.uint8)).save(folder / name)
        ages[name] = float(10 + 3 * i)
    return ages


def _csv(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def test_csv_targets_follow_their_files_through_the_split(tmp_path: Path) -> None:
    ages = _faces(tmp_path / "faces")
    # the CSV gives other targets than the names, to tell the two sources apart
    table = _csv(tmp_path / "ages.csv", [["file", "age", "note"], *[[f, str(a + 0.5), "n"] for f, a in ages.items()]])
    parts = {s: image_regression_folder(s, tmp_path / "faces", targets=table, size=8) for s in ("train", "test")}
    assert (len(parts["train"]), len(parts["test"])) == (16, 4)
    seen = []
    for data in parts.values():
        assert data.x.shape[1:] == (3, 8, 8) and data.x.dtype == torch.float32
        for path, target, image in zip(data.meta["files"], data.fine.tolist(), data.x, strict=True):
            name = Path(path).name
            assert target == ages[name] + 0.5
            grey = 8 * int(name.split("_")[2][:3])
            torch.testing.assert_close(image, torch.full_like(image, grey / 255))  # solid colour survives resizing
            seen.append(name)
    assert sorted(seen) == sorted(ages)
    # torch's median: the lower of the two middle values (as the UTKFace loader uses it)
    median = float(torch.tensor([ages[Path(p).name] + 0.5 for p in parts["train"].meta["files"]]).median())
    assert parts["train"].meta["median"] == median
    assert torch.equal(parts["test"].labels("median"), (parts["test"].fine > median).long())


def test_targets_from_file_names_skip_names_without_a_match(tmp_path: Path) -> None:
    ages = _faces(tmp_path / "faces", n=10)
    Image.fromarray(np.zeros((4, 4, 3), dtype=np.uint8)).save(tmp_path / "faces" / "unknown.png")
    (tmp_path / "faces" / "notes.txt").write_text("not an image")
    train = image_regression_folder("train", tmp_path / "faces", pattern=r"^(\d+)_", size=8, test_fraction=0.3)
    test = image_regression_folder("test", tmp_path / "faces", pattern=r"^(?P<target>\d+)_", size=8, test_fraction=0.3)
    assert train.meta["skipped"] == 1 and len(train) + len(test) == 10
    assert sorted(train.fine.tolist() + test.fine.tolist()) == sorted(ages.values())


def test_csv_with_several_numeric_columns_needs_target_column(tmp_path: Path) -> None:
    ages = _faces(tmp_path / "faces", n=6)
    rows = [["filename", "age", "weight"], *[[f, str(a), "70"] for f, a in ages.items()]]
    table = _csv(tmp_path / "t.csv", rows)
    with pytest.raises(ValueError, match="exactly one numeric column"):
        image_regression_folder("train", tmp_path / "faces", targets=table)
    data = image_regression_folder("train", tmp_path / "faces", targets=table, target_column="weight", size=8)
    assert set(data.fine.tolist()) == {70.0}


@pytest.mark.parametrize(
    ("rows", "error", "match"),
    [
        ([["image_id", "age"], ["a.png", "3"]], ValueError, "file column"),
        ([["file", "age"], ["10_x_000.png", "old"]], ValueError, "exactly one numeric column"),
        ([["file", "age"], ["missing.png", "3"], ["10_x_000.png", "4"]], DatasetNotFoundError, "missing.png"),
        ([["file", "age"]], ValueError, "at least one row"),
    ],
)
def test_bad_csv_files_are_named_in_the_error(tmp_path: Path, rows, error, match: str) -> None:
    _faces(tmp_path / "faces", n=4)
    with pytest.raises(error, match=match):
        image_regression_folder("train", tmp_path / "faces", targets=_csv(tmp_path / "t.csv", rows))


def test_arguments_are_checked(tmp_path: Path) -> None:
    _faces(tmp_path / "faces", n=4)
    with pytest.raises(DatasetNotFoundError, match="folder"):
        image_regression_folder("train", tmp_path / "nowhere", pattern=r"(\d+)")
    with pytest.raises(ValueError, match="exactly one of `targets`"):
        image_regression_folder("train", tmp_path / "faces")
    with pytest.raises(ValueError, match="exactly one of `targets`"):
        image_regression_folder("train", tmp_path / "faces", targets="a.csv", pattern=r"(\d+)")
    with pytest.raises(ValueError, match="group"):
        image_regression_folder("train", tmp_path / "faces", pattern=r"\d+")
    with pytest.raises(ValueError, match="split"):
        image_regression_folder("val", tmp_path / "faces", pattern=r"(\d+)")
    with pytest.raises(DatasetNotFoundError, match="targets"):
        image_regression_folder("train", tmp_path / "faces", targets=tmp_path / "none.csv")


def test_fierce_age_experiment_runs_on_a_folder_with_ages_in_a_csv(tmp_path: Path) -> None:
    ages = _faces(tmp_path / "faces", n=30)
    table = _csv(tmp_path / "ages.csv", [["file", "age"], *[[f, str(a)] for f, a in ages.items()]])
    config = fierce.CHAPTER.configure(
        "quick",
        **{"age.dataset": "image_folder", "age.folder": str(tmp_path / "faces"), "age.targets": str(table)},
        seeds=[0],
    )
    run = next(exp for gid, exp in config.plan() if gid == "age").replace(epochs=2, probe_every=1)
    assert run.check_data() == []
    out = run.run()
    assert all(math.isfinite(v) for v in out.metrics.values())
    assert out.arrays["test_target"].shape == (6,)  # 20% of 30 images, their ages from the CSV
    assert set(out.arrays["test_target"].tolist()) <= set(ages.values())


def test_fierce_age_experiment_checks_its_folder_parameters(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="exactly one of `targets`"):
        fierce.CHAPTER.configure("quick", **{"age.dataset": "image_folder", "age.folder": str(tmp_path)}).plan()
    with pytest.raises(ValueError, match="only with dataset 'image_folder'"):
        fierce.CHAPTER.configure("quick", **{"age.folder": str(tmp_path)}).plan()
    config = fierce.CHAPTER.configure(
        "quick",
        **{"age.dataset": "image_folder", "age.folder": str(tmp_path / "none"), "age.pattern": r"(\d+)"},
        seeds=[0],
    )
    problems = next(exp for gid, exp in config.plan() if gid == "age").check_data()
    assert len(problems) == 1 and "no such folder" in problems[0]


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", "1e200"])
def test_a_non_finite_csv_target_is_refused_with_its_line(tmp_path: Path, bad: str) -> None:
    ages = _faces(tmp_path / "faces", n=8)
    rows = [[f, str(a)] for f, a in ages.items()]
    rows[2][1] = bad  # a NaN target made the training median NaN and every coarse label 0
    table = _csv(tmp_path / "ages.csv", [["file", "age"], *rows])
    with pytest.raises(ValueError, match=r"finite number .* in `targets` .* line 4, column 'age'"):
        image_regression_folder("train", tmp_path / "faces", targets=table, target_column="age", size=8)


@pytest.mark.parametrize("again", ["{name}", "./{name}"])
def test_an_image_listed_twice_is_refused(tmp_path: Path, again: str) -> None:
    ages = _faces(tmp_path / "faces", n=8)
    rows = [[f, str(a)] for f, a in ages.items()]
    rows.append([again.format(name=rows[1][0]), "99"])  # one image in train and in test
    table = _csv(tmp_path / "ages.csv", [["file", "age"], *rows])
    with pytest.raises(ValueError, match=r"each image once in `targets` .* lines 3 and 10"):
        image_regression_folder("train", tmp_path / "faces", targets=table, size=8)


def test_recursive_reads_the_subfolders_with_a_pattern_and_counts_them_with_a_csv(tmp_path: Path) -> None:
    top = _faces(tmp_path / "faces", n=4)
    deep = {f"a/{k}": v for k, v in _faces(tmp_path / "faces" / "a", n=6).items()}
    pattern = r"^(\d+)_"
    flat = image_regression_folder("train", tmp_path / "faces", pattern=pattern, size=8, test_fraction=0.5)
    assert len(flat) == 2  # the four images at the top, the subfolder unread
    both = [
        image_regression_folder(s, tmp_path / "faces", pattern=pattern, size=8, test_fraction=0.5, recursive=True)
        for s in ("train", "test")
    ]
    assert sorted(both[0].fine.tolist() + both[1].fine.tolist()) == sorted([*top.values(), *deep.values()])
    table = _csv(tmp_path / "t.csv", [["file", "age"], *[[f, str(a)] for f, a in deep.items()]])
    listed = image_regression_folder("train", tmp_path / "faces", targets=table, size=8, recursive=True)
    assert listed.meta["skipped"] == 4  # the images of the folder the CSV does not list, subfolders included
    with pytest.raises(TypeError, match="`recursive`"):
        image_regression_folder("train", tmp_path / "faces", pattern=pattern, recursive="yes")


def test_fierce_age_experiment_takes_a_target_column_and_recursive(tmp_path: Path) -> None:
    ages = _faces(tmp_path / "faces" / "part1", n=12)
    rows = [["file", "age", "weight"], *[[f"part1/{f}", str(a), str(2 * a)] for f, a in ages.items()]]
    table = _csv(tmp_path / "t.csv", rows)
    given = {"age.dataset": "image_folder", "age.folder": str(tmp_path / "faces"), "age.targets": str(table)}
    config = fierce.CHAPTER.configure(
        "quick", **given, **{"age.target_column": "weight", "age.recursive": True}, seeds=[0]
    )
    run = next(exp for gid, exp in config.plan() if gid == "age")
    assert run.params()["target_column"] == "weight" and run.params()["recursive"] is True
    train, test = run.load_data()
    assert set(train.fine.tolist()) | set(test.fine.tolist()) == {2 * a for a in ages.values()}
    assert train.meta["skipped"] == 0
    plain = next(exp for gid, exp in fierce.CHAPTER.configure("quick", **given).plan() if gid == "age")
    assert "target_column" not in plain.params() and "recursive" not in plain.params()  # the recorded keys stay
    with pytest.raises(ValueError, match="`target_column` with `targets`"):
        fierce.CHAPTER.configure(
            "quick",
            **{
                "age.dataset": "image_folder",
                "age.folder": str(tmp_path),
                "age.pattern": "(x)",
                "age.target_column": "w",
            },
        )
    with pytest.raises(ValueError, match="only with dataset 'image_folder'"):
        fierce.CHAPTER.configure("quick", **{"age.recursive": True})
