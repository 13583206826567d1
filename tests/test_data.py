"""Data registry, embedded datasets, coarsenings and the real-data loaders."""

from __future__ import annotations

import gzip
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.io import savemat

from c2f_utils import data
from c2f_utils.data import DatasetNotFoundError, LabeledData
from c2f_utils.data import files as data_files
from c2f_utils.data import real as real_data
from c2f_utils.data.files import content_digest

# --------------------------------------------------------------------------- registry and embedded data


def test_registry_lists_embedded_and_real() -> None:
    assert {"digits", "hierarchical_blobs"} <= set(data.available("embedded"))
    assert {"cifar10", "mnist", "cifar10h", "samson", "utkface"} <= set(data.available("real"))


def test_load_rejects_unknown_name_split_and_option() -> None:
    with pytest.raises(KeyError, match="nope"):
        data.load("nope")
    with pytest.raises(ValueError, match="split"):
        data.load("digits", "validation")
    with pytest.raises(TypeError, match="colour"):
        data.load("digits", colour=True)


def test_digits_split_is_stratified_seeded_and_complete() -> None:
    from sklearn.datasets import load_digits

    train, test = data.load("digits", "train"), data.load("digits", "test")
    assert len(train) + len(test) == 1797
    assert train.x.shape[1:] == (1, 8, 8) and float(train.x.max()) <= 1.0
    # Same split every time, and each digit in the same proportion in both splits.
    torch.testing.assert_close(train.x, data.load("digits", "train").x)
    ratio = np.bincount(test.fine.numpy()) / np.bincount(train.fine.numpy())
    assert np.allclose(ratio, 0.3 / 0.7, atol=0.03)
    # Every image is an original sklearn image with its label.
    ref = load_digits()
    full = data.load("digits", "all")
    np.testing.assert_allclose(full.x.flatten(1).numpy() * 16, ref.data, atol=1e-5)
    np.testing.assert_array_equal(full.fine.numpy(), ref.target)


def test_digit_coarsenings() -> None:
    d = data.load("digits", "all")
    np.testing.assert_array_equal(d.labels("lt5").numpy(), (d.fine.numpy() >= 5).astype(int))
    np.testing.assert_array_equal(d.labels("parity").numpy(), d.fine.numpy() % 2)
    assert d.n_classes("fine") == 10 and d.n_classes("lt5") == 2
    with pytest.raises(KeyError, match="labeling"):
        d.labels("superclass")


def test_hierarchical_blobs_nesting_and_seeding() -> None:
    a = data.load("hierarchical_blobs", "train", n_coarse=3, fine_per_coarse=4, seed=1)
    b = data.load("hierarchical_blobs", "train", n_coarse=3, fine_per_coarse=4, seed=1)
    c = data.load("hierarchical_blobs", "test", n_coarse=3, fine_per_coarse=4, seed=1)
    torch.testing.assert_close(a.x, b.x)
    assert not torch.equal(a.x, c.x)
    np.testing.assert_array_equal(a.labels("super").numpy(), a.fine.numpy() // 4)
    with pytest.raises(ValueError, match="n_coarse"):
        data.load("hierarchical_blobs", n_coarse=1)


def test_labeled_data_validates_shapes() -> None:
    with pytest.raises(ValueError, match="fine"):
        LabeledData("t", "train", torch.zeros(3, 2), torch.zeros(2, dtype=torch.int64))
    with pytest.raises(ValueError, match="coarsening 'c'"):
        LabeledData("t", "train", torch.zeros(3, 2), torch.zeros(3, dtype=torch.int64), {"c": torch.zeros(3)})


# --------------------------------------------------------------------------- errors for missing real data


@pytest.mark.parametrize(
    ("name", "split", "fragment"),
    [
        ("cifar10", "train", "cifar-10-batches-py"),
        ("mnist", "test", "t10k-images-idx3-ubyte.gz"),
        ("cifar10h", "test", "cifar10h-counts.npy"),
        ("samson", "all", "Samson.mat"),
        ("jasper_ridge", "all", "Jasper.mat or jasperRidge2_R198.mat \\+ end4.mat"),
        ("urban", "all", "Urban.mat or Urban_R162.mat \\+ end4_groundTruth.mat"),
        ("utkface", "train", "crop_part1"),
    ],
)
def test_missing_real_dataset_names_file_and_remedy(tmp_path: Path, name: str, split: str, fragment: str) -> None:
    with pytest.raises(DatasetNotFoundError, match=fragment) as info:
        data.load(name, split, data_dir=tmp_path, download=False)
    assert "C2F_DATA_DIR" in str(info.value)


def test_failed_download_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision.datasets.utils as tv_utils

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(tv_utils, "download_url", offline)
    with pytest.raises(DatasetNotFoundError, match="network is unreachable") as info:
        data.load("cifar10h", "test", data_dir=tmp_path, download=True)
    assert "raw.githubusercontent.com" in str(info.value)


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def test_read_idx_against_struct_written_file(tmp_path: Path) -> None:
    arr = np.random.default_rng(0).integers(0, 256, (7, 5, 3), dtype=np.uint8)
    _write_idx(tmp_path / "x.idx.gz", arr)
    np.testing.assert_array_equal(real_data.read_idx(tmp_path / "x.idx.gz"), arr)
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="IDX"):
        real_data.read_idx(tmp_path / "bad")


