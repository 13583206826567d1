"""Data integrity (issue 14, item 1): files verified on read, one error for a damaged file, decoded
tensors keyed by content, copies accepted per machine, no leftovers from a failed download.

The references are independent: :mod:`hashlib` for the checksums, files damaged here byte by byte,
and the loaders' own output before the damage.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from fake_data import write_fake_data

from c2f_utils import data
from c2f_utils.data import DataIntegrityError, DatasetNotFoundError
from c2f_utils.data import files as data_files


@pytest.fixture
def fake_root(tmp_path: Path) -> Path:
    """A private fake data folder (tests here damage its files)."""
    write_fake_data(tmp_path / "data")
    return tmp_path / "data"


def _flip_one_byte(path: Path, offset: int) -> None:
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0xFF
    path.write_bytes(bytes(raw))


def test_registry_entries_are_well_formed() -> None:
    entries = data.registry()
    assert entries, "the package's registry lists no file"
    for path, checksum in entries.items():
        algorithm, digest = checksum.split(":")
        assert algorithm in ("sha256", "md5", "tree-sha256"), path
        assert len(digest) == (32 if algorithm == "md5" else 64) and int(digest, 16) >= 0, path


def test_content_digest_matches_hashlib(tmp_path: Path) -> None:
    f = tmp_path / "a.bin"
    f.write_bytes(b"coarse to fine")
    assert data.content_digest(f) == "sha256:" + hashlib.sha256(b"coarse to fine").hexdigest()
    assert data.content_digest(f, "md5") == "md5:" + hashlib.md5(b"coarse to fine").hexdigest()
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.bin").write_bytes(b"x")
    lines = "".join(
        f"{name}\0{hashlib.sha256(content).hexdigest()}\n"
        for name, content in (("a.bin", b"coarse to fine"), ("sub/b.bin", b"x"))
    )
    assert data.content_digest(tmp_path) == "tree-sha256:" + hashlib.sha256(lines.encode()).hexdigest()
    before = data.content_digest(tmp_path)
    (tmp_path / "sub" / "b.bin").rename(tmp_path / "sub" / "c.bin")  # a rename changes a folder's digest
    assert data.content_digest(tmp_path) != before


def test_digests_are_kept_across_processes_until_a_file_changes(tmp_path: Path, monkeypatch) -> None:
    """A sweep's runs (one process each) hash a folder once: the digest is kept on disk under
    its files' stat stamps, and a write to any file (same size, mtime set back) hashes it again."""
    import os

    from c2f_utils.data import files

    monkeypatch.setenv("C2F_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(3):
        (folder / f"{i}.jpg").write_bytes(bytes([i]) * 10)
    first = data.content_digest(folder)
    single = data.content_digest(folder / "0.jpg", "md5")
    monkeypatch.setattr(files, "_MEMO", {})  # a new process: nothing remembered in memory

    def no_hashing(path, algorithm):
        raise AssertionError(f"{path} hashed again")

    with monkeypatch.context() as m:
        m.setattr(files, "_file_digest", no_hashing)
        assert data.content_digest(folder) == first
        assert data.content_digest(folder / "0.jpg", "md5") == single
    target = folder / "1.jpg"
    before = target.stat()
    target.write_bytes(b"\xff" * 10)  # same size
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))  # mtime set back; ctime moves
    monkeypatch.setattr(files, "_MEMO", {})
    lines = "".join(
        f"{n}.jpg\0{hashlib.sha256(c).hexdigest()}\n" for n, c in ((0, b"\0" * 10), (1, b"\xff" * 10), (2, b"\2" * 10))
    )
    assert data.content_digest(folder) == "tree-sha256:" + hashlib.sha256(lines.encode()).hexdigest() != first
    (tmp_path / "cache" / "data" / "digests.json").write_text("not json")  # a damaged store is recomputed
    monkeypatch.setattr(files, "_MEMO", {})
    assert data.content_digest(folder / "0.jpg", "md5") == single


def test_shared_copies_match_the_registry(shared_data: Path) -> None:
    """Every registered file of the shared data folder has its registered checksum (no accepted override)."""
    checked = 0
    for path, checksum in data.registry().items():
        if (shared_data / path).exists():
            algorithm = checksum.split(":")[0]
            actual = data.content_digest(shared_data / path, "md5" if algorithm == "md5" else "sha256")
            assert actual == checksum, path
            checked += 1
    assert checked >= 5


