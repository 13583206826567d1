"""Tables of "FIERCE": the runs as frames, the statistics added to them, and the tables of the book.

:func:`frames` turns runs into one row per run and a long history; :func:`with_rise` (Figure 1)
and :func:`with_epoch_correlations` (App. A.4) add per-run statistics; :func:`table`,
:func:`sweep_table` and :func:`benchmark_table` are the chapter's tables.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ... import report
from ...experiments import Config
from ...runs import RunResult, results_frame
from .experiments import CRITERIA

__all__ = [
    "EPOCH_PAIRS",
    "GRID_KINDS",
    "RISE_FROM",
    "TABLES",
    "benchmark_table",
    "frames",
    "grid_frames",
    "sweep_table",
    "table",
    "with_epoch_correlations",
    "with_rise",
]

RISE_FROM = 0.1
"""Fraction of training at which Figure 1's CE curve is at its minimum (epoch ~50 of 500),
declared from the paper before any run: the "then rises" claim compares the last epoch
with the probed epoch nearest to this fraction (:func:`with_rise`)."""


# fmt: off
TABLES: dict[str, dict[str, str]] = {
    "age": {"mse_test_final": "test MSE, last epoch (beta on train)",
            "mse_test_self_final": "test MSE, last epoch (beta on test: paper)",
            "mse_test_self_min": "test MSE, best epoch (paper)", "mse_class_mean": "class-mean baseline",
            "rise": "rise of the test MSE after the early epoch",
            "entropy_anchor": "feature entropy, last epoch [nats]", "test_acc": "coarse test accuracy"},
    "unmixing": {"raw_mse_test": "raw MSE, held-out blocks, last epoch",
                 "transfer_mse_test": "transfer MSE, held-out blocks, last epoch",
                 "raw_mse_train_min": "raw MSE, min over epochs on training pixels (paper)",
                 "transfer_mse_train_min": "transfer MSE, min over epochs on training pixels (paper)",
                 "train_acc": "coarse training accuracy", "test_acc": "coarse test accuracy"},
    "outputs": {"ece": "ECE", "mce": "MCE", "output_mi": "I(X; output) [nats]",
                "entropy_anchor": "anchor entropy [nats]", "entropy_knn": "k-NN entropy [nats]"},
    "epochs": {"r_anchor_knn": "r(anchor, k-NN entropy) over epochs",
               "r_entropy_transfer": "r(anchor entropy, transfer MSE) over epochs"},
    "fewshot": {"acc_1shot": "1-shot accuracy", "acc_5shot": "5-shot accuracy"},
}
# fmt: on
"""Columns (metric -> label) of the chapter's tables: Figure 1, Table 1, App. Table 1 (A.2) and
the entropies, App. A.4 over epochs (:func:`with_epoch_correlations`), Table 2."""

EPOCH_PAIRS: dict[str, tuple[str, str]] = {
    "r_anchor_knn": ("entropy_anchor", "entropy_knn"),
    "r_entropy_transfer": ("entropy_anchor", "transfer_mse_test"),
}
"""App. A.4 and §5 followed within each unmixing run: column -> the two history columns whose
Pearson r over the run's probed epochs after initialisation it holds."""


