"""Shared plots: one panel per metric, errors for missing columns."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from c2f_utils import plots


def _history() -> pd.DataFrame:
    rows = [
        {"epoch": e, "seed": s, "method": m, "acc": 0.5 + 0.1 * e + 0.01 * s, "loss": 1.0 / (e + 1)}
        for e in range(3)
        for s in range(2)
        for m in ("ce", "ls")
    ]
    return pd.DataFrame(rows)


def test_plot_over_epochs_panels_lines_and_chance() -> None:
    plots.set_theme()
    fig, axes = plots.plot_over_epochs(_history(), ["acc", "loss"], hue="method", chance=[0.1, None])
    assert len(axes) == 2
    assert axes[0].get_title() == "acc"
    # Two hue lines plus the chance line on the first panel; two lines on the second.
    assert len(axes[0].get_lines()) >= 3 and any(line.get_linestyle() == "--" for line in axes[0].get_lines())
    # The plotted mean over seeds equals the data's mean.
    ce = axes[1].get_lines()[0].get_ydata()
    assert list(ce) == pytest.approx([1.0, 0.5, 1 / 3])
    plt.close(fig)


def test_plot_over_epochs_missing_column() -> None:
    with pytest.raises(KeyError, match="accuracy"):
        plots.plot_over_epochs(_history(), ["accuracy"])


@pytest.mark.parametrize(("n", "rows", "cols"), [(1, 1, 1), (2, 1, 2), (3, 2, 2), (4, 2, 2), (5, 3, 2)])
def test_panel_grid_wraps_within_the_page_width(n: int, rows: int, cols: int) -> None:
    fig, axes = plots.panel_grid(n)
    grid = axes[0].get_subplotspec().get_gridspec()
    assert len(axes) == n and (grid.nrows, grid.ncols) == (rows, cols)
    assert fig.get_figwidth() <= plots.MAX_WIDTH
    assert sum(ax.get_visible() for ax in fig.axes) == n  # the spare cells of the last row are hidden
    plt.close(fig)


def test_panel_grid_rejects_bad_sizes() -> None:
    with pytest.raises(ValueError, match="n"):
        plots.panel_grid(0)
    with pytest.raises(ValueError, match="panel"):
        plots.panel_grid(2, panel=(0, 3))
