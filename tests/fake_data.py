"""Tiny fake copies of every real dataset, written in its public on-disk format.

As torchvision's own tests do, :func:`write_fake_data` writes a few random samples of
each dataset the real loaders read (:mod:`c2f_utils.data.real`,
:mod:`c2f_utils.data.occluded`), in the exact files and layout the public
distributions use, so that every loader (and a chapter's real and paper profiles
under ``--smoke``) runs without the real files and without network:

=========================  ==========================================================
dataset                    fake files (under the returned root)
=========================  ==========================================================
mnist, cluttered_mnist     ``mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz``
cifar10, occluded_cifar    ``cifar-10-batches-py/`` (unless ``cifar10_batches=False``)
cifar10_jpeg               ``cifar10-jpeg/{train,test}/<class>/NNNN.jpg``
cifar10h                   ``cifar10h/cifar10h-counts.npy`` (one row per fake CIFAR-10
                           test image, in test-batch order)
cifar_fs                   ``splits/cifar-fs/{train,val,test}.json`` +
                           ``cifar-100-python/{train,test,meta}``
samson                     ``hyperspectral/Samson.mat``
jasper_ridge               ``hyperspectral/jasperRidge2_R198.mat`` + ``end4.mat``
urban                      ``hyperspectral/Urban_R162.mat`` + ``end4_groundTruth.mat``
utkface                    ``utkface/crop_part1/<age>_<gender>_<race>_<date>.jpg.chip.jpg``
=========================  ==========================================================

The CIFAR python batches are Python-2 pickles like the originals (string keys stored
as Python 2 ``str``): ``pickle.load(f, encoding="bytes")`` gives ``b"data"`` keys and
``encoding="latin1"`` (torchvision) gives ``"data"``. torchvision checks the MD5 of
every batch file on each read, so it refuses these copies unless the check is lifted
(:func:`accept_fake_cifar_batches`). Every other fake file that has a registered checksum
is accepted in the fake folder (:func:`c2f_utils.data.accept`, the way a reader accepts a
valid copy of their own), so the loaders verify them against the fake copy's checksums.

Every value is drawn from a seeded :class:`numpy.random.Generator`; nothing is copied
from the real datasets. What was written is returned as a :class:`FakeData` so that
tests compare the loaders' output with it.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import pickle
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "CIFAR10_CLASSES",
    "FAKE_FILES",
    "FakeData",
    "accept_fake_cifar_batches",
    "write_fake_cifar10_batches",
    "write_fake_data",
]

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

# Samples per class (MNIST, CIFAR-10), per CIFAR-100 class (novel classes need 5 shots
# + 15 queries for a few-shot episode), pixels of the unmixing scenes, UTKFace faces.
MNIST_PER_CLASS = {"train": 30, "test": 30}  # mnist10k: 24 training digits a class, 10 shots + 10 for validation
CIFAR10_PER_CLASS = {"train": 20, "test": 20}  # 20 a class: a 5-way 5-shot episode with 15 queries
CIFAR10_TRAIN_BATCHES = 5
CIFAR100_PER_CLASS = {"novel": (16, 4), "other": (5, 1)}  # (train, test) images per class
CIFAR_FS_SIZES = {"train": 64, "val": 16, "test": 20}
UTKFACE_FACES = 40
UTKFACE_SIZE = 32

# Files (or folders) each registered real dataset reads, relative to the fake root.
FAKE_FILES: dict[str, tuple[str, ...]] = {
    "mnist": tuple(f"mnist/{s}-{p}-ubyte.gz" for s in ("train", "t10k") for p in ("images-idx3", "labels-idx1")),
    "cifar10": ("cifar-10-batches-py/data_batch_1", "cifar-10-batches-py/test_batch"),
    "cifar10_jpeg": ("cifar10-jpeg/train", "cifar10-jpeg/test"),
    "cifar10h": ("cifar10h/cifar10h-counts.npy",),
    "cifar_fs": (
        "splits/cifar-fs/train.json",
        "splits/cifar-fs/val.json",
        "splits/cifar-fs/test.json",
        "cifar-100-python/train",
        "cifar-100-python/test",
        "cifar-100-python/meta",
    ),
    "cifar100": ("cifar-100-python/train", "cifar-100-python/test", "cifar-100-python/meta"),
    "samson": ("hyperspectral/Samson.mat",),
    "jasper_ridge": ("hyperspectral/jasperRidge2_R198.mat", "hyperspectral/end4.mat"),
    "urban": ("hyperspectral/Urban_R162.mat", "hyperspectral/end4_groundTruth.mat"),
    "utkface": ("utkface/crop_part1",),
    "occluded_cifar": ("cifar-10-batches-py/test_batch", "mnist/train-images-idx3-ubyte.gz"),
    "cluttered_mnist": ("mnist/train-images-idx3-ubyte.gz", "mnist/t10k-images-idx3-ubyte.gz"),
    "fgvc_aircraft": ("fgvc-aircraft-2013b/data/variants.txt", "fgvc-aircraft-2013b/data/images"),
    "mnist10k": tuple(f"mnist/t10k-{p}-ubyte.gz" for p in ("images-idx3", "labels-idx1")),
    "cluttered_mnist10k": tuple(f"mnist/t10k-{p}-ubyte.gz" for p in ("images-idx3", "labels-idx1")),
    "occluded_cifar10_jpeg": ("cifar10-jpeg/train", "cifar10-jpeg/test", "mnist/t10k-images-idx3-ubyte.gz"),
}
FGVC_VARIANTS = ("707-320", "A340-500")
FGVC_PER_SPLIT = 2  # images per variant in each of train, val, test (trainval: both)


@dataclass
class FakeData:
    """A fake data folder and what was written in it.

    Attributes
    ----------
    root : Path
        The folder to pass as ``data_dir``.
    mnist : dict
        ``{"train"|"test": (images uint8 (N, 28, 28), labels uint8 (N,))}`` in file order.
    cifar10 : dict
        ``{"train"|"test": (images uint8 (N, 32, 32, 3), labels int64 (N,))}`` in the
        original batch order; ``cifar10_folder`` the same in image-folder order (class
        by class, files sorted). The JPEG files hold these pixels up to JPEG loss.
    cifar10h : np.ndarray
        int64 ``(N_test, 10)`` counts, rows in CIFAR-10 test-batch order.
    cifar100 : dict
        ``{"train"|"test": (images (N, 32, 32, 3), fine (N,), coarse (N,))}`` and
        ``cifar100_names`` ``(fine_names, coarse_names)``.
    cifar_fs : dict
        ``{"train"|"val"|"test": [[superclass, fine_class], ...]}`` as in the JSON files.
    unmixing : dict
        Per scene: ``pixels`` (P, bands) float64 and ``abundances`` (P, materials),
        rows lined up (pixel ``p``), plus ``endmembers`` (materials, bands).
    utkface : list of dict
        One entry per well-named face: ``file``, ``age``, ``gender``, ``race``, ``color``
        (the uniform RGB colour of the image); ``utkface_skipped`` ill-named files.
    """

    root: Path
    mnist: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    cifar10: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    cifar10_folder: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    cifar10h: np.ndarray | None = None
    cifar100: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=dict)
    cifar100_names: tuple[list[str], list[str]] = ([], [])
    cifar_fs: dict[str, list[list[str]]] = field(default_factory=dict)
    unmixing: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    utkface: list[dict[str, Any]] = field(default_factory=list)
    utkface_skipped: int = 0

    def size_bytes(self) -> int:
        """Total size of the files written."""
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())


# --------------------------------------------------------------------------- file formats


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as a gzipped IDX file (magic ``0x0000 08 <ndim>``, big-endian dims)."""
    if array.dtype != np.uint8:
        raise ValueError(f"Expected uint8, got {array.dtype}")
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape)
    with gzip.GzipFile(path, "wb", mtime=0) as handle:
        handle.write(header + np.ascontiguousarray(array).tobytes())


