"""Runs: parameter sets -> results cached on disk, with provenance.

A *run* is a function of its parameters. :func:`cached_run` stores each finished run
under ``$C2F_CACHE_DIR/runs/<name>/<key>/``, where ``key`` hashes the run's name, its
parameters and what it declares (:mod:`c2f_utils.identity`: the versions of its
experiment, of the components it uses and of the numerical libraries), and nothing else. Rebuilding the book or
rerunning a sweep reads finished runs back instead of recomputing them; a sweep run one
run at a time resumes at the first unfinished run. Experiments
(:class:`c2f_utils.experiments.Experiment`) call :func:`cached_run` through
:meth:`~c2f_utils.experiments.Experiment.cached`.

An entry is written to a temporary folder and moved into place with one atomic
rename, after every file in it is complete; ``record.json`` lists the SHA-256 of the
other files. An entry that cannot be read back or whose checksums do not match is
reported (a :class:`CorruptCacheWarning`) and recomputed, never silently used.

Guarantees beyond that:

- **One writer per key.** A process computes a key while holding a lock on
  ``$C2F_CACHE_DIR/locks/<name>-<key>.lock`` (POSIX ``flock``); another process asking
  for the same key waits, then reads the finished entry instead of computing it again.
- **Fresh equals cached.** :func:`cached_run` returns the result as read back from the
  entry it wrote (same types, same values as any later call), and refuses, before writing,
  arrays that could not be read back without pickle.
- **Nothing escapes or collides.** Run names are one folder name (no ``..``, no
  separators); parameter mappings need string keys (``{1: "a"}`` would otherwise share a
  key with ``{"1": "a"}``).
- **Leftovers are cleaned.** Temporary folders carry their host and process id; those of
  processes that are gone (or, from another host, older than a day) are removed at the next
  write (:func:`clean_leftovers`).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import platform
import re
import shutil
import time
import uuid
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import identity
from .checkpoints import checkpointing
from .identity import canonical
from .paths import cache_dir as resolve_cache_dir
from .provenance import provenance

__all__ = [
    "CorruptCacheWarning",
    "RunOutput",
    "RunResult",
    "cached_run",
    "clean_leftovers",
    "entry_path",
    "provenance",
    "publish_results",
    "read_entry",
    "record_digest",
    "results_frame",
    "run_key",
]

RESULTS_ENV = "C2F_RESULTS_JSON"
"""Environment variable naming the file where :func:`publish_results` writes (set by the runner)."""

_RECORD = "record.json"
_HISTORY = "history.csv"
_ARRAYS = "arrays.npz"


class CorruptCacheWarning(UserWarning):
    """A cache entry was unreadable or failed its checksum and is being recomputed."""


@dataclass
class RunOutput:
    """What a run function returns: scalar metrics, an optional history, optional arrays."""

    metrics: dict[str, float] = field(default_factory=dict)
    history: pd.DataFrame | None = None
    arrays: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class RunResult:
    """A finished run: its parameters, outputs and provenance.

    ``cached`` is True when the result was read from disk rather than computed.
    """

    name: str
    params: dict[str, Any]
    metrics: dict[str, float]
    history: pd.DataFrame | None
    arrays: dict[str, np.ndarray]
    provenance: dict[str, Any]
    path: Path
    cached: bool


def run_key(name: str, params: Mapping[str, Any], declared: Mapping[str, Any]) -> str:
    """Hex key of a run (:func:`c2f_utils.identity.run_key`): its name, canonical parameters and
    what it declares (experiment version, component and library versions)."""
    return identity.run_key(name, params, declared)


def entry_path(name: str, key: str, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Folder of the cache entry of run ``name`` with ``key``."""
    identity.check_name(name)
    if not isinstance(key, str) or not key or not all(c in "0123456789abcdef" for c in key):
        raise ValueError(f"Expected `key` to be a hexadecimal run key, got {key!r}")
    return resolve_cache_dir(cache_dir) / "runs" / name / key


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _storable_arrays(arrays: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The arrays of a run as NumPy arrays ``np.load(allow_pickle=False)`` can read back; raises otherwise."""
    out: dict[str, np.ndarray] = {}
    for k, v in arrays.items():
        if not isinstance(k, str) or not k:
            raise TypeError(f"Expected array names that are non-empty strings, got {k!r}")
        a = np.asarray(v)
        if a.dtype.hasobject or a.dtype.kind not in "biufcSUMm":
            raise TypeError(
                f"Expected arrays of numbers, booleans or strings, got arrays[{k!r}] of dtype {a.dtype} "
                "(object arrays cannot be read back without pickle)"
            )
        out[k] = a
    return out


_TEMP_PREFIXES = (".tmp-", ".trash-")
_TEMP = re.compile(r"^\.(?:tmp|trash)-[0-9a-f]+-(?P<host>[A-Za-z0-9_.]*)-(?P<pid>\d+)-[0-9a-f]{8}$")


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_.]", "_", platform.node())


def _temp_name(prefix: str, key: str) -> str:
    """``<prefix><key>-<host>-<pid>-<random>``: who made it, so that leftovers can be told apart."""
    return f"{prefix}{key}-{_host()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def clean_leftovers(folder: Path, max_age_s: float = 86400.0) -> list[Path]:
    """Remove the temporary folders that interrupted writes left in ``folder`` (one run's entries).

    A ``.tmp-*``/``.trash-*`` folder is removed when the process that made it (same host, by
    pid) is gone, or, made on another host of a shared filesystem, when it is older than
    ``max_age_s``; a ``.ckpt-<key>`` folder of checkpoints when the entry ``<key>`` is complete
    (a run killed between storing its result and deleting its checkpoints). Returns the folders
    removed.
    """
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for path in folder.iterdir():
        if path.name.startswith(".ckpt-") and (folder / path.name.removeprefix(".ckpt-") / _RECORD).is_file():
            # the run finished (its entry is in place) but was stopped before its checkpoints were deleted
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
            continue
        if not path.name.startswith(_TEMP_PREFIXES) or not path.is_dir():
            continue
        made = _TEMP.match(path.name)
        try:
            if made and made["host"] == _host():
                stale = not _alive(int(made["pid"]))
            else:  # another host of a shared filesystem, or an older naming: by age
                stale = time.time() - path.stat().st_mtime > max_age_s
        except FileNotFoundError:  # another process removed it meanwhile
            continue
        if stale:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _write_entry(final: Path, record: dict[str, Any], out: RunOutput, replace: bool) -> bool:
    """Write an entry atomically; returns False when another writer finished the same key first.

    The files go to a temporary folder, are synced, and the folder is renamed into place
    in one step, so a reader (on this machine or on a shared filesystem) sees either no
    entry or a complete one, and a writer killed mid-way leaves only a ``.tmp-*`` folder
    that is never read. Two writers of one key: the first rename wins and the second
    writer's folder is discarded (the results are the same computation). ``replace``
    moves a corrupt entry aside first.
    """
    arrays = _storable_arrays(out.arrays)
    final.parent.mkdir(parents=True, exist_ok=True)
    clean_leftovers(final.parent)
    tmp = final.parent / _temp_name(".tmp-", final.name)
    tmp.mkdir()
    try:
        files: dict[str, str] = {}
        if out.history is not None:
            out.history.to_csv(tmp / _HISTORY, index=False)
            files[_HISTORY] = _sha256(tmp / _HISTORY)
        if arrays:
            buffer = io.BytesIO()
            np.savez(buffer, **arrays)
            (tmp / _ARRAYS).write_bytes(buffer.getvalue())
            files[_ARRAYS] = _sha256(tmp / _ARRAYS)
        record = json.loads(json.dumps({**record, "files": files}))  # as it will read back
        record["digest"] = record_digest(record)
        (tmp / _RECORD).write_text(json.dumps(record, indent=1, sort_keys=True))
        for f in tmp.iterdir():
            with open(f, "rb") as handle:
                os.fsync(handle.fileno())
        if replace and final.exists():  # a corrupt entry being replaced: move it aside first
            trash = final.parent / _temp_name(".trash-", final.name)
            with contextlib.suppress(FileNotFoundError):  # another writer moved it already
                os.rename(final, trash)
            shutil.rmtree(trash, ignore_errors=True)
        try:
            os.rename(tmp, final)  # fails when `final` exists and is not empty: another writer won
        except OSError:
            if (final / _RECORD).is_file():
                return False
            raise
        return True
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def record_digest(record: Mapping[str, Any]) -> str:
    """SHA-256 of a record's content (name, parameters, metrics, provenance, file checksums),
    as canonical JSON, without its own ``digest`` field."""
    body = {k: v for k, v in record.items() if k != "digest"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def read_entry(path: Path, name: str, left_out: Iterable[str] = ()) -> RunResult:
    """Read a cache entry (or a committed copy of one), verifying every file's SHA-256.

    ``record.json`` is covered by its ``digest`` (:func:`record_digest`): parameters, metrics
    and provenance cannot be edited unnoticed, and a record without one (written before
    digests existed) is refused like a damaged one. ``left_out`` names files the record
    lists but a committed copy does not hold (too large for the repository); they are
    neither checked nor read.
    """
    record = json.loads((path / _RECORD).read_text())
    if "digest" not in record:
        raise ValueError(f"{_RECORD} has no digest (written before records were checksummed)")
    if record_digest(record) != record["digest"]:
        raise ValueError(f"checksum mismatch for {_RECORD} (parameters, metrics or provenance changed)")
    files = {f: d for f, d in record["files"].items() if f not in set(left_out)}
    for fname, digest in files.items():
        if _sha256(path / fname) != digest:
            raise ValueError(f"checksum mismatch for {fname}")
    history = pd.read_csv(path / _HISTORY) if _HISTORY in files else None
    arrays: dict[str, np.ndarray] = {}
    if _ARRAYS in files:
        with np.load(path / _ARRAYS, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    return RunResult(
        name, record["params"], record["metrics"], history, arrays, record["provenance"], path, cached=True
    )


def cached_run(
    name: str,
    fn: Callable[..., RunOutput | Mapping[str, float]],
    params: Mapping[str, Any],
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    force: bool = False,
    declared: Mapping[str, Any] | None = None,
    source: str | None = None,
) -> RunResult:
    """Return the result of ``fn(**params)``, from the cache when it is there.

    Parameters
    ----------
    name : str
        Name of the experiment (a folder under ``runs/``), e.g. ``"setting.train"``.
    fn : callable
        Called as ``fn(**params)``; returns a :class:`RunOutput` or a dict of metrics.
    params : mapping
        JSON-like parameters (None, bool, int, float, str, lists, dicts).
    cache_dir : path, optional
        Overrides ``$C2F_CACHE_DIR``.
    force : bool
        Recompute and overwrite even if a valid entry exists.
    declared : mapping, optional
        What the run declares beyond its name and parameters
        (:func:`c2f_utils.identity.declaration`: versions of the experiment, its components and
        the numerical libraries); part of the key. By default the numerical libraries'
        versions only: a plain function declares no components.
    source : str, optional
        Fingerprint of the source the run executes (:func:`c2f_utils.identity.source_fingerprint`),
        kept in the provenance as information, not part of the key.
    """
    params = canonical(dict(params), "params")
    declared = dict(declared) if declared is not None else {"libraries": identity.library_versions()}
    key = run_key(name, params, declared)
    entry = entry_path(name, key, cache_dir)
    replace = force
    if entry.exists() and not force:
        replace = True
        hit = _read_valid(entry, name, params)
        if hit is not None:
            return hit
    locks = resolve_cache_dir(cache_dir) / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    with _key_lock(locks / f"{name}-{key}.lock"):
        # Another process may have computed this key while we waited for the lock: use its entry.
        if not force and entry.exists():
            hit = _read_valid(entry, name, params)
            if hit is not None:
                return hit
        checkpoints = entry.parent / f".ckpt-{key}"
        start = time.perf_counter()
        with checkpointing(checkpoints):  # a killed run resumes from its last checkpoint when rerun
            out = fn(**params)
        wall = time.perf_counter() - start
        if isinstance(out, Mapping):
            out = RunOutput(metrics=dict(out))
        if not isinstance(out, RunOutput):
            raise TypeError(f"Expected `fn` to return a RunOutput or a dict of metrics, got {type(out).__name__}")
        if not isinstance(out.metrics, Mapping) or not all(isinstance(k, str) for k in out.metrics):
            raise TypeError(f"Expected the run's metrics to be a dict with string keys, got {out.metrics!r}")
        metrics = {k: canonical(v, f"metrics.{k}", nonfinite_as_none=True) for k, v in out.metrics.items()}
        prov = {**provenance(), "declared": declared, "source_fingerprint": source, "wall_time_s": round(wall, 3)}
        record = {"name": name, "params": params, "metrics": metrics, "provenance": prov}
        _write_entry(entry, record, out, replace)
        shutil.rmtree(checkpoints, ignore_errors=True)
    # The result as it was stored (the same types and values a later call reads from the cache).
    stored = read_entry(entry, name)
    stored.cached = False
    return stored


def _read_valid(entry: Path, name: str, params: Any) -> RunResult | None:
    """The entry's result when it reads back intact with the requested parameters, else None (warned)."""
    try:
        result = read_entry(entry, name)
        if result.params == params:
            return result
        raise ValueError("stored parameters differ from the requested ones")
    except Exception as exc:  # noqa: BLE001 - any unreadable entry is recomputed, loudly
        warnings.warn(
            f"Cache entry {entry} is corrupt or partial ({type(exc).__name__}: {exc}); recomputing it.",
            CorruptCacheWarning,
            stacklevel=3,
        )
    return None


@contextlib.contextmanager
def _key_lock(path: Path):
    """Hold an exclusive lock on ``path`` (one process computes a key at a time; the others wait
    and then read its entry). POSIX ``flock``; where it is unavailable (Windows, a filesystem
    without locks), no lock is taken and two writers may both compute, the first rename winning."""
    try:
        import fcntl
    except ImportError:  # Windows: concurrent writers of one key still cannot corrupt an entry
        yield
        return
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        except OSError:  # a filesystem without locks (some network mounts): atomic renames still protect entries
            yield
            return
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def results_frame(results: Iterable[RunResult]) -> pd.DataFrame:
    """One row per run: its parameters and its metrics as columns."""
    rows = []
    for r in results:
        flat = {k: (json.dumps(v) if isinstance(v, list | dict) else v) for k, v in r.params.items()}
        rows.append({**flat, **r.metrics})
    return pd.DataFrame(rows)


def publish_results(results: Mapping[str, Any]) -> Path | None:
    """Hand a chapter's headline results to the runner.

    When the notebook runs under ``python -m c2f_utils.run``, ``$C2F_RESULTS_JSON``
    names a file and the results (JSON-like: numbers, strings, lists, dicts) are
    written there; otherwise (the book build, an interactive session) nothing is
    written. Returns the path written, if any.
    """
    clean = canonical(dict(results), "results", nonfinite_as_none=True)
    target = os.environ.get(RESULTS_ENV)
    if not target:
        return None
    path = Path(target)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(clean, indent=1, sort_keys=True))
    os.replace(tmp, path)
    return path
