"""Finding, downloading, verifying and caching the files of real datasets.

Every file or folder of a real dataset whose checksum is known is verified each time it
is read (:func:`verify`), against, in this order:

1. ``<data dir>/c2f-registry.txt``: copies accepted on this machine (:func:`accept`,
   ``python -m c2f_utils.data accept PATH``);
2. ``c2f_utils/data/registry.txt``: the checksums of the public files, and of the copies
   in the project's shared data folder;
3. the MD5 a download is checked against (:func:`fetch`).

Both registries are in pooch's format, one ``<path> <algorithm>:<hex digest>`` per line,
the path relative to the data folder; a folder of images is summed as a tree
(``tree-sha256``: the SHA-256 of its sorted ``<relative path> <sha256>`` lines, see
:func:`content_digest`). We read them here rather than through pooch because the files are
placed by hand in the user's data folder, not downloaded into pooch's cache. A file that
fails its check, or cannot be decoded, raises :class:`DataIntegrityError`, naming the
dataset, the file, what was expected and how to fix it. Decoded tensors are cached under
``$C2F_CACHE_DIR/data`` keyed by the content digest, so an edited file is never served stale
and decoding costs once.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import pickle
import shutil
import stat as statlib
import tempfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from ..paths import cache_dir
from .core import DatasetNotFoundError

__all__ = [
    "ACCEPTED_NAME",
    "DataIntegrityError",
    "accept",
    "cached_tensors",
    "content_digest",
    "fetch",
    "fix_hint",
    "missing_error",
    "reading",
    "registry",
    "verify",
]

ACCEPTED_NAME = "c2f-registry.txt"
"""File name, in the data folder, of the checksums of copies accepted on this machine."""
_REGISTRY = Path(__file__).with_name("registry.txt")
_ALGORITHMS = ("sha256", "md5", "tree-sha256")


class DataIntegrityError(ValueError):
    """A real dataset's file is corrupt, truncated, or not the copy its checksum names.

    The message names the dataset, the file, what was expected and how to fix it; the
    same facts are attributes: ``dataset``, ``path``, ``expected``.
    """

    def __init__(self, dataset: str, path: Path, problem: str, expected: str, fix: str) -> None:
        self.dataset, self.path, self.expected = dataset, Path(path), expected
        super().__init__(f"Dataset {dataset!r}: {path} {problem}; expected {expected}. {fix}")


def fix_hint(dataset: str, path: Path, data_dir: Path | None) -> str:
    """How to fix a damaged copy of ``dataset``'s ``path``: fetch it again, or accept it."""
    accept_cmd = f"python -m c2f_utils.data accept {path}" + (f" --data-dir {data_dir}" if data_dir else "")
    return (
        f"Delete it and download or copy {dataset!r} again; or, if this copy is valid (another release, "
        f"your own conversion), accept its checksum on this machine with `{accept_cmd}`."
    )


def _as_path(name: str, value: Any, *, optional: bool = False) -> Path | None:
    """``value`` as a :class:`Path`, or a :class:`TypeError` naming the argument."""
    if value is None and optional:
        return None
    if not isinstance(value, str | os.PathLike) or not str(value):
        raise TypeError(f"Expected `{name}` to be a path (str or os.PathLike), got {value!r} ({type(value).__name__})")
    return Path(value)


def _file_digest(path: Path, algorithm: str) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, algorithm).hexdigest()


_MEMO: dict[tuple[str, str], tuple[Any, str]] = {}
_STORE_NAME = "digests.json"


def _stat_key(st: os.stat_result) -> tuple[int, int, int, int]:
    # ctime changes with any write, even one that restores the mtime
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def _tree_stamps(folder: Path) -> list[tuple[str, Any]]:
    """``(path relative to folder, stat key)`` of every file under ``folder``, sorted by path: what
    ``folder.rglob("*")`` finds (symbolic links to files followed, to folders not descended), read
    with ``os.walk`` and one ``stat`` a file, ten times faster than pathlib on 20,000 images."""
    out = []
    for root, _, names in os.walk(folder):
        for name in names:
            if name == ACCEPTED_NAME:
                continue
            full = os.path.join(root, name)
            try:
                st = os.stat(full)
            except FileNotFoundError:  # a dangling link
                continue
            if statlib.S_ISREG(st.st_mode):
                rel = os.path.relpath(full, folder).replace(os.sep, "/")
                out.append((rel, _stat_key(st)))
    return sorted(out)


