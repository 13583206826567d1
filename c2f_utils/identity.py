"""Run identity: a run's cache key from what it declares; the platform it ran on beside it.

A run's key (:func:`run_key`) is the SHA-256 of

- its experiment's name and declared version (``Experiment.version``),
- its canonical parameters (:func:`canonical`),
- the declared version of each component it uses (:data:`COMPONENTS`: the training loop,
  each model, loss, probe family and dataset; an experiment lists its own with
  ``Experiment.components()``),
- the numerical libraries' versions (:func:`library_versions`),

and of nothing else. Refactoring, messages, documentation and presentation change no key;
a change of what a component computes is declared by bumping its version here, which
re-keys exactly the runs that use it. The declaration is guarded by behaviour digests
(``tests/behaviour_digests.json``, checked by ``tests/test_behaviour.py``): every
component's outputs on fixed tiny inputs and every experiment's ``--smoke`` metrics. A
change of behaviour without a version bump fails that test, which names the components and
the runs it would re-key.

What the key leaves out is kept beside the result, in its provenance: the platform facts
that move the last bits of a number (:func:`platform_facts`: device, CPU model, threads,
CUDA), compared when a committed result is read (a result recorded on another platform is
shown as such), and a fingerprint of the source the run's modules had
(:func:`source_fingerprint`), shown as "code changed since" information.

Why a table rather than a version attribute on each class: the table is read when a
chapter is planned (``--plan``), which must not import torch or the computing layers (about
2 s here); this module imports nothing of the package.
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import os
import platform
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "COMPONENTS",
    "NUMERICAL_LIBRARIES",
    "PLATFORM_FACTS",
    "canonical",
    "check_name",
    "component_versions",
    "declaration",
    "library_versions",
    "platform_differences",
    "platform_facts",
    "run_key",
    "source_fingerprint",
]

COMPONENTS: dict[str, int] = {
    # the training loop: fit, evaluation, feature extraction, seeding, augmentation (c2f_utils.train)
    "train": 1,
    # input augmentations beyond crops and flips: Cutout, RandAugment, Mixup, CutMix (c2f_utils.augment)
    "augment": 1,
    # networks (c2f_utils.models) and pretrained weights (c2f_utils.weights)
    "models.mlp": 1,
    "models.lenet5": 1,
    "models.resnet": 1,
    "models.pretrained_resnet": 1,
    "models.state": 1,
    "weights": 1,
    # criteria (c2f_utils.losses); cross-entropy and label smoothing are torch's own
    "losses.confidence": 1,
    "losses.distill": 1,
    "losses.fierce": 2,  # 2: the Gumbel noise from the loss's own generator when it has one
    "losses.smoothing": 1,
    "losses.transport": 1,
    # probes (c2f_utils.probes), one per module
    "probes.calibration": 1,
    "probes.entropy": 1,
    "probes.fewshot": 1,
    "probes.geometry": 1,
    "probes.information": 1,
    "probes.linear": 1,
    # 2: transfer head from its own generator; tied 1-D values share their mean
    # 3: transfer head on whitened features, fit by L-BFGS, stopped on validation rows
    "probes.regression": 3,
    "probes.saliency": 1,
    "probes.transport": 1,
    # data: the shared containers, coarsenings and splits, the image-folder reader, and each
    # registered dataset (its loader and its source files' checksums)
    "data.core": 1,
    "data.splits": 1,
    "data.folders": 1,
    "data.annotator_counts": 1,
    "data.cifar10": 1,
    "data.cifar100": 1,
    "data.cifar10_jpeg": 1,
    "data.cifar10h": 1,
    "data.cifar_fs": 1,
    "data.cluttered_digits": 1,
    "data.cluttered_mnist": 1,
    "data.cluttered_mnist10k": 1,
    "data.digits": 1,
    "data.fgvc_aircraft": 1,
    "data.hierarchical_blobs": 1,
    "data.jasper_ridge": 2,  # 2: split by whole blocks of the image
    "data.mnist": 1,
    "data.mnist10k": 1,
    "data.occluded_cifar": 1,
    "data.occluded_cifar10_jpeg": 1,
    "data.occluded_digits": 1,
    "data.samson": 2,  # 2: split by whole blocks of the image
    "data.synthetic_sizes": 1,
    "data.synthetic_unmixing": 1,
    "data.urban": 2,  # 2: split by whole blocks of the image
    "data.utkface": 1,
}
"""Every component a run can use, and its declared version. Bump a version when what the
component computes changes (not when its code is only reorganised, documented or checked
differently), then regenerate the digests (``python3 tasks.py digests``)."""

NUMERICAL_LIBRARIES = ("torch", "numpy", "scikit-learn", "pot")
"""The libraries whose versions are part of every key."""

PLATFORM_FACTS = ("device", "cpu_model", "torch_threads", "cuda")
"""Provenance facts that move the last bits of a result and are compared on reading."""


def check_name(name: Any) -> str:
    """A run name is one folder under ``runs/``: letters, digits, '-', '_' and '.', not starting
    with '.' (which would also let ``..`` climb out of the cache folder)."""
    if (
        not isinstance(name, str)
        or not name
        or name.startswith(".")
        or not all(c.isascii() and (c.isalnum() or c in "-_.") for c in name)
    ):
        raise ValueError(
            f"Expected `name` made of ASCII letters, digits, '-', '_' or '.', not starting with '.', got {name!r}"
        )
    return name


def canonical(value: Any, where: str, nonfinite_as_none: bool = False) -> Any:
    """JSON-ready copy of ``value`` (tuples become lists, NumPy scalars Python ones, -0.0 becomes
    0.0); raises on anything else.

    Non-finite floats raise, or become None with ``nonfinite_as_none``. An int and a float stay
    apart (``1`` and ``1.0``): an experiment's fields are typed, so a float field always holds
    a float, and a plain function may well mean different things by them.
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        if not math.isfinite(f):
            if nonfinite_as_none:
                return None
            raise ValueError(f"Expected finite numbers in run parameters, got {where}={value!r}")
        return f + 0.0  # -0.0 and 0.0 are one value (and one key)
    if isinstance(value, list | tuple):
        return [canonical(v, f"{where}[{i}]", nonfinite_as_none) for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        bad = [k for k in value if not isinstance(k, str)]
        if bad:  # {1: "a"} and {"1": "a"} would otherwise share a key (JSON keys are strings)
            raise TypeError(f"Expected string keys in {where}, got {bad[0]!r} of type {type(bad[0]).__name__}")
        return {k: canonical(v, f"{where}.{k}", nonfinite_as_none) for k, v in value.items()}
    raise TypeError(
        f"Expected run parameters made of None, bool, int, float, str, lists and dicts, "
        f"got {where}={value!r} of type {type(value).__name__}"
    )


def component_versions(names: Iterable[str]) -> dict[str, int]:
    """``{component: version}`` of ``names`` (each must be declared in :data:`COMPONENTS`)."""
    if isinstance(names, str):
        raise TypeError(f"Expected `names` to be an iterable of component names, got the string {names!r}")
    names = sorted(set(names))
    unknown = [n for n in names if n not in COMPONENTS]
    if unknown:
        raise KeyError(f"Unknown component(s) {unknown}; declared components: {sorted(COMPONENTS)}")
    return {n: COMPONENTS[n] for n in names}


@lru_cache(maxsize=1)
def _library_versions() -> tuple[tuple[str, str], ...]:
    from importlib.metadata import version

    return tuple((name, version(name)) for name in NUMERICAL_LIBRARIES)


def library_versions() -> dict[str, str]:
    """Versions of the numerical libraries a result depends on: torch, numpy, scikit-learn, POT."""
    return dict(_library_versions())


def declaration(version: int, components: Iterable[str], requires: Iterable[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """What a run declares beyond its name and parameters: its experiment's ``version``, the
    versions of its ``components``, the declarations of the runs it ``requires`` (a teacher,
    a source network) and the numerical libraries' versions."""
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"Expected `version` to be a positive int, got {version!r}")
    return {
        "version": version,
        "components": component_versions(components),
        "requires": [dict(r) for r in requires],
        "libraries": library_versions(),
    }


def run_key(name: str, params: Mapping[str, Any], declared: Mapping[str, Any]) -> str:
    """Hex key of a run: SHA-256 of its name, canonical parameters and :func:`declaration`."""
    check_name(name)
    if not isinstance(declared, Mapping) or not declared:
        raise ValueError(f"Expected `declared` to be a non-empty mapping (see declaration()), got {declared!r}")
    blob = json.dumps(
        {"name": name, "params": canonical(dict(params), "params"), "declared": canonical(dict(declared), "declared")},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


@lru_cache(maxsize=1)
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def platform_facts() -> dict[str, Any]:
    """The facts of this machine that move the last bits of a result (:data:`PLATFORM_FACTS`),
    plus the CPU count: where the result was computed, for its provenance."""
    import torch

    cuda = torch.cuda.is_available()
    return {
        "device": torch.cuda.get_device_name(0) if cuda else f"cpu ({platform.machine()})",
        "cpu_model": _cpu_model(),
        "torch_threads": torch.get_num_threads(),  # float reduction order, hence the last bits, depend on it
        "cuda": torch.version.cuda if cuda else None,
        "cpu_count": os.cpu_count(),
    }


def platform_differences(recorded: Mapping[str, Any], here: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """``{fact: (recorded, here)}`` for each of :data:`PLATFORM_FACTS` that both name and that differs.

    A record written before a fact was kept does not name it: that fact is not compared.
    """
    return {f: (recorded[f], here[f]) for f in PLATFORM_FACTS if f in recorded and f in here and recorded[f] != here[f]}


def _normalized(source: str) -> bytes:
    """The syntax tree of ``source`` without docstrings, comments or layout."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, include_attributes=False).encode()


def source_fingerprint(paths: Iterable[str | os.PathLike[str]]) -> str:
    """SHA-256 prefix of the syntax trees (no docstrings, comments or layout) of the source files
    ``paths``: information kept in a run's provenance ("the code changed since"), never a key."""
    digest = hashlib.sha256()
    for path in sorted(Path(p) for p in paths):
        digest.update(path.name.encode())
        digest.update(_file_digest(path, path.stat().st_mtime_ns).encode())
    return digest.hexdigest()[:16]


@lru_cache(maxsize=256)
def _file_digest(path: Path, mtime_ns: int) -> str:
    """One file's normalised digest, read once per modification time."""
    return hashlib.sha256(_normalized(path.read_text())).hexdigest()
