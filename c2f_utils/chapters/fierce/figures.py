"""Figures of "FIERCE": curves over training, the appendix figures, and those of a configuration.

:func:`plot_curves` (Figure 1 and the unmixing curves), :func:`plot_age_features` (App. Fig. 5),
:func:`plot_reliability` (App. Fig. 3), :func:`plot_tsne` (App. Fig. 4) and :func:`plot_sweeps`
(App. Figs 1-2); :func:`results_curves`, :func:`results_figure` and :func:`results_age_features`
draw them from a configuration's runs (live or committed).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ...experiments import Config
from ...runs import RunResult
from .tables import GRID_KINDS, grid_frames, sweep_table

__all__ = [
    "CURVES",
    "plot_age_features",
    "plot_curves",
    "plot_reliability",
    "plot_sweeps",
    "plot_tsne",
    "results_age_features",
    "results_curves",
    "results_figure",
]

# fmt: off
CURVES: dict[str, dict[str, tuple[str, str]]] = {
    "age": {"mse_test": ("fine MSE (1-D OT read-out)", "test MSE"),
            "entropy_anchor": ("feature entropy (anchors)", "entropy [nats]"),
            "test_acc": ("coarse test accuracy", "accuracy")},
    "unmixing": {"raw_mse_test": ("raw MSE", "test MSE"), "transfer_mse_test": ("transfer MSE", "test MSE"),
                 "entropy_anchor": ("anchor entropy", "nats"), "entropy_knn": ("k-NN entropy", "nats")},
}
# fmt: on
"""Panels (history column -> title, y label) of Figure 1 and of the unmixing curves."""


def results_figure(config: Config, which: str):
    """An appendix figure from the runs of ``config`` (live or committed), first seed of its grid.

    ``which``: ``"sweeps"`` (App. Figs 1-2, :func:`plot_sweeps`), ``"reliability"`` (App. Fig. 3,
    :func:`plot_reliability`), ``"tsne"`` (App. Fig. 4, :func:`plot_tsne`) or ``"age_features"``
    (App. Fig. 5, :func:`plot_age_features`).
    """
    choices = ("sweeps", "reliability", "tsne", "age_features")
    if which not in choices:
        raise ValueError(f"Expected `which` in {list(choices)}, got {which!r}")
    if which == "sweeps":
        return plot_sweeps(sweep_table(*(config.results(g) for g in ("lambdas", "anchor_counts", "variants"))))
    if which == "age_features":
        return plot_age_features(config.results("age"), config["seeds"][0])
    draw = plot_reliability if which == "reliability" else plot_tsne
    return draw(config.results("unmix"), config["unmix.seeds"][0])


def results_curves(config: Config, gid: str):
    """:func:`plot_curves` of grid ``gid`` (``"age"`` or ``"unmix"``) from the runs of ``config``."""
    if gid not in ("age", "unmix"):
        raise ValueError(f"Expected `gid` in ['age', 'unmix'], got {gid!r}")
    title = f"{config.profile}: {config[f'{gid}.dataset']}, CE vs LS vs FIERCE"
    return plot_curves(grid_frames(config, gid)[1], GRID_KINDS[gid], title)


def plot_curves(history: pd.DataFrame, which: str, title: str = ""):
    """The columns :data:`CURVES` ``[which]`` over epochs, per criterion (mean and 95% CI over seeds)."""
    from ...plots import plot_over_epochs

    panels = CURVES[which]
    titles, ylabels = zip(*panels.values(), strict=True)
    probed = history.dropna(subset=[next(iter(panels))])
    fig, _ = plot_over_epochs(probed, list(panels), hue="criterion", titles=titles, ylabels=ylabels)
    if title:
        fig.suptitle(title, y=1.03)
    return fig


def _panels(results: list[RunResult], seed: int, width: float, height: float, **kw: Any):
    """One panel per criterion of ``seed``, in a row of at most three narrowed to the page width."""
    from ...plots import MAX_WIDTH, panel_grid

    chosen = [r for r in results if r.params["seed"] == seed]
    narrow = min(width, MAX_WIDTH / min(len(chosen), 3))
    fig, axes = panel_grid(len(chosen), panel=(narrow, height * narrow / width), **kw)
    for ax, r in zip(axes, chosen, strict=True):
        ax.set_title(r.params["criterion"])
    return fig, axes, chosen


def plot_age_features(results: list[RunResult], seed: int):
    """App. A.3, Figure 5: the 1-D feature against the fine target, per criterion (one seed)."""
    fig, axes, chosen = _panels(results, seed, 4, 3.2)
    for ax, r in zip(axes, chosen, strict=True):
        ax.scatter(r.arrays["test_target"], r.arrays["test_feature"], s=3, alpha=0.4)
        ax.set_xlabel("fine target")
    axes[0].set_ylabel("1-D feature")
    fig.tight_layout()
    return fig


def results_age_features(config: Config):
    """:func:`plot_age_features` of the first seed of ``config``'s Figure 1 runs (valid or not)."""
    return plot_age_features(config.results("age"), config["seeds"][0])


