"""Embedded datasets: no file, no network, same numbers on every machine.

Chapters add their seeded synthetic generators here, each registered with
``@register(name, kind="embedded", ...)`` and taking ``seed`` as an option so that
a split is a pure function of its arguments.
"""

from __future__ import annotations

import numpy as np
import torch

from .._checks import check_number, check_positive_int
from .core import LabeledData, mapping_coarsening, register, take_split, threshold_coarsening

__all__ = ["digits", "hierarchical_blobs", "synthetic_sizes", "synthetic_unmixing"]

_DIGIT_NAMES = tuple(str(d) for d in range(10))


def digit_coarsenings(fine: torch.Tensor) -> tuple[dict[str, torch.Tensor], dict[str, tuple[str, ...]]]:
    """Coarsenings of digit labels (digits, MNIST): ``"lt5"`` (digit >= 5) and ``"parity"`` (odd)."""
    coarse = {
        "lt5": mapping_coarsening(fine, {d: int(d >= 5) for d in range(10)}),
        "parity": mapping_coarsening(fine, {d: d % 2 for d in range(10)}),
    }
    names = {"lt5": ("0-4", "5-9"), "parity": ("even", "odd")}
    return coarse, names


@register(
    "digits",
    kind="embedded",
    splits=("train", "test", "all"),
    description="scikit-learn's 1,797 8x8 handwritten digits (UCI); coarsenings lt5 (digit >= 5) and parity",
)
def digits(split: str = "train", test_fraction: float = 0.3, split_seed: int = 0) -> LabeledData:
    """scikit-learn's handwritten digits as ``(N, 1, 8, 8)`` images in [0, 1].

    Fine labels: the digit 0-9. Coarsenings: ``"lt5"`` (0 for digits 0-4, 1 for 5-9)
    and ``"parity"`` (0 even, 1 odd). The train/test split is stratified on the
    digit and seeded by ``split_seed``, so it is the same on every machine.
    """
    from sklearn.datasets import load_digits

    check_number("test_fraction", test_fraction, low=0, high=1, low_inclusive=False, high_inclusive=False)
    check_positive_int("split_seed", split_seed, minimum=0)
    bunch = load_digits()
    x = torch.as_tensor(bunch.images / 16.0, dtype=torch.float32).unsqueeze(1)
    fine = torch.as_tensor(bunch.target, dtype=torch.int64)
    coarse, coarse_names = digit_coarsenings(fine)
    data = LabeledData("digits", "all", x, fine, coarse, _DIGIT_NAMES, coarse_names, {"source": "sklearn"})
    return take_split(data, split, test_fraction, split_seed, fine)


