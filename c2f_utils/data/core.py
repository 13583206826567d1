"""Types and registry behind :func:`c2f_utils.data.load`."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import TensorDataset

from .._checks import check_bool

__all__ = [
    "DatasetNotFoundError",
    "DatasetSpec",
    "LabeledData",
    "available",
    "check_files",
    "describe",
    "load",
    "register",
]


class DatasetNotFoundError(FileNotFoundError):
    """A real dataset's files are missing and could not be downloaded."""


class _UnknownNameError(KeyError, ValueError):
    """A dataset name that is not registered: a :class:`KeyError` (a registry lookup) that is
    also a :class:`ValueError` (a bad argument value)."""

    def __str__(self) -> str:  # the message, without the quotes KeyError adds
        return str(self.args[0]) if self.args else ""


@dataclass
class LabeledData:
    """One split of a dataset with its fine labeling and named coarsenings.

    Attributes
    ----------
    name, split : str
        Registry name and split (``"train"``, ``"test"``, ``"all"``...).
    x : Tensor
        Inputs, float32: images ``(N, C, H, W)`` in [0, 1], or vectors ``(N, D)``.
    fine : Tensor
        Fine labels (int64, ``(N,)``) or fine targets (float32, ``(N,)`` or ``(N, k)``).
    coarse : dict of str to Tensor
        Named coarsenings, each int64 labels ``(N,)`` derived from ``fine``.
    fine_names : tuple of str, optional
        Names of the fine classes (or of the target's components).
    coarse_names : dict of str to tuple of str
        Names of the classes of each coarsening.
    meta : dict
        Anything else worth keeping (source path, thresholds, auxiliary labels).
    """

    name: str
    split: str
    x: Tensor
    fine: Tensor
    coarse: dict[str, Tensor] = field(default_factory=dict)
    fine_names: tuple[str, ...] | None = None
    coarse_names: dict[str, tuple[str, ...]] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = self.x.shape[0]
        if self.fine.shape[0] != n:
            raise ValueError(f"Expected `fine` with {n} rows like `x`, got shape {tuple(self.fine.shape)}")
        for key, labels in self.coarse.items():
            if labels.shape != (n,) or labels.dtype != torch.int64:
                raise ValueError(
                    f"Expected coarsening {key!r} as int64 labels of shape ({n},), "
                    f"got {labels.dtype} of shape {tuple(labels.shape)}"
                )

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def is_regression(self) -> bool:
        """True when the fine labeling is a continuous target."""
        return self.fine.is_floating_point()

    def labels(self, labeling: str = "fine") -> Tensor:
        """The labels of one labeling: ``"fine"`` or the name of a coarsening."""
        if labeling == "fine":
            return self.fine
        if labeling not in self.coarse:
            raise KeyError(
                f"Unknown `labeling` {labeling!r} for dataset {self.name!r}; "
                f"expected 'fine' or one of {sorted(self.coarse)}"
            )
        return self.coarse[labeling]

    def n_classes(self, labeling: str = "fine") -> int:
        """Number of classes of a labeling (for a categorical one)."""
        y = self.labels(labeling)
        if y.is_floating_point():
            raise ValueError(f"Labeling {labeling!r} of {self.name!r} is a continuous target, not classes")
        names = self.fine_names if labeling == "fine" else self.coarse_names.get(labeling)
        return len(names) if names else int(y.max()) + 1

    def as_dataset(self, labeling: str = "fine") -> TensorDataset:
        """A :class:`torch.utils.data.TensorDataset` of ``(x, labels)``."""
        return TensorDataset(self.x, self.labels(labeling))

    def subset(self, index: Tensor) -> LabeledData:
        """The rows ``index`` (a boolean mask or integer indices) of every tensor."""
        return LabeledData(
            name=self.name,
            split=self.split,
            x=self.x[index],
            fine=self.fine[index],
            coarse={k: v[index] for k, v in self.coarse.items()},
            fine_names=self.fine_names,
            coarse_names=dict(self.coarse_names),
            meta=dict(self.meta),
        )


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset: its loader and what it is."""

    name: str
    kind: str
    """``"embedded"`` (no file, no network) or ``"real"`` (read from the data folder)."""
    loader: Callable[..., LabeledData]
    splits: tuple[str, ...]
    description: str


_REGISTRY: dict[str, DatasetSpec] = {}


def register(
    name: str, *, kind: str, splits: tuple[str, ...], description: str
) -> Callable[[Callable[..., LabeledData]], Callable[..., LabeledData]]:
    """Decorator adding a loader ``fn(split, **options) -> LabeledData`` to the registry.

    Real loaders also receive ``data_dir`` (a :class:`~pathlib.Path`) and ``download``.
    """
    if kind not in ("embedded", "real"):
        raise ValueError(f"Expected `kind` in ['embedded', 'real'], got {kind!r}")

    def decorator(fn: Callable[..., LabeledData]) -> Callable[..., LabeledData]:
        if name in _REGISTRY and _REGISTRY[name].loader is not fn:
            raise ValueError(f"A dataset named {name!r} is already registered")
        _REGISTRY[name] = DatasetSpec(name, kind, fn, splits, description)
        return fn

    return decorator


def available(kind: str | None = None) -> list[str]:
    """Registered dataset names, optionally only those of one ``kind`` (``"embedded"`` or ``"real"``)."""
    if kind is not None and kind not in ("embedded", "real"):
        raise ValueError(f"Expected `kind` to be 'embedded', 'real' or None, got {kind!r}")
    return sorted(n for n, s in _REGISTRY.items() if kind is None or s.kind == kind)


def describe(name: str) -> DatasetSpec:
    """The registry entry of ``name``.

    Parameters
    ----------
    name : str
        A registered dataset name (see :func:`available`).

    Returns
    -------
    DatasetSpec
        Its loader, kind, splits and description.

    Raises
    ------
    TypeError
        If ``name`` is not a string.
    KeyError
        If ``name`` is not registered (the error is also a :class:`ValueError`).
    """
    if not isinstance(name, str):
        raise TypeError(f"Expected `name` to be a dataset name (str), got {name!r} ({type(name).__name__})")
    if name not in _REGISTRY:
        raise _UnknownNameError(f"Unknown dataset `name` {name!r}; available: {available()}")
    return _REGISTRY[name]


def load(
    name: str,
    split: str = "train",
    *,
    data_dir: str | Path | None = None,
    download: bool = True,
    **options: Any,
) -> LabeledData:
    """Load one split of a registered dataset.

    Parameters
    ----------
    name : str
        A name from :func:`available` (e.g. ``"digits"``, ``"cifar10"``, ``"mnist"``).
    split : str
        One of the dataset's splits (``describe(name).splits``).
    data_dir : path, optional
        Folder holding real datasets; defaults to ``$C2F_DATA_DIR``. Ignored by
        embedded datasets.
    download : bool
        For real datasets with a public URL: download missing files (checksum
        verified). Offline, or with ``download=False``, missing files raise
        :class:`DatasetNotFoundError`. A Python or NumPy bool (``"no"``, ``1`` or
        ``None`` raise :class:`TypeError`).
    **options
        Dataset-specific options (see each loader's docstring).

    Raises
    ------
    TypeError
        If ``name`` is not a string or ``download`` not a bool.
    KeyError
        If ``name`` is not registered (the error is also a :class:`ValueError`).
    ValueError
        If ``split`` or an option is invalid.
    DatasetNotFoundError
        If a real dataset's files are missing and cannot be downloaded.
    """
    spec = describe(name)
    download = check_bool("download", download)
    if split not in spec.splits:
        raise ValueError(f"Expected `split` in {list(spec.splits)} for dataset {name!r}, got {split!r}")
    accepted = inspect.signature(spec.loader).parameters
    has_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values())
    unknown = [k for k in options if k not in accepted and not has_kwargs]
    if unknown:
        allowed = sorted(k for k in accepted if k not in ("split", "data_dir", "download"))
        raise TypeError(f"Unknown option(s) {unknown} for dataset {name!r}; accepted: {allowed}")
    if spec.kind == "real":
        from ..paths import data_dir as resolve_data_dir

        return spec.loader(split, data_dir=resolve_data_dir(data_dir), download=download, **options)
    return spec.loader(split, **options)


def stratified_split(labels: Tensor, test_fraction: float, seed: int) -> tuple[Tensor, Tensor]:
    """Seeded train/test indices (scikit-learn's ``train_test_split``).

    Stratified on ``labels`` when they are integer class labels; a plain seeded
    split for continuous or multi-column targets.
    """
    from sklearn.model_selection import train_test_split

    idx = torch.arange(len(labels)).numpy()
    train, test = train_test_split(
        idx,
        test_size=test_fraction,
        random_state=seed,
        stratify=labels.numpy() if labels.ndim == 1 and not labels.is_floating_point() else None,
    )
    return torch.as_tensor(sorted(train)), torch.as_tensor(sorted(test))


def threshold_coarsening(values: Tensor, threshold: float) -> Tensor:
    """Binary labels ``values > threshold`` as int64."""
    return (values > threshold).to(torch.int64)


def mapping_coarsening(fine: Tensor, mapping: Mapping[int, int]) -> Tensor:
    """Coarse labels ``mapping[fine]`` for integer fine labels."""
    table = torch.full((int(fine.max()) + 1,), -1, dtype=torch.int64)
    for k, v in mapping.items():
        if k < len(table):
            table[k] = v
    coarse = table[fine]
    if (coarse < 0).any():
        missing = sorted(set(fine[coarse < 0].tolist()))
        raise ValueError(f"Fine labels {missing} have no coarse class in the mapping")
    return coarse


def take_split(data: LabeledData, split: str, test_fraction: float, seed: int, labels: Tensor) -> LabeledData:
    """The ``"train"`` or ``"test"`` part of ``data`` (seeded, stratified on ``labels``), or all of it."""
    if split == "all":
        return data
    train, test = stratified_split(labels, test_fraction, seed)
    out = data.subset(train if split == "train" else test)
    out.split = split
    return out


def check_files(names: Iterable[str]) -> list[str]:
    """Problems with the files of the registered, non-embedded datasets among ``names`` (empty
    when every one is there and readable).

    Each is loaded, every split, without downloading: a missing file is reported with the
    loader's message (where to put it, how to get it). A name no loader is registered for is
    a problem too.
    """
    if isinstance(names, str) or not isinstance(names, Iterable):
        raise TypeError(f"Expected `names` to be an iterable of dataset names, got {names!r}")
    names = list(names)
    if not all(isinstance(n, str) for n in names):
        raise TypeError(f"Expected `names` to be dataset names (str), got {names!r}")
    problems: list[str] = []
    embedded = set(available("embedded"))
    for name in dict.fromkeys(names):
        if name in embedded:
            continue
        if name not in available():
            problems.append(f"{name}: no loader is registered for this dataset (data.available() lists them)")
            continue
        for split in describe(name).splits:
            try:
                load(name, split, download=False)
            except DatasetNotFoundError as exc:
                problems.append(f"{name} ({split}): {exc}")
                break
            except Exception as exc:  # noqa: BLE001 - an unreadable file is a problem to report, with the rest
                problems.append(f"{name} ({split}): unreadable ({type(exc).__name__}: {exc})")
                break
    return problems
