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
from .files import reading
from .real import images_to_tensor, torchvision_cifar

__all__ = ["cifar100"]


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
    root = data_dir / "cifar-100-python"
    torchvision_cifar("cifar100", "cifar100", data_dir, download, (split == "train",))  # checks the files' MD5
    with reading("cifar100", root / split, data_dir):
        with open(root / split, "rb") as f:
            entry = pickle.load(f, encoding="latin1")
        images = np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        fine = torch.as_tensor(entry["fine_labels"], dtype=torch.int64)
        coarse = torch.as_tensor(entry["coarse_labels"], dtype=torch.int64)
    with reading("cifar100", root / "meta", data_dir), open(root / "meta", "rb") as f:
        meta = pickle.load(f, encoding="latin1")
    return LabeledData(
        "cifar100",
        split,
        images_to_tensor(images),
        fine,
        {"superclass": coarse},
        tuple(meta["fine_label_names"]),
        {"superclass": tuple(meta["coarse_label_names"])},
        {"source": str(root)},
    )