@pytest.fixture
def http_mirror(tmp_path: Path):
    """A folder served over HTTP on the loopback interface for the duration of a test."""
    import threading
    from functools import partial
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    folder = tmp_path / "mirror"
    folder.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_download_verifies_checksum(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, http_mirror) -> None:
    """Download from a loopback HTTP mirror: a good file is accepted, a corrupt one refused."""
    mirror, url = http_mirror
    rng = np.random.default_rng(0)
    _write_idx(mirror / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (4, 28, 28)))
    _write_idx(mirror / "t10k-labels-idx1-ubyte.gz", np.array([3, 1, 4, 1]))
    files = {
        ("test", part): (name, content_digest(mirror / name, "md5").removeprefix("md5:"))
        for part, name in (("images", "t10k-images-idx3-ubyte.gz"), ("labels", "t10k-labels-idx1-ubyte.gz"))
    }
    monkeypatch.setattr(real_data, "_MNIST_URL", url)
    monkeypatch.setattr(real_data, "_MNIST_FILES", files)
    empty = tmp_path / "registry.txt"  # the mirror serves other files than MNIST's registered ones
    empty.write_text("")
    monkeypatch.setattr(data_files, "_REGISTRY", empty)
    got = data.load("mnist", "test", data_dir=tmp_path / "data", download=True)
    assert got.x.shape == (4, 1, 28, 28) and got.fine.tolist() == [3, 1, 4, 1]

    corrupt = {k: (name, "0" * 32) for k, (name, _) in files.items()}
    monkeypatch.setattr(real_data, "_MNIST_FILES", corrupt)
    with pytest.raises(DatasetNotFoundError, match="t10k-images"):
        data.load("mnist", "test", data_dir=tmp_path / "other", download=True)
    assert not (tmp_path / "other").exists()  # neither the partial file nor the folders the download made


# --------------------------------------------------------------------------- unmixing .mat layouts