def plot_reliability(results: list[RunResult], seed: int, n_bins: int = 10):
    """App. A.2, Figure 3: reliability diagrams of the unmixing classifiers (one seed)."""
    from ... import probes as c2f_probes

    fig, axes, chosen = _panels(results, seed, 3.6, 3.4, sharey=True)
    for ax, r in zip(axes, chosen, strict=True):
        diag = c2f_probes.reliability_diagram(r.arrays["test_probs"], r.arrays["test_abundances"].argmax(1), n_bins)
        width = diag.bin_high - diag.bin_low
        ax.bar(diag.bin_low, diag.accuracy, width=width, align="edge", edgecolor="k", alpha=0.7, label="accuracy")
        ax.plot([0, 1], [0, 1], "k--", lw=1)
        ax.set_xlabel("confidence")
    axes[0].set_ylabel("accuracy")
    fig.tight_layout()
    return fig


def plot_tsne(results: list[RunResult], seed: int, n_points: int = 1000):
    """App. A.3, Figure 4: t-SNE (scikit-learn) of the test features, coloured by dominant material."""
    import seaborn as sns
    from sklearn.manifold import TSNE

    fig, axes, chosen = _panels(results, seed, 4, 4)
    for ax, r in zip(axes, chosen, strict=True):
        feats, abund = r.arrays["test_features"], r.arrays["test_abundances"]
        rows = np.random.default_rng(seed).choice(len(feats), min(n_points, len(feats)), replace=False)
        emb = TSNE(n_components=2, init="pca", random_state=seed, perplexity=30).fit_transform(feats[rows])
        sns.scatterplot(
            x=emb[:, 0], y=emb[:, 1], hue=abund[rows].argmax(1), size=abund[rows].max(1), sizes=(2, 25),
            palette="tab10", ax=ax, legend=False, linewidth=0,
        )  # fmt: skip
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def plot_sweeps(sweeps: pd.DataFrame):
    """App. A.1, Figures 1-2: held-out raw and transfer MSE vs lambda and vs the number of anchors."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, (sweep, xlabel) in zip(axes, (("lambda", "lambda"), ("anchors", "number of anchors e")), strict=True):
        sub = sweeps[sweeps.sweep == sweep].sort_values("value")
        x = sub.value.astype(float)
        ax.plot(x, sub.raw_mse_test, "o-", color="tab:red", label="raw MSE")
        ax.plot(x, sub.transfer_mse_test, "o-", color="tab:blue", label="transfer MSE")
        ax.set_xscale("symlog" if sweep == "lambda" else "log", **({"linthresh": 0.3} if sweep == "lambda" else {}))
        ax.set_xlabel(xlabel)
        ax.set_ylabel("held-out MSE")
    axes[0].legend(fontsize="small")
    fig.tight_layout()
    return fig
