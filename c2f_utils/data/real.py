"""Real datasets, read from the data folder (``$C2F_DATA_DIR``).

Expected layout inside the data folder (any one of the alternatives):

=============  =========================================================================
dataset        files
=============  =========================================================================
cifar10        ``cifar-10-batches-py/`` (torchvision, downloaded when online)
cifar10_jpeg   an image-folder copy ``cifar10-jpeg/{train,test}/<class>/*.jpg`` (lossy,
               and the shared copy holds 20,000 of the 50,000 training images)
mnist          ``mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz`` (the test
               split alone is enough for ``split="test"``), downloaded when online
cifar10h       ``cifar10h/cifar10h-counts.npy``, downloaded when online
samson         ``hyperspectral/Samson.mat`` (``Y``, ``GT``, ``S_GT``)
jasper_ridge   ``hyperspectral/Jasper.mat`` (laid out as ``Samson.mat``), or
               ``hyperspectral/jasperRidge2_R198.mat`` + ``hyperspectral/end4.mat``
urban          ``hyperspectral/Urban.mat`` (laid out as ``Samson.mat``), or
               ``hyperspectral/Urban_R162.mat`` + ``hyperspectral/end4_groundTruth.mat``
utkface        ``utkface/crop_part1/`` or ``utkface/UTKFace/``: ``<age>_<gender>_<race>_*.jpg``
cifar_fs       ``splits/cifar-fs/{train,val,test}.json`` + ``cifar-100-python/`` (torchvision)
=============  =========================================================================

Every file with a known checksum is verified when it is read, and a damaged one raises
:class:`~c2f_utils.data.files.DataIntegrityError` (:mod:`c2f_utils.data.files`). Decoded
tensors are cached under ``$C2F_CACHE_DIR/data``, keyed by the files' content: the images
are decoded once. No loader chooses another source on its own: the JPEG copy of CIFAR-10 is
its own dataset name, ``cifar10_jpeg``, announced by a :class:`LossySourceWarning` when read.
"""

from __future__ import annotations

import gzip
import math
import os
import re
import shutil
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._checks import check_choice, check_number, check_positive_int
from ..constants import CIFAR10_CLASSES, CIFAR10_NAMES, CIFAR10H_COUNTS
from .core import LabeledData, mapping_coarsening, register, stratified_split, take_split, threshold_coarsening
from .embedded import digit_coarsenings
from .files import DataIntegrityError, cached_tensors, fetch, missing_error, reading, verify
from .splits import block_split

__all__ = [
    "CIFAR10_CLASSES",
    "CIFAR10_NAMES",
    "UNMIXING_LAYOUTS",
    "LossySourceWarning",
    "cifar10",
    "cifar10_jpeg",
    "cifar10h",
    "cifar_fs",
    "jasper_ridge",
    "mnist",
    "mnist10k",
    "read_idx",
    "read_unmixing_mat",
    "samson",
    "urban",
    "utkface",
]

_VEHICLES = {0, 1, 8, 9}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """``(N, H, W[, C])`` uint8 -> float32 ``(N, C, H, W)`` in [0, 1]."""
    t = torch.as_tensor(images)
    if t.ndim == 3:
        t = t.unsqueeze(-1)
    return t.permute(0, 3, 1, 2).contiguous().float().div_(255.0)


def decode_folder(files: list[Path], size: int | None = None, dataset: str = "image folder") -> np.ndarray:
    """Decode image files to one ``(N, H, W, 3)`` uint8 array (optionally resized); a file that
    cannot be decoded raises :class:`DataIntegrityError` naming ``dataset`` and the file."""
    from PIL import Image

    out = []
    for f in files:
        with reading(dataset, f), Image.open(f) as img:
            img = img.convert("RGB")
            if size is not None and img.size != (size, size):
                img = img.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=None)
            out.append(np.asarray(img, dtype=np.uint8))
    return np.stack(out)


class LossySourceWarning(UserWarning):
    """A dataset was read from a lossy or smaller copy than the original (e.g. ``cifar10_jpeg``)."""


# --------------------------------------------------------------------------- CIFAR-10


def _cifar10_data(name: str, split: str, payload: dict[str, Any], origin: str, digest: str) -> LabeledData:
    fine = payload["labels"].to(torch.int64)
    return LabeledData(
        name,
        split,
        images_to_tensor(payload["images"].numpy()),
        fine,
        {"vehicle": mapping_coarsening(fine, {c: int(c in _VEHICLES) for c in range(10)})},
        CIFAR10_CLASSES,
        {"vehicle": ("animal", "vehicle")},
        {"source": origin, "digest": digest},
    )


@register(
    "cifar10",
    kind="real",
    splits=("train", "test"),
    description="CIFAR-10 (Krizhevsky 2009), the original batches (torchvision); coarsening vehicle",
)
def cifar10(split: str, *, data_dir: Path, download: bool) -> LabeledData:
    """CIFAR-10 as ``(N, 3, 32, 32)`` images in [0, 1], from the original python batches.

    Read from ``cifar-10-batches-py/`` with torchvision, which checks every batch file's
    MD5 against the original on each read (downloaded when missing and ``download``).
    An image-folder copy is never used in their place: ask for it by name,
    ``"cifar10_jpeg"``.

    Coarsening ``"vehicle"``: 1 for airplane, automobile, ship, truck; 0 for animals.
    """
    (ds,) = torchvision_cifar("cifar10", "cifar10", data_dir, download, (split == "train",))
    batches = data_dir / "cifar-10-batches-py"
    payload = {"images": torch.as_tensor(ds.data), "labels": torch.as_tensor(ds.targets)}
    return _cifar10_data("cifar10", split, payload, str(batches), "md5 checked by torchvision")