def _unmixing_scene(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows, cols, bands, k = 4, 5, 6, 3
    endmembers = rng.uniform(0.1, 1, (k, bands))
    abund = rng.dirichlet(np.ones(k), rows * cols)  # pixel p in column-major (MATLAB) order
    pixels = abund @ endmembers
    return pixels, abund, endmembers


def test_unmixing_reader_column_major_cube(tmp_path: Path) -> None:
    pixels, abund, endmembers = _unmixing_scene(np.random.default_rng(0))
    s_gt = abund.reshape(4, 5, 3, order="F")  # rows x cols x materials, as in Samson.mat
    savemat(tmp_path / "scene.mat", {"Y": pixels.T, "GT": endmembers, "S_GT": s_gt})
    out = real_data.read_unmixing_mat([tmp_path / "scene.mat"])
    np.testing.assert_allclose(out["abundances"], abund, rtol=1e-6)
    np.testing.assert_allclose(out["pixels"], pixels, rtol=1e-6)
    np.testing.assert_allclose(out["pixels"], out["abundances"] @ out["endmembers"], rtol=1e-5)


def test_unmixing_reader_two_files_integer_reflectance(tmp_path: Path) -> None:
    pixels, abund, endmembers = _unmixing_scene(np.random.default_rng(1))
    savemat(tmp_path / "img.mat", {"Y": np.round(pixels.T * 1000).astype(np.int32), "maxValue": 1000})
    savemat(tmp_path / "gt.mat", {"A": abund.T, "M": endmembers.T})
    out = real_data.read_unmixing_mat([tmp_path / "img.mat", tmp_path / "gt.mat"])
    np.testing.assert_allclose(out["pixels"], pixels, atol=1e-3)
    np.testing.assert_allclose(out["endmembers"], endmembers, rtol=1e-6)


def test_unmixing_reader_names_missing_keys(tmp_path: Path) -> None:
    savemat(tmp_path / "x.mat", {"foo": np.zeros(3)})
    with pytest.raises(KeyError, match="foo"):
        real_data.read_unmixing_mat([tmp_path / "x.mat"])


def _scene_image(rng: np.random.Generator, rows: int = 9, cols: int = 7, bands: int = 12, k: int = 4):
    """A scene with spatially smooth abundances (as real scenes have) and its pixels in column-major order."""
    r, c = np.meshgrid(np.linspace(0, 1, rows), np.linspace(0, 1, cols), indexing="ij")
    logits = np.stack([np.sin(3 * r + i) + np.cos(2 * c * (i + 1)) for i in range(k)], -1) * 2
    image = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)  # rows x cols x k, sums to 1
    endmembers = rng.uniform(0.05, 1, (k, bands))
    abund = image.reshape(-1, k, order="F")
    pixels = 0.4 * abund @ endmembers + rng.normal(0, 0.002, (rows * cols, bands))
    return image, abund, pixels, endmembers


def test_unmixing_reader_finds_arrays_by_content_in_a_single_file(tmp_path: Path) -> None:
    """Jasper.mat-style single file, keys renamed: the arrays are recognised by their shapes and sums."""
    image, abund, pixels, endmembers = _scene_image(np.random.default_rng(3))
    scale = 4095
    savemat(
        tmp_path / "Jasper.mat",
        {
            "cube_data": np.round(pixels.T * scale).astype(np.int32),  # bands x pixels, integer reflectances
            "maxValue": scale,
            "refl": endmembers.T,  # bands x materials
            "truth": image,  # rows x cols x materials
            "wavelengths": np.linspace(400, 2500, endmembers.shape[1]),
        },
    )
    data_dir = tmp_path / "data"
    (data_dir / "hyperspectral").mkdir(parents=True)
    shutil.move(tmp_path / "Jasper.mat", data_dir / "hyperspectral" / "Jasper.mat")
    d = data.load("jasper_ridge", "all", data_dir=data_dir, download=False)
    np.testing.assert_allclose(d.fine.numpy(), abund, rtol=1e-6)
    np.testing.assert_allclose(d.x.numpy(), np.round(pixels * scale) / scale, atol=1e-6)
    np.testing.assert_allclose(d.meta["endmembers"].numpy(), endmembers, rtol=1e-6)
    assert d.meta["pixel_order"] == "F" and d.meta["pixel_fit"] > 0.99
    assert d.meta["source"] == [str(data_dir / "hyperspectral" / "Jasper.mat")]


