"""CIFAR-100 with its 20 superclasses as the coarse labeling (Krizhevsky 2009).

The module is imported by the chapter that uses it (``c2f_utils.chapters.synthesis``),
which registers the dataset; it is not imported by :mod:`c2f_utils.data` itself, so
adding it changes no other chapter's runs.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from .core import LabeledData, register
from .files import missing_error

__all__ = ["cifar100"]


def _images(images: np.ndarray) -> torch.Tensor:
    """(N, 32, 32, 3) uint8 -> (N, 3, 32, 32) float32 in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))).float().div_(255.0)


@register(
    "cifar100",
    kind="real",
    splits=("train", "test"),
    description="CIFAR-100 (Krizhevsky 2009): 100 fine classes, coarsening superclass (20)",
)
def cifar100(split: str, *, data_dir: Path, download: bool) -> LabeledData:
    """CIFAR-100's 50,000 training or 10,000 test images with their fine label (100
    classes) and the coarsening ``"superclass"`` (the 20 superclasses of the original files).

    Read from torchvision's layout ``cifar-100-python/`` under the data folder; torchvision
    downloads it when online and checks the files' MD5 sums.
    """
    from torchvision.datasets import CIFAR100

    root = data_dir / "cifar-100-python"
    if not root.is_dir() and not download:
        raise missing_error(
            "cifar100",
            root,
            "Call with download=True to fetch CIFAR-100 with torchvision "
            "(https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz).",
        )
    try:
        CIFAR100(str(data_dir), train=split == "train", download=download and not root.is_dir())
        with open(root / split, "rb") as f:
            entry = pickle.load(f, encoding="latin1")
        with open(root / "meta", "rb") as f:
            meta = pickle.load(f, encoding="latin1")
    except Exception as exc:
        raise missing_error(
            "cifar100", root, f"torchvision could not read or download CIFAR-100 ({type(exc).__name__}: {exc})."
        ) from exc
    images = np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    fine = torch.as_tensor(entry["fine_labels"], dtype=torch.int64)
    coarse = torch.as_tensor(entry["coarse_labels"], dtype=torch.int64)
    return LabeledData(
        "cifar100",
        split,
        _images(images),
        fine,
        {"superclass": coarse},
        tuple(meta["fine_label_names"]),
        {"superclass": tuple(meta["coarse_label_names"])},
        {"source": str(root)},
    )