def _store_path() -> Path:
    return cache_dir() / "data" / _STORE_NAME


def _stored(key: str, stamp: str) -> str | None:
    """The digest kept on disk for ``key`` (:func:`_store`) when its stat stamp is ``stamp``."""
    try:
        entry = json.loads(_store_path().read_text()).get(key)
    except (OSError, ValueError, AttributeError):  # no store yet, or an unreadable one: hash again
        return None
    return entry[1] if isinstance(entry, list) and len(entry) == 2 and entry[0] == stamp else None


def _store(key: str, stamp: str, digest: str) -> None:
    """Keep ``digest`` on disk beside the decoded tensors, for the next process (atomic replace;
    an entry lost to a concurrent writer is computed again, never wrong)."""
    path = _store_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            entries = json.loads(path.read_text())
        except (OSError, ValueError):
            entries = {}
        entries = entries if isinstance(entries, dict) else {}
        entries[key] = [stamp, digest]
        with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as handle:
            json.dump(entries, handle)
        os.replace(handle.name, path)
    except OSError:  # a read-only cache: the digest is only remembered in this process
        pass


def content_digest(path: str | os.PathLike[str], algorithm: str = "sha256") -> str:
    """``"<algorithm>:<hex>"`` of a file, or ``"tree-sha256:<hex>"`` of a folder.

    A folder's digest is the SHA-256 of the lines ``<path relative to it>\0<sha256 of the
    file>\n`` over every file under it, sorted by path: it changes when any file is
    added, removed, renamed or edited. Digests are remembered while a file's size,
    modification and change times (ns) and inode stay the same (for a folder: those of
    every file under it): within the process, and across processes in
    ``$C2F_CACHE_DIR/data/digests.json``, so that the runs of a sweep, each in its own
    process, hash a 20,000-image folder once instead of once per run. Any write to a file
    moves its change time (which no tool can set back), so an edited file is hashed again.
    """
    path = _as_path("path", path)
    if algorithm not in ("sha256", "md5"):
        raise ValueError(f"Expected `algorithm` in ['sha256', 'md5'], got {algorithm!r}")
    if path.is_dir():
        kind, stamp_of = "tree", tuple(_tree_stamps(path))
    elif path.is_file():
        kind, stamp_of = algorithm, _stat_key(path.stat())
    else:
        raise FileNotFoundError(f"Expected `path` to be a file or folder, got {path} (no such file)")
    where = str(path.resolve())
    memo = _MEMO.get((where, kind))
    if memo is not None and memo[0] == stamp_of:
        return memo[1]
    stamp = hashlib.sha256(repr(stamp_of).encode()).hexdigest()
    digest = _stored(f"{kind}:{where}", stamp)
    if digest is None:
        if kind == "tree":
            lines = [f"{rel}\0{_file_digest(path / rel, 'sha256')}\n" for rel, _ in stamp_of]
            digest = "tree-sha256:" + hashlib.sha256("".join(lines).encode()).hexdigest()
        else:
            digest = f"{algorithm}:{_file_digest(path, algorithm)}"
        _store(f"{kind}:{where}", stamp, digest)
    _MEMO[(where, kind)] = (stamp_of, digest)
    return digest


def _read_registry(path: Path) -> dict[str, str]:
    """``{relative path: "<algorithm>:<hex>"}`` from a pooch-format registry file."""
    entries: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        algorithm = parts[-1].split(":", 1)[0] if len(parts) == 2 else ""
        if len(parts) != 2 or algorithm not in _ALGORITHMS:
            raise ValueError(
                f"{path}, line {number}: expected `<path> <algorithm>:<hex digest>` with an algorithm in "
                f"{list(_ALGORITHMS)}, got {line!r}"
            )
        entries[parts[0].rstrip("/")] = parts[1].lower()
    return entries


