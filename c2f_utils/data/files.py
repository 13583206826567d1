"""Finding, downloading and caching the files of real datasets."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from ..paths import cache_dir
from .core import DatasetNotFoundError

__all__ = ["cached_tensors", "fetch", "md5sum", "missing_error"]


def md5sum(path: Path, chunk: int = 1 << 20) -> str:
    """MD5 hex digest of a file, read in chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def missing_error(dataset: str, missing: Path, how: str) -> DatasetNotFoundError:
    """The error raised when a real dataset's file is missing: what, where, how to get it."""
    return DatasetNotFoundError(
        f"Dataset {dataset!r}: missing file {missing}. {how} "
        f"Set C2F_DATA_DIR (or pass data_dir=) to the folder that holds it."
    )


def fetch(dataset: str, url: str, dest: Path, md5: str, *, download: bool, how: str) -> Path:
    """Return ``dest``, downloading it from ``url`` first if it is missing.

    The download goes through :func:`torchvision.datasets.utils.download_url`, which
    verifies the MD5 checksum. Any failure (offline, checksum mismatch) becomes a
    :class:`DatasetNotFoundError` naming the file, the URL and ``how`` to get it.
    """
    if dest.is_file():
        return dest
    if not download:
        raise missing_error(dataset, dest, f"Download it from {url} (md5 {md5}), or call with download=True. {how}")
    from torchvision.datasets.utils import download_url

    try:
        download_url(url, str(dest.parent), filename=dest.name, md5=md5)
    except Exception as exc:
        dest.unlink(missing_ok=True)
        raise missing_error(dataset, dest, f"Downloading {url} failed ({type(exc).__name__}: {exc}). {how}") from exc
    if not dest.is_file():  # download_url reports some checksum failures only by not leaving the file
        raise missing_error(dataset, dest, f"Downloading {url} gave no file with md5 {md5}. {how}")
    return dest


def _fingerprint(paths: Sequence[Path]) -> str:
    """Cheap identity of the source files: names, sizes and modification times."""
    items = []
    for p in paths:
        st = p.stat()
        items.append([str(p.resolve()), st.st_size, int(st.st_mtime)])
    return hashlib.sha256(json.dumps(items).encode()).hexdigest()[:16]


def cached_tensors(
    key: str,
    sources: Sequence[Path],
    decode: Callable[[], dict[str, Any]],
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Decode real files once and keep the resulting tensors under ``$C2F_CACHE_DIR/data``.

    The cache file is keyed by ``key``, ``options`` and a fingerprint of ``sources``
    (so a changed file is decoded again), written atomically, and decoded again if it
    cannot be read back.
    """
    ident = hashlib.sha256(json.dumps([key, options or {}, _fingerprint(sources)], sort_keys=True).encode())
    folder = cache_dir() / "data"
    path = folder / f"{key}-{ident.hexdigest()[:16]}.pt"
    if path.is_file():
        try:
            return torch.load(path, weights_only=True)
        except Exception:  # noqa: BLE001 - an unreadable cache entry is rebuilt, never trusted
            path.unlink(missing_ok=True)
    payload = decode()
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return payload
