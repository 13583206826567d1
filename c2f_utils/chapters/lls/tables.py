"""The tables of "Learnable label smoothing": Tables 3-9 at this scale, and the measured figures.

Each reads runs (:class:`~c2f_utils.runs.RunResult`, live or committed): :func:`accuracy_table`,
:func:`ablation_table`, :func:`distillation_table`, :func:`subset_table`,
:func:`augmentation_table`, :func:`overhead_table`; Figures 3-6 and 9 measured:
:func:`q_confusion_agreement`, :func:`geometry_summary`, :func:`ablation_q_summary`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ... import report
from ...constants import LLS_ABLATIONS
from ...runs import RunResult, results_frame
from .methods import AUGMENTATIONS, PAPER, TEACHERS

__all__ = [
    "ablation_q_summary",
    "ablation_table",
    "accuracy_table",
    "augmentation_table",
    "distillation_table",
    "geometry_summary",
    "overhead_table",
    "q_confusion_agreement",
    "subset_table",
]


def accuracy_table(results: Sequence[RunResult], by: str = "method", paper: dict[str, float] | None = None):
    """Test accuracy (%) per ``by`` group: mean ± 95% CI, standard deviation over seeds, paper beside."""
    frame = results_frame(results)
    table = report.mean_ci_table(frame, by, {"test_acc": "test accuracy (%)"}, digits=2, scale=100)
    table.insert(1, "std", (100 * frame.groupby(by, sort=False).test_acc.std()).round(2))
    if paper is not None:
        table["paper (reference)"] = [paper.get(name, np.nan) for name in table.index]
    return table


def _gains(results: Sequence[RunResult], by: str, reference: str) -> list[str]:
    """Paired (by seed) accuracy difference of every group to ``reference``, in pp, mean ± 95% CI."""
    frame = results_frame(results)
    pairs = [report.paired_columns(frame, "test_acc", by, name, reference) for name in frame[by].unique()]
    return [report.format_mean_ci(*report.mean_ci(100 * (a - b)), 2) for a, b in pairs]


def ablation_table(results: Sequence[RunResult]) -> pd.DataFrame:
    """Table 4: which terms each row keeps, its accuracy, and its paired difference to full LLS."""
    table = accuracy_table(results, paper=PAPER["table4_tiny_r18"])
    table["minus LLS (pp)"] = _gains(results, "method", "LLS")
    marks = {t: ["✓" if t in LLS_ABLATIONS[row] else "✗" for row in table.index] for t in LLS_ABLATIONS["LLS"]}
    return pd.DataFrame(marks, index=table.index).join(table)


def distillation_table(results: Sequence[RunResult]) -> pd.DataFrame:
    """Table 5: student accuracy per teacher, with the paired gain over the student alone."""
    table = accuracy_table(results, by="kind", paper=PAPER["table5_cifar100_r34_r18"])
    table["gain over alone (pp)"] = _gains(results, "kind", "alone")
    return table


def q_confusion_agreement(results: Sequence[RunResult], permutations: int = 999) -> pd.DataFrame:
    """Figures 3-4 measured, per seed: Spearman correlation (off the diagonal) and Mantel p-value
    (:func:`~c2f_utils.probes.matrix_agreement`) of the LLS run's Q with its hard and soft test
    confusions; as a yardstick, that of the soft confusions of the 1-hot and LLS networks."""
    import torch

    from ... import probes as c2f_probes

    by_key = {(r.params["method"], r.params["seed"]): r for r in results}
    rows = []
    for (method, seed), r in by_key.items():
        if method != "LLS":
            continue
        q = torch.softmax(torch.as_tensor(r.arrays["q_logits"]), 1).numpy()
        row: dict[str, Any] = {"seed": seed}
        for name in ("confusion", "soft_confusion"):
            agr = c2f_probes.matrix_agreement(q, r.arrays[name], permutations=permutations, seed=seed)
            row |= {f"spearman_{name}": agr.spearman, f"p_{name}": agr.p_value, f"top1_{name}": agr.top1}
        if ("1-hot", seed) in by_key:
            ref = by_key[("1-hot", seed)].arrays["soft_confusion"]
            yardstick = c2f_probes.matrix_agreement(ref, r.arrays["soft_confusion"], permutations=0)
            row["spearman_soft_confusion_1hot_vs_lls"] = yardstick.spearman
        rows.append(row)
    return pd.DataFrame(rows).set_index("seed")


def geometry_summary(results: Sequence[RunResult], trio: Sequence[str], class_names: Sequence[str]) -> pd.DataFrame:
    """Figures 5-6 measured, per method and seed: equidistance (CV), agreement with 1-hot, and the
    trio ratio, distance of the related pair over their mean distance to the third (< 1: closer)."""
    from ... import probes as c2f_probes

    a, b, c = (list(class_names).index(name) for name in trio)
    runs = {(r.params["method"], r.params["seed"]): r for r in results if r.params["method"] in TEACHERS}
    dist = {key: c2f_probes.normalized_cosine_distances(r.arrays["centres"]) for key, r in runs.items()}
    rows = []
    for (method, seed), d in dist.items():
        ref = dist.get(("1-hot", seed))
        agree = np.nan if ref is None else c2f_probes.matrix_agreement(d, ref, permutations=0).spearman
        trio_ratio = (d[a, b] + d[b, a]) / 2 / ((d[a, c] + d[c, a] + d[b, c] + d[c, b]) / 4)
        silhouette_ = runs[(method, seed)].metrics["silhouette"]
        rows.append((method, seed, c2f_probes.equidistance(d), agree, trio_ratio, silhouette_))
    columns = ["method", "seed", "equidistance_cv", "spearman_vs_1hot", "trio_ratio", "silhouette"]
    return pd.DataFrame(rows, columns=columns)


def overhead_table(result: RunResult) -> pd.DataFrame:
    """Table 9 at this scale: parameters and median epoch time of LS and LLS (this machine's timings)."""
    m = result.metrics
    rows = {n: {"parameters": int(m[f"params_{n}"]), "epoch time (s)": m[f"epoch_s_{n}"]} for n in ("LS", "LLS")}
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("criterion")
    table.insert(1, "parameters +%", 100 * (table["parameters"] / table.loc["LS", "parameters"] - 1))
    table["time +%"] = 100 * (table["epoch time (s)"] / table.loc["LS", "epoch time (s)"] - 1)
    return table.round(3)


def subset_table(results: Sequence[RunResult]) -> pd.DataFrame:
    """Tables 6-7 at this scale: test accuracy (%) per subset (``samples``: Table 6, ``classes``:
    Table 7) and criterion, mean ± 95% CI over seeds, the paired gain of LLS-ST over each
    criterion, and the paper's CIFAR-100 / ResNet-18 column beside (a reference)."""
    frames = []
    for subset, table_id in (("samples", "table6_cifar100_r18"), ("classes", "table7_cifar100_r18")):
        runs = [r for r in results if r.params["subset"] == subset]
        if not runs:
            continue
        table = accuracy_table(runs, paper=PAPER[table_id])
        table.insert(len(table.columns) - 1, "LLS-ST minus (pp)", _gains(runs, "method", "LLS-ST"))
        table.index = pd.MultiIndex.from_product([[subset], table.index], names=["subset", "method"])
        frames.append(table)
    return pd.concat(frames) if frames else pd.DataFrame()


def augmentation_table(results: Sequence[RunResult], main: Sequence[RunResult]) -> pd.DataFrame:
    """Table 8 at this scale: test accuracy (%) of 1-hot and LLS with each input augmentation
    (``results``, the ``table8`` grid) and without (``main``'s runs of the same seeds), mean
    ± 95% CI, LLS's paired gain over 1-hot, and the paper's ImageNet-100 / ResNet-18 column."""
    seeds = {r.params["seed"] for r in results}
    plain = [r for r in main if r.params["method"] in ("1-hot", "LLS") and r.params["seed"] in seeds]
    frame = results_frame([*plain, *results]).assign(
        augmentation=lambda f: f.get("augmentation", pd.Series(dtype=object)).fillna("standard")
    )
    rows = []
    for aug in AUGMENTATIONS:
        part = frame[frame.augmentation == aug]
        if part.empty:
            continue
        gain = report.paired_columns(part, "test_acc", "method", "LLS", "1-hot")
        for method in ("1-hot", "LLS"):
            acc = 100 * part[part.method == method].test_acc
            rows.append(
                {
                    "augmentation": aug,
                    "method": method,
                    "test accuracy (%)": report.format_mean_ci(*report.mean_ci(acc), 2) if len(acc) else "—",
                    "seeds": len(acc),
                    "LLS minus 1-hot (pp)": report.format_mean_ci(*report.mean_ci(100 * (gain[0] - gain[1])), 2)
                    if method == "LLS"
                    else "",
                    "paper (reference)": PAPER["table8_imagenet100_r18"][(aug, method)],
                }
            )
    return pd.DataFrame(rows).set_index(["augmentation", "method"]) if rows else pd.DataFrame()


def ablation_q_summary(results: Sequence[RunResult]) -> pd.DataFrame:
    """Fig. 9 measured, per ablation row (mean over seeds): the learned Q's mean diagonal
    (1 / K: uniform rows) and the Spearman correlation of its off-diagonal entries with the
    run's test confusion (:func:`~c2f_utils.probes.matrix_agreement`)."""
    import torch

    from ... import probes as c2f_probes

    rows = []
    for r in results:
        if "q_logits" not in r.arrays:
            continue
        q = torch.softmax(torch.as_tensor(r.arrays["q_logits"]), 1).numpy()
        agreement = c2f_probes.matrix_agreement(q, r.arrays["confusion"], permutations=0).spearman
        rows.append(
            {"method": r.params["method"], "Q diagonal": float(np.diag(q).mean()), "Spearman vs confusion": agreement}
        )
    if not rows:
        return pd.DataFrame()
    table = pd.DataFrame(rows).groupby("method", sort=False).mean()
    return table.reindex([m for m in LLS_ABLATIONS if m in table.index]).round(3)
