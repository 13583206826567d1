"""Embedded datasets: no file, no network, same numbers on every machine.

Chapters add their seeded synthetic generators here, each registered with
``@register(name, kind="embedded", ...)`` and taking ``seed`` as an option so that
a split is a pure function of its arguments.
"""

from __future__ import annotations

import numpy as np
import torch

from .._checks import check_number, check_positive_int
from .core import LabeledData, mapping_coarsening, register, take_split

__all__ = ["digits", "hierarchical_blobs"]

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
    check_number("coarse_spread", coarse_spread, low=0)
    check_number("fine_spread", fine_spread, low=0)
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