def test_one_changed_byte_of_same_size_is_refused(fake_root: Path) -> None:
    """The issue's case: a CIFAR-10H counts file with one byte changed (same size) used to load."""
    path = fake_root / "cifar10h" / "cifar10h-counts.npy"
    expected = data.registry(fake_root)["cifar10h/cifar10h-counts.npy"]
    size = path.stat().st_size
    _flip_one_byte(path, size - 3)
    assert path.stat().st_size == size
    with pytest.raises(DataIntegrityError) as info:
        data.load("cifar10h", "test", data_dir=fake_root, download=False)
    message = str(info.value)
    assert "'cifar10h'" in message and str(path) in message and expected in message
    assert "python -m c2f_utils.data accept" in message  # how to fix it
    assert info.value.dataset == "cifar10h" and info.value.path == path and info.value.expected == expected


def test_recompressed_mnist_labels_are_refused(fake_root: Path) -> None:
    """The issue's case: an MNIST label file re-compressed with its first labels altered."""
    path = fake_root / "mnist" / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(path.read_bytes()))
    raw[8:12] = bytes((b + 1) % 10 for b in raw[8:12])
    path.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(DataIntegrityError, match=r"'mnist'.*t10k-labels-idx1-ubyte\.gz"):
        data.load("mnist", "test", data_dir=fake_root, download=False)


def test_accepting_a_copy_makes_it_load(fake_root: Path) -> None:
    path = fake_root / "cifar10h" / "cifar10h-counts.npy"
    counts = np.load(path)
    counts[0] = counts[0][::-1]  # another valid copy: same shape, non-negative counts
    np.save(path, counts)
    with pytest.raises(DataIntegrityError):
        data.load("cifar10h", "test", data_dir=fake_root, download=False)
    entry = data.accept("cifar10h/cifar10h-counts.npy", fake_root)
    assert entry == "cifar10h/cifar10h-counts.npy sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    d = data.load("cifar10h", "test", data_dir=fake_root, download=False)
    assert torch.equal(d.meta["counts"][0], torch.as_tensor(counts[0]))


