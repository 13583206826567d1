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
  when online and a public URL exists, verified against their known checksums each
  time they are read (:mod:`~c2f_utils.data.files`; a damaged file raises
  :class:`DataIntegrityError`, a valid copy of your own is accepted with
  ``python -m c2f_utils.data accept PATH``), decoded once and cached as tensors under
  ``$C2F_CACHE_DIR``. When the files are missing the error names them and says how to
  obtain them; a real dataset is never replaced by another (the JPEG copy of CIFAR-10
  is its own name, ``cifar10_jpeg``).

Use ``available()`` to list the registered names.
"""

from __future__ import annotations

from . import (  # noqa: F401 - each registers its datasets
    cifar100,
    embedded,
    fgvc,
    occluded,
    real,
)
from .core import DatasetNotFoundError, DatasetSpec, LabeledData, available, check_files, describe, load, register
from .files import DataIntegrityError, accept, content_digest, registry, verify
from .splits import block_split, class_subset, few_shot_split, holdout_split

__all__ = [
    "DataIntegrityError",
    "DatasetNotFoundError",
    "DatasetSpec",
    "LabeledData",
    "accept",
    "available",
    "block_split",
    "check_files",
    "class_subset",
    "content_digest",
    "describe",
    "embedded",
    "few_shot_split",
    "holdout_split",
    "load",
    "real",
    "register",
    "registry",
    "verify",
]
