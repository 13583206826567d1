"""The one training loop of the book.

:func:`fit` trains any model that returns :class:`~c2f_utils.models.ModelOutput` with
any criterion of the book's losses, seeded, on CPU or CUDA, and returns the per-epoch
history as a :class:`pandas.DataFrame`. Chapters track probes over training with
per-epoch callbacks whose returned numbers become history columns.

Criterion calling convention: ``criterion(logits, target)`` by default (like
:class:`torch.nn.CrossEntropyLoss`); a criterion with a true attribute
``needs_features`` is called as ``criterion(logits, features, target)`` (FIERCE). An
optional ``regularizer(inputs, output)`` adds a term that needs the batch itself
(e.g. the features of a frozen reference network for optimal-transport transfer).
Parameters of the criterion (a learnable label-smoothing matrix) are optimised too.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from ._checks import check_bool, check_choice, check_device_available, check_number, check_positive_int
from .checkpoints import checkpointing, next_checkpoint
from .models import INPUTS_CHECKED, ModelOutput, check_inputs, check_model
from .progress import progress_bar

__all__ = [
    "DeviceFallbackWarning",
    "EpochState",
    "TensorBatches",
    "TrainConfig",
    "TrainResult",
    "checkpointing",
    "crop_flip",
    "evaluate",
    "extract_features",
    "fit",
    "lr_factor",
    "random_state_kept",
    "resolve_device",
    "seed_everything",
]

Callback = Callable[["EpochState"], dict[str, float] | None]


class DeviceFallbackWarning(UserWarning):
    """``device="auto"`` found no accelerator (CUDA or Apple's MPS) and trains on the CPU."""


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (CPU and CUDA) random generators.

    Parameters
    ----------
    seed : int
        An integer >= 0 (NumPy integers too).
    """
    seed = check_positive_int("seed", seed, minimum=0)
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - libraries still draw from the legacy global generator
    torch.manual_seed(seed)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else Apple's MPS, else the CPU (saying so once, with a
    :class:`DeviceFallbackWarning`); anything else is passed to :class:`torch.device`.

    Parameters
    ----------
    device : str or torch.device
        ``"auto"``, or a device name (``"cpu"``, ``"cuda"``, ``"cuda:1"``) or :class:`torch.device`.
        Another type raises :class:`TypeError`; an unknown name, or a device that is not
        available (no CUDA or MPS here, or an index beyond the devices present), :class:`ValueError`.

    Returns
    -------
    torch.device
        The device.
    """
    return _device("device", device)


def _auto_device() -> torch.device:
    """CUDA, else MPS, else the CPU with a warning (once per process: every run of a sweep asks)."""
    global _FELL_BACK
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    if not _FELL_BACK:
        _FELL_BACK = True
        warnings.warn(
            "device 'auto': no CUDA or MPS device is available, training on the CPU (pass device='cpu' to say so)",
            DeviceFallbackWarning,
            stacklevel=3,
        )
    return torch.device("cpu")


_FELL_BACK = False


def _device(name: str, device: Any, *, available: bool = True) -> torch.device:
    """:func:`resolve_device` with errors naming the argument ``name``; ``available=False``
    checks the name only (a config may be written where it will not run: a GPU job planned
    on a login node)."""
    if isinstance(device, str) and device == "auto":
        return _auto_device()
    if not isinstance(device, str | torch.device):
        raise TypeError(f"Expected `{name}` to be 'auto', a device name or a torch.device, got {device!r}")
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError) as exc:
        raise ValueError(
            f"Expected `{name}` to be 'auto' or a device such as 'cpu' or 'cuda:0', got {device!r}"
        ) from exc
    return check_device_available(name, dev) if available else dev