@register(
    "hierarchical_blobs",
    kind="embedded",
    splits=("train", "test"),
    description="seeded Gaussian clusters: fine classes nested in coarse superclasses",
)
def hierarchical_blobs(
    split: str = "train",
    n_coarse: int = 2,
    fine_per_coarse: int = 5,
    dim: int = 16,
    n_per_class: int = 100,
    coarse_spread: float = 3.0,
    fine_spread: float = 1.0,
    seed: int = 0,
) -> LabeledData:
    """Gaussian clusters whose fine classes are nested in coarse superclasses.

    Each coarse class has a centre ``c ~ N(0, coarse_spread^2 I)``; each of its fine
    classes a centre ``c + N(0, fine_spread^2 I)``; samples add ``N(0, I)``. The
    centres depend on ``seed`` only, the samples on ``seed`` and ``split``.
    Coarsening ``"super"`` gives the superclass.
    """
    check_positive_int("n_coarse", n_coarse, minimum=2)
    check_positive_int("fine_per_coarse", fine_per_coarse)
    check_positive_int("dim", dim)
    check_positive_int("n_per_class", n_per_class)
    check_number("coarse_spread", coarse_spread, low=0, high=1e6)  # float32 samples: squared distances stay finite
    check_number("fine_spread", fine_spread, low=0, high=1e6)
    check_positive_int("seed", seed, minimum=0)
    centres_rng = np.random.default_rng([seed, 0])
    coarse_c = centres_rng.normal(0, coarse_spread, (n_coarse, dim))
    fine_c = np.repeat(coarse_c, fine_per_coarse, axis=0) + centres_rng.normal(
        0, fine_spread, (n_coarse * fine_per_coarse, dim)
    )
    rng = np.random.default_rng([seed, 1 if split == "train" else 2])
    n_fine = n_coarse * fine_per_coarse
    fine = np.repeat(np.arange(n_fine), n_per_class)
    x = fine_c[fine] + rng.normal(0, 1, (len(fine), dim))
    fine_t = torch.as_tensor(fine, dtype=torch.int64)
    super_labels = mapping_coarsening(fine_t, {f: f // fine_per_coarse for f in range(n_fine)})
    return LabeledData(
        "hierarchical_blobs",
        split,
        torch.as_tensor(x, dtype=torch.float32),
        fine_t,
        {"super": super_labels},
        tuple(f"fine{f}" for f in range(n_fine)),
        {"super": tuple(f"super{c}" for c in range(n_coarse))},
        {"seed": seed},
    )


def _smooth_spectra(rng: np.random.Generator, n_materials: int, n_bands: int, n_bumps: int = 4) -> np.ndarray:
    """Smooth positive spectra: a baseline plus Gaussian bumps, rescaled into [0.05, 0.95]."""
    grid = np.linspace(0, 1, n_bands)
    spectra = np.empty((n_materials, n_bands))
    for m in range(n_materials):
        centres = rng.uniform(0, 1, n_bumps)
        widths = rng.uniform(0.04, 0.25, n_bumps)
        heights = rng.uniform(-1, 1, n_bumps)
        slope = rng.uniform(-1, 1)
        s = slope * grid + (heights * np.exp(-0.5 * ((grid[:, None] - centres) / widths) ** 2)).sum(1)
        spectra[m] = 0.05 + 0.9 * (s - s.min()) / (np.ptp(s) + 1e-12)
    return spectra


@register(
    "synthetic_unmixing",
    kind="embedded",
    splits=("train", "test", "all"),
    description="seeded linear-mixing hyperspectral pixels: Dirichlet abundances, smooth endmembers, noise at an SNR",
)
def synthetic_unmixing(
    split: str = "train",
    n_pixels: int = 4000,
    n_bands: int = 144,
    n_materials: int = 4,
    concentration: float = 1.0,
    snr_db: float = 30.0,
    seed: int = 0,
    test_fraction: float = 0.25,
) -> LabeledData:
    r"""Hyperspectral pixels from the linear mixing model, a stand-in for FIERCE's Houston crop.

    .. math:: y_n = M^\top a_n + \varepsilon_n,\qquad a_n \sim \mathrm{Dir}(\alpha \mathbf 1),\qquad
              \varepsilon_n \sim \mathcal N(0, \sigma^2 I),

    with ``n_materials`` smooth random endmember spectra :math:`M` (rows in
    [0.05, 0.95]) over ``n_bands`` bands (144 and 4 as in the Houston crop) and
    :math:`\sigma^2` set so that mean signal power / :math:`\sigma^2` is ``snr_db``
    decibels. Fine target: the abundance vector :math:`a_n` (float32, sums to 1).
    Coarsening ``"argmax"``: the dominant material, as in the paper. A small
    ``concentration`` gives nearly pure pixels, 1 is uniform on the simplex, a large one
    gives strongly mixed pixels. ``meta["endmembers"]`` holds :math:`M`. The split is
    stratified on the dominant material and seeded by ``seed``.
    """
    check_positive_int("n_pixels", n_pixels, minimum=10)
    check_positive_int("n_bands", n_bands, minimum=2)
    check_positive_int("n_materials", n_materials, minimum=2)
    check_number("concentration", concentration, low=0, low_inclusive=False)
    check_number("snr_db", snr_db, low=-100, high=100)  # 10 ** (snr / 10) stays a float
    check_positive_int("seed", seed, minimum=0)
    check_number("test_fraction", test_fraction, low=0, high=1, low_inclusive=False, high_inclusive=False)
    rng = np.random.default_rng([seed, 17])
    endmembers = _smooth_spectra(rng, n_materials, n_bands)
    abundances = rng.dirichlet(np.full(n_materials, concentration), n_pixels)
    clean = abundances @ endmembers
    sigma = np.sqrt((clean**2).mean() / 10 ** (snr_db / 10))
    pixels = clean + rng.normal(0, sigma, clean.shape)
    abund = torch.as_tensor(abundances, dtype=torch.float32)
    names = tuple(f"material{m}" for m in range(n_materials))
    data = LabeledData(
        "synthetic_unmixing",
        "all",
        torch.as_tensor(pixels, dtype=torch.float32),
        abund,
        {"argmax": abund.argmax(1)},
        names,
        {"argmax": names},
        {"endmembers": torch.as_tensor(endmembers, dtype=torch.float32), "noise_sigma": float(sigma), "seed": seed},
    )
    return take_split(data, split, test_fraction, seed, data.coarse["argmax"])


@register(
    "synthetic_sizes",
    kind="embedded",
    splits=("train", "test"),
    description="seeded 32x32 images of one ellipse; fine target its size, nuisance position/shape/contrast/clutter",
)
def synthetic_sizes(
    split: str = "train",
    n_images: int = 3000,
    size: int = 32,
    min_radius: float = 3.0,
    max_radius: float = 10.0,
    noise: float = 0.1,
    seed: int = 0,
) -> LabeledData:
    r"""Images of one soft-edged ellipse whose size is a continuous target (a stand-in for age).

    The fine target is the ellipse's equivalent radius :math:`\rho = \sqrt{ab}` in pixels,
    uniform in ``[min_radius, max_radius]``. Nuisances: position, orientation, aspect
    ratio :math:`a/b \in [1, 1.5]`, foreground and background grey levels, a small square
    distractor and Gaussian pixel noise of standard deviation ``noise`` (then clipped to [0, 1]). Coarsening
    ``"median"``: :math:`\rho` above the median of the *training* radii (as FIERCE splits
    ages at the median). Train and test images are independent draws for ``seed``.
    """
    check_positive_int("n_images", n_images, minimum=2)
    check_positive_int("size", size, minimum=16)
    check_number("min_radius", min_radius, low=1, high=size / 3)
    check_number("max_radius", max_radius, low=min_radius, low_inclusive=False, high=size / 3)
    check_number("noise", noise, low=0)
    check_positive_int("seed", seed, minimum=0)
    split_id = {"train": 1, "test": 2}[split]

    def draw(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        rho = rng.uniform(min_radius, max_radius, n)
        aspect = rng.uniform(1, 1.5, n)
        a, b = rho * np.sqrt(aspect), rho / np.sqrt(aspect)
        theta = rng.uniform(0, np.pi, n)
        margin = a + 1
        cx = rng.uniform(margin, size - 1 - margin)
        cy = rng.uniform(margin, size - 1 - margin)
        fg, bg = rng.uniform(0.6, 1.0, n), rng.uniform(0.0, 0.3, n)
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
        dx, dy = xx[None] - cx[:, None, None], yy[None] - cy[:, None, None]
        c, s = np.cos(theta)[:, None, None], np.sin(theta)[:, None, None]
        u, v = (c * dx + s * dy) / a[:, None, None], (-s * dx + c * dy) / b[:, None, None]
        inside = 1 / (1 + np.exp(-4 * (1 - np.sqrt(u**2 + v**2)) * rho[:, None, None]))
        img = bg[:, None, None] + (fg - bg)[:, None, None] * inside
        sq = rng.integers(0, size - 3, (n, 2))
        for i in range(n):
            img[i, sq[i, 0] : sq[i, 0] + 3, sq[i, 1] : sq[i, 1] + 3] = rng.uniform(0.3, 0.6)
        img = np.clip(img + rng.normal(0, noise, img.shape), 0, 1)
        return img.astype(np.float32), rho

    _, train_rho = draw(np.random.default_rng([seed, 1]), n_images)
    img, rho = draw(np.random.default_rng([seed, split_id]), n_images)
    median = float(np.median(train_rho))
    target = torch.as_tensor(rho, dtype=torch.float32)
    return LabeledData(
        "synthetic_sizes",
        split,
        torch.as_tensor(img).unsqueeze(1),
        target,
        {"median": threshold_coarsening(target, median)},
        ("radius",),
        {"median": (f"radius <= {median:.2f}", f"radius > {median:.2f}")},
        {"median_radius": median, "seed": seed},
    )
