"""Where real data is read from and where results are cached.

``C2F_DATA_DIR`` points at a folder holding the real datasets (one sub-folder per
dataset, see :mod:`c2f_utils.data`); ``C2F_CACHE_DIR`` at the folder where finished
runs and decoded datasets are stored. Both default to folders under
``~/.cache/coarse-to-fine``.
"""

from __future__ import annotations

import os
from pathlib import Path

_DEFAULT_ROOT = Path.home() / ".cache" / "coarse-to-fine"


def data_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The folder real datasets are read from (``override``, else ``$C2F_DATA_DIR``)."""
    if override is not None:
        return Path(override).expanduser()
    env = os.environ.get("C2F_DATA_DIR")
    return Path(env).expanduser() if env else _DEFAULT_ROOT / "data"


def cache_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The folder cached runs and decoded datasets live in (``override``, else ``$C2F_CACHE_DIR``).

    In a smoke run (``$C2F_SMOKE`` set, ``--smoke``) it is the ``smoke`` sub-folder, so that
    runs cut to a few batches never share a cache entry with complete ones (a folder already
    named ``smoke`` is kept as it is, so resolving twice gives the same folder).
    """
    if override is not None:
        root = Path(override).expanduser()
    else:
        env = os.environ.get("C2F_CACHE_DIR")
        root = Path(env).expanduser() if env else _DEFAULT_ROOT / "cache"
    smoke = os.environ.get("C2F_SMOKE") and root.name != "smoke"  # a folder resolved once stays as it is
    return root / "smoke" if smoke else root
