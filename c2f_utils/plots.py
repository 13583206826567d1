"""The book's seaborn theme and the plots more than one chapter uses."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = ["MAX_WIDTH", "PALETTE", "panel_grid", "plot_over_epochs", "set_theme"]

PALETTE = "colorblind"
MAX_WIDTH = 10.0
"""Widest figure, in inches, the book draws: about 1,100 pixels at the theme's 110 dpi, so
that a page's text column (about 800 pixels) shrinks it to no less than about 70%, where its
labels stay readable."""


def set_theme(context: str = "notebook") -> None:
    """Apply the book's theme: seaborn ``whitegrid``, colour-blind palette, compact figures;
    tables show every cell in full (pandas cuts cells at 50 characters by default, which
    hides the data, seeds and device a scorecard's evidence column names) and every row up to
    500 (pandas cuts a table of more than 60 rows to its first and last five: a scorecard has a
    row per claim and profile, 70 in the LLS chapter)."""
    pd.set_option("display.max_colwidth", None)
    pd.set_option("display.max_rows", 500)
    sns.set_theme(
        context=context,
        style="whitegrid",
        palette=PALETTE,
        rc={"figure.figsize": (6.4, 3.6), "figure.dpi": 110, "axes.titleweight": "bold", "savefig.bbox": "tight"},
    )


def panel_grid(
    n: int,
    *,
    panel: tuple[float, float] = (4.6, 3.4),
    max_width: float = MAX_WIDTH,
    **subplot_kw: object,
) -> tuple[Figure, list[Axes]]:
    """A figure of ``n`` panels of size ``panel`` (inches), in as many rows as it takes to
    stay within ``max_width``; the unused cells of the last row are hidden.

    Returns the figure and its ``n`` axes in reading order.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"Expected `n` to be an integer >= 1, got {n!r}")
    width, height = panel
    if not (width > 0 and height > 0):
        raise ValueError(f"Expected `panel` to be two positive sizes in inches, got {panel!r}")
    cols = max(1, min(n, int(max_width // width)))
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False, **subplot_kw)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def plot_over_epochs(
    history: pd.DataFrame,
    metrics: Sequence[str],
    *,
    hue: str | None = None,
    titles: Sequence[str] | None = None,
    ylabels: Sequence[str] | None = None,
    chance: Sequence[float | None] | None = None,
    errorbar: tuple[str, float] | None = ("ci", 95),
) -> tuple[Figure, list[Axes]]:
    """One panel per metric against ``epoch``, mean and 95% CI over the rows of each epoch.

    Parameters
    ----------
    history : DataFrame
        Long format: an ``epoch`` column, the ``metrics`` columns, and one row per
        epoch and seed (and per ``hue`` value).
    metrics : sequence of str
        Columns to plot, one panel each.
    hue : str, optional
        Column whose values get one line each (e.g. the training criterion).
    titles, ylabels : sequence of str, optional
        Panel titles and y-axis labels (default: the column names).
    chance : sequence of float or None, optional
        A dashed horizontal reference line per panel (chance level), None for none.
    errorbar : tuple, optional
        Passed to :func:`seaborn.lineplot`; bootstrap 95% CI of the mean by default.
    """
    missing = [c for c in ["epoch", *metrics, *([hue] if hue else [])] if c not in history.columns]
    if missing:
        raise KeyError(f"Columns {missing} not in `history`; it has {list(history.columns)}")
    fig, axes_list = panel_grid(len(metrics))
    for i, (ax, metric) in enumerate(zip(axes_list, metrics, strict=True)):
        sns.lineplot(
            data=history,
            x="epoch",
            y=metric,
            hue=hue,
            ax=ax,
            errorbar=errorbar,
            marker="o",
            markersize=3,
            legend=i == len(metrics) - 1 and hue is not None,
        )
        if chance is not None and chance[i] is not None:
            ax.axhline(chance[i], ls="--", color="grey", lw=1, label="chance")
        ax.set_title(titles[i] if titles else metric)
        ax.set_ylabel(ylabels[i] if ylabels else metric)
    if hue is not None:
        axes_list[-1].legend(title=hue, fontsize="small")
    fig.tight_layout()
    return fig, axes_list