@pytest.mark.parametrize("order", ["F", "C"])
def test_unmixing_reader_detects_the_pixel_order_of_an_abundance_image(tmp_path: Path, order: str) -> None:
    image, _, pixels, endmembers = _scene_image(np.random.default_rng(4))
    # pixels listed in `order`; the abundance image is the same image either way
    listed = pixels.reshape(image.shape[0], image.shape[1], -1, order="F").reshape(-1, pixels.shape[1], order=order)
    savemat(tmp_path / "Urban.mat", {"Y": listed.T, "GT": endmembers, "S_GT": image})
    out = real_data.read_unmixing_mat([tmp_path / "Urban.mat"])
    assert out["pixel_order"] == order
    np.testing.assert_allclose(out["abundances"], image.reshape(-1, image.shape[2], order=order), rtol=1e-6)
    # the other order would mislabel every pixel: forcing it is an error naming the parameter and the right order
    wrong = "C" if order == "F" else "F"
    with pytest.raises(ValueError, match=f"`pixel_order`.*got '{wrong}'.*pass pixel_order='{order}'"):
        real_data.read_unmixing_mat([tmp_path / "Urban.mat"], pixel_order=wrong)


def test_unmixing_reader_lines_up_a_cube_with_bands_first(tmp_path: Path) -> None:
    image, abund, pixels, endmembers = _scene_image(np.random.default_rng(5))
    cube = pixels.reshape(image.shape[0], image.shape[1], -1, order="F").transpose(2, 0, 1)  # bands x rows x cols
    savemat(tmp_path / "scene.mat", {"Y": cube, "M": endmembers.T, "A": abund.T})
    out = real_data.read_unmixing_mat([tmp_path / "scene.mat"])
    np.testing.assert_allclose(out["pixels"], pixels, rtol=1e-6)
    np.testing.assert_allclose(out["abundances"], abund, rtol=1e-6)


def test_unmixing_reader_refuses_an_undecidable_pixel_order(tmp_path: Path) -> None:
    """Abundances unrelated to the spectra: neither order explains them, so none is guessed."""
    rng = np.random.default_rng(6)
    image, _, _, endmembers = _scene_image(rng)
    noise = rng.uniform(0, 1, (image.shape[0] * image.shape[1], endmembers.shape[1]))
    savemat(tmp_path / "scene.mat", {"Y": noise.T, "GT": endmembers, "S_GT": image})
    with pytest.raises(ValueError, match="pixel_order"):
        real_data.read_unmixing_mat([tmp_path / "scene.mat"])
    with pytest.warns(UserWarning, match="explain little"):
        out = real_data.read_unmixing_mat([tmp_path / "scene.mat"], pixel_order="F")
    assert out["pixel_order"] == "F"
    with pytest.raises(ValueError, match="pixel_order"):
        real_data.read_unmixing_mat([tmp_path / "scene.mat"], pixel_order="row")


def test_unmixing_reader_names_ambiguous_arrays(tmp_path: Path) -> None:
    image, _, pixels, endmembers = _scene_image(np.random.default_rng(7))
    savemat(tmp_path / "x.mat", {"p": pixels.T, "q": pixels.T * 2, "GT": endmembers, "S_GT": image})
    with pytest.raises(KeyError, match=r"several arrays.*could be the data"):
        real_data.read_unmixing_mat([tmp_path / "x.mat"])


# --------------------------------------------------------------------------- real data in ../shared/data


@pytest.mark.realdata
def test_mnist_test_split_alone(shared_data: Path) -> None:
    d = data.load("mnist", "test", data_dir=shared_data, download=False)
    assert d.x.shape == (10000, 1, 28, 28)
    assert 0.0 <= float(d.x.min()) and float(d.x.max()) == 1.0
    # The t10k label counts of the original distribution.
    assert np.bincount(d.fine.numpy()).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.mark.realdata
def test_cifar10h_counts(shared_data: Path) -> None:
    d = data.load("cifar10h", "test", data_dir=shared_data, download=False)
    counts = d.meta["counts"]
    assert d.fine.shape == (10000, 10)
    torch.testing.assert_close(d.fine.sum(1), torch.ones(10000))
    assert 47 <= int(counts.sum(1).min()) and int(counts.sum(1).max()) <= 63
    np.testing.assert_array_equal(d.labels("majority").numpy(), counts.argmax(1).numpy())


