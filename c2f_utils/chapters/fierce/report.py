"""Report of "FIERCE": validity of the runs, the scorecard, and the tables of a configuration.

:data:`CHECKS` and :func:`validity` say which runs worked (declared before the runs);
:func:`scorecard` judges the paper's claims on the valid runs; :func:`card`,
:func:`results_table`, :func:`results_sweeps` and :func:`results_checks` read a configuration's
runs (live or committed). Figures: :mod:`~c2f_utils.chapters.fierce.figures`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ... import report
from ...experiments import Config
from ...runs import RunResult
from .experiments import CRITERIA
from .tables import GRID_KINDS, RISE_FROM, grid_frames, sweep_table, table

__all__ = [
    "CHECKS",
    "MAJORITY",
    "SWEEP_COLUMNS",
    "card",
    "results_checks",
    "results_sweeps",
    "results_table",
    "scorecard",
    "validity",
]

MAJORITY = {"age": 0.52, "fewshot": 0.21, "cifar_fs": 1 / 64}
"""Largest class share of the training labels: the median split of the ages (ties at the median
give one class up to 0.51), five base classes (digits, CIFAR-10), the 64 base classes of CIFAR-FS."""
CHECKS: dict[str, tuple[report.Check, ...]] = {
    "age": (
        report.above_majority("train_acc", MAJORITY["age"], margin=0.1),
        report.above_majority("test_acc", MAJORITY["age"], margin=0.1),
        report.spread("test_feature", minimum=1e-3),
    ),
    "unmix": (
        report.above_majority("train_acc", lambda run: run.metrics["train_majority"]),
        report.at_least("feature_spread", 1e-3, "feature spread"),
        report.at_least("entropy_anchor", 1e-6, "anchor entropy"),
    ),
    "fewshot": (
        report.above_majority(
            "train_acc", lambda run: MAJORITY.get(run.params["dataset"], MAJORITY["fewshot"]), margin=0.1
        ),
    ),
}
"""What a working run is, per grid, declared before the runs: Figure 1's runs leave the majority
class by 0.10 on the training and on the test images and their 1-D feature is not constant (a
constant feature makes the OT read-out a tie-break); Table 1's networks leave the majority
material of their training pixels (their recorded rate) by 0.05, their held-out features vary
across pixels (mean standard deviation per unit above 1e-3) and spread over more than one
anchor; Table 2's networks learn their base classes (training accuracy 0.10 above the majority)."""


def validity(results: list[RunResult], gid: str) -> report.Validity:
    """:data:`CHECKS` ``[gid]`` on the runs of grid ``gid`` (:func:`c2f_utils.report.valid_runs`)."""
    return report.valid_runs(results, CHECKS[gid], label=lambda r: f"{r.params['criterion']} seed {r.params['seed']}")