class _Py2Str(bytes):
    """A Python 2 ``str``: pickled with the (SHORT_)BINSTRING opcodes, as in the original CIFAR files."""


class _Py2Pickler(pickle._Pickler):  # the Python implementation: its dispatch table can be extended
    dispatch = pickle._Pickler.dispatch.copy()

    def _save_py2_str(self, obj: bytes) -> None:
        n = len(obj)
        if n < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([n]) + bytes(obj))
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", n) + bytes(obj))

    dispatch[_Py2Str] = _save_py2_str
    dispatch[bytes] = _save_py2_str  # raw bytes (numpy's array data) were Python 2 ``str`` too


def _py2(obj: Any) -> Any:
    """Python 3 ``str`` -> Python 2 ``str`` (recursively in dicts and lists)."""
    if isinstance(obj, str):
        return _Py2Str(obj.encode("latin1"))
    if isinstance(obj, dict):
        return {_py2(k): _py2(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_py2(v) for v in obj]
    return obj


def write_py2_pickle(path: Path, obj: dict[str, Any]) -> None:
    """Pickle ``obj`` (protocol 2) the way Python 2 wrote the CIFAR batches."""
    buffer = io.BytesIO()
    _Py2Pickler(buffer, protocol=2).dump(_py2(obj))
    path.write_bytes(buffer.getvalue())


def _cifar_rows(images: np.ndarray) -> np.ndarray:
    """``(N, 32, 32, 3)`` -> the CIFAR row layout ``(N, 3072)``: 1024 red, 1024 green, 1024 blue, row-major."""
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2).reshape(len(images), -1))