@pytest.mark.realdata
def test_samson_pixel_order_lines_up(shared_data: Path) -> None:
    d = data.load("samson", "all", data_dir=shared_data, download=False)
    assert d.x.shape == (9025, 156) and d.fine.shape == (9025, 3)
    recon = d.fine.numpy() @ d.meta["endmembers"].numpy()
    x = d.x.numpy()
    xc, rc = x - x.mean(1, keepdims=True), recon - recon.mean(1, keepdims=True)
    corr = (xc * rc).sum(1) / np.sqrt((xc**2).sum(1) * (rc**2).sum(1))
    assert np.median(corr) > 0.95  # row-major order would give about 0.56
    tr, te = data.load("samson", "train", data_dir=shared_data), data.load("samson", "test", data_dir=shared_data)
    assert len(tr) + len(te) == 9025


@pytest.mark.realdata
@pytest.mark.slow
def test_cifar10_image_folder_test_split(shared_data: Path) -> None:
    with pytest.warns(real_data.LossySourceWarning):
        d = data.load("cifar10_jpeg", "test", data_dir=shared_data, download=False)
    assert d.x.shape == (10000, 3, 32, 32)
    assert np.bincount(d.fine.numpy()).tolist() == [1000] * 10
    assert d.labels("vehicle").sum().item() == 4000
    with pytest.warns(real_data.LossySourceWarning):
        again = data.load("cifar10_jpeg", "test", data_dir=shared_data, download=False)
    torch.testing.assert_close(again.x, d.x)  # second read comes from the tensor cache


@pytest.mark.realdata
@pytest.mark.slow
def test_utkface_ages_from_file_names(shared_data: Path) -> None:
    folder = shared_data / "utkface" / "crop_part1"
    tr = data.load("utkface", "train", data_dir=shared_data, size=16)
    te = data.load("utkface", "test", data_dir=shared_data, size=16)
    assert len(tr) + len(te) + tr.meta["skipped"] == len(list(folder.iterdir()))
    assert tr.x.shape[1:] == (3, 16, 16)
    fields = [p.name.split("_") for p in folder.iterdir()]
    ages = sorted(int(f[0]) for f in fields if len(f) >= 4 and all(x.isdigit() for x in f[:3]))
    assert sorted(tr.fine.int().tolist() + te.fine.int().tolist()) == ages
    median = tr.meta["median_age"]
    assert median == float(np.median(tr.fine.numpy()))
    np.testing.assert_array_equal(te.labels("median").numpy(), (te.fine.numpy() > median).astype(int))


def test_decoded_tensors_are_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "cifar10-jpeg" / "test"
    from PIL import Image

    rng = np.random.default_rng(0)
    for name in real_data.CIFAR10_CLASSES:
        (root / name).mkdir(parents=True)
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(root / name / "0.png")
    data.accept(root, tmp_path)  # another copy than the registered one
    with pytest.warns(real_data.LossySourceWarning):
        first = data.load("cifar10_jpeg", "test", data_dir=tmp_path, download=False)
    assert first.x.shape == (10, 3, 32, 32) and first.fine.tolist() == list(range(10))
    monkeypatch.setattr(real_data, "decode_folder", lambda *a, **k: pytest.fail("decoded twice"))
    with pytest.warns(real_data.LossySourceWarning):
        again = data.load("cifar10_jpeg", "test", data_dir=tmp_path, download=False)
    torch.testing.assert_close(again.x, first.x)


def test_real_request_is_never_answered_with_another_dataset(tmp_path: Path) -> None:
    shutil.copytree(Path(__file__).parent, tmp_path / "cifar10", dirs_exist_ok=True)  # no train|test inside
    with pytest.raises(DatasetNotFoundError):
        data.load("cifar10", "test", data_dir=tmp_path, download=False)