def frames(results: list[RunResult]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(metrics, history)``: one row per run, and the long history with ``criterion`` and ``seed``."""
    history = pd.concat(
        [r.history.assign(criterion=r.params["criterion"], seed=r.params["seed"]) for r in results], ignore_index=True
    )
    return results_frame(results), history


def with_rise(metrics: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """Figure 1's metrics plus, per run, the held-out MSE at the early epoch, at the last, and the rise.

    The early epoch is the probed epoch (after initialisation) nearest to
    :data:`RISE_FROM` times the last epoch, fixed before looking at the curves. Unlike the
    last MSE minus the minimum over epochs, the rise ``mse_last - mse_early`` can be negative.
    """
    probed = history.dropna(subset=["mse_test"])
    epochs = np.array(sorted(e for e in probed.epoch.unique() if e > 0))
    early = int(epochs[np.argmin(np.abs(epochs - RISE_FROM * epochs.max()))])
    wide = probed.pivot_table(index=["criterion", "seed"], columns="epoch", values="mse_test")
    rise = pd.DataFrame({"mse_early": wide[early], "mse_last": wide[epochs.max()]}).reset_index()
    return metrics.merge(rise.assign(rise=rise.mse_last - rise.mse_early, early_epoch=early), on=["criterion", "seed"])


def with_epoch_correlations(metrics: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """Table 1's metrics plus, per run, the :data:`EPOCH_PAIRS` correlations over its probed epochs.

    As the paper follows the entropy along one training (App. A.4), each run gives Pearson's
    r over its probed epochs after initialisation (epoch 0, the random network, left out: it
    alone would make any curve that leaves it correlate); the runs are then independent
    replicates of that r. NaN where a column is constant over the epochs.
    """
    probed = history.dropna(subset=["transfer_mse_test"])
    probed = probed[probed.epoch > 0]
    rows = []
    for (criterion, seed), run in probed.groupby(["criterion", "seed"]):
        row = {"criterion": criterion, "seed": seed}
        for name, (x, y) in EPOCH_PAIRS.items():
            u, v = run[x].to_numpy(float), run[y].to_numpy(float)
            ok = len(u) >= 3 and np.ptp(u) > 0 and np.ptp(v) > 0
            row[name] = float(np.corrcoef(u, v)[0, 1]) if ok else np.nan
        rows.append(row)
    return metrics.merge(pd.DataFrame(rows, columns=["criterion", "seed", *EPOCH_PAIRS]), on=["criterion", "seed"])


def table(metrics: pd.DataFrame, which: str) -> pd.DataFrame:
    """Mean ± 95% CI over seeds per criterion of the columns :data:`TABLES` ``[which]``."""
    return report.mean_ci_table(metrics, "criterion", TABLES[which], order=CRITERIA)


def sweep_table(lambdas: list[RunResult], anchor_counts: list[RunResult], variants: list[RunResult]) -> pd.DataFrame:
    """App. A.1: one row per sweep point (``sweep``, ``value``) with the run's metrics (one seed)."""
    rows = [{"sweep": "lambda", "value": r.params["lam"], **r.metrics} for r in lambdas]
    rows += [{"sweep": "anchors", "value": r.params["anchor_count"], **r.metrics} for r in anchor_counts]
    rows += [{"sweep": "variant", "value": f"{r.params['similarity']}, {r.params['anchor_kind']}", **r.metrics}
             for r in variants]  # fmt: skip
    return pd.DataFrame(rows)


def benchmark_table(folder: str | Path) -> pd.DataFrame:
    """Committed results of ``benchmarks/fierce_step.py`` (``fierce_step_*.json`` in ``folder``), per device."""
    rows = []
    for path in sorted(Path(folder).glob("fierce_step_*.json")):
        res = json.loads(path.read_text())
        prov = res.get("provenance", {})
        rows.append(
            {
                "device": prov.get("device", path.stem.rsplit("_", 1)[-1]),
                "CE step [ms]": round(1e3 * res["median_step_s"]["ce"], 1),
                "FIERCE step [ms]": round(1e3 * res["median_step_s"]["fierce"], 1),
                "FIERCE / CE": round(res["overhead_ratio"], 3),
                "batch": "x".join(map(str, res["batch"])),
                "steps": res["steps"],
                "commit": (prov.get("git_commit") or "")[:8],
                "measured": prov.get("finished_at", ""),
            }
        )
    return pd.DataFrame(rows)


GRID_KINDS = {"age": "age", "unmix": "unmixing", "fewshot": "fewshot"}
"""The :data:`TABLES` (and :data:`~c2f_utils.chapters.fierce.figures.CURVES`) entry of each grid."""


def grid_frames(config: Config, gid: str, results: list[RunResult] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(metrics, history)`` (:func:`frames`) of grid ``gid`` of ``config`` (or of ``results``, its valid
    runs), the metrics with the grid's statistics: :func:`with_rise` (``"age"``) or
    :func:`with_epoch_correlations` (``"unmix"``)."""
    if gid not in GRID_KINDS:
        raise ValueError(f"Expected `gid` in {list(GRID_KINDS)}, got {gid!r}")
    results = config.results(gid) if results is None else results
    if not results:  # every run invalid
        return pd.DataFrame(columns=["criterion", "seed"]), pd.DataFrame(columns=["criterion", "seed", "epoch"])
    metrics, history = frames(results)
    if gid == "unmix":
        return with_epoch_correlations(metrics, history), history
    return (with_rise(metrics, history) if gid == "age" else metrics), history
