"""Progress bars for training epochs, grids and sweeps, wherever the code runs.

One policy decides where progress goes (:func:`progress_mode`):

=============  ==============================================================================
mode           when, and what is shown
=============  ==============================================================================
``bar``        standard error is a terminal (and ``$CI`` is unset): a tqdm bar redrawn in place
``notebook``   inside a Jupyter kernel (JupyterLab, Colab, VS Code): a widget bar
``log``        ``$C2F_PROGRESS=log``: one plain line every 30 s, readable in papermill's
               ``--log-output``, batch-job logs and CI (the chapter runner sets it)
``off``        none of the above, ``progress=False``, or ``$C2F_PROGRESS=off`` (the book build
               sets it, so no page shows a bar)
=============  ==============================================================================

``$C2F_PROGRESS`` takes ``off``/``on``/``log``/``bar``/``notebook`` (``0``/``1``, ``false``/
``true``, ``no``/``yes`` as well); ``on`` shows progress even where the default would not
(a plain line log when neither terminal nor kernel). An explicit ``progress=`` argument
of the calling function wins over the variable.

This module decides how a computation is reported, never what it computes: it is not part
of any run's cache key (see :mod:`c2f_utils.identity`).
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from collections.abc import Iterable
from typing import Any

from tqdm import tqdm as text_tqdm

from ._checks import check_bool

__all__ = ["MODES", "PROGRESS_ENV", "progress_bar", "progress_mode"]

PROGRESS_ENV = "C2F_PROGRESS"
"""Environment variable that sets where progress goes (see the module docstring)."""
MODES = ("off", "bar", "notebook", "log")
"""The places progress can go."""
_OFF = {"off", "0", "false", "no"}
_ON = {"on", "1", "true", "yes"}
_INTERVAL = {"bar": 0.1, "log": 30.0}
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class _Lines:
    """A text stream for logs: each redraw of a bar becomes one line (no carriage returns)."""

    def __init__(self, target: Any) -> None:
        self.target = target

    def write(self, text: str) -> None:
        text = _ANSI.sub("", text)  # cursor moves of stacked bars mean nothing in a log
        for part in text.replace("\n", "\r").split("\r"):
            if part.strip():
                self.target.write(part.rstrip() + "\n")

    def flush(self) -> None:
        self.target.flush()


class _LogBar(text_tqdm):
    """A text bar for logs: a new postfix waits for the next timed redraw instead of forcing one."""

    def set_postfix(self, ordered_dict: Any = None, refresh: bool = False, **kwargs: Any) -> None:
        super().set_postfix(ordered_dict, refresh=False, **kwargs)


def _in_kernel() -> bool:
    """True inside a Jupyter kernel (an IPython shell with a kernel: JupyterLab, Colab, papermill)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and getattr(shell, "kernel", None) is not None


def _detected() -> str:
    if sys.stderr is not None and sys.stderr.isatty() and not os.environ.get("CI"):
        return "bar"
    if _in_kernel():
        return "notebook"
    return "off"


def progress_mode(enabled: bool | None = None) -> str:
    """Where progress goes now: one of :data:`MODES`.

    Parameters
    ----------
    enabled : bool, optional
        ``False``: ``"off"``. ``True``: on, in the mode ``$C2F_PROGRESS`` names or the one
        detected (``"log"`` where neither a terminal nor a kernel is). ``None``: as
        ``$C2F_PROGRESS`` says, else as detected.

    Raises
    ------
    ValueError
        When ``$C2F_PROGRESS`` holds none of the accepted values.
    """
    if enabled is not None:
        check_bool("enabled", enabled)
    if enabled is False:
        return "off"
    raw = os.environ.get(PROGRESS_ENV, "")
    value = raw.strip().lower()
    if value in MODES[1:]:
        return value
    if value in _ON or enabled:
        detected = _detected()
        return "log" if detected == "off" else detected
    if value in _OFF:
        return "off"
    if value:
        accepted = sorted({*MODES, *_ON, *_OFF})
        raise ValueError(f"Expected ${PROGRESS_ENV} to be one of {accepted}, got {raw!r}")
    return _detected()


def progress_bar(
    iterable: Iterable[Any] | None = None,
    *,
    total: int | None = None,
    desc: str,
    unit: str = "it",
    initial: int = 0,
    enabled: bool | None = None,
    leave: bool = False,
    file: Any = None,
) -> Any:
    """A tqdm progress bar (or a disabled one) in the mode :func:`progress_mode` gives.

    Parameters
    ----------
    iterable : iterable, optional
        Items to iterate over (else update the bar by hand).
    total : int, optional
        Number of steps (defaults to ``len(iterable)``).
    desc, unit : str
        Label of the bar and of one step.
    initial : int
        Steps already done (a resumed run).
    enabled : bool, optional
        See :func:`progress_mode`.
    leave : bool
        Keep the finished bar on screen (always, in a log).
    file : file-like, optional
        Where text bars are written (standard error by default).
    """
    mode = progress_mode(enabled)
    if not isinstance(desc, str):
        raise TypeError(f"Expected desc to be a str, got {type(desc).__name__}")
    if mode == "notebook" and importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.notebook import tqdm as widget_tqdm

        return widget_tqdm(iterable, total=total, desc=desc, unit=unit, initial=initial, leave=leave)
    interval = _INTERVAL.get(mode, 0.5)  # a kernel without ipywidgets: text redrawn twice a second
    bar = text_tqdm
    if mode == "log":  # a log keeps every line, the last one (the total) included
        file, leave, bar = _Lines(file if file is not None else sys.stderr), True, _LogBar
    return bar(
        iterable,
        total=total,
        desc=desc,
        unit=unit,
        initial=initial,
        leave=leave,
        disable=mode == "off",
        file=file,
        mininterval=interval,
        maxinterval=max(interval, 10.0),
        dynamic_ncols=mode == "bar",
    )
