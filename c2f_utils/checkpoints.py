"""Where the training loop saves its checkpoints: a context opened by the run cache.

:func:`c2f_utils.runs.cached_run` opens :func:`checkpointing` around every run it computes;
:func:`c2f_utils.train.fit` asks :func:`next_checkpoint` where to save and resume. This
module sits below both, so that neither imports the other (the run cache knows nothing of
training, the training loop nothing of the cache).
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["checkpointing", "next_checkpoint"]


@dataclass
class _Slot:
    folder: Path
    calls: int = 0


_CHECKPOINTS: contextvars.ContextVar[_Slot | None] = contextvars.ContextVar("c2f_checkpoints", default=None)


@contextmanager
def checkpointing(folder: str | os.PathLike[str]) -> Iterator[Path]:
    """Checkpoint every :func:`~c2f_utils.train.fit` called inside the block under ``folder``.

    The ``n``-th call of ``fit`` in the block (0-based) saves ``folder/fit-n.pt`` every
    ``config.checkpoint_every`` epochs and after its last epoch, atomically (write, then
    rename): the model, optimiser and criterion states, the history, and every random
    state that decides what comes next (Python, NumPy, PyTorch, the batch-order generator
    and any generator the criterion holds). A ``fit`` that finds its file resumes after
    the saved epoch, and returns at once if that was the last one, so a killed run
    rerun in the same block (same folder) continues where it stopped and ends with the
    same weights and history as an uninterrupted run. :func:`~c2f_utils.runs.cached_run`
    opens this block for every run; the folder is deleted once the run's result is stored.
    """
    if not isinstance(folder, str | os.PathLike) or not str(folder):
        raise TypeError(f"Expected `folder` to be a non-empty path (str or os.PathLike), got {folder!r}")
    path = Path(folder)
    token = _CHECKPOINTS.set(_Slot(path))
    try:
        yield path
    finally:
        _CHECKPOINTS.reset(token)


def next_checkpoint() -> Path | None:
    """The checkpoint file of the next ``fit`` in the open :func:`checkpointing` block (None outside one)."""
    slot = _CHECKPOINTS.get()
    if slot is None:
        return None
    path = slot.folder / f"fit-{slot.calls}.pt"
    slot.calls += 1
    return path
