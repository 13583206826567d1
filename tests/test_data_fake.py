"""Every real loader reads a fake copy of its dataset in the public on-disk format (tests/fake_data.py).

Each check compares what ``load`` returns with what :func:`fake_data.write_fake_data`
wrote (pixels, labels, counts, abundances), never with the loader's own output.
"""

from __future__ import annotations

import math
import pickle
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from fake_data import FAKE_FILES, FGVC_PER_SPLIT, FGVC_VARIANTS, FakeData, accept_fake_cifar_batches, write_fake_data

import c2f_utils.data.cifar100  # registered by the synthesis chapter; imported here so that it is checked
import c2f_utils.data.fgvc  # noqa: F401 - registered by the OT chapter; imported here so that it is checked
from c2f_utils import data
from c2f_utils.data import DatasetNotFoundError, LabeledData

REAL_SPLITS = [(name, split) for name in data.available("real") for split in data.describe(name).splits]
VEHICLES = (0, 1, 8, 9)
JPEG_TOLERANCE = 3 / 255  # mean absolute error of the JPEG copies (blocky images, quality 95, no subsampling)


def _images(array: np.ndarray) -> torch.Tensor:
    """uint8 ``(N, H, W[, C])`` -> float ``(N, C, H, W)`` in [0, 1], as the loaders document."""
    t = torch.as_tensor(array, dtype=torch.float32) / 255
    return t.unsqueeze(1) if t.ndim == 3 else t.permute(0, 3, 1, 2)


def _n_test(n: int, fraction: float = 0.2) -> int:
    return math.ceil(n * fraction)  # scikit-learn's train_test_split


# --------------------------------------------------------------------------- per-dataset checks


def check_mnist(d: LabeledData, fake: FakeData, split: str) -> None:
    images, labels = fake.mnist[split]
    assert d.x.shape == (len(labels), 1, 28, 28)
    torch.testing.assert_close(d.x, _images(images), rtol=0, atol=1e-6)
    assert torch.equal(d.fine, torch.as_tensor(labels, dtype=torch.int64))
    assert torch.equal(d.coarse["lt5"], torch.as_tensor(labels >= 5, dtype=torch.int64))
    assert torch.equal(d.coarse["parity"], torch.as_tensor(labels % 2, dtype=torch.int64))
    assert d.n_classes() == 10


def check_cifar10(d: LabeledData, fake: FakeData, split: str) -> None:
    images, labels = fake.cifar10[split]  # the original batch order, exact pixels
    assert d.x.shape == (len(labels), 3, 32, 32)
    torch.testing.assert_close(d.x, _images(images), rtol=0, atol=1e-6)
    assert torch.equal(d.fine, torch.as_tensor(labels))
    assert torch.equal(d.coarse["vehicle"], torch.as_tensor(np.isin(labels, VEHICLES), dtype=torch.int64))
    assert d.meta["source"].endswith("cifar-10-batches-py")


def check_cifar10_jpeg(d: LabeledData, fake: FakeData, split: str) -> None:
    images, labels = fake.cifar10_folder[split]  # class by class, files sorted
    assert d.x.shape == (len(labels), 3, 32, 32)
    assert (d.x - _images(images)).abs().mean() < JPEG_TOLERANCE
    assert torch.equal(d.fine, torch.as_tensor(labels))
    assert torch.equal(d.coarse["vehicle"], torch.as_tensor(np.isin(labels, VEHICLES), dtype=torch.int64))
    assert d.meta["source"].endswith(f"cifar10-jpeg/{split}")
    assert d.meta["digest"].startswith("tree-sha256:")


def check_cifar10h(d: LabeledData, fake: FakeData, split: str) -> None:
    counts = torch.as_tensor(fake.cifar10h)
    assert len(d) == len(fake.cifar10["test"][1]) == len(counts)  # one row per fake CIFAR-10 test image
    assert torch.equal(d.x, torch.arange(len(counts)))
    assert torch.equal(d.meta["counts"], counts)
    torch.testing.assert_close(d.fine, counts.float() / counts.sum(1, keepdim=True))
    assert torch.equal(d.coarse["majority"], counts.argmax(1))


def check_cifar_fs(d: LabeledData, fake: FakeData, split: str) -> None:
    pairs = fake.cifar_fs[split]
    fine_names, _ = fake.cifar100_names
    wanted = [fine_names.index(f) for _, f in pairs]
    images = np.concatenate([fake.cifar100[s][0] for s in ("train", "test")])
    labels = np.concatenate([fake.cifar100[s][1] for s in ("train", "test")])
    keep = np.isin(labels, wanted)
    assert d.fine_names == tuple(f for _, f in pairs)
    assert d.x.shape == (int(keep.sum()), 3, 32, 32)
    torch.testing.assert_close(d.x, _images(images[keep]), rtol=0, atol=1e-6)
    assert torch.equal(d.fine, torch.as_tensor([wanted.index(c) for c in labels[keep]]))
    supers = sorted({s for s, _ in pairs})
    assert d.coarse_names["superclass"] == tuple(supers)
    expected_super = [supers.index(pairs[wanted.index(c)][0]) for c in labels[keep]]
    assert torch.equal(d.coarse["superclass"], torch.as_tensor(expected_super))
    if split == "test":  # novel classes: enough images for 5-shot, 15-query episodes
        assert min(Counter(d.fine.tolist()).values()) >= 20


