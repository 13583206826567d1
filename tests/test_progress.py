"""Where progress goes: terminal, notebook widget, log lines or nowhere (c2f_utils.progress)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from tqdm.notebook import tqdm as widget_tqdm

from c2f_utils import progress
from c2f_utils.models import MLP
from c2f_utils.progress import PROGRESS_ENV, progress_bar, progress_mode
from c2f_utils.train import TrainConfig, fit


@pytest.fixture
def nowhere(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Neither a terminal nor a kernel, no variable set."""
    monkeypatch.delenv(PROGRESS_ENV, raising=False)
    monkeypatch.setattr(progress, "_in_kernel", lambda: False)
    monkeypatch.setattr(progress.sys.stderr, "isatty", lambda: False, raising=False)
    return monkeypatch


def test_default_is_off_where_nobody_watches(nowhere: pytest.MonkeyPatch) -> None:
    assert progress_mode() == "off"
    assert progress_mode(True) == "log"  # asked for explicitly: plain lines
    assert progress_mode(False) == "off"


def test_kernel_gets_a_widget_and_terminal_a_bar(nowhere: pytest.MonkeyPatch) -> None:
    nowhere.setattr(progress, "_in_kernel", lambda: True)
    assert progress_mode() == "notebook"
    assert isinstance(progress_bar(total=3, desc="x"), widget_tqdm)
    nowhere.setattr(progress.sys.stderr, "isatty", lambda: True, raising=False)
    nowhere.delenv("CI", raising=False)
    assert progress_mode() == "bar"
    nowhere.setenv("CI", "true")
    assert progress_mode() == "notebook"  # a CI terminal is not watched; the kernel still is


@pytest.mark.parametrize(
    ("value", "expected"),
    [("off", "off"), ("0", "off"), ("False", "off"), ("log", "log"), ("on", "log"), ("1", "log"), ("bar", "bar")],
)
def test_environment_variable(nowhere: pytest.MonkeyPatch, value: str, expected: str) -> None:
    nowhere.setenv(PROGRESS_ENV, value)
    assert progress_mode() == expected
    assert progress_mode(False) == "off"  # the argument wins


def test_variable_off_is_off_even_in_a_kernel(nowhere: pytest.MonkeyPatch) -> None:
    """The book build sets C2F_PROGRESS=off: "0" must not read as a set (truthy) variable."""
    nowhere.setattr(progress, "_in_kernel", lambda: True)
    for value in ("off", "0", "no"):
        nowhere.setenv(PROGRESS_ENV, value)
        assert progress_mode() == "off"


def test_bad_values_are_named(nowhere: pytest.MonkeyPatch) -> None:
    nowhere.setenv(PROGRESS_ENV, "sometimes")
    with pytest.raises(ValueError, match=r"C2F_PROGRESS.*sometimes"):
        progress_mode()
    nowhere.delenv(PROGRESS_ENV)
    with pytest.raises(TypeError, match=r"enabled.*'yes'"):
        progress_mode("yes")  # type: ignore[arg-type]
    assert progress_mode(np.bool_(False)) == "off"


def test_log_mode_writes_lines_from_fit(nowhere: pytest.MonkeyPatch) -> None:
    """What papermill's --log-output and a batch log see: the fit's epochs as text."""
    nowhere.setenv(PROGRESS_ENV, "log")
    stream = io.StringIO()
    bar = progress_bar(total=4, desc="fit MLP", unit="epoch", file=stream)
    for _ in range(4):
        bar.set_postfix(loss="0.5")
        bar.update()
    bar.close()
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue() and lines[-1].startswith("fit MLP: 100%") and "4/4" in lines[-1]
    assert len(lines) == 2  # the start and the end: within 30 s nothing in between

    captured = io.StringIO()
    nowhere.setattr(progress.sys, "stderr", captured)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 5, generator=g), torch.randint(0, 2, (64,), generator=g)
    fit(MLP(5, 2, hidden=(8,)), (x, y), torch.nn.CrossEntropyLoss(), TrainConfig(epochs=2, batch_size=32, seed=0))
    assert "fit MLP" in captured.getvalue() and "2/2" in captured.getvalue()


def test_log_lines_carry_no_terminal_escapes() -> None:
    stream = io.StringIO()
    progress._Lines(stream).write("\rfit: 0%\x1b[A\n\x1b[A\rfit: 100%")
    assert stream.getvalue().splitlines() == ["fit: 0%", "fit: 100%"]