def scorecard(
    age: pd.DataFrame,
    unmix: pd.DataFrame,
    fewshot: pd.DataFrame,
    config,
    validity: dict[str, report.Validity] | None = None,
) -> pd.DataFrame:
    """Each claim of the paper with the book's verdict (:mod:`c2f_utils.report`).

    ``age`` comes from :func:`with_rise`; the frames hold the valid runs only, and
    ``validity`` (per grid: ``"age"``, ``"unmix"``, ``"fewshot"``) lists every run with why
    it was excluded. Criteria trained from the same seed share the initialisation and the
    batch order, so comparisons between criteria (and between two epochs of one run) are
    paired by seed. Correlations are taken over independent trained runs: one point per
    criterion and seed, at the last epoch, counted by distinct seeds.
    """
    frames_by = {"age": age, "unmix": unmix, "fewshot": fewshot}

    def col(group: str, criterion: str, metric: str) -> list[float]:
        frame = frames_by[group]
        return frame[frame.criterion == criterion].sort_values("seed")[metric].tolist() if len(frame) else []

    def paired(test, group: str, metric: str, a: str, b: str, metric_b: str | None = None) -> report.Finding:
        digits = 5 if metric.startswith("transfer_mse") else 3  # transfer MSEs are ~1e-3: three decimals read 0.001
        if metric_b is None:
            return report.compare(test, frames_by[group], metric, "criterion", a, b, digits=digits)
        return report.judge(test, col(group, a, metric), col(group, b, metric_b), paired=True, digits=digits)

    def correlated(group: str, x: str, y: str, sign: int) -> report.Finding:
        frame = frames_by[group]
        if frame.empty:
            return report.not_tested("0 valid seeds, fewer than 3")
        return report.correlated(frame[x], frame[y], sign=sign, seeds=frame.seed)

    def over_epochs(test, column: str) -> report.Finding:
        frame = unmix.dropna(subset=[column]) if column in unmix else unmix.iloc[:0]
        return report.judge(test, frame[column].tolist() if len(frame) else [], value=0.0, paired=False,
                            seeds=frame.seed.tolist() if len(frame) else None, digits=2)  # fmt: skip

    less, greater = report.less, report.greater
    early = f"epoch {int(age.early_epoch.iloc[0])}" if len(age) else "the early epoch"
    cifar_fs = config.profile == "paper" and config["fewshot.dataset"] == "cifar_fs"
    fierce_1shot = col("fewshot", "fierce", "acc_1shot")
    houston = col("unmix", "fierce", "transfer_mse_test")
    # fmt: off
    rows = [
        ("age", "Fig. 1: FIERCE ends with a lower fine MSE than CE", "Fig. 1 (UTKFace): lowest MSE for FIERCE",
         paired(less, "age", "mse_test_final", "fierce", "ce"), ("fierce", "ce")),
        ("age", "Fig. 1: FIERCE ends with a lower fine MSE than LS", "Fig. 1: LS worse than CE and FIERCE",
         paired(less, "age", "mse_test_final", "fierce", "ls"), ("fierce", "ls")),
        ("age", f"Fig. 1: with CE the fine MSE rises after {early} (= {RISE_FROM:g} x training, declared)",
         "minimum near epoch 50 of 500, then a rise", paired(greater, "age", "mse_last", "ce", "ce", "mse_early"),
         ("ce",)),
        ("age", "Fig. 1: FIERCE keeps its MSE (no early stopping needed): smaller rise than CE",
         "FIERCE's MSE stays at its minimum", paired(less, "age", "rise", "fierce", "ce"), ("fierce", "ce")),
        ("age", "Fig. 1, §5.1: more feature entropy, lower fine MSE (across trained runs)",
         "strongly (negatively) correlated", correlated("age", "entropy_anchor", "mse_test_final", -1), CRITERIA),
        *[row for protocol, suffix in (("held-out blocks, last epoch", "_test"),
                                       ("paper's protocol: min over epochs, training pixels", "_train_min"))
          for row in (
            ("unmix", f"Table 1: FIERCE transfer MSE < CE ({protocol})",
             "0.006 ± 0.001 vs 0.200 (CE; 0.177 in the GRETSI version)",
             paired(less, "unmix", f"transfer_mse{suffix}", "fierce", "ce"), ("fierce", "ce")),
            ("unmix", f"Table 1: FIERCE transfer MSE < LS ({protocol})", "0.006 ± 0.001 vs 0.017 ± 0.08",
             paired(less, "unmix", f"transfer_mse{suffix}", "fierce", "ls"), ("fierce", "ls")),
            ("unmix", f"Table 1: LS raw MSE < CE raw MSE ({protocol})", "0.066 ± 0.1 vs 0.200",
             paired(less, "unmix", f"raw_mse{suffix}", "ls", "ce"), ("ls", "ce")),
            ("unmix", f"Table 1: FIERCE raw MSE < CE raw MSE ({protocol})", "0.130 ± 0.008 vs 0.200",
             paired(less, "unmix", f"raw_mse{suffix}", "fierce", "ce"), ("fierce", "ce")),
          )],
        ("unmix", "§5: more feature entropy, lower transfer MSE (across trained runs)",
         "entropy correlated with the ability to recycle the features",
         correlated("unmix", "entropy_anchor", "transfer_mse_test", -1), CRITERIA),
        ("unmix", "§5: within each run, more feature entropy, lower transfer MSE (r over epochs < 0)",
         "entropy correlated with the ability to recycle the features",
         over_epochs(less, "r_entropy_transfer"), CRITERIA),
        ("unmix", "App. A.4: the anchor estimate follows the feature entropy (k-NN estimate, across trained runs)",
         "correlation 0.86 (over the epochs of one CE run)",
         correlated("unmix", "entropy_anchor", "entropy_knn", 1), CRITERIA),
        ("unmix", "App. A.4: within each run, the anchor estimate follows the k-NN entropy (r over epochs > 0)",
         "correlation 0.86 (over the epochs of one CE run)", over_epochs(greater, "r_anchor_knn"), CRITERIA),
        ("fewshot", "Table 2: FIERCE 1-shot accuracy > CE", "CIFAR-FS 66.16 ± 1.04 vs CE 64.32 ± 0.7",
         paired(greater, "fewshot", "acc_1shot", "fierce", "ce"), ("fierce", "ce")),
        ("fewshot", "Table 2: FIERCE 1-shot accuracy > LS", "CIFAR-FS 66.16 ± 1.04 vs LS 65.76 ± 0.57",
         paired(greater, "fewshot", "acc_1shot", "fierce", "ls"), ("fierce", "ls")),
        ("fewshot", "Table 2: FIERCE's 1-shot accuracy on CIFAR-FS", "66.16 ± 1.04 % (tolerance: the paper's ± 1.04)",
         report.judge(report.paper_check, fierce_1shot, paper=0.6616, tolerance=0.0104, scale_matches=cifar_fs),
         ("fierce",)),
        ("unmix", "Table 1: FIERCE's transfer MSE on Houston", "0.006 ± 0.001 (the Houston crop is not distributed)",
         report.judge(report.paper_check, houston, paper=0.006, tolerance=0.001, scale_matches=False, digits=5),
         ("fierce",)),
    ]
    # fmt: on
    seeds = {g: config["unmix.seeds" if g == "unmix" else "seeds"] for g in frames_by}
    where = {g: report.where(config.profile, config[f"{g}.dataset"], seeds[g]) for g in frames_by}
    checked = validity or {}
    claims = [
        report.Claim(
            claim, finding, where[g], paper, None if g not in checked else checked[g].where(criterion=criteria)
        )
        for g, claim, paper, finding, criteria in rows
    ]
    return report.scorecard(claims)