def torchvision_cifar(dataset: str, which: str, data_dir: Path, download: bool, trains: tuple[bool, ...]) -> list:
    """torchvision's ``CIFAR10``/``CIFAR100`` datasets (one per ``trains`` flag), read from
    ``data_dir``: torchvision checks every file's MD5 against the original's on each read.

    A missing folder is downloaded when ``download`` (a failed download removes its archive
    and the folders it created, then raises :class:`DatasetNotFoundError`); a folder that
    torchvision refuses raises :class:`DataIntegrityError`.
    """
    from torchvision import datasets

    cls, folder, archive = {
        "cifar10": (datasets.CIFAR10, "cifar-10-batches-py", "cifar-10-python.tar.gz"),
        "cifar100": (datasets.CIFAR100, "cifar-100-python", "cifar-100-python.tar.gz"),
    }[which]
    root = data_dir / folder
    url = f"https://www.cs.toronto.edu/~kriz/{archive}"
    if not root.is_dir() and not download:
        other = "; or, for the image-folder copy in cifar10-jpeg/, load 'cifar10_jpeg'" if which == "cifar10" else ""
        raise missing_error(dataset, root, f"Call with download=True to fetch it with torchvision ({url}){other}.")
    present = root.is_dir()
    created = [p for p in (data_dir / archive, root, data_dir) if not p.exists()]
    try:
        return [cls(str(data_dir), train=t, download=download and not present) for t in trains]
    except Exception as exc:
        if present:
            raise DataIntegrityError(
                dataset,
                root,
                f"cannot be read as the original files ({type(exc).__name__}: {exc})",
                f"the files of {archive} with the MD5 sums torchvision lists (torchvision.datasets.{cls.__name__})",
                f"Delete the folder and call with download=True, or unpack {archive} there again.",
            ) from exc
        for path in created:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        raise missing_error(dataset, root, f"torchvision could not download it ({type(exc).__name__}: {exc}).") from exc


