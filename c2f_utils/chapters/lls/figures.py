"""The figures of "Learnable label smoothing": the learned Q, the feature geometry, the ablations' Q.

:func:`plot_q_and_confusion` (Figures 3-4), :func:`plot_geometry` (Figures 5-6 and 8) and
:func:`plot_ablation_q` (Figure 9), from runs (:class:`~c2f_utils.runs.RunResult`, live or committed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ...constants import LLS_ABLATIONS
from ...runs import RunResult
from .methods import TEACHERS

__all__ = ["plot_ablation_q", "plot_geometry", "plot_q_and_confusion"]


def _heatmap(ax, matrix: np.ndarray, names: Sequence[str], title: str, fmt: str = ".2f") -> None:
    """Heatmap with the diagonal masked (it would dominate the colour scale)."""
    import seaborn as sns

    shown = matrix.copy()
    np.fill_diagonal(shown, np.nan)
    kw = {"annot": True, "fmt": fmt, "annot_kws": {"size": 6}, "square": True, "cbar": False, "cmap": "viridis"}
    sns.heatmap(shown, ax=ax, xticklabels=names, yticklabels=names, **kw)
    ax.set_title(title)


def plot_q_and_confusion(result: RunResult, class_names: Sequence[str]):
    """Figures 3-4: the learned Q, the test confusion and the soft confusion (diagonals masked)."""
    import torch

    from ...plots import panel_grid

    q = torch.softmax(torch.as_tensor(result.arrays["q_logits"]), 1).numpy()
    fig, axes = panel_grid(3, panel=(5.0, 4.6))
    shown = (q, result.arrays["confusion"], result.arrays["soft_confusion"])
    titles = ("learned Q (train)", "confusion (test)", "mean predicted probability (test)")
    for ax, m, title in zip(axes, shown, titles, strict=True):
        _heatmap(ax, m, class_names, title)
        ax.set(xlabel="related / predicted class", ylabel="true class")
    fig.tight_layout()
    return fig


def _scatter(ax, feats: np.ndarray, names: np.ndarray, order: Sequence[str], title: str, **kw: Any) -> None:
    import seaborn as sns

    from ... import probes as c2f_probes

    emb, index = c2f_probes.tsne(feats, seed=0, perplexity=min(30.0, (len(feats) - 1) / 3))
    sns.scatterplot(x=emb[:, 0], y=emb[:, 1], hue=names[index], hue_order=list(order), linewidth=0, ax=ax, **kw)
    ax.set(title=title, xticks=[], yticks=[])


def plot_geometry(results: Sequence[RunResult], class_names: Sequence[str], trio: Sequence[str], seed: int):
    """Figures 5-6: t-SNE of test features, class-centre distances, and the trio alone, per teacher method."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from ... import probes as c2f_probes
    from ...plots import MAX_WIDTH

    by = {r.params["method"]: r for r in results if r.params["seed"] == seed and r.params["method"] in TEACHERS}
    idx = [list(class_names).index(c) for c in trio]
    fig, axes = plt.subplots(3, len(TEACHERS), figsize=(MAX_WIDTH, MAX_WIDTH * 1.05))
    for j, method in enumerate(TEACHERS):
        feats, labels = by[method].arrays["test_features"], by[method].arrays["test_labels"]
        names, last = np.asarray(class_names)[labels], j == len(TEACHERS) - 1
        _scatter(axes[0, j], feats, names, class_names, f"{method}: t-SNE (test)", s=6, palette="tab10", legend=last)
        d = c2f_probes.normalized_cosine_distances(by[method].arrays["centres"])
        _heatmap(axes[1, j], d, class_names, f"{method}: centre distances", fmt=".2f")
        mask = np.isin(labels, idx)
        title = f"{method}: {'/'.join(trio)}  d({trio[0]},{trio[1]})={d[idx[0], idx[1]]:.3f}"
        _scatter(axes[2, j], feats[mask], names[mask], trio, title, s=10)
    sns.move_legend(axes[0, -1], "upper left", bbox_to_anchor=(1, 1), fontsize="small")
    fig.tight_layout()
    return fig


def plot_ablation_q(results: Sequence[RunResult], class_names: Sequence[str], seed: int):
    """Fig. 9: the learned Q (softmax of its logits, diagonal masked) of every ablation row
    that learns one, for ``seed``."""
    import torch

    from ...plots import panel_grid

    runs = [r for r in results if r.params["seed"] == seed and "q_logits" in r.arrays]
    order = [m for m in LLS_ABLATIONS if any(r.params["method"] == m for r in runs)]
    by = {r.params["method"]: r for r in runs}
    fig, axes = panel_grid(len(order), panel=(3.6, 3.4))
    for ax, method in zip(axes, order, strict=False):
        q = torch.softmax(torch.as_tensor(by[method].arrays["q_logits"]), 1).numpy()
        _heatmap(ax, q, class_names, method, fmt=".2f")
        ax.tick_params(labelsize=5)
        for text in ax.texts:
            text.set_fontsize(4)
    fig.tight_layout()
    return fig