def _optional_callable(name: str, value: Any) -> Any:
    if value is not None and not callable(value):
        raise TypeError(f"Expected `{name}` to be callable or None, got {value!r} ({type(value).__name__})")
    return value


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of :func:`fit`.

    Attributes
    ----------
    epochs : int
        Number of passes over the training set.
    batch_size : int
        Mini-batch size.
    optimizer : {"sgd", "adam", "adamw"}
        SGD uses ``momentum`` and ``nesterov``; Adam/AdamW ignore them.
    lr, momentum, weight_decay : float
        Learning rate, SGD momentum and L2 weight decay.
    nesterov : bool
        Nesterov momentum for SGD. This and the other flags (``amp``, ``channels_last``,
        ``progress``) must be Python or NumPy bools: ``"no"`` or ``1`` raise :class:`TypeError`.
    schedule : {"constant", "step", "multistep", "cosine"}
        Learning-rate schedule, applied per epoch after the warm-up:
        ``step`` multiplies by ``gamma`` every ``step_size`` epochs; ``multistep`` at
        each epoch in ``milestones``; ``cosine`` anneals to 0 at the last epoch.
    step_size : int
        Period of the ``step`` schedule.
    milestones : sequence of int
        Epochs of the ``multistep`` schedule: integers >= 1 in increasing order (a list,
        tuple or integer array, possibly empty).
    gamma : float
        Decay factor of ``step`` and ``multistep``.
    warmup_epochs : int
        Linear warm-up from ``lr / (warmup_epochs + 1)`` to ``lr`` over this many epochs.
    criterion_lr : float, optional
        Learning rate for the criterion's own parameters (defaults to ``lr``).
    grad_clip : float, optional
        Clip the global L2 norm of the gradient of every trained parameter to this value
        before each step (:func:`torch.nn.utils.clip_grad_norm_`; ``None``: no clipping).
        A guard against the first steps' spikes that can kill every ReLU of a network
        without batch norm.
    seed : int
        Seeds initialisation-independent randomness: shuffling, dropout, augmentation.
    device : str or torch.device
        ``"auto"``, ``"cpu"``, ``"cuda"``...; the name is checked when the config is made
        (an unknown name raises :class:`ValueError`), whether that device exists when
        :func:`fit` starts.
    amp : bool
        Mixed precision (bfloat16 autocast, or float16 with gradient scaling) on CUDA;
        ignored on CPU, where training stays in float32 and is deterministic.
    channels_last : bool
        On CUDA, convolutional models and 4-D input batches use the channels-last memory
        format (faster tensor-core convolutions); ignored on CPU.
    num_workers : int
        Loader processes for a :class:`~torch.utils.data.Dataset` that is not held in
        tensors (with pinned memory on CUDA). In-memory tensors never go through a
        loader: they are indexed directly, and on CUDA moved to the device once when
        they fit (see :func:`fit`).
    progress : bool, optional
        Show the epochs in a progress bar: in a terminal, a widget in a notebook, a line
        every 30 s in logs; by default as ``$C2F_PROGRESS`` says or as detected
        (:func:`c2f_utils.progress.progress_mode`).
    checkpoint_every : int
        Inside :func:`checkpointing`, save a checkpoint every this many epochs (and
        after the last one).
    """

    epochs: int = 10
    batch_size: int = 128
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 0.0
    nesterov: bool = False
    schedule: str = "constant"
    step_size: int = 30
    milestones: Sequence[int] = ()
    gamma: float = 0.1
    warmup_epochs: int = 0
    criterion_lr: float | None = None
    grad_clip: float | None = None
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    channels_last: bool = True
    num_workers: int = 0
    progress: bool | None = None
    checkpoint_every: int = 5

    def __post_init__(self) -> None:
        if isinstance(self.milestones, str | bytes) or not isinstance(self.milestones, Iterable):
            raise TypeError(f"Expected `milestones` to be a sequence of integers, got {self.milestones!r}")
        for flag in ("nesterov", "amp", "channels_last"):
            check_bool(flag, getattr(self, flag))
        if self.progress is not None:
            check_bool("progress", self.progress)
        _device("device", self.device, available=False)  # whether it exists is checked where the run starts
        check_positive_int("epochs", self.epochs)
        check_positive_int("batch_size", self.batch_size)
        check_choice("optimizer", self.optimizer, ("sgd", "adam", "adamw"))
        check_number("lr", self.lr, low=0, low_inclusive=False)
        check_number("momentum", self.momentum, low=0, high=1, high_inclusive=False)
        check_number("weight_decay", self.weight_decay, low=0)
        check_choice("schedule", self.schedule, ("constant", "step", "multistep", "cosine"))
        check_positive_int("step_size", self.step_size)
        for m in self.milestones:
            check_positive_int("milestones", m)
        if list(self.milestones) != sorted(self.milestones):
            raise ValueError(f"Expected `milestones` in increasing order, got {list(self.milestones)}")
        check_number("gamma", self.gamma, low=0, high=1, low_inclusive=False)
        check_positive_int("warmup_epochs", self.warmup_epochs, minimum=0)
        if self.warmup_epochs >= self.epochs:
            raise ValueError(f"Expected `warmup_epochs` < epochs={self.epochs}, got {self.warmup_epochs}")
        if self.criterion_lr is not None:
            check_number("criterion_lr", self.criterion_lr, low=0, low_inclusive=False)
        if self.grad_clip is not None:
            check_number("grad_clip", self.grad_clip, low=0, low_inclusive=False)
        check_positive_int("seed", self.seed, minimum=0)
        check_positive_int("checkpoint_every", self.checkpoint_every)
        check_positive_int("num_workers", self.num_workers, minimum=0)
        # NumPy scalars (valid above) become the Python numbers torch expects; Python values are kept as given.
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.generic):
                object.__setattr__(self, f.name, value.item())


def lr_factor(epoch: int, cfg: TrainConfig) -> float:
    """Multiplier of the base learning rate during epoch ``epoch`` (0-based).

    Linear warm-up over the first ``warmup_epochs`` epochs, ``(e + 1) / (w + 1)``,
    then the schedule on the remaining epochs, counted from the end of the warm-up.
    The ``step``/``multistep``/``cosine`` values equal those of PyTorch's
    ``StepLR``/``MultiStepLR``/``CosineAnnealingLR(T_max=epochs - warmup, eta_min=0)``.

    Parameters
    ----------
    epoch : int
        The epoch, an integer >= 0 (NumPy integers too).
    cfg : TrainConfig
        The schedule (another type raises :class:`TypeError`).
    """
    epoch = check_positive_int("epoch", epoch, minimum=0)
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"Expected `cfg` to be a TrainConfig, got {type(cfg).__name__}")
    w = cfg.warmup_epochs
    if epoch < w:
        return (epoch + 1) / (w + 1)
    e = epoch - w
    if cfg.schedule == "step":
        return cfg.gamma ** (e // cfg.step_size)
    if cfg.schedule == "multistep":
        return cfg.gamma ** sum(e >= m for m in cfg.milestones)
    if cfg.schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * e / (cfg.epochs - w)))
    return 1.0


@dataclass
class EpochState:
    """What a per-epoch callback sees. ``epoch`` 0 is the state before training."""

    epoch: int
    model: nn.Module
    criterion: Any
    device: torch.device
    history: list[dict[str, float]]


@dataclass
class TrainResult:
    """The trained model (in eval mode, on its device) and its per-epoch history."""

    model: nn.Module
    history: pd.DataFrame


def _check_pair(name: str, x: Any, y: Any) -> Tensor:
    """Check in-memory ``(inputs, targets)`` of the argument ``name``; return the targets, class
    labels of another integer dtype as int64 (the dtype of the losses), else unchanged."""
    if not isinstance(x, Tensor) or not isinstance(y, Tensor):
        raise TypeError(f"Expected `{name}` as (inputs, targets) tensors, got ({type(x).__name__}, {type(y).__name__})")
    if x.ndim == 0 or y.ndim == 0 or x.shape[0] != y.shape[0]:
        raise ValueError(
            f"Expected `{name}` as (inputs, targets) of equal length, got shapes {tuple(x.shape)} and {tuple(y.shape)}"
        )
    if x.shape[0] == 0:
        raise ValueError(f"Expected `{name}` with at least one sample, got none")
    for part, t in (("inputs", x), ("targets", y)):
        if t.is_floating_point() and t.device.type == "cpu" and not math.isfinite(float(t.detach().sum())):
            n_bad = int((~torch.isfinite(t)).sum())
            if n_bad:
                raise ValueError(f"Expected finite {part} in `{name}`, got {n_bad} NaN or infinite")
    if y.dtype == torch.bool and y.ndim == 1:  # two classes, False and True: 0 and 1 for the losses
        return y.long()
    if _is_class_labels(y) and y.dtype != torch.int64:
        return y.long()
    return y


def _in_model_dtype(dataset: Dataset, model: nn.Module, name: str) -> Dataset:
    """In-memory floating inputs of ``dataset`` cast to the dtype of ``model``'s parameters
    (float64 or half-precision inputs to a float32 model, which refuses mixed dtypes); integer
    inputs (uint8 images: scaled how?) raise naming ``name``. Other datasets pass unchanged."""
    if not (isinstance(dataset, TensorDataset) and len(dataset.tensors) == 2):
        return dataset
    x, y = dataset.tensors
    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), None)
    if dtype is None or x.dtype == dtype:
        return dataset
    if not x.is_floating_point():
        raise TypeError(f"Expected floating-point inputs in `{name}` like the model's parameters, got {x.dtype}")
    cast = x.to(dtype)
    if cast.device.type == "cpu" and not bool(torch.isfinite(cast).all()):
        largest = float(x.abs().max())
        raise ValueError(f"Expected the inputs of `{name}` within the range of {dtype}, got values up to {largest}")
    return TensorDataset(cast, y)


def _as_dataset(data: Dataset | tuple[Tensor, Tensor], name: str = "data") -> Dataset:
    """``data`` (a :class:`~torch.utils.data.Dataset` or an ``(inputs, targets)`` pair) as a Dataset;
    in-memory tensors are checked (equal non-zero lengths, finite), errors name ``name``."""
    if isinstance(data, tuple):
        if len(data) != 2:
            raise ValueError(f"Expected `{name}` as a Dataset or a pair (inputs, targets), got {len(data)} items")
        y = _check_pair(name, *data)
        return TensorDataset(data[0], y)
    if isinstance(data, TensorDataset) and len(data.tensors) == 2:
        y = _check_pair(name, *data.tensors)
        return data if y is data.tensors[1] else TensorDataset(data.tensors[0], y)
    if not isinstance(data, Dataset):
        raise TypeError(f"Expected `{name}` to be a Dataset or a pair (inputs, targets), got {type(data).__name__}")
    return data


def _check_label_range(name: str, dataset: Dataset, logits: Tensor, criterion: Any) -> None:
    """Raise unless the class labels of in-memory ``dataset`` index the columns of ``logits``
    (labels equal to the criterion's ``ignore_index`` excepted); other targets pass."""
    if not isinstance(dataset, TensorDataset) or len(dataset.tensors) != 2 or logits.ndim != 2:
        return
    y = dataset.tensors[1]
    if not _is_class_labels(y) or y.dtype == torch.bool:
        return
    ignore = getattr(criterion, "ignore_index", None)
    kept = y if not isinstance(ignore, int) else y[y != ignore]
    if kept.numel() == 0:
        return
    low, high, k = int(kept.min()), int(kept.max()), logits.shape[1]
    if low < 0 or high >= k:
        raise ValueError(
            f"Expected the labels of `{name}` in [0, {k - 1}] (one per column of the model's logits), "
            f"got values in [{low}, {high}]"
        )


DEVICE_DATA_FRACTION = 0.5
"""In-memory training tensors are moved to a CUDA device once when they take at most this
fraction of its free memory; otherwise each batch is copied from pinned host memory."""


class TensorBatches:
    """Shuffled mini-batches of in-memory tensors, without a per-sample loader.

    Each epoch draws from ``generator`` exactly what
    ``DataLoader(TensorDataset(*tensors), batch_size, shuffle=True, generator=generator)``
    draws (the loader's worker base seed, the permutation, and the permutation its
    sampler starts once the epoch is exhausted), so the batches are the same tensors in
    the same order and a CPU run's result is unchanged; but a batch is one indexing
    operation, ``t[perm[i:i + batch_size]]``, instead of ``batch_size`` item lookups and
    a collate, which dominates an epoch of a small model. On CUDA the tensors are moved
    to the device once when they take at most ``DEVICE_DATA_FRACTION`` of its free
    memory, and otherwise pinned, so each batch is copied asynchronously.

    Parameters
    ----------
    tensors : sequence of Tensor
        Equal-length tensors (inputs, targets), on the CPU.
    batch_size : int
        Mini-batch size; the last batch may be smaller.
    generator : torch.Generator
        CPU generator of the batch order.
    device : torch.device
        Where the batches are used (a device name is accepted too, see :func:`resolve_device`).

    Raises
    ------
    TypeError
        If ``tensors`` is not a sequence of tensors or ``generator`` not a :class:`torch.Generator`.
    ValueError
        If ``tensors`` is empty, or holds tensors of unequal or zero lengths, or ``batch_size`` < 1.
    """

    def __init__(
        self, tensors: Sequence[Tensor], batch_size: int, generator: torch.Generator, device: torch.device
    ) -> None:
        if not isinstance(tensors, Sequence) or not all(isinstance(t, Tensor) and t.ndim for t in tensors):
            raise TypeError(f"Expected `tensors` to be a sequence of tensors with a batch axis, got {tensors!r}")
        if not tensors or any(len(t) != len(tensors[0]) for t in tensors):
            raise ValueError(f"Expected `tensors` of equal lengths, got lengths {[len(t) for t in tensors]}")
        if len(tensors[0]) == 0:
            raise ValueError("Expected `tensors` with at least one sample, got none")
        batch_size = check_positive_int("batch_size", batch_size)
        if not isinstance(generator, torch.Generator):
            raise TypeError(f"Expected `generator` to be a torch.Generator, got {type(generator).__name__}")
        device = _device("device", device)
        self.n, self.batch_size, self.generator, self.device = len(tensors[0]), batch_size, generator, device
        self.on_device = device.type != "cuda"
        if device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(device)
            self.on_device = sum(t.nbytes for t in tensors) <= DEVICE_DATA_FRACTION * free
        if self.on_device:
            self.tensors = [t.to(device) for t in tensors]
        else:
            self.tensors = [t.pin_memory() for t in tensors]

    def __len__(self) -> int:
        return math.ceil(self.n / self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        torch.empty((), dtype=torch.int64).random_(generator=self.generator)  # DataLoader's worker base seed
        perm = torch.randperm(self.n, generator=self.generator)
        index = perm.to(self.device) if self.on_device else perm
        for i in range(0, self.n, self.batch_size):
            rows = index[i : i + self.batch_size]
            if self.on_device:
                yield tuple(t[rows] for t in self.tensors)
            else:
                yield tuple(t[rows].pin_memory().to(self.device, non_blocking=True) for t in self.tensors)
        torch.randperm(self.n, generator=self.generator)  # what RandomSampler draws when exhausted


def _batches(dataset: Dataset, config: TrainConfig, generator: torch.Generator, device: torch.device) -> Any:
    """:class:`TensorBatches` for in-memory tensors, else a shuffling :class:`DataLoader`."""
    if isinstance(dataset, TensorDataset):
        return TensorBatches(dataset.tensors, config.batch_size, generator, device)
    return DataLoader(
        dataset,
        batch_size=config.batch_size,
        shuffle=True,
        generator=generator,
        num_workers=config.num_workers,
        pin_memory=device.type == "cuda",
        persistent_workers=config.num_workers > 0,
    )


def _uses_channels_last(model: nn.Module, device: torch.device, config: TrainConfig) -> bool:
    return config.channels_last and device.type == "cuda" and any(isinstance(m, nn.Conv2d) for m in model.modules())


def _loss(criterion: Any, out: ModelOutput, y: Tensor) -> Tensor:
    if getattr(criterion, "needs_features", False):
        return criterion(out.logits, out.features, y)
    return criterion(out.logits, y)


def _first_loss(criterion: Any, out: ModelOutput, y: Tensor, name: str) -> Tensor:
    """:func:`_loss` on the first batch, where a torch error means targets the criterion cannot read
    (float labels for a cross-entropy): raised as a TypeError naming ``name`` and the criterion."""
    try:
        return _loss(criterion, out, y)
    except RuntimeError as exc:
        if isinstance(exc, torch.OutOfMemoryError):
            raise
        raise TypeError(
            f"Expected targets in `{name}` that the `criterion` {type(criterion).__name__} accepts, "
            f"got {y.dtype} of shape {tuple(y.shape)}: {exc}"
        ) from exc


def _autocast(device: torch.device, amp: bool) -> tuple[Any, torch.amp.GradScaler | None]:
    if device.type != "cuda" or not amp:
        return torch.autocast(device.type, enabled=False), None
    if torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16), None
    return torch.autocast("cuda", dtype=torch.float16), torch.amp.GradScaler("cuda")


# --------------------------------------------------------------------------- smoke runs and checkpoints

SMOKE_ENV = "C2F_SMOKE"
"""When this environment variable is set (``--smoke``), every epoch of :func:`fit` stops after
:data:`SMOKE_BATCHES` mini-batches: the same code path on a few batches."""
SMOKE_BATCHES = 2


def smoke_mode() -> bool:
    """True when ``$C2F_SMOKE`` is set (see :data:`SMOKE_ENV`)."""
    return bool(os.environ.get(SMOKE_ENV))


def random_state_kept(device: str | torch.device = "cpu") -> contextlib.AbstractContextManager:
    """A block after which torch's generators (the CPU's and ``device``'s, on a GPU) are as
    they were before it, whatever it drew or seeded (``torch.random.fork_rng``): a probe run
    during training leaves the training's draws as they were."""
    dev = resolve_device(device)
    index = dev.index if dev.index is not None else torch.cuda.current_device() if dev.type == "cuda" else None
    return torch.random.fork_rng(devices=[] if index is None else [index])


def _generators(obj: Any) -> dict[str, torch.Generator]:
    """The :class:`torch.Generator` attributes of a criterion (their state decides its noise)."""
    return {k: v for k, v in sorted(vars(obj).items()) if isinstance(v, torch.Generator)} if obj is not None else {}


def _signature(model: nn.Module, config: TrainConfig) -> list[Any]:
    """What a checkpoint must match to be resumed: the recipe and the parameter shapes."""
    ignored = ("progress", "checkpoint_every", "device", "num_workers")
    recipe = {k: v for k, v in config.__dict__.items() if k not in ignored}
    return [repr(sorted(recipe.items())), [list(p.shape) for p in model.state_dict().values()]]


def _save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def _check_loss(loss: Tensor, epoch: int) -> None:
    """Raise if the training loss is not finite."""
    if not torch.isfinite(loss):
        raise FloatingPointError(f"Non-finite training loss {float(loss.detach())} at epoch {epoch + 1}")


def _check_step(loss: Tensor, named: list[tuple[str, Tensor]], epoch: int) -> None:
    """Raise if the loss is not finite, else naming the first parameter whose gradient is not
    finite: one reduction and one host synchronisation per step.

    A finite loss can still back-propagate NaN or inf (a saturated ``log``, a ``sqrt`` at
    0); the optimiser would then write them into the weights and every later epoch would
    look normal. The loss plus the sum of the gradients' norms is finite exactly when the
    loss and every gradient are.
    """
    grads = [(n, p.grad) for n, p in named if p.grad is not None]
    total = loss.detach().double().sum()
    if grads:
        total = total + torch.stack(torch._foreach_norm([g for _, g in grads])).double().sum()
    if torch.isfinite(total):
        return
    _check_loss(loss, epoch)
    bad = next((n for n, g in grads if not bool(torch.isfinite(g).all())), None)
    if bad is None:  # finite gradients whose norm overflows
        return
    raise FloatingPointError(f"Non-finite gradient of parameter {bad!r} at epoch {epoch + 1} (the loss was finite)")


def _is_class_labels(y: Tensor) -> bool:
    """True for a 1-D integer label batch (accuracy is defined), False for targets."""
    return not y.is_floating_point() and y.ndim == 1


@contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """Put ``model`` in eval mode for the block, then restore its previous mode."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    data: Dataset | tuple[Tensor, Tensor],
    criterion: Any = None,
    batch_size: int = 512,
    device: str | torch.device = "auto",
) -> dict[str, float]:
    """Mean loss and accuracy of ``model`` on ``data`` (accuracy only for class labels).

    Parameters
    ----------
    model : nn.Module
        Returns :class:`~c2f_utils.models.ModelOutput`.
    data : Dataset or (inputs, targets)
        Non-empty; in-memory tensors must be of equal lengths, finite, and class labels
        (1-D integer targets, any integer dtype) in ``[0, n_classes)``.
    criterion : callable, optional
        Loss, :class:`torch.nn.CrossEntropyLoss` by default.
    batch_size : int
        Evaluation batch size, an integer >= 1 (NumPy integers too).
    device : str or torch.device
        See :func:`resolve_device`.

    Returns
    -------
    dict of str to float
        ``loss``, and ``acc`` for class labels.
    """
    check_model(model)
    dataset = _in_model_dtype(_as_dataset(data, "data"), model, "data")
    criterion = _optional_callable("criterion", criterion)
    batch_size = check_positive_int("batch_size", batch_size)
    dev = resolve_device(device)
    return _evaluate(model, dataset, criterion, batch_size, dev)


@torch.no_grad()
def _evaluate(
    model: nn.Module, dataset: Dataset, criterion: Any, batch_size: int, dev: torch.device, name: str = "data"
) -> dict[str, float]:
    """:func:`evaluate` on checked arguments (``name``: the argument the data came from)."""
    criterion = criterion if criterion is not None else nn.CrossEntropyLoss()
    total, loss_sum, correct, is_class = 0, 0.0, 0, True
    with _eval_mode(model):
        for x, y in DataLoader(dataset, batch_size=batch_size):
            x, y = x.to(dev), y.to(dev)
            out = model(x)
            if total == 0:
                _check_label_range(name, dataset, out.logits, criterion)
                loss_sum += float(_first_loss(criterion, out, y, name)) * len(x)
            else:
                loss_sum += float(_loss(criterion, out, y)) * len(x)
            is_class = _is_class_labels(y)
            if is_class:
                correct += int((out.logits.argmax(1) == y).sum())
            total += len(x)
    if total == 0:
        raise ValueError(f"Expected `{name}` with at least one sample, got an empty dataset")
    result = {"loss": loss_sum / total}
    if is_class:
        result["acc"] = correct / total
    return result


@torch.no_grad()
def extract_features(
    model: nn.Module, x: Tensor, batch_size: int = 512, device: str | torch.device = "auto"
) -> ModelOutput:
    """Logits and features of ``model`` on the inputs ``x``, on the CPU, in eval mode.

    Parameters
    ----------
    model : nn.Module
        Returns :class:`~c2f_utils.models.ModelOutput`.
    x : Tensor
        Inputs ``(N, ...)``, ``N >= 1``, with no NaN or infinite entry (checked on the CPU);
        floating inputs of another dtype than the model's parameters are cast to theirs.
    batch_size : int
        Batch size, an integer >= 1 (NumPy integers too).
    device : str or torch.device
        See :func:`resolve_device`.

    Returns
    -------
    ModelOutput
        Float32 logits and features on the CPU, one row per input.
    """
    check_model(model)
    check_inputs(x)
    x = _in_model_dtype(TensorDataset(x, x), model, "x").tensors[0]
    batch_size = check_positive_int("batch_size", batch_size)
    dev = resolve_device(device)
    logits, feats = [], []
    with _eval_mode(model):
        for i in range(0, len(x), batch_size):
            out = model(x[i : i + batch_size].to(dev))
            logits.append(out.logits.float().cpu())
            feats.append(out.features.float().cpu())
    return ModelOutput(torch.cat(logits), torch.cat(feats))


def fit(
    model: nn.Module,
    train_data: Dataset | tuple[Tensor, Tensor],
    criterion: Any = None,
    config: TrainConfig | None = None,
    *,
    val_data: Dataset | tuple[Tensor, Tensor] | None = None,
    regularizer: Callable[[Tensor, ModelOutput], Tensor] | None = None,
    callbacks: Sequence[Callback] = (),
    transform: Callable[[Tensor], Tensor] | None = None,
    **overrides: Any,
) -> TrainResult:
    """Train ``model`` and return it with its per-epoch history.

    Parameters
    ----------
    model : nn.Module
        Returns :class:`~c2f_utils.models.ModelOutput`. Initialise it after
        :func:`seed_everything` for reproducible weights.
    train_data : Dataset or (inputs, targets)
        Training samples ``(x, y)``, at least one. In-memory tensors must be of equal
        lengths and finite; class labels (1-D integer or bool targets, of any integer dtype, used
        as int64) must index the columns of the model's logits (checked on the first batch).
        In-memory floating inputs of another dtype than the model's parameters (float64,
        float16) are cast to theirs. In-memory tensors (a pair or a
        :class:`~torch.utils.data.TensorDataset`) are batched by :class:`TensorBatches`
        (same batches as a shuffling ``DataLoader``, without its per-sample overhead;
        on the device when they fit); another dataset goes through a ``DataLoader``
        with ``config.num_workers`` workers.
    criterion : callable, optional
        Loss, :class:`torch.nn.CrossEntropyLoss` by default (see the module docstring
        for the calling convention).
    config : TrainConfig, optional
        Hyper-parameters; keyword ``overrides`` replace individual fields
        (``fit(model, data, epochs=5, lr=0.01)``).
    val_data : Dataset or (inputs, targets), optional
        Evaluated after every epoch: ``val_loss`` and ``val_acc`` columns. Checked as
        ``train_data``.
    regularizer : callable, optional
        ``regularizer(inputs, output) -> scalar`` added to the loss.
    callbacks : sequence of callable
        Called with an :class:`EpochState` before training (epoch 0) and after each
        epoch; the returned ``{name: number}`` dict is added to that epoch's row.
        ``None`` or an entry that is not callable raises :class:`TypeError`.
    transform : callable, optional
        Applied to each input batch on the device during training (augmentation).

    Returns
    -------
    TrainResult
        ``model`` and ``history``: one row per epoch (0 = before training) with
        ``epoch``, ``lr``, ``train_loss``, ``train_acc`` (class labels only),
        ``val_*``, ``time_s`` and the callbacks' columns.
    """
    check_model(model)
    if config is not None and not isinstance(config, TrainConfig):
        raise TypeError(f"Expected `config` to be a TrainConfig or None, got {type(config).__name__}")
    _optional_callable("criterion", criterion)
    _optional_callable("regularizer", regularizer)
    _optional_callable("transform", transform)
    if isinstance(callbacks, str | bytes) or not isinstance(callbacks, Iterable):
        raise TypeError(f"Expected `callbacks` to be a sequence of callables, got {callbacks!r}")
    callbacks = list(callbacks)
    for cb in callbacks:
        if not callable(cb):
            raise TypeError(f"Expected `callbacks` to hold callables, got {cb!r}")
    if config is None:
        config = TrainConfig(**overrides)
    elif overrides:
        config = TrainConfig(**{**config.__dict__, **overrides})
    device = resolve_device(config.device)
    criterion = criterion if criterion is not None else nn.CrossEntropyLoss()
    dataset = _in_model_dtype(_as_dataset(train_data, "train_data"), model, "train_data")
    if len(dataset) == 0:  # type: ignore[arg-type]
        raise ValueError("Expected `train_data` with at least one sample, got an empty dataset")
    val_set = None if val_data is None else _in_model_dtype(_as_dataset(val_data, "val_data"), model, "val_data")

    model.to(device).train()
    if isinstance(criterion, nn.Module):
        criterion.to(device)
    groups: list[dict[str, Any]] = [{"params": [p for p in model.parameters() if p.requires_grad]}]
    crit_params = [p for p in criterion.parameters() if p.requires_grad] if isinstance(criterion, nn.Module) else []
    if crit_params:
        groups.append({"params": crit_params, "lr": config.criterion_lr or config.lr, "weight_decay": 0.0})
    if config.optimizer == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(
            groups,
            lr=config.lr,
            momentum=config.momentum,
            weight_decay=config.weight_decay,
            nesterov=config.nesterov and config.momentum > 0,
        )
    elif config.optimizer == "adam":
        opt = torch.optim.Adam(groups, lr=config.lr, weight_decay=config.weight_decay)
    else:
        opt = torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)
    base_lrs = [g["lr"] for g in opt.param_groups]
    trained = [("model." + n, p) for n, p in model.named_parameters() if p.requires_grad]
    if isinstance(criterion, nn.Module):
        trained += [("criterion." + n, p) for n, p in criterion.named_parameters() if p.requires_grad]
    clipped = [p for _, p in trained] if config.grad_clip is not None else None  # listed once, not per step
    autocast, scaler = _autocast(device, config.amp)
    generator = torch.Generator().manual_seed(config.seed)
    loader = _batches(dataset, config, generator, device)
    channels_last = _uses_channels_last(model, device, config)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    torch.manual_seed(config.seed)

    history: list[dict[str, float]] = []
    checkpoint, start_epoch = next_checkpoint(), 0
    crit_generators = _generators(criterion)

    def snapshot(epoch: int) -> dict[str, Any]:
        return {
            "signature": _signature(model, config),
            "epoch": epoch,
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "criterion": criterion.state_dict() if isinstance(criterion, nn.Module) else None,
            "history": list(history),
            "rng": {
                "python": random.getstate(),
                "numpy": np.random.get_state(),  # noqa: NPY002 - the legacy global state libraries draw from
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
                "loader": generator.get_state(),
                "criterion": {k: g.get_state() for k, g in crit_generators.items()},
            },
        }

    if checkpoint is not None and checkpoint.is_file():
        saved = torch.load(checkpoint, map_location=device, weights_only=False)
        if saved["signature"] != _signature(model, config):
            raise ValueError(
                f"Checkpoint {checkpoint} was written by a different recipe or model; delete it to start afresh"
            )
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["optimizer"])
        if saved["criterion"] is not None:
            criterion.load_state_dict(saved["criterion"])
        history[:] = saved["history"]
        rng = saved["rng"]
        random.setstate(rng["python"])
        np.random.set_state(rng["numpy"])  # noqa: NPY002
        torch.set_rng_state(rng["torch"].cpu())
        if rng["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in rng["cuda"]])
        generator.set_state(rng["loader"].cpu())
        for k, state in rng["criterion"].items():
            crit_generators[k].set_state(state.cpu())
        start_epoch = int(saved["epoch"])

    def run_callbacks(row: dict[str, float], epoch: int) -> None:
        state = EpochState(epoch, model, criterion, device, history)
        for cb in callbacks:
            # a probe that draws from (or seeds) torch's generators leaves the training's draws as they were:
            # a run's numbers do not depend on how often it is probed
            with random_state_kept(device):
                extra = cb(state)
            if extra:
                row.update({k: float(v) for k, v in extra.items()})
        model.train()

    if callbacks and start_epoch == 0:
        row0: dict[str, float] = {"epoch": 0}
        run_callbacks(row0, 0)
        history.append(row0)

    name = type(model).__name__
    show = config.progress
    bar = progress_bar(total=config.epochs, initial=start_epoch, desc=f"fit {name}", unit="epoch", enabled=show)
    max_batches = SMOKE_BATCHES if smoke_mode() else None
    labels_checked = False
    # In-memory data were checked whole by _as_dataset: the models' forward need not check each batch.
    inputs_checked = isinstance(dataset, TensorDataset) and len(dataset.tensors) == 2
    for epoch in range(start_epoch, config.epochs):
        factor = lr_factor(epoch, config)
        for group, base in zip(opt.param_groups, base_lrs, strict=True):
            group["lr"] = base * factor
        start = time.perf_counter()
        # Summed on the device, read once per epoch: no host synchronisation per step. In float64
        # (the loss) and int64, the same sums as Python's float and int.
        loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        correct = torch.zeros((), dtype=torch.int64, device=device)
        seen = 0
        for batch, (x, y) in enumerate(loader):
            if max_batches is not None and batch >= max_batches:
                break
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            if transform is not None:
                x = transform(x)
            if channels_last and x.ndim == 4:
                x = x.contiguous(memory_format=torch.channels_last)
            checked = INPUTS_CHECKED.set(inputs_checked)
            try:
                with autocast:
                    out = model(x)
                    if not labels_checked:
                        _check_label_range("train_data", dataset, out.logits, criterion)
                        loss = _first_loss(criterion, out, y, "train_data")
                        labels_checked = True
                    else:
                        loss = _loss(criterion, out, y)
                    if regularizer is not None:
                        loss = loss + regularizer(x, out)
            finally:
                INPUTS_CHECKED.reset(checked)
            opt.zero_grad(set_to_none=True)
            if scaler is not None:
                _check_loss(loss, epoch)
                scaler.scale(loss).backward()
                if clipped is not None:
                    scaler.unscale_(opt)
                    torch.nn.utils.clip_grad_norm_(clipped, config.grad_clip)
                scaler.step(opt)
                scaler.update()
            else:
                loss.backward()
                _check_step(loss, trained, epoch)  # before the step writes anything into the weights
                if clipped is not None:
                    torch.nn.utils.clip_grad_norm_(clipped, config.grad_clip)
                opt.step()
            loss_sum += loss.detach().double() * len(x)
            if _is_class_labels(y):
                correct += (out.logits.detach().argmax(1) == y).sum()
            seen += len(x)
        row: dict[str, float] = {
            "epoch": epoch + 1,
            "lr": base_lrs[0] * factor,
            "train_loss": float(loss_sum) / seen,
        }
        if _is_class_labels(y):
            row["train_acc"] = int(correct) / seen
        if val_set is not None:
            row.update(
                {f"val_{k}": v for k, v in _evaluate(model, val_set, criterion, 512, device, "val_data").items()}
            )
            model.train()
        row["time_s"] = time.perf_counter() - start
        if callbacks:
            run_callbacks(row, epoch + 1)
        history.append(row)
        if checkpoint is not None and ((epoch + 1) % config.checkpoint_every == 0 or epoch + 1 == config.epochs):
            _save_checkpoint(checkpoint, snapshot(epoch + 1))
        bar.set_postfix(loss=f"{row['train_loss']:.3f}")
        bar.update()
    bar.close()
    model.eval()
    return TrainResult(model, pd.DataFrame(history))


def crop_flip(pad: int = 4, flip: bool = True, size: int | None = None) -> Callable[[Tensor], Tensor]:
    """Batch augmentation for ``fit(transform=...)``: zero-pad by ``pad``, random crop (back to
    the input's size, or to ``size x size``), and (if ``flip``) a random horizontal flip, drawn
    per image on the batch's device.

    Parameters
    ----------
    pad : int
        Padding in pixels, an integer >= 0 (NumPy integers too).
    flip : bool
        Random horizontal flips; a Python or NumPy bool (``"no"``, ``1``, ``None`` raise).
    size : int, optional
        Side of the square crops (FGVC's 224 x 224 crops of 256 x 256 images, with ``pad=0``);
        by default the input's own height and width. A crop larger than the padded image raises
        :class:`ValueError` when the batch comes.
    """
    pad = check_positive_int("pad", pad, minimum=0)
    flip = check_bool("flip", flip)
    if size is not None:
        size = check_positive_int("size", size)

    def transform(x: Tensor) -> Tensor:
        n, _, h, w = x.shape
        out_h, out_w = (h, w) if size is None else (size, size)
        if out_h > h + 2 * pad or out_w > w + 2 * pad:
            raise ValueError(f"Expected `size` at most the padded image's {h + 2 * pad}x{w + 2 * pad}, got {size}")
        padded = nn.functional.pad(x, (pad, pad, pad, pad)) if pad else x
        dy = torch.randint(0, h + 2 * pad - out_h + 1, (n,), device=x.device)
        dx = torch.randint(0, w + 2 * pad - out_w + 1, (n,), device=x.device)
        rows = (dy[:, None] + torch.arange(out_h, device=x.device))[:, None, :, None]
        cols = (dx[:, None] + torch.arange(out_w, device=x.device))[:, None, None, :]
        out = padded[
            torch.arange(n, device=x.device)[:, None, None, None],
            torch.arange(x.shape[1], device=x.device)[None, :, None, None],
            rows,
            cols,
        ]
        if flip:
            mask = torch.rand(n, device=x.device) < 0.5
            out = torch.where(mask[:, None, None, None], out.flip(3), out)
        return out

    return transform
