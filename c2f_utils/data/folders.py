"""Your own data: a folder of images with a continuous target, a hyperspectral scene in a ``.mat`` file.

The FIERCE age experiment (:class:`~c2f_utils.chapters.fierce.AgeRun`, ``dataset
"image_folder"``) reads faces with ages, or any images with a number each, from a folder
(with ``recursive``, its subfolders too) whose targets come from a CSV file or from the
file names:

- ``targets="ages.csv"``: a CSV with a header, one column naming the image files
  (``file``, ``filename``, ``image``, ``path`` or ``name``; relative to the folder) and one
  numeric target column (``target_column``, or the only numeric column); each image once,
  each target finite;
- ``pattern=r"^(\\d+)_"``: a regular expression searched in each file name, whose first
  group (or group ``target``) is the target (UTKFace's naming is ``r"^(\\d+)_"``).

The FIERCE unmixing experiment (:class:`~c2f_utils.chapters.fierce.UnmixingRun`, ``dataset
"mat_file"``) reads a hyperspectral scene from any ``.mat`` file (:func:`unmixing_file`),
named after the file and recorded with its SHA-256.

This module is not part of the dataset registry (:func:`c2f_utils.data.load`): its
folder or file is a parameter, not a fixed dataset name.
"""

from __future__ import annotations

import csv
import math
import os
import re
from pathlib import Path
from typing import Any

import torch

from .._checks import check_bool, check_choice, check_number, check_positive_int
from .core import DatasetNotFoundError, LabeledData, stratified_split, threshold_coarsening
from .files import cached_tensors, content_digest
from .real import IMAGE_SUFFIXES, decode_folder, images_to_tensor, unmixing_scene

__all__ = ["FILE_COLUMNS", "image_regression_folder", "unmixing_file"]

_FLOAT32_MAX = 3.4028234663852886e38

FILE_COLUMNS = ("file", "filename", "image", "path", "name")
"""CSV column names accepted for the image file (the first present is used)."""


def _images(folder: Path, recursive: bool) -> list[Path]:
    """The image files of ``folder`` (and of its subfolders with ``recursive``), sorted."""
    found = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in found if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def _targets_from_csv(
    folder: Path, targets: Path, target_column: str | None, recursive: bool
) -> tuple[list[Path], list[float], int]:
    if not targets.is_file():
        raise DatasetNotFoundError(f"Expected `targets` to be a CSV file, got {targets} (no such file)")
    with open(targets, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise ValueError(f"Expected `targets` {targets} to hold a header and at least one row, got none")
    columns = list(rows[0])
    file_column = next((c for c in FILE_COLUMNS if c in columns), None)
    if file_column is None:
        raise ValueError(f"Expected `targets` {targets} to have a file column among {FILE_COLUMNS}, got {columns}")
    if target_column is None:
        numeric = [c for c in columns if c != file_column and _all_numbers(r[c] for r in rows)]
        if len(numeric) != 1:
            raise ValueError(
                f"Expected `targets` {targets} to have exactly one numeric column besides {file_column!r} "
                f"(or pass `target_column`), got numeric columns {numeric}"
            )
        target_column = numeric[0]
    elif target_column not in columns:
        raise ValueError(f"Expected `target_column` among the columns of {targets} {columns}, got {target_column!r}")
    files, values, missing = [], [], []
    first_line: dict[Path, int] = {}
    for i, row in enumerate(rows, start=2):
        path = folder / row[file_column]
        where = f"`targets` {targets} line {i}, column {target_column!r}"
        try:
            value = float(row[target_column])
        except ValueError:
            raise ValueError(f"Expected a number in {where}, got {row[target_column]!r}") from None
        _check_target_value(value, where)
        if not path.is_file():
            missing.append(row[file_column])
            continue
        # one image twice would be two samples, possibly one in train and one in test
        seen = first_line.setdefault(path.resolve(), i)
        if seen != i:
            raise ValueError(
                f"Expected each image once in `targets` {targets}, got {row[file_column]!r} on lines {seen} and {i}"
            )
        files.append(path)
        values.append(value)
    if missing:
        raise DatasetNotFoundError(
            f"{len(missing)} image(s) listed in {targets} are not in {folder}, e.g. {missing[:3]}"
        )
    listed = {p.resolve() for p in files}
    skipped = sum(1 for p in _images(folder, recursive) if p.resolve() not in listed)
    return files, values, skipped


def _check_target_value(value: float, where: str) -> None:
    """Raise unless ``value`` is finite in float32 (the targets' dtype): a NaN target makes the
    training median NaN and every coarse label 0."""
    if not math.isfinite(value) or abs(value) > _FLOAT32_MAX:
        raise ValueError(f"Expected a finite number (float32) in {where}, got {value!r}")


def _all_numbers(values: Any) -> bool:
    try:
        return all(bool(str(v).strip()) and float(v) == float(v) for v in values)
    except ValueError:
        return False


def _targets_from_names(folder: Path, pattern: str, recursive: bool) -> tuple[list[Path], list[float], int]:
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"Expected `pattern` to be a regular expression, got {pattern!r} ({exc})") from None
    if regex.groups == 0:
        raise ValueError(f"Expected `pattern` with a group capturing the target, got {pattern!r}")
    group = "target" if "target" in regex.groupindex else 1
    files, values, skipped = [], [], 0
    for path in _images(folder, recursive):
        match = regex.search(path.name)
        try:
            value = float(match.group(group)) if match else None
        except (TypeError, ValueError):
            value = None
        if value is None:
            skipped += 1
            continue
        _check_target_value(value, f"the name {path.name!r} (`pattern` {pattern!r})")
        files.append(path)
        values.append(value)
    return files, values, skipped


