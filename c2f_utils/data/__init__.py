"""Dataset registry: fine labels or targets, plus named coarsenings.

``load(name, split)`` returns a :class:`LabeledData`: inputs ``x``, the *fine*
labels or continuous targets ``fine``, and a dictionary of *coarsenings*, each a
labeling derived from the fine one (``"lt5"``: digit < 5; ``"median"``: a continuous
target split at the training median; ``"vehicle"``: CIFAR-10 animals vs vehicles).
A network is trained on a coarse labeling and probed on the fine one.

Two kinds of dataset are registered:

- *embedded*: no file and no network (scikit-learn digits; chapters add seeded
  synthetic generators with :func:`register`);
- *real*: read from the data folder (``data_dir=`` or ``$C2F_DATA_DIR``), downloaded
  when online and a public URL exists (checksum verified), decoded once and cached
  as tensors under ``$C2F_CACHE_DIR``. When the files are missing the error names
  them and says how to obtain them; a real dataset is never replaced by another.

Use ``available()`` to list the registered names.
"""

from __future__ import annotations

from . import (
    embedded,
    occluded,  # noqa: F401 - registers the occluded/cluttered/annotator-count datasets
    real,
)
from .core import DatasetNotFoundError, DatasetSpec, LabeledData, available, describe, load, register
from .splits import class_subset, few_shot_split, holdout_split

__all__ = [
    "DatasetNotFoundError",
    "DatasetSpec",
    "LabeledData",
    "available",
    "class_subset",
    "describe",
    "embedded",
    "few_shot_split",
    "holdout_split",
    "load",
    "real",
    "register",
]