def test_accept_from_the_command_line(fake_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from c2f_utils.data.__main__ import main

    path = fake_root / "hyperspectral" / "Samson.mat"
    _flip_one_byte(path, path.stat().st_size // 2)
    assert main(["--data-dir", str(fake_root), "check", "samson"]) == 1
    assert "DAMAGED" in capsys.readouterr().out
    assert main(["--data-dir", str(fake_root), "accept", str(path)]) == 0
    assert (fake_root / "c2f-registry.txt").read_text().count("hyperspectral/Samson.mat") == 1


@pytest.mark.parametrize("name", ["jasper_ridge", "mnist"])
def test_truncated_file_names_the_dataset_and_the_file(fake_root: Path, name: str) -> None:
    """A truncated file with no registered checksum (the issue: a raw EOFError/OSError naming neither)."""
    path = {
        "jasper_ridge": fake_root / "hyperspectral" / "jasperRidge2_R198.mat",
        "mnist": fake_root / "mnist" / "t10k-images-idx3-ubyte",  # an uncompressed copy: no registered checksum
    }[name]
    if name == "mnist":
        path.write_bytes(gzip.decompress((fake_root / "mnist" / "t10k-images-idx3-ubyte.gz").read_bytes()))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataIntegrityError, match=f"'{name}'.*{path.name}.*cannot be read"):
        data.load(name, "test", data_dir=fake_root, download=False)


def test_truncated_jpeg_of_an_image_folder_is_named(fake_root: Path) -> None:
    folder = fake_root / "utkface" / "crop_part1"
    victim = sorted(folder.iterdir())[0]
    victim.write_bytes(victim.read_bytes()[:40])
    data.accept("utkface/crop_part1", fake_root)  # the checksum is not what is tested here
    with pytest.raises(DataIntegrityError, match=f"'utkface'.*{victim.name}"):
        data.load("utkface", "train", data_dir=fake_root, download=False, size=16)


def test_in_place_edit_is_never_served_stale(tmp_path: Path) -> None:
    """The decoded cache is keyed by content: an in-place edit with the same size and modification
    time (the old key: path, size, whole-second mtime) is decoded again."""
    from PIL import Image

    from c2f_utils.data.folders import image_regression_folder

    folder = tmp_path / "faces"
    folder.mkdir()
    for i in range(4):
        Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(folder / f"{20 + i}_face.bmp")
    first = image_regression_folder("train", folder, pattern=r"^(\d+)_", size=8, test_fraction=0.5)
    victim = folder / "20_face.bmp"
    stat = victim.stat()
    Image.fromarray(np.full((8, 8, 3), 250, np.uint8)).save(victim)  # BMP: same size in bytes
    os.utime(victim, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert victim.stat().st_size == stat.st_size and victim.stat().st_mtime_ns == stat.st_mtime_ns
    again = image_regression_folder("train", folder, pattern=r"^(\d+)_", size=8, test_fraction=0.5)
    row = [i for i, f in enumerate(first.meta["files"]) if f.endswith("20_face.bmp")]
    assert row, "the edited image is in the training part"
    assert torch.allclose(again.x[row[0]], torch.full((3, 8, 8), 250 / 255))
    assert not torch.allclose(first.x[row[0]], again.x[row[0]])


def test_failed_download_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A download that fails half-way removes its partial file and the folders it created."""
    import torchvision.datasets.utils as tv_utils

    def broken(url: str, root: str, filename: str, md5: str | None = None) -> None:
        Path(root).mkdir(parents=True, exist_ok=True)
        (Path(root) / filename).write_bytes(b"partial")
        raise OSError("connection reset")

    monkeypatch.setattr(tv_utils, "download_url", broken)
    root = tmp_path / "data"
    with pytest.raises(DatasetNotFoundError, match="connection reset"):
        data.load("cifar10h", "test", data_dir=root, download=True)
    assert not root.exists()
    root.mkdir()
    with pytest.raises(DatasetNotFoundError):
        data.load("mnist", "test", data_dir=root, download=True)
    assert list(root.iterdir()) == []  # the data folder was there before: kept, and empty


def test_failed_torchvision_download_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from torchvision.datasets import CIFAR10

    def broken(self: CIFAR10) -> None:
        Path(self.root).mkdir(parents=True, exist_ok=True)
        (Path(self.root) / "cifar-10-python.tar.gz").write_bytes(b"partial")
        (Path(self.root) / "cifar-10-batches-py").mkdir()
        raise OSError("connection reset")

    monkeypatch.setattr(CIFAR10, "download", broken)
    root = tmp_path / "data"
    root.mkdir()
    (root / "mine.txt").write_text("the user's own file")
    with pytest.raises(DatasetNotFoundError, match="connection reset"):
        data.load("cifar10", "train", data_dir=root, download=True)
    assert [p.name for p in root.iterdir()] == ["mine.txt"]


def test_damaged_cifar_batches_are_an_integrity_error(tmp_path: Path) -> None:
    """torchvision checks the batches' MD5 itself: its refusal becomes the same error type."""
    write_fake_data(tmp_path)
    with pytest.raises(DataIntegrityError, match=r"'cifar10'.*cifar-10-batches-py"):
        data.load("cifar10", "test", data_dir=tmp_path, download=False)


def test_registry_file_errors_name_the_line(tmp_path: Path) -> None:
    (tmp_path / "c2f-registry.txt").write_text("mnist/x.gz sha1:abc\n")
    with pytest.raises(ValueError, match=r"line 1.*sha1:abc"):
        data.registry(tmp_path)


def test_accept_refuses_paths_outside_the_data_folder(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "elsewhere.bin").write_bytes(b"x")
    with pytest.raises(ValueError, match="inside the data folder"):
        data.accept(tmp_path / "elsewhere.bin", tmp_path / "data")
    with pytest.raises(FileNotFoundError, match="no such file"):
        data.accept("missing.bin", tmp_path / "data")


def test_decoded_cache_is_reused_for_unchanged_content(fake_root: Path) -> None:
    calls = []

    def decode() -> dict[str, torch.Tensor]:
        calls.append(1)
        return {"x": torch.arange(3)}

    source = fake_root / "hyperspectral" / "Samson.mat"
    first = data_files.cached_tensors("t", [source], decode)
    copy = fake_root / "copy.mat"
    shutil.copy(source, copy)
    second = data_files.cached_tensors("t", [copy], decode)  # same content elsewhere: same entry
    assert calls == [1] and torch.equal(first["x"], second["x"])