def image_regression_folder(
    split: str,
    folder: str | Path,
    *,
    targets: str | Path | None = None,
    pattern: str | None = None,
    target_column: str | None = None,
    size: int = 64,
    test_fraction: float = 0.2,
    split_seed: int = 0,
    recursive: bool = False,
) -> LabeledData:
    """Images of ``folder`` resized to ``size x size`` (RGB), fine target = their number.

    Parameters
    ----------
    split : {"train", "test"}
        Seeded split of the images (stratified on the target's quantiles, as
        ``c2f_utils.data.stratified_split`` does), ``test_fraction`` for test.
    folder : path
        The images (``.jpg``, ``.jpeg``, ``.png``, ``.bmp``).
    targets : path, optional
        CSV of file names and targets (see the module docstring). Exactly one of
        ``targets`` and ``pattern``.
    pattern : str, optional
        Regular expression searched in file names; its group ``target`` (or first group)
        is the target. Images it does not match are skipped (counted in ``meta["skipped"]``).
    target_column : str, optional
        The CSV's target column, when it has several numeric ones.
    size : int
        Side of the resized images.
    test_fraction, split_seed : float, int
        Share and seed of the test split.
    recursive : bool
        Also read the images of the subfolders (with ``pattern``, searched in each file's
        name; a CSV may always name files in subfolders, ``25/face.jpg``).

    Returns
    -------
    LabeledData
        Named ``"image_folder"``; coarsening ``"median"``: target above the median of the
        training split (``meta["median"]``), as FIERCE's age experiment uses.
    """
    if split not in ("train", "test"):
        raise ValueError(f"Expected `split` 'train' or 'test', got {split!r}")
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise DatasetNotFoundError(f"Expected `folder` to be a folder of images, got {root} (no such folder)")
    if (targets is None) == (pattern is None):
        raise ValueError(
            f"Expected exactly one of `targets` (a CSV) and `pattern` (a regex on file names), "
            f"got targets={targets!r}, pattern={pattern!r}"
        )
    check_positive_int("size", size, minimum=8)
    check_number("test_fraction", test_fraction, low=0, high=1, low_inclusive=False, high_inclusive=False)
    check_positive_int("split_seed", split_seed, minimum=0)
    check_bool("recursive", recursive)
    if target_column is not None and (targets is None or not isinstance(target_column, str) or not target_column):
        raise ValueError(f"Expected `target_column` as a column name with `targets` (a CSV), got {target_column!r}")
    if targets is not None:
        files, values, skipped = _targets_from_csv(root, Path(targets).expanduser(), target_column, recursive)
    else:
        files, values, skipped = _targets_from_names(root, pattern, recursive)
    if len(files) < 2:
        raise DatasetNotFoundError(f"Expected at least 2 images with a target in {root}, got {len(files)}")

    def decode() -> dict[str, Any]:
        return {"images": torch.as_tensor(decode_folder(files, size, "image_folder"))}

    payload = cached_tensors("image_folder", files, decode, {"size": size, "files": [str(f) for f in files]})
    target = torch.as_tensor(values, dtype=torch.float32)
    train, test = stratified_split(target, test_fraction, split_seed)
    idx = train if split == "train" else test
    median = float(target[train].median())
    return LabeledData(
        "image_folder",
        split,
        images_to_tensor(payload["images"][idx].numpy()),
        target[idx],
        {"median": threshold_coarsening(target[idx], median)},
        ("target",),
        {"median": (f"target <= {median:g}", f"target > {median:g}")},
        {"source": str(root), "median": median, "skipped": skipped, "files": [str(files[i]) for i in idx.tolist()]},
    )