def registry(data_dir: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """The known checksums: the package's registry, overridden by the copies accepted in ``data_dir``."""
    data_dir = _as_path("data_dir", data_dir, optional=True)
    entries = _read_registry(_REGISTRY)
    if data_dir is not None and (data_dir / ACCEPTED_NAME).is_file():
        entries.update(_read_registry(Path(data_dir) / ACCEPTED_NAME))
    return entries


def _relative(path: Path, data_dir: Path) -> str | None:
    try:
        return path.resolve().relative_to(data_dir.resolve()).as_posix()
    except ValueError:
        return None


def verify(dataset: str, path: Path, data_dir: Path, md5: str | None = None) -> str:
    """Check a dataset's file or folder against its known checksum; return its content digest.

    The checksum is looked up by ``path`` relative to ``data_dir`` (:func:`registry`);
    ``md5`` is the checksum a download was made against, used when the registry has none.
    A file with no known checksum is not refused (your own scene, another release): its
    digest is returned for the run's provenance and keys the decoded cache.

    Parameters
    ----------
    dataset : str
        The dataset's name, for the error message.
    path : path
        The file or folder read.
    data_dir : path
        The data folder ``path`` is in (its ``c2f-registry.txt`` holds accepted copies).
    md5 : str, optional
        32 hexadecimal digits: the checksum of a downloaded file.

    Raises
    ------
    DataIntegrityError
        If the content differs from the known checksum.
    """
    if not isinstance(dataset, str) or not dataset:
        raise TypeError(f"Expected `dataset` to be a dataset name (non-empty str), got {dataset!r}")
    path, data_dir = _as_path("path", path), _as_path("data_dir", data_dir)
    if md5 is not None and (
        not isinstance(md5, str) or len(md5) != 32 or any(c not in "0123456789abcdefABCDEF" for c in md5)
    ):
        raise ValueError(f"Expected `md5` to be None or 32 hexadecimal digits, got {md5!r}")
    if not path.exists():
        raise FileNotFoundError(f"Expected `path` to be a file or folder, got {path} (no such file)")
    relative = _relative(path, data_dir)
    expected = registry(data_dir).get(relative) if relative is not None else None
    if expected is None and md5 is not None:
        expected = f"md5:{md5.lower()}"
    if expected is not None:
        algorithm = expected.split(":", 1)[0]
        actual = content_digest(path) if algorithm != "md5" else content_digest(path, "md5")
        if path.is_dir() != (algorithm == "tree-sha256"):
            actual = f"a {'folder' if path.is_dir() else 'file'}"
        if actual != expected:
            raise DataIntegrityError(
                dataset,
                path,
                f"has {actual}: it is corrupt, truncated or another copy",
                expected,
                fix_hint(dataset, path, data_dir),
            )
    return content_digest(path)


def accept(path: str | os.PathLike[str], data_dir: str | os.PathLike[str] | None = None) -> str:
    """Accept the copy at ``path`` as valid on this machine: record its checksum in
    ``<data dir>/c2f-registry.txt`` (replacing an earlier entry for it); return the entry.

    Use it for a valid copy that differs from the registered one (another release, an
    image folder you converted yourself, a test's fake copy); from the shell,
    ``python -m c2f_utils.data accept PATH``.
    """
    from ..paths import data_dir as resolve_data_dir

    root = resolve_data_dir(_as_path("data_dir", data_dir, optional=True))
    path = _as_path("path", path)
    path = path if path.is_absolute() else root / path
    if not path.exists():
        raise FileNotFoundError(f"Expected `path` to be a file or folder of the data folder, got {path} (no such file)")
    relative = _relative(path, root)
    if relative is None:
        raise ValueError(f"Expected `path` inside the data folder {root}, got {path}")
    target = root / ACCEPTED_NAME
    entries = _read_registry(target) if target.is_file() else {}
    entries[relative] = content_digest(path)
    lines = "".join(f"{k} {v}\n" for k, v in sorted(entries.items()))
    target.write_text("# checksums of dataset copies accepted on this machine (c2f_utils.data.accept)\n" + lines)
    return f"{relative} {entries[relative]}"


# Errors that decoding a damaged file ends in (truncated gzip, bad pickle, short array, bad JSON or image).
_DECODE_ERRORS = (
    EOFError,
    OSError,
    ValueError,
    KeyError,
    IndexError,
    pickle.UnpicklingError,
    zlib.error,
    gzip.BadGzipFile,
)


@contextlib.contextmanager
def reading(dataset: str, path: Path, data_dir: Path | None = None) -> Iterator[None]:
    """Turn any failure to decode ``path`` into a :class:`DataIntegrityError` naming ``dataset`` and the file."""
    try:
        yield
    except (DataIntegrityError, DatasetNotFoundError):
        raise
    except _DECODE_ERRORS as exc:
        raise DataIntegrityError(
            dataset,
            path,
            f"cannot be read ({type(exc).__name__}: {exc})",
            "a complete, undamaged copy in the dataset's public format",
            fix_hint(dataset, path, data_dir),
        ) from exc


def missing_error(dataset: str, missing: Path, how: str) -> DatasetNotFoundError:
    """The error raised when a real dataset's file is missing: what, where, how to get it."""
    return DatasetNotFoundError(
        f"Dataset {dataset!r}: missing file {missing}. {how} "
        f"Set C2F_DATA_DIR (or pass data_dir=) to the folder that holds it."
    )


def _created_dirs(dest: Path) -> list[Path]:
    """The missing folders above ``dest``, deepest first: what a download would create."""
    missing, folder = [], dest.parent
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    return missing


def _remove_leftovers(files: Sequence[Path], folders: Sequence[Path]) -> None:
    """Remove what a failed download left: its files, then the folders it created (deepest first)."""
    for f in files:
        if f.is_dir():
            shutil.rmtree(f, ignore_errors=True)
        else:
            f.unlink(missing_ok=True)
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def fetch(dataset: str, url: str, dest: Path, md5: str, *, download: bool, how: str, data_dir: Path) -> Path:
    """Return ``dest``, verified, downloading it from ``url`` first if it is missing.

    A file already there is verified (:func:`verify`: the registry's checksum, else
    ``md5``) on every read. The download goes through
    :func:`torchvision.datasets.utils.download_url`, which verifies ``md5``. A failed
    download (offline, checksum mismatch) leaves nothing behind, neither the partial file
    nor the folders it created, and becomes a :class:`DatasetNotFoundError` naming the
    file, the URL and ``how`` to get it.
    """
    if dest.is_file():
        verify(dataset, dest, data_dir, md5)
        return dest
    if not download:
        raise missing_error(dataset, dest, f"Download it from {url} (md5 {md5}), or call with download=True. {how}")
    from torchvision.datasets.utils import download_url

    created = _created_dirs(dest)
    try:
        download_url(url, str(dest.parent), filename=dest.name, md5=md5)
    except Exception as exc:
        _remove_leftovers([dest], created)
        raise missing_error(dataset, dest, f"Downloading {url} failed ({type(exc).__name__}: {exc}). {how}") from exc
    if not dest.is_file():  # download_url reports some checksum failures only by not leaving the file
        _remove_leftovers([dest], created)
        raise missing_error(dataset, dest, f"Downloading {url} gave no file with md5 {md5}. {how}")
    verify(dataset, dest, data_dir, md5)
    return dest


def cached_tensors(
    key: str,
    sources: Sequence[Path],
    decode: Callable[[], dict[str, Any]],
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Decode real files once and keep the resulting tensors under ``$C2F_CACHE_DIR/data``.

    The cache file is keyed by ``key``, ``options`` and the content digest of every file or
    folder in ``sources`` (:func:`content_digest`; an in-place edit is decoded again,
    whatever its size and modification time), written atomically, and decoded again if it
    cannot be read back.
    """
    digests = [content_digest(p) for p in sources]
    ident = hashlib.sha256(json.dumps([key, options or {}, digests], sort_keys=True).encode())
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