def results_table(config: Config, gid: str, which: str | None = None) -> pd.DataFrame:
    """:func:`table` of grid ``gid`` (``"age"``, ``"unmix"`` or ``"fewshot"``) from the runs of ``config``.

    ``which``: the :data:`TABLES` entry, by default the grid's own; the unmixing grid also has
    ``"outputs"`` (App. Table 1) and ``"epochs"`` (App. A.4 within each run).
    """
    if gid not in GRID_KINDS:
        raise ValueError(f"Expected `gid` in {list(GRID_KINDS)}, got {gid!r}")
    allowed = (GRID_KINDS[gid], "outputs", "epochs") if gid == "unmix" else (GRID_KINDS[gid],)
    which = GRID_KINDS[gid] if which is None else which
    if which not in allowed:
        raise ValueError(f"Expected `which` in {list(allowed)} for grid {gid!r}, got {which!r}")
    return table(grid_frames(config, gid)[0], which)


SWEEP_COLUMNS = ("raw_mse_test", "transfer_mse_test", "raw_mse_train_min", "transfer_mse_train_min", "train_acc",
                 "entropy_anchor")  # fmt: skip
"""Columns of :func:`results_sweeps`: both protocols' MSEs, the training accuracy and the entropy."""


def results_sweeps(config: Config) -> pd.DataFrame:
    """App. A.1: :func:`sweep_table` of the appendix sweeps of ``config`` (live or committed), one
    row per (sweep, value), the :data:`SWEEP_COLUMNS` rounded to 4 decimals."""
    sweeps = sweep_table(*(config.results(g) for g in ("lambdas", "anchor_counts", "variants")))
    return sweeps.set_index(["sweep", "value"])[list(SWEEP_COLUMNS)].round(4)


def results_checks(config: Config, gid: str) -> pd.DataFrame:
    """Every run of grid ``gid`` (``"age"`` or ``"fewshot"``) with its final accuracies and the
    :data:`CHECKS` it failed (``failed`` empty: valid), from the runs of ``config``."""
    if gid not in ("age", "fewshot"):
        raise ValueError(f"Expected `gid` in ['age', 'fewshot'], got {gid!r}")
    checked = validity(config.results(gid), gid)
    rows = []
    for run, failed in zip(checked.runs, checked.failures, strict=True):
        row = {"criterion": run.params["criterion"], "seed": run.params["seed"]}
        row["train_acc"] = report.final(run, "train_acc")
        if gid == "age":
            row["test_acc"] = report.final(run, "test_acc")
            row["feature_std"] = float(np.std(run.arrays["test_feature"]))
        rows.append({**row, "failed": "; ".join(reason for _, reason in failed)})
    return pd.DataFrame(rows, columns=None if rows else ["criterion", "seed", "train_acc", "failed"])


def card(config: Config) -> pd.DataFrame:
    """:func:`scorecard` of the valid runs of ``config`` (live or committed), listing the others."""
    checked = {g: validity(config.results(g), g) for g in ("age", "unmix", "fewshot")}
    valid = (grid_frames(config, g, checked[g].valid)[0] for g in ("age", "unmix", "fewshot"))
    return scorecard(*valid, config, checked)