_KEYS = ("data_key", "abundance_key", "endmember_key")


def unmixing_file(
    split: str,
    path: str | Path,
    *,
    pixel_order: str = "auto",
    data_key: str | None = None,
    abundance_key: str | None = None,
    endmember_key: str | None = None,
    test_fraction: float = 0.2,
    split_seed: int = 0,
    split_by: str = "blocks",
    blocks: int = 5,
) -> LabeledData:
    """A hyperspectral unmixing scene of your own, from one ``.mat`` file under any name.

    Read as the registered scenes are (``samson``: :func:`~c2f_utils.data.real.read_unmixing_mat`
    finds the spectra, abundances and endmembers by content and the pixel order by how much of
    the spectra the abundances explain), and split the same way.

    Parameters
    ----------
    split : {"all", "train", "test"}
        Every pixel, or the training or held-out blocks of the image.
    path : path
        The ``.mat`` file (MATLAB 5 to 7.2, as :func:`scipy.io.loadmat` reads).
    pixel_order : {"auto", "F", "C"}
        How images are flattened to pixels: column-major (MATLAB) or row-major; ``"auto"``
        decides from the data and raises when it cannot. An order that pairs the spectra with
        clearly less fitting abundances than the other raises a ValueError naming ``pixel_order``.
    data_key, abundance_key, endmember_key : str, optional
        Names of the arrays (``Y``; ``S_GT``/``A``; ``GT``/``M`` in the usual layouts) when their
        content cannot tell them apart.
    test_fraction, split_seed, split_by, blocks
        The held-out share of the scene and how it is drawn (see ``samson``).

    Returns
    -------
    LabeledData
        Named after the file (its stem), fine target the abundances, coarsening
        ``"argmax"``; ``meta["sha256"]`` the file's SHA-256, ``meta["source"]`` its path.
    """
    check_choice("split", split, ("all", "train", "test"))
    if not isinstance(path, str | os.PathLike) or not os.fspath(path):
        raise ValueError(f"Expected `path` to be the path of a .mat file, got {path!r}")
    file = Path(path).expanduser()
    if not file.is_file():
        raise DatasetNotFoundError(f"Expected `path` to be a .mat file, got {file} (no such file)")
    keys = {k: v for k, v in zip(_KEYS, (data_key, abundance_key, endmember_key), strict=True) if v is not None}
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", file.stem) or "scene"
    data = unmixing_scene(name, split, [file], None, test_fraction, split_seed, pixel_order, split_by, blocks, keys)
    data.meta["sha256"] = content_digest(file).removeprefix("sha256:")
    return data