def check_cifar100(d: LabeledData, fake: FakeData, split: str) -> None:
    images, fine, coarse = fake.cifar100[split]
    fine_names, coarse_names = fake.cifar100_names
    torch.testing.assert_close(d.x, _images(images), rtol=0, atol=1e-6)
    assert torch.equal(d.fine, torch.as_tensor(fine)) and torch.equal(d.coarse["superclass"], torch.as_tensor(coarse))
    assert d.fine_names == tuple(fine_names) and d.coarse_names["superclass"] == tuple(coarse_names)


def _blocks(rows: int, index: np.ndarray, blocks: int = 5) -> np.ndarray:
    """Block of the loaders' default 5 x 5 grid holding each pixel of a square fake scene (column-major)."""
    r, c = index % rows, index // rows
    edges = np.rint(np.arange(blocks + 1) * rows / blocks)
    return (np.searchsorted(edges, r, side="right") - 1) * blocks + np.searchsorted(edges, c, side="right") - 1


def _check_unmixing(d: LabeledData, fake: FakeData, split: str, name: str) -> None:
    truth = fake.unmixing[name]
    pixels, abund = truth["pixels"], truth["abundances"]
    n_pix, bands = pixels.shape
    rows = math.isqrt(n_pix)
    torch.testing.assert_close(d.meta["endmembers"], torch.as_tensor(truth["endmembers"], dtype=torch.float32))
    assert d.x.shape[1] == bands and d.fine.shape[1] == abund.shape[1]
    # the rows of a split are pixels of the scene, each with its own abundances and its place in the image
    dist = torch.cdist(d.x.double(), torch.as_tensor(pixels))
    best = dist.argmin(1).numpy()
    assert dist.min(1).values.max() < 1e-5 and len(set(best.tolist())) == len(d)
    if split == "all":
        assert np.array_equal(best, np.arange(n_pix))  # pixel order kept (column-major for Samson)
    np.testing.assert_array_equal(d.meta["coordinates"].numpy(), np.stack([best % rows, best // rows], 1))
    torch.testing.assert_close(d.fine, torch.as_tensor(abund[best], dtype=torch.float32))
    assert torch.equal(d.coarse["argmax"], d.fine.argmax(1))
    if split != "all":  # whole blocks of the 5 x 5 grid, a fifth of them held out
        held = data.load(name, "test", data_dir=Path(d.meta["source"][0]).parents[1], download=False)
        test_pixels = torch.cdist(held.x.double(), torch.as_tensor(pixels)).argmin(1).numpy()
        test_blocks = set(_blocks(rows, test_pixels).tolist())
        every = _blocks(rows, np.arange(n_pix))
        assert len(test_blocks) == 5 and set(test_pixels.tolist()) == set(
            np.flatnonzero(np.isin(every, list(test_blocks))).tolist()
        )
        in_test = np.isin(_blocks(rows, best), list(test_blocks))
        assert in_test.all() if split == "test" else not in_test.any()


def check_samson(d: LabeledData, fake: FakeData, split: str) -> None:
    _check_unmixing(d, fake, split, "samson")
    assert d.fine_names == ("soil", "tree", "water")


def check_jasper_ridge(d: LabeledData, fake: FakeData, split: str) -> None:
    _check_unmixing(d, fake, split, "jasper_ridge")


def check_urban(d: LabeledData, fake: FakeData, split: str) -> None:
    _check_unmixing(d, fake, split, "urban")


def check_utkface(d: LabeledData, fake: FakeData, split: str) -> None:
    faces = fake.utkface
    n_test = _n_test(len(faces))
    assert len(d) == (n_test if split == "test" else len(faces) - n_test)
    assert d.x.shape[1:] == (3, 64, 64)
    assert d.meta["skipped"] == fake.utkface_skipped
    # each fake face is one uniform colour: it tells which file a row was read from
    colors = torch.as_tensor(np.stack([f["color"] for f in faces]), dtype=torch.float32) / 255
    dist = torch.cdist(d.x.mean((2, 3)), colors)
    match = dist.argmin(1)
    assert dist.min(1).values.max() < 0.03 and len(set(match.tolist())) == len(d)
    assert d.fine.tolist() == [float(faces[i]["age"]) for i in match]
    assert d.meta["gender"].tolist() == [faces[i]["gender"] for i in match]
    assert d.meta["race"].tolist() == [faces[i]["race"] for i in match]
    assert torch.equal(d.coarse["median"], (d.fine > d.meta["median_age"]).long())


def check_occluded_cifar(d: LabeledData, fake: FakeData, split: str) -> None:
    images, labels = fake.cifar10[split]
    base = _images(images)
    assert d.x.shape == (len(labels), 3, 32, 32)
    assert torch.equal(d.fine, torch.as_tensor(labels))
    assert set(d.meta["nuisance"].tolist()) <= set(range(10))
    outside = torch.ones_like(d.x, dtype=torch.bool)
    for i, (top, left, h, w) in enumerate(d.meta["box"].tolist()):
        assert (h, w) == (16, 16) and 0 <= top <= 16 and 0 <= left <= 16
        outside[i, :, top : top + h, left : left + w] = False
    torch.testing.assert_close(d.x[outside], base[outside], rtol=0, atol=1e-6)  # untouched outside the box


def check_cluttered_mnist(d: LabeledData, fake: FakeData, split: str) -> None:
    images, labels = fake.mnist[split]
    digits = _images(images)
    assert d.x.shape == (len(labels), 1, 60, 60)
    assert torch.equal(d.fine, torch.as_tensor(labels, dtype=torch.int64))
    for i, (top, left, h, w) in enumerate(d.meta["box"].tolist()):
        assert (h, w) == (28, 28)
        assert (d.x[i, 0, top : top + h, left : left + w] >= digits[i, 0]).all()  # pixel-wise max of layers


def check_mnist10k(d: LabeledData, fake: FakeData, split: str) -> None:
    """The fake MNIST test files split 80/20, stratified on the digit: every image once, in file order."""
    images, labels = fake.mnist["test"]
    per_class = Counter(labels.tolist())
    expected = {c: n - math.ceil(0.2 * n) if split == "train" else math.ceil(0.2 * n) for c, n in per_class.items()}
    assert Counter(d.fine.tolist()) == expected
    rows = {bytes(im.tobytes()): int(y) for im, y in zip(images, labels, strict=True)}
    pixels = (d.x[:, 0] * 255).round().to(torch.uint8).numpy()
    assert all(rows[bytes(im.tobytes())] == int(y) for im, y in zip(pixels, d.fine, strict=True))
    assert d.name == "mnist10k" and d.coarse["lt5"].tolist() == (d.fine >= 5).long().tolist()


def check_cluttered_mnist10k(d: LabeledData, fake: FakeData, split: str) -> None:
    """Cluttered MNIST from mnist10k's split: its digits and labels, each inside its own box."""
    digits = data.load("mnist10k", split, data_dir=fake.root, download=False)
    assert d.x.shape == (len(digits), 1, 60, 60)
    assert torch.equal(d.fine, digits.fine)
    for i, (top, left, h, w) in enumerate(d.meta["box"].tolist()):
        assert (h, w) == (28, 28)
        assert (d.x[i, 0, top : top + h, left : left + w] >= digits.x[i, 0]).all()  # pixel-wise max of layers


def check_occluded_cifar10_jpeg(d: LabeledData, fake: FakeData, split: str) -> None:
    """The JPEG copy's images and labels, untouched outside the occluder's box; the occluders'
    digits are those of mnist10k's same split."""
    with pytest.warns(data.real.LossySourceWarning):
        base = data.load("cifar10_jpeg", split, data_dir=fake.root, download=False)
    digits = data.load("mnist10k", split, data_dir=fake.root, download=False)
    assert d.x.shape == base.x.shape and torch.equal(d.fine, base.fine)
    assert set(d.meta["nuisance"].tolist()) <= set(digits.fine.tolist())
    outside = torch.ones_like(d.x, dtype=torch.bool)
    for i, (top, left, h, w) in enumerate(d.meta["box"].tolist()):
        assert (h, w) == (16, 16) and 0 <= top <= 16 and 0 <= left <= 16
        outside[i, :, top : top + h, left : left + w] = False
    torch.testing.assert_close(d.x[outside], base.x[outside], rtol=0, atol=1e-6)
    assert not torch.equal(d.x, base.x)  # the digits were painted


def check_fgvc_aircraft(d: LabeledData, fake: FakeData, split: str) -> None:
    per_variant = FGVC_PER_SPLIT * (2 if split == "trainval" else 1)
    assert d.x.shape == (per_variant * len(FGVC_VARIANTS), 3, 256, 256)
    assert d.fine_names == FGVC_VARIANTS
    assert Counter(d.fine.tolist()) == dict.fromkeys(range(len(FGVC_VARIANTS)), per_variant)


CHECKS: dict[str, Callable[[LabeledData, FakeData, str], None]] = {
    "mnist": check_mnist,
    "cifar10": check_cifar10,
    "cifar10_jpeg": check_cifar10_jpeg,
    "cifar10h": check_cifar10h,
    "cifar_fs": check_cifar_fs,
    "cifar100": check_cifar100,
    "samson": check_samson,
    "jasper_ridge": check_jasper_ridge,
    "urban": check_urban,
    "utkface": check_utkface,
    "occluded_cifar": check_occluded_cifar,
    "cluttered_mnist": check_cluttered_mnist,
    "fgvc_aircraft": check_fgvc_aircraft,
    "mnist10k": check_mnist10k,
    "cluttered_mnist10k": check_cluttered_mnist10k,
    "occluded_cifar10_jpeg": check_occluded_cifar10_jpeg,
}

# Datasets read through torchvision's CIFAR classes, which refuse any batch file whose MD5
# is not the original's (see test_torchvision_refuses_fake_cifar_batches).
NEEDS_MD5_BYPASS = {"cifar10", "occluded_cifar", "cifar_fs", "cifar100"}


# --------------------------------------------------------------------------- tests


def test_every_real_dataset_has_a_fake_copy(fake_data_dir) -> None:
    """A new real loader needs a fake copy in tests/fake_data.py and a check here."""
    real = set(data.available("real"))
    assert real - set(FAKE_FILES) == set(), "real datasets without a fake copy in tests/fake_data.py"
    assert real - set(CHECKS) == set(), "real datasets without a check in tests/test_data_fake.py"
    missing = [f for files in FAKE_FILES.values() for f in files if not (fake_data_dir / f).exists()]
    assert missing == []


@pytest.mark.parametrize(("name", "split"), REAL_SPLITS)
def test_real_loader_reads_fake_copy(
    name: str, split: str, fake_data: FakeData, fake_data_dir, monkeypatch: pytest.MonkeyPatch
) -> None:
    if name in NEEDS_MD5_BYPASS:
        accept_fake_cifar_batches(monkeypatch)
    d = data.load(name, split, data_dir=fake_data_dir, download=False)
    assert isinstance(d, LabeledData) and d.name == name and d.split == split
    assert d.x.dtype in (torch.float32, torch.int64)
    if d.x.dtype == torch.float32 and d.x.ndim == 4:
        assert 0 <= float(d.x.min()) and float(d.x.max()) <= 1
    CHECKS[name](d, fake_data, split)


def test_fake_data_is_small(fake_data: FakeData) -> None:
    assert fake_data.size_bytes() < 5_000_000


def test_fake_cifar_batches_are_python2_pickles(fake_data_dir) -> None:
    """Like the originals: ``encoding="bytes"`` gives bytes keys, ``"latin1"`` (torchvision) str keys."""
    path = fake_data_dir / "cifar-100-python" / "train"
    with open(path, "rb") as handle:
        raw = pickle.load(handle, encoding="bytes")
    with open(path, "rb") as handle:
        text = pickle.load(handle, encoding="latin1")
    assert set(raw) == {b"data", b"fine_labels", b"coarse_labels", b"filenames", b"batch_label"}
    assert set(text) == {k.decode() for k in raw}
    assert raw[b"data"].dtype == np.uint8 and raw[b"data"].shape[1] == 3072
    assert np.array_equal(raw[b"data"], text["data"])
    with open(fake_data_dir / "cifar-100-python" / "meta", "rb") as handle:
        meta = pickle.load(handle, encoding="bytes")
    assert len(meta[b"fine_label_names"]) == 100 and len(meta[b"coarse_label_names"]) == 20


def test_cifar10_never_falls_back_to_the_jpeg_copy(tmp_path) -> None:
    """Without the original batches, ``cifar10`` is missing (its message names ``cifar10_jpeg``), however
    complete the JPEG copy beside it; ``cifar10_jpeg`` reads that copy and announces it."""
    write_fake_data(tmp_path, cifar10_batches=False)
    with pytest.raises(DatasetNotFoundError, match="cifar10_jpeg"):
        data.load("cifar10", "test", data_dir=tmp_path, download=False)
    with pytest.warns(data.real.LossySourceWarning, match="image-folder copy"):
        d = data.load("cifar10_jpeg", "test", data_dir=tmp_path, download=False)
    assert d.name == "cifar10_jpeg" and d.meta["source"].endswith("cifar10-jpeg/test")


@pytest.mark.xfail(
    strict=True,
    raises=data.DataIntegrityError,
    reason="torchvision's CIFAR10/CIFAR100 check each batch file's MD5 against the original on every read, "
    "so the loaders refuse any copy but the original files (a loader reading the batches itself would pass)",
)
def test_torchvision_refuses_fake_cifar_batches(fake_data_dir) -> None:
    data.load("cifar_fs", "test", data_dir=fake_data_dir, download=False)