def _save_jpeg(path: Path, image: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(image, "RGB").save(path, "JPEG", quality=95, subsampling=0)


def _blocky_images(rng: np.random.Generator, n: int, size: int = 32, block: int = 8) -> np.ndarray:
    """Random images made of ``block x block`` squares (they survive JPEG almost unchanged)."""
    coarse = rng.integers(0, 256, (n, size // block, size // block, 3), dtype=np.uint8)
    return coarse.repeat(block, axis=1).repeat(block, axis=2)


def _labels(rng: np.random.Generator, per_class: int, n_classes: int) -> np.ndarray:
    return rng.permutation(np.repeat(np.arange(n_classes), per_class))


# --------------------------------------------------------------------------- datasets


def _write_mnist(root: Path, rng: np.random.Generator, fake: FakeData) -> None:
    folder = root / "mnist"
    folder.mkdir(parents=True)
    for split, prefix in (("train", "train"), ("test", "t10k")):
        labels = _labels(rng, MNIST_PER_CLASS[split], 10).astype(np.uint8)
        ink = rng.random((len(labels), 28, 28)) < 0.25  # mostly black, like digits
        images = np.where(ink, rng.integers(1, 256, (len(labels), 28, 28)), 0).astype(np.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
        fake.mnist[split] = (images, labels)


def _write_cifar10(root: Path, rng: np.random.Generator, fake: FakeData, batches: bool) -> None:
    for split in ("train", "test"):
        labels = _labels(rng, CIFAR10_PER_CLASS[split], 10).astype(np.int64)
        images = _blocky_images(rng, len(labels))
        fake.cifar10[split] = (images, labels)
        order = np.argsort(labels, kind="stable")  # image-folder order: class by class, NNNN = rank in class
        fake.cifar10_folder[split] = (images[order], labels[order])
        for c, name in enumerate(CIFAR10_CLASSES):
            folder = root / "cifar10-jpeg" / split / name
            folder.mkdir(parents=True)
            for k, i in enumerate(np.flatnonzero(labels == c)):
                _save_jpeg(folder / f"{k:04d}.jpg", images[i])
    if batches:
        _write_cifar10_batches(root / "cifar-10-batches-py", fake.cifar10)


def write_fake_cifar10_batches(root: Path, per_class: dict[str, int], seed: int = 0) -> None:
    """Only CIFAR-10's python batches (``cifar-10-batches-py/``), ``per_class[split]`` random images a class;
    torchvision reads them with :func:`accept_fake_cifar_batches`."""
    rng = np.random.default_rng(seed)
    splits = {}
    for split, n in per_class.items():
        labels = np.repeat(np.arange(10), n)
        splits[split] = (_blocky_images(rng, len(labels)), labels)
    _write_cifar10_batches(Path(root) / "cifar-10-batches-py", splits)


def _write_cifar10_batches(folder: Path, splits: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    """The original layout: ``data_batch_1..5`` (the training split cut in five), ``test_batch``, ``batches.meta``."""
    folder.mkdir(parents=True)
    if "train" in splits:
        images, labels = splits["train"]
        for b, part in enumerate(np.array_split(np.arange(len(labels)), CIFAR10_TRAIN_BATCHES), start=1):
            _write_cifar_batch(folder / f"data_batch_{b}", f"training batch {b} of 5", images[part], labels[part])
    if "test" in splits:
        _write_cifar_batch(folder / "test_batch", "testing batch 1 of 1", *splits["test"])
    per_batch = len(splits["train"][1]) // CIFAR10_TRAIN_BATCHES if "train" in splits else 0
    meta = {"num_cases_per_batch": per_batch, "label_names": list(CIFAR10_CLASSES), "num_vis": 3072}
    write_py2_pickle(folder / "batches.meta", meta)
    (folder / "readme.html").write_text(
        "<meta HTTP-EQUIV='REFRESH' content='0; url=https://www.cs.toronto.edu/~kriz/cifar.html'>"
    )


def _write_cifar_batch(path: Path, batch_label: str, images: np.ndarray, labels: np.ndarray) -> None:
    write_py2_pickle(
        path,
        {
            "batch_label": batch_label,
            "labels": [int(v) for v in labels],
            "data": _cifar_rows(images),
            "filenames": [f"fake_{i:05d}.png" for i in range(len(labels))],
        },
    )


def _write_cifar10h(root: Path, rng: np.random.Generator, fake: FakeData) -> None:
    """Human label counts for the fake test set: 47-63 annotators, mostly the true class."""
    labels = fake.cifar10["test"][1]
    counts = np.empty((len(labels), 10), dtype=np.int64)
    for i, y in enumerate(labels):
        p = rng.dirichlet(np.full(10, 0.3)) * 0.3
        p[y] += 0.7
        counts[i] = rng.multinomial(int(rng.integers(47, 64)), p / p.sum())
    (root / "cifar10h").mkdir()
    np.save(root / "cifar10h" / "cifar10h-counts.npy", counts)
    fake.cifar10h = counts


def _write_cifar100(root: Path, rng: np.random.Generator, fake: FakeData) -> None:
    """CIFAR-100 (100 fine classes in 20 superclasses of 5) and a CIFAR-FS split of them."""
    fine_names = [f"class_{i:02d}" for i in range(100)]
    coarse_names = [f"superclass_{j:02d}" for j in range(20)]
    coarse_of = rng.permutation(np.repeat(np.arange(20), 5))
    classes = rng.permutation(100)
    cuts = np.cumsum([0, *CIFAR_FS_SIZES.values()])
    split_classes = {s: classes[cuts[k] : cuts[k + 1]] for k, s in enumerate(CIFAR_FS_SIZES)}
    fs_folder = root / "splits" / "cifar-fs"
    fs_folder.mkdir(parents=True)
    for split, members in split_classes.items():
        pairs = sorted([coarse_names[coarse_of[c]], fine_names[c]] for c in members)
        (fs_folder / f"{split}.json").write_text(json.dumps(pairs, separators=(",", ":")))
        fake.cifar_fs[split] = pairs
    novel = set(split_classes["test"].tolist())
    per_class = np.array([CIFAR100_PER_CLASS["novel" if c in novel else "other"] for c in range(100)])
    folder = root / "cifar-100-python"
    folder.mkdir()
    for col, split in enumerate(("train", "test")):
        fine = rng.permutation(np.repeat(np.arange(100), per_class[:, col])).astype(np.int64)
        coarse = coarse_of[fine].astype(np.int64)
        images = _blocky_images(rng, len(fine))
        write_py2_pickle(
            folder / split,
            {
                "filenames": [f"fake_{i:05d}.png" for i in range(len(fine))],
                "batch_label": f"{'training' if split == 'train' else 'testing'} batch 1 of 1",
                "fine_labels": [int(v) for v in fine],
                "coarse_labels": [int(v) for v in coarse],
                "data": _cifar_rows(images),
            },
        )
        fake.cifar100[split] = (images, fine, coarse)
    write_py2_pickle(folder / "meta", {"fine_label_names": fine_names, "coarse_label_names": coarse_names})
    fake.cifar100_names = (fine_names, coarse_names)


def _abundances(rng: np.random.Generator, n_pixels: int, n_mat: int) -> np.ndarray:
    """Dirichlet abundances whose dominant material takes every value at least 3 times."""
    while True:
        a = rng.dirichlet(np.full(n_mat, 0.7), n_pixels)
        if np.bincount(a.argmax(1), minlength=n_mat).min() >= 3:
            return a


def _write_samson(folder: Path, rng: np.random.Generator, fake: FakeData, rows: int = 12, bands: int = 10) -> None:
    """``Y`` bands x pixels (column-major pixel order), ``GT`` 3 x bands, ``S_GT`` rows x cols x 3."""
    from scipy.io import savemat

    a = _abundances(rng, rows * rows, 3)  # pixel p = r + c * rows (MATLAB order)
    gt = rng.random((3, bands))
    gt /= gt.max(1, keepdims=True)
    y = np.clip(0.38 * a @ gt + rng.normal(0, 0.005, (rows * rows, bands)), 0, None)
    s_gt = a.reshape(rows, rows, 3, order="F")
    size = np.array([[rows]], dtype=np.uint8)
    savemat(folder / "Samson.mat", {"Y": y.T, "GT": gt, "S_GT": s_gt, "lines": size, "cols": size})
    fake.unmixing["samson"] = {"pixels": y, "abundances": a, "endmembers": gt}


def _write_zhu(
    folder: Path,
    rng: np.random.Generator,
    fake: FakeData,
    name: str,
    files: tuple[str, str],
    rows: int,
    bands: int,
    max_value: int,
) -> None:
    """Zhu et al.'s layout: data ``Y`` (bands x pixels, integer reflectances) + ``maxValue``; ``M``, ``A``."""
    from scipy.io import savemat

    a = _abundances(rng, rows * rows, 4)
    m = rng.random((bands, 4))
    y = np.rint(np.clip(a @ m.T + rng.normal(0, 0.01, (rows * rows, bands)), 0, 1) * max_value)
    savemat(
        folder / files[0],
        {
            "Y": y.T,
            "maxValue": np.array([[max_value]], dtype=np.float64),
            "nRow": np.array([[rows]], dtype=np.float64),
            "nCol": np.array([[rows]], dtype=np.float64),
            "nBand": np.array([[bands]], dtype=np.float64),
            "SlectBands": np.arange(1, bands + 1, dtype=np.float64)[:, None],
        },
    )
    names = np.array([["Tree"], ["Soil"], ["Water"], ["Road"]], dtype=object)
    savemat(folder / files[1], {"M": m, "A": a.T, "cood": names, "nEnd": np.array([[4]], dtype=np.float64)})
    fake.unmixing[name] = {"pixels": y / max_value, "abundances": a, "endmembers": m.T}


def _write_utkface(root: Path, rng: np.random.Generator, fake: FakeData) -> None:
    """Uniformly coloured faces named ``<age>_<gender>_<race>_<date>.jpg.chip.jpg``, plus one ill-named file."""
    from PIL import Image

    folder = root / "utkface" / "crop_part1"
    folder.mkdir(parents=True)
    ages = rng.integers(1, 100, UTKFACE_FACES)
    colors = rng.integers(0, 256, (UTKFACE_FACES, 3), dtype=np.uint8)
    for i, age in enumerate(ages):
        gender, race = int(rng.integers(0, 2)), int(rng.integers(0, 5))
        date = f"2017{rng.integers(1, 13):02d}{rng.integers(1, 29):02d}{rng.integers(0, 10**9):09d}"
        name = f"{age}_{gender}_{race}_{date}.jpg.chip.jpg"
        Image.new("RGB", (UTKFACE_SIZE, UTKFACE_SIZE), tuple(int(v) for v in colors[i])).save(
            folder / name, "JPEG", quality=95
        )
        fake.utkface.append({"file": name, "age": int(age), "gender": gender, "race": race, "color": colors[i]})
    # the real crop_part1 holds a few files whose race field is missing: the loader skips them
    Image.new("RGB", (UTKFACE_SIZE, UTKFACE_SIZE)).save(folder / "61_1_20170109142408075.jpg.chip.jpg", "JPEG")
    fake.utkface_skipped = 1


def _jpeg(path: Path, size: tuple[int, int], value: int) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    image = np.full((size[1], size[0], 3), value, dtype=np.uint8)
    image[-20:] = 255  # the copyright banner of every FGVC-Aircraft image
    Image.fromarray(image).save(path, quality=95)


def write_fake_fgvc(root: Path, variants: tuple[str, ...] = FGVC_VARIANTS, per_split: int = FGVC_PER_SPLIT) -> None:
    """A tiny copy of FGVC-Aircraft in the public archive's layout, as torchvision reads it."""
    data_dir = root / "fgvc-aircraft-2013b" / "data"
    data_dir.mkdir(parents=True)
    (data_dir / "variants.txt").write_text("".join(f"{v}\n" for v in variants))
    lines: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    number = 1000000
    for c, variant in enumerate(variants):
        for split in lines:
            for _ in range(per_split):
                number += 1
                _jpeg(data_dir / "images" / f"{number}.jpg", (48 + 8 * c, 40), 40 * c)
                lines[split].append(f"{number} {variant}\n")
    lines["trainval"] = lines["train"] + lines["val"]
    for split, rows in lines.items():
        (data_dir / f"images_variant_{split}.txt").write_text("".join(rows))


def write_fake_data(root: Path, seed: int = 0, *, cifar10_batches: bool = True, accept: bool = True) -> FakeData:
    """Write fake copies of every real dataset under ``root`` (created; must not hold them yet).

    ``cifar10_batches`` writes CIFAR-10's python batches (``cifar-10-batches-py/``), which
    torchvision reads only with :func:`accept_fake_cifar_batches`. ``accept`` records the
    checksum of every fake file or folder the package's registry knows in
    ``root/c2f-registry.txt`` (without it the loaders refuse them as damaged copies).
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    fake = FakeData(root)
    _write_mnist(root, rng, fake)
    _write_cifar10(root, rng, fake, cifar10_batches)
    _write_cifar10h(root, rng, fake)
    _write_cifar100(root, rng, fake)
    hyper = root / "hyperspectral"
    hyper.mkdir()
    _write_samson(hyper, rng, fake)
    _write_zhu(hyper, rng, fake, "jasper_ridge", ("jasperRidge2_R198.mat", "end4.mat"), 10, 14, 4096)
    _write_zhu(hyper, rng, fake, "urban", ("Urban_R162.mat", "end4_groundTruth.mat"), 11, 12, 1000)
    _write_utkface(root, rng, fake)
    write_fake_fgvc(root)
    if accept:
        from c2f_utils.data import accept as accept_copy
        from c2f_utils.data import registry

        for path in registry():
            if (root / path).exists():
                accept_copy(path, root)
    return fake


def accept_fake_cifar_batches(monkeypatch: Any) -> None:
    """Let torchvision's CIFAR10/CIFAR100 read fake batches: its MD5 check only tests that the file exists.

    torchvision verifies each batch file against the MD5 of the original on every read
    (``CIFAR10._check_integrity``, ``_load_meta``), so a fake copy is refused as
    "corrupted" without this patch (``monkeypatch``: a :class:`pytest.MonkeyPatch`).
    """
    import torchvision.datasets.cifar as tv_cifar

    monkeypatch.setattr(tv_cifar, "check_integrity", lambda fpath, md5=None: os.path.isfile(fpath))