@register(
    "cifar10_jpeg",
    kind="real",
    splits=("train", "test"),
    description="CIFAR-10 from an image-folder copy (cifar10-jpeg/, lossy JPEG); coarsening vehicle",
)
def cifar10_jpeg(split: str, *, data_dir: Path, download: bool) -> LabeledData:
    """CIFAR-10 as ``(N, 3, 32, 32)`` images in [0, 1], from the image-folder copy
    ``cifar10-jpeg/{train,test}/<class>/*.jpg``.

    The project's shared copy is lossy (JPEG) and holds 2,000 training images per class
    (20,000 of 50,000) and the full test set in another order than the original's, so
    accuracies are a little below those on the original pixels and the test rows do not
    line up with CIFAR-10H. Reading it emits a :class:`LossySourceWarning`. The folder is
    verified against its registered checksum (or one you accepted). Not downloadable
    (``download`` is ignored). Coarsening ``"vehicle"`` as for ``"cifar10"``.
    """
    root = data_dir / "cifar10-jpeg" / split
    if not root.is_dir():
        raise missing_error(
            "cifar10_jpeg",
            root,
            "Expected an image-folder copy with one sub-folder per class (airplane, automobile, ...); "
            "for the original batches, load 'cifar10'.",
        )
    files, labels = [], []
    for c, name in enumerate(CIFAR10_CLASSES):
        class_dir = root / name
        if not class_dir.is_dir():
            raise missing_error("cifar10_jpeg", class_dir, "The image-folder copy lacks this class folder.")
        found = sorted(p for p in class_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        files += found
        labels += [c] * len(found)
    digest = verify("cifar10_jpeg", root, data_dir)
    warnings.warn(
        f"cifar10_jpeg: CIFAR-10 read from the image-folder copy {root} ({len(files)} images; JPEG is lossy), "
        "not from the original batches ('cifar10')",
        LossySourceWarning,
        stacklevel=3,
    )

    def decode() -> dict[str, Any]:
        images = decode_folder(files, dataset="cifar10_jpeg")
        return {"images": torch.as_tensor(images), "labels": torch.as_tensor(labels)}

    payload = cached_tensors(f"cifar10-folder-{split}", [root], decode)
    return _cifar10_data("cifar10_jpeg", split, payload, str(root), digest)


# --------------------------------------------------------------------------- MNIST

_MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
_MNIST_FILES = {
    ("train", "images"): ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    ("train", "labels"): ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
    ("test", "images"): ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
    ("test", "labels"): ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
}
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (LeCun's MNIST format), gzipped or not, into a numpy array."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number {raw[:4]!r})")
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">i4", count=ndim, offset=4)
    data = np.frombuffer(raw, dtype=_IDX_DTYPES[raw[2]], offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: header announces shape {dims.tolist()} but holds {data.size} values")
    return data.reshape(dims.tolist())


@register(
    "mnist",
    kind="real",
    splits=("train", "test"),
    description="MNIST (LeCun et al. 1998) idx files; coarsenings lt5 and parity",
)
def mnist(split: str, *, data_dir: Path, download: bool) -> LabeledData:
    """MNIST as ``(N, 1, 28, 28)`` images in [0, 1], read from ``mnist/`` idx files.

    Each split needs only its own two files, so ``split="test"`` loads from the
    test files alone. Missing files are downloaded when ``download`` (MD5 checked); every
    file is verified against its registered checksum when read (uncompressed copies,
    which have none, are read as they are).
    """
    folder = data_dir / "mnist"
    how = f"Get it from {_MNIST_URL} (the original LeCun distribution files)."
    paths = []
    for part in ("images", "labels"):
        name, md5 = _MNIST_FILES[(split, part)]
        plain = folder / name.removesuffix(".gz")
        if plain.is_file():
            verify("mnist", plain, data_dir)
            paths.append(plain)
        else:
            paths.append(
                fetch("mnist", _MNIST_URL + name, folder / name, md5, download=download, how=how, data_dir=data_dir)
            )

    def decode() -> dict[str, Any]:
        arrays = []
        for path in paths:
            with reading("mnist", path, data_dir):
                arrays.append(torch.as_tensor(read_idx(path).copy()))
        return {"images": arrays[0], "labels": arrays[1]}

    payload = cached_tensors(f"mnist-{split}", paths, decode)
    fine = payload["labels"].to(torch.int64)
    if len(fine) != len(payload["images"]):
        raise ValueError(f"MNIST {split}: {len(payload['images'])} images but {len(fine)} labels")
    coarse, names = digit_coarsenings(fine)
    return LabeledData(
        "mnist",
        split,
        images_to_tensor(payload["images"].numpy()),
        fine,
        coarse,
        tuple(str(d) for d in range(10)),
        names,
        {"source": str(folder)},
    )


@register(
    "mnist10k",
    kind="real",
    splits=("train", "test"),
    description="the 10,000 MNIST test digits split 80/20 (stratified, seed 0): MNIST with only the test files",
)
def mnist10k(
    split: str, *, data_dir: Path, download: bool, test_fraction: float = 0.2, split_seed: int = 0
) -> LabeledData:
    """The MNIST test set (10,000 digits) cut into a training and a test part.

    For machines that hold only MNIST's two test files (``t10k-*``): the same images,
    labels and coarsenings as :func:`mnist`, split stratified on the digit and seeded
    by ``split_seed``, so the parts are the same on every machine. Its ``train`` part
    (8,000 digits) is smaller than MNIST's 60,000 training digits.
    """
    check_number("test_fraction", test_fraction, low=0, high=1, low_inclusive=False, high_inclusive=False)
    check_positive_int("split_seed", split_seed, minimum=0)
    data = mnist("test", data_dir=data_dir, download=download)
    out = take_split(data, split, test_fraction, split_seed, data.fine)
    out.name = "mnist10k"
    return out


# --------------------------------------------------------------------------- CIFAR-10H

_CIFAR10H_URL = "https://raw.githubusercontent.com/jcpeterson/cifar-10h/master/data/cifar10h-counts.npy"
_CIFAR10H_MD5 = "f1284b6fba48a67d3db69bbafb5685ad"


@register(
    "cifar10h",
    kind="real",
    splits=("test",),
    description="CIFAR-10H (Peterson et al. 2019): human label counts for the CIFAR-10 test set",
)
def cifar10h(split: str, *, data_dir: Path, download: bool) -> LabeledData:
    """CIFAR-10H human label distributions for the 10,000 CIFAR-10 test images.

    ``x`` holds the CIFAR-10 test-set index of each row (int64), so the rows line up
    with ``load("cifar10", "test", source="torchvision")`` (not with image-folder
    copies, whose order differs). ``fine`` is the distribution of the annotators'
    labels, float32 ``(10000, 10)``; ``meta["counts"]`` the raw counts. Coarsening
    ``"majority"``: the most frequent human label.
    """
    path = fetch(
        "cifar10h",
        _CIFAR10H_URL,
        data_dir.joinpath(*CIFAR10H_COUNTS),
        _CIFAR10H_MD5,
        download=download,
        how="It is data/cifar10h-counts.npy of the public jcpeterson/cifar-10h repository.",
        data_dir=data_dir,
    )
    with reading("cifar10h", path, data_dir):
        counts = torch.as_tensor(np.load(path, allow_pickle=False)).to(torch.int64)
        if counts.ndim != 2 or counts.shape[1] != 10 or (counts < 0).any() or (counts.sum(1) == 0).any():
            raise ValueError(
                f"expected non-negative counts of shape (N, 10) with no empty row, got shape {tuple(counts.shape)}"
            )
    probs = counts.float() / counts.sum(1, keepdim=True)
    return LabeledData(
        "cifar10h",
        split,
        torch.arange(len(counts)),
        probs,
        {"majority": counts.argmax(1)},
        CIFAR10_CLASSES,
        {"majority": CIFAR10_CLASSES},
        {"source": str(path), "counts": counts},
    )


# --------------------------------------------------------------------------- hyperspectral unmixing

_MAX_MATERIALS = 32
_SUM_TOLERANCE = 0.05
_ORDER_MARGIN = 0.05
_LOW_FIT = 0.3
_DATA_NAMES = ("Y", "X", "data")
_ENDMEMBER_NAMES = ("GT", "M", "E", "endmembers")
_ABUNDANCE_NAMES = ("S_GT", "A", "abundances")
UNMIXING_LAYOUTS: dict[str, tuple[tuple[str, ...], ...]] = {
    "samson": (("Samson.mat",),),
    "jasper_ridge": (("Jasper.mat",), ("jasperRidge2_R198.mat", "end4.mat")),
    "urban": (("Urban.mat",), ("Urban_R162.mat", "end4_groundTruth.mat")),
}
"""File layouts of each unmixing scene under ``<data dir>/hyperspectral/``, tried in order:
the single file laid out as ``Samson.mat`` is, then the two files of Zhu et al.'s benchmark page."""


def _numeric_arrays(mats: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Every real numeric array of more than one element in the files (first file wins a name)."""
    out: dict[str, np.ndarray] = {}
    for mat in mats:
        for key, value in mat.items():
            arr = np.asarray(value) if not key.startswith("__") else None
            if arr is not None and arr.dtype.kind in "uif" and arr.size > 1 and key not in out:
                out[key] = arr
    return out


def _scalar(mats: list[dict[str, Any]], name: str) -> float | None:
    for mat in mats:
        if name in mat and np.asarray(mat[name]).size == 1:
            return float(np.asarray(mat[name]).ravel()[0])
    return None


def _material_axis(arr: np.ndarray) -> int | None:
    """The axis along which ``arr`` sums to one with entries in [0, 1] (abundances), if any."""
    if arr.ndim not in (2, 3) or arr.min() < -1e-3 or arr.max() > 1 + 1e-3:
        return None
    for axis in sorted(range(arr.ndim), key=lambda a: arr.shape[a]):
        if 2 <= arr.shape[axis] <= _MAX_MATERIALS and np.median(np.abs(arr.sum(axis) - 1)) < _SUM_TOLERANCE:
            return axis
    return None


def _pick(candidates: list[str], names: tuple[str, ...], what: str, label: str, arrays: dict[str, np.ndarray]) -> str:
    """One key among ``candidates``: the only one, or the one with a conventional name."""
    named = [n for n in names if n in candidates]
    if len(candidates) == 1 or named:
        return candidates[0] if len(candidates) == 1 else named[0]
    shapes = {k: v.shape for k, v in arrays.items()}
    problem = "no array" if not candidates else f"several arrays ({candidates})"
    raise KeyError(f"{label}: {problem} could be the {what} (numeric arrays present: {shapes})")


def _abundance_fit(pixels: np.ndarray, abundances: np.ndarray) -> float:
    """Share of the spectra's variance explained by a linear map of the abundances.

    :math:`R^2 = 1 - \\min_W \\lVert Y - A W \\rVert_F^2 / \\lVert Y - \\bar Y \\rVert_F^2`
    (least squares, :func:`numpy.linalg.lstsq`): near 1 when row ``p`` of ``A`` belongs to pixel ``p``
    of ``Y``, near 0 when the rows are shuffled; free of the endmembers' scale.
    """
    w, *_ = np.linalg.lstsq(abundances, pixels, rcond=None)
    total = ((pixels - pixels.mean(0)) ** 2).sum()
    return float(1 - ((pixels - abundances @ w) ** 2).sum() / total) if total > 0 else 0.0


def read_unmixing_mat(
    paths: list[Path],
    pixel_order: str = "auto",
    *,
    dataset: str = "unmixing scene",
    data_dir: Path | None = None,
    data_key: str | None = None,
    abundance_key: str | None = None,
    endmember_key: str | None = None,
) -> dict[str, Any]:
    """Read a hyperspectral unmixing benchmark from MATLAB ``.mat`` files.

    The three arrays are found by content, whatever their names: the abundances are
    the array in [0, 1] that sums to one over an axis of at most 32 materials; the
    data are the largest array whose pixels match the abundances'; the endmembers are
    the array of shape (materials, bands) or (bands, materials). Conventional names
    (``Y``; ``S_GT``/``A``; ``GT``/``M``) only break ties. Data may be bands x pixels,
    pixels x bands or a cube with the bands on its first or last axis; abundances
    materials x pixels, pixels x materials or a rows x cols x materials image.
    Integer reflectances are divided by ``maxValue`` when present, else by their maximum.
    ``data_key``, ``abundance_key`` and ``endmember_key`` name the arrays when their content
    cannot tell them apart (two arrays of the same shape, no conventional name).

    **Pixel order.** An image (a cube or an abundance map) is flattened to pixels in
    column-major (MATLAB, ``"F"``) or row-major (``"C"``) order; with ``"auto"`` both
    pairings of data and abundances are tried and the one in which the abundances
    explain most of the spectra is kept: the least-squares
    :math:`R^2 = 1 - \\min_W \\lVert Y - A W \\rVert_F^2 / \\lVert Y - \\bar Y \\rVert_F^2`
    (on Samson 0.70 column-major, 0.13 row-major). A wrong order pairs each spectrum
    with another pixel's abundances and would silently mislabel every pixel, so when
    the two orders differ by less than 0.05 the reader raises and asks for
    ``pixel_order``; an :math:`R^2` below 0.3 gives a warning. A ``pixel_order`` given
    explicitly is checked the same way: when the other order explains at least 0.05 more of
    the spectra, the reader raises rather than mislabel the pixels.

    Parameters
    ----------
    paths : list of Path
        The ``.mat`` file(s) of one scene (one file, or image and ground truth).
    pixel_order : {"auto", "F", "C"}
        How images are flattened to pixels.
    dataset : str
        The name a file that cannot be decoded is reported under (a
        :class:`DataIntegrityError`), with the fix for ``data_dir`` when given.
    data_dir : Path, optional
        The data folder the files were read from.
    data_key, abundance_key, endmember_key : str, optional
        Names of the spectra, the abundances and the endmembers in the files (``Y``,
        ``S_GT``/``A``, ``GT``/``M`` in the usual layouts); by default found by content.

    Returns
    -------
    dict
        ``pixels`` (P, bands) float32, ``abundances`` (P, materials) float32 and
        ``endmembers`` (materials, bands) float32, with pixel ``p`` of ``pixels``
        lined up with row ``p`` of ``abundances``; ``pixel_order`` (the order used,
        ``"F"``, ``"C"`` or ``"-"`` when nothing was an image), ``pixel_fit``
        (the :math:`R^2` above, for the order used; ``"F/C"``: data cube column-major,
        abundance image row-major) and ``coordinates``, the ``(P, 2)`` row and column of
        each pixel in the image (None when neither an image nor ``nRow``/``nCol`` or
        ``lines``/``cols`` give its shape).
    """
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    check_choice("pixel_order", pixel_order, ("auto", "F", "C"))
    if not isinstance(dataset, str) or not dataset:
        raise ValueError(f"Expected `dataset` to be a non-empty name, got {dataset!r}")
    keys = {"data_key": data_key, "abundance_key": abundance_key, "endmember_key": endmember_key}
    for kname, kvalue in keys.items():
        if kvalue is not None and (not isinstance(kvalue, str) or not kvalue):
            raise ValueError(f"Expected `{kname}` to be the non-empty name of an array, got {kvalue!r}")
    if not paths:
        raise ValueError("Expected at least one .mat file in paths, got an empty list")
    label = " + ".join(str(p) for p in paths)
    mats = []
    for p in paths:
        with reading(dataset, p, data_dir):
            try:
                mats.append(loadmat(p))
            except MatReadError as exc:  # an empty or foreign file: reported as damaged, naming it
                raise ValueError(f"not a MATLAB file: {exc}") from exc
    arrays = _numeric_arrays(mats)
    for kname, kvalue in keys.items():
        if kvalue is not None and kvalue not in arrays:
            shapes = {k: v.shape for k, v in arrays.items()}
            raise KeyError(f"{label}: Expected `{kname}` among the numeric arrays {shapes}, got {kvalue!r}")

    axes = {k: ax for k, v in arrays.items() if (ax := _material_axis(v)) is not None}
    if abundance_key is not None and abundance_key not in axes:
        raise ValueError(
            f"{label}: Expected `abundance_key` to name abundances (entries in [0, 1] summing to one over an axis "
            f"of at most {_MAX_MATERIALS} materials), got {abundance_key!r} of shape {arrays[abundance_key].shape}"
        )
    ab_candidates = [abundance_key] if abundance_key else sorted(axes, key=lambda k: -arrays[k].size)
    ab_key = _pick(ab_candidates, _ABUNDANCE_NAMES, "abundances (pass `abundance_key`)", label, arrays)
    a, m_axis = arrays[ab_key].astype(np.float64), axes[ab_key]
    n_mat, n_pix = a.shape[m_axis], a.size // a.shape[m_axis]
    a = np.moveaxis(a, m_axis, -1)

    def bands_axis(arr: np.ndarray) -> int | None:
        if arr.ndim not in (2, 3) or arr.size % n_pix:
            return None
        fits = [ax for ax in (arr.ndim - 1, 0, 1)[: arr.ndim] if arr.size // arr.shape[ax] == n_pix]
        return fits[0] if fits else None

    data_axes = {k: ax for k, v in arrays.items() if k != ab_key and (ax := bands_axis(v)) is not None}
    if data_key is not None and data_key not in data_axes:
        raise ValueError(
            f"{label}: Expected `data_key` to name spectra of the {n_pix} pixels of the abundances "
            f"{ab_key!r}, got {data_key!r} of shape {arrays[data_key].shape}"
        )
    biggest = max((arrays[k].size for k in data_axes), default=0)
    y_candidates = [data_key] if data_key else [k for k in data_axes if arrays[k].size == biggest]
    y_key = _pick(y_candidates, _DATA_NAMES, "data (pass `data_key`)", label, arrays)
    y, b_axis = arrays[y_key].astype(np.float64), data_axes[y_key]
    n_bands = y.shape[b_axis]
    y = np.moveaxis(y, b_axis, -1)

    shape = sorted((n_mat, n_bands))
    ends = [k for k, v in arrays.items() if k not in (ab_key, y_key) and v.ndim == 2 and sorted(v.shape) == shape]
    if endmember_key is not None and endmember_key not in ends:
        raise ValueError(
            f"{label}: Expected `endmember_key` to name a {n_mat} x {n_bands} array (materials x bands, or "
            f"transposed), got {endmember_key!r} of shape {arrays[endmember_key].shape}"
        )
    e_key = _pick(
        [endmember_key] if endmember_key else ends, _ENDMEMBER_NAMES, "endmembers (pass `endmember_key`)", label, arrays
    )
    e = arrays[e_key].astype(np.float64)
    e = e.T if e.shape != (n_mat, n_bands) else e
    for key in (y_key, ab_key, e_key):
        if not np.isfinite(arrays[key]).all():
            raise ValueError(
                f"{label}: Expected finite values in the array {key!r}, got {int((~np.isfinite(arrays[key])).sum())} "
                "NaN or infinite (a scene with missing values cannot be unmixed; remove those pixels first)"
            )

    max_value = _scalar(mats, "maxValue")
    if max_value is not None:
        if not (math.isfinite(max_value) and max_value > 0):
            raise ValueError(f"{label}: Expected a positive, finite `maxValue` (reflectance scale), got {max_value}")
        y = y / max_value
    elif y.max() > 1.5:
        y = y / y.max()

    def flat(arr: np.ndarray, order: str | None, width: int) -> np.ndarray:
        return arr if order is None else arr.reshape(-1, width, order=order)

    # (name, order of the data cube, order of the abundance image); None where it is not an image
    if y.ndim == 3 and a.ndim == 3:  # a transposed image pairs like a mixed order
        options = [("F", "F", "F"), ("F/C", "F", "C")] if pixel_order == "auto" else [(pixel_order,) * 3]
    elif y.ndim == 3 or a.ndim == 3:  # both orders are scored, also to check an order given explicitly
        options = [(o, o if y.ndim == 3 else None, o if a.ndim == 3 else None) for o in ("F", "C")]
    else:
        options = [("-", None, None)]
    pairings = {name: (flat(y, yo, n_bands), flat(a, ao, n_mat)) for name, yo, ao in options}
    scores = {o: _abundance_fit(y2, a2) for o, (y2, a2) in pairings.items()}
    best = max(scores, key=scores.__getitem__)
    if pixel_order != "auto" and pixel_order in scores:
        if scores[best] - scores[pixel_order] >= _ORDER_MARGIN:
            raise ValueError(
                f"{label}: Expected `pixel_order` to pair each spectrum with its own abundances, got "
                f"{pixel_order!r}, in which the abundances explain {scores[pixel_order]:.3f} of the spectra's "
                f"variance against {scores[best]:.3f} in order {best!r}; pass pixel_order={best!r} or 'auto'"
            )
        best = pixel_order
    elif len(scores) == 2 and abs(np.subtract(*scores.values())) < _ORDER_MARGIN:
        found = ", ".join(f"{o}: {s:.3f}" for o, s in scores.items())
        raise ValueError(
            f"{label}: cannot tell the pixel order of the images (share of the spectra's variance "
            f"explained by the abundances, by order: {found}); pass pixel_order='F' or 'C'"
        )
    if scores[best] < _LOW_FIT:
        import warnings

        warnings.warn(
            f"{label}: the abundances explain little of the spectra "
            f"(R^2 {scores[best]:.3f} in pixel order {best!r}); check that data and ground truth belong together",
            stacklevel=2,
        )
    pixels, abundances = pairings[best]
    return {
        "pixels": pixels.astype(np.float32),
        "abundances": abundances.astype(np.float32),
        "endmembers": e.astype(np.float32),
        "pixel_order": best,
        "pixel_fit": scores[best],
        "coordinates": _coordinates(mats, y, a, dict((o[0], o[1:]) for o in options)[best], n_pix),
    }


def _coordinates(
    mats: list[dict[str, Any]], y: np.ndarray, a: np.ndarray, orders: tuple[str | None, str | None], n_pix: int
) -> np.ndarray | None:
    """``(P, 2)`` row and column of each pixel in the scene's image, or None when its shape is unknown.

    From the image that was flattened (the data cube, else the abundance image) in its order;
    with no image, from the scalars ``nRow``/``nCol`` (or ``lines``/``cols``) of the files, the
    pixels being MATLAB's column-major order.
    """
    (y_order, a_order) = orders
    if y.ndim == 3 or a.ndim == 3:
        rows, cols = (y if y.ndim == 3 else a).shape[:2]
        order = y_order if y.ndim == 3 else a_order
    else:
        sizes = [(_scalar(mats, r), _scalar(mats, c)) for r, c in (("nRow", "nCol"), ("lines", "cols"))]
        shape = next(((r, c) for r, c in sizes if r and c and r * c == n_pix), None)
        if shape is None:
            return None
        (rows, cols), order = (int(shape[0]), int(shape[1])), "F"
    p = np.arange(n_pix)
    row, col = (p % rows, p // rows) if order == "F" else (p // cols, p % cols)
    return np.stack([row, col], 1).astype(np.int64)


def _file_names(files: Any) -> tuple[str, ...]:
    """``files`` of an unmixing scene as a tuple of distinct names; one name (a str or path) is one file."""
    if isinstance(files, str | os.PathLike):
        files = (files,)
    if isinstance(files, bytes) or not isinstance(files, Sequence):
        raise TypeError(f"Expected `files` as a file name or a sequence of them, got {files!r}")
    names = tuple(os.fspath(f) if isinstance(f, str | os.PathLike) else f for f in files)
    if not names or not all(isinstance(f, str) and f for f in names):
        raise ValueError(f"Expected `files` as one or more non-empty file names, got {files!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"Expected `files` with distinct names (image and ground truth), got {files!r}")
    return names


def _check_split(test_fraction: float, split_seed: int, pixel_order: str, split_by: str, blocks: int) -> None:
    check_number("test_fraction", test_fraction, low=0, high=1, low_inclusive=False, high_inclusive=False)
    check_positive_int("split_seed", split_seed, minimum=0)
    check_choice("pixel_order", pixel_order, ("auto", "F", "C"))
    check_choice("split_by", split_by, ("blocks", "pixels"))
    check_positive_int("blocks", blocks, minimum=2)


def _unmixing(
    name: str,
    split: str,
    data_dir: Path,
    files: tuple[str, ...] | None,
    materials: tuple[str, ...] | None,
    test_fraction: float,
    split_seed: int,
    pixel_order: str,
    split_by: str,
    blocks: int,
) -> LabeledData:
    _check_split(test_fraction, split_seed, pixel_order, split_by, blocks)
    folder = data_dir / "hyperspectral"
    layouts = UNMIXING_LAYOUTS[name] if files is None else (_file_names(files),)
    found = next((layout for layout in layouts if all((folder / f).is_file() for f in layout)), None)
    if found is None:
        wanted = " or ".join(" + ".join(layout) for layout in layouts)
        first_missing = next(folder / f for f in layouts[0] if not (folder / f).is_file())
        raise missing_error(
            name,
            first_missing,
            f"Expected {wanted} in {folder}. Hyperspectral unmixing benchmarks have no stable download URL; "
            "copy the .mat files distributed with unmixing toolboxes (e.g. the Zhu et al. benchmark page) "
            "into <data dir>/hyperspectral/, or pass files=.",
        )
    paths = [folder / f for f in found]
    for path in paths:
        verify(name, path, data_dir)
    return unmixing_scene(
        name, split, paths, materials, test_fraction, split_seed, pixel_order, split_by, blocks, {}, data_dir
    )


def unmixing_scene(
    name: str,
    split: str,
    paths: list[Path],
    materials: tuple[str, ...] | None,
    test_fraction: float,
    split_seed: int,
    pixel_order: str,
    split_by: str,
    blocks: int,
    keys: dict[str, str],
    data_dir: Path | None = None,
) -> LabeledData:
    """The scene of the ``.mat`` file(s) ``paths`` (:func:`read_unmixing_mat`, with the array
    names ``keys``), named ``name``, split as the registered scenes are (see ``samson``)."""
    _check_split(test_fraction, split_seed, pixel_order, split_by, blocks)

    def decode() -> dict[str, Any]:
        out = read_unmixing_mat(paths, pixel_order, dataset=name, data_dir=data_dir, **keys)
        return {k: torch.as_tensor(v) if isinstance(v, np.ndarray) else v for k, v in out.items()}

    payload = cached_tensors(f"unmixing-{name}", paths, decode, {"reader": 3, "pixel_order": pixel_order, **keys})
    abund = payload["abundances"]
    n_mat = abund.shape[1]
    names = materials if materials and len(materials) == n_mat else tuple(f"material{i}" for i in range(n_mat))
    data = LabeledData(
        name,
        "all",
        payload["pixels"],
        abund,
        {"argmax": abund.argmax(1)},
        names,
        {"argmax": names},
        {
            "source": [str(p) for p in paths],
            "endmembers": payload["endmembers"],
            "pixel_order": payload["pixel_order"],
            "pixel_fit": payload["pixel_fit"],
        },
    )
    coords = payload["coordinates"]
    if coords is not None:
        data.meta["coordinates"] = coords
    if split == "all":
        return data
    if split_by == "pixels":
        return take_split(data, split, test_fraction, split_seed, data.coarse["argmax"])
    if coords is None:
        raise ValueError(
            f"{name}: Expected the image's shape (an image array, or nRow/nCol scalars) for split_by='blocks', "
            "got pixels only; pass split_by='pixels' for a split into random pixels"
        )
    kept, held = block_split(coords.numpy(), data.coarse["argmax"].numpy(), test_fraction, blocks, split_seed)
    out = data.subset(torch.as_tensor(kept if split == "train" else held))
    out.split = split
    out.meta["coordinates"] = coords[torch.as_tensor(kept if split == "train" else held)]
    return out


_UNMIXING_DOC = """{title} hyperspectral unmixing scene: pixels ``(P, bands)`` and abundances.

    Fine target: the abundance vector of each pixel (float32, rows sum to 1).
    Coarsening ``"argmax"``: the dominant material. ``split="all"`` gives every pixel;
    ``"train"``/``"test"`` hold out ``test_fraction`` of the scene by whole contiguous blocks
    (``split_by="blocks"``, the default: the image cut into ``blocks x blocks`` rectangles,
    the held-out ones drawn with ``split_seed`` so that their dominant materials are shared
    as in the whole scene, :func:`~c2f_utils.data.block_split`): neighbouring pixels are nearly
    alike, and a test pixel beside training pixels is not held out. ``split_by="pixels"``:
    a seeded split into random pixels, stratified on the dominant material.
    ``meta["coordinates"]`` holds the row and column of each pixel of the split;
    ``meta["endmembers"]`` the reference spectra; ``meta["pixel_order"]`` and
    ``meta["pixel_fit"]`` say how images were flattened and how much of the
    spectra's variance the abundances then explain (:func:`read_unmixing_mat`). Files, in
    ``<data dir>/hyperspectral/``, the first layout found: {files} (or pass ``files=``, one
    file name or a tuple of distinct ones); the arrays are found by content, whatever their names.
    """


def _register_unmixing(name: str, title: str, materials: tuple[str, ...] | None):
    def loader(
        split: str,
        *,
        data_dir: Path,
        download: bool,
        files: tuple[str, ...] | None = None,
        test_fraction: float = 0.2,
        split_seed: int = 0,
        pixel_order: str = "auto",
        split_by: str = "blocks",
        blocks: int = 5,
    ) -> LabeledData:
        return _unmixing(
            name, split, data_dir, files, materials, test_fraction, split_seed, pixel_order, split_by, blocks
        )

    loader.__name__ = name
    layouts = " or ".join(" + ".join(f"``{f}``" for f in layout) for layout in UNMIXING_LAYOUTS[name])
    loader.__doc__ = _UNMIXING_DOC.format(title=title, files=layouts)
    return register(name, kind="real", splits=("all", "train", "test"), description=f"{title} unmixing scene")(loader)


samson = _register_unmixing("samson", "Samson", ("soil", "tree", "water"))
jasper_ridge = _register_unmixing("jasper_ridge", "Jasper Ridge", None)
urban = _register_unmixing("urban", "Urban", None)


# --------------------------------------------------------------------------- UTKFace

_UTK_NAME = re.compile(r"^(\d+)_([01])_(\d)_")


@register(
    "utkface",
    kind="real",
    splits=("train", "test"),
    description="UTKFace (Zhang et al. 2017) aligned faces, age from the file name; coarsening median",
)
def utkface(
    split: str,
    *,
    data_dir: Path,
    download: bool,
    size: int = 64,
    test_fraction: float = 0.2,
    split_seed: int = 0,
) -> LabeledData:
    """UTKFace faces resized to ``size x size``, fine target = age in years.

    Files named ``<age>_<gender>_<race>_<date>*.jpg`` are read from
    ``utkface/crop_part1/``, ``utkface/UTKFace/`` or ``UTKFace/``; files whose names
    do not follow that pattern are skipped (their count is in ``meta["skipped"]``).
    The train/test split is seeded. Coarsening ``"median"``: age above the median age
    of the training split (the threshold is in ``meta["median_age"]``), as in FIERCE.
    """
    check_positive_int("size", size, minimum=8)
    check_number("test_fraction", test_fraction, low=0, high=1, low_inclusive=False, high_inclusive=False)
    check_positive_int("split_seed", split_seed, minimum=0)
    candidates = [data_dir / "utkface" / "crop_part1", data_dir / "utkface" / "UTKFace", data_dir / "UTKFace"]
    folder = next((c for c in candidates if c.is_dir()), None)
    if folder is None:
        raise missing_error(
            "utkface",
            candidates[0],
            "UTKFace has no stable download URL: get the aligned & cropped faces from the UTKFace "
            "project page (non-commercial research use) and unpack them there.",
        )
    files, ages, genders, races = [], [], [], []
    skipped = 0
    for p in sorted(folder.iterdir()):
        m = _UTK_NAME.match(p.name)
        if m is None or not p.name.lower().endswith(tuple(IMAGE_SUFFIXES)):
            skipped += 1
            continue
        files.append(p)
        ages.append(int(m.group(1)))
        genders.append(int(m.group(2)))
        races.append(int(m.group(3)))
    if not files:
        raise missing_error("utkface", folder / "<age>_<gender>_<race>_<date>.jpg", "The folder holds no such file.")

    digest = verify("utkface", folder, data_dir)

    def decode() -> dict[str, Any]:
        return {"images": torch.as_tensor(decode_folder(files, size, "utkface"))}

    payload = cached_tensors("utkface", [folder], decode, {"size": size, "n": len(files)})
    age = torch.as_tensor(ages, dtype=torch.float32)
    train, test = stratified_split(age, test_fraction, split_seed)
    idx = train if split == "train" else test
    median = float(age[train].median())
    x = images_to_tensor(payload["images"][idx].numpy())
    return LabeledData(
        "utkface",
        split,
        x,
        age[idx],
        {"median": threshold_coarsening(age[idx], median)},
        ("age",),
        {"median": (f"age <= {median:g}", f"age > {median:g}")},
        {
            "source": str(folder),
            "digest": digest,
            "median_age": median,
            "skipped": skipped,
            "gender": torch.as_tensor(genders)[idx],
            "race": torch.as_tensor(races)[idx],
        },
    )


# --------------------------------------------------------------------------- CIFAR-FS

_CIFAR_FS_URL = (
    "https://raw.githubusercontent.com/tristandeleu/pytorch-meta/master/torchmeta/datasets/assets/cifar100/cifar-fs/"
)
_CIFAR_FS_MD5 = {
    "train": "aa6ebf5d578b10e8867ea2421c3aeee5",
    "val": "c6b45a88282371b18abc1b9b12eaf451",
    "test": "7e0f0cae4d694501fce2c2d45ac5241d",
}


@register(
    "cifar_fs",
    kind="real",
    splits=("train", "val", "test"),
    description="CIFAR-FS (Bertinetto et al. 2019): CIFAR-100 split into 64 base / 16 val / 20 novel classes",
)
def cifar_fs(split: str, *, data_dir: Path, download: bool) -> LabeledData:
    """CIFAR-FS: the 600 images (CIFAR-100 train + test) of each class of one class split.

    ``split`` selects the classes: ``"train"`` the 64 base classes, ``"val"`` 16,
    ``"test"`` the 20 novel classes; fine labels are re-indexed 0..n-1 in the split's
    order (``fine_names``). The class lists are read from
    ``splits/cifar-fs/<split>.json`` (torchmeta's assets, downloaded with an md5 check
    when online) and the images from CIFAR-100 via torchvision (``cifar-100-python/``,
    downloaded when online). Coarsening ``"superclass"``: the CIFAR-100 superclass.
    """
    import json

    name = f"{split}.json"
    split_file = fetch(
        "cifar_fs",
        _CIFAR_FS_URL + name,
        data_dir / "splits" / "cifar-fs" / name,
        _CIFAR_FS_MD5[split],
        download=download,
        how="The class split lists come from torchmeta's assets (MIT).",
        data_dir=data_dir,
    )
    with reading("cifar_fs", split_file, data_dir):
        pairs = json.loads(split_file.read_text())
        if not isinstance(pairs, list) or not all(isinstance(p, list) and len(p) == 2 for p in pairs):
            raise ValueError("expected a JSON list of [superclass, class] pairs")
    root = data_dir / "cifar-100-python"
    parts = torchvision_cifar("cifar_fs", "cifar100", data_dir, download, (True, False))
    classes = parts[0].classes
    images = np.concatenate([p.data for p in parts])
    labels = np.concatenate([np.asarray(p.targets) for p in parts])
    wanted = [classes.index(fine) for _, fine in pairs]
    keep = np.isin(labels, wanted)
    remap = {c: i for i, c in enumerate(wanted)}
    fine = torch.as_tensor([remap[c] for c in labels[keep]], dtype=torch.int64)
    supers = sorted({s for s, _ in pairs})
    super_of = {i: supers.index(s) for i, (s, _) in enumerate(pairs)}
    return LabeledData(
        "cifar_fs",
        split,
        images_to_tensor(images[keep]),
        fine,
        {"superclass": mapping_coarsening(fine, super_of)},
        tuple(f for _, f in pairs),
        {"superclass": tuple(supers)},
        {"source": str(root), "split_file": str(split_file)},
    )
