"""Report of "Learnable label smoothing": tables and figures of a configuration, validity and scorecard.

Reads the runs of :mod:`~c2f_utils.chapters.lls.experiments` (live or committed):
:func:`results_table`, :func:`q_figure`, :func:`q_summary`, :func:`geometry_figure`,
:func:`fig8_figure`, :func:`ablation_q_figure`, :func:`validity` (:data:`CHECKS`),
:func:`scorecard` and the chapter's :func:`card`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from ... import report
from ...experiments import Config
from ...runs import RunResult, results_frame
from .figures import plot_ablation_q, plot_geometry, plot_q_and_confusion
from .methods import AUGMENTATIONS, CLASS_NAMES, METHODS, PAPER, TEACHER_OF, TRIOS
from .tables import (
    ablation_table,
    accuracy_table,
    augmentation_table,
    distillation_table,
    geometry_summary,
    overhead_table,
    q_confusion_agreement,
    subset_table,
)

__all__ = [
    "CHECKS",
    "MAJORITY",
    "ablation_q_figure",
    "card",
    "fig8_figure",
    "geometry_figure",
    "q_figure",
    "q_summary",
    "results_table",
    "scorecard",
    "validity",
]


_TABLES = {"main": accuracy_table, "ablation": ablation_table, "distill": distillation_table, "subset": subset_table}


def results_table(config: Config, gid: str) -> pd.DataFrame:
    """The table of grid ``gid`` (``"main"``, ``"ablation"``, ``"distill"``, ``"subset"`` or
    ``"table8"``) from the runs of ``config``."""
    if gid not in (*_TABLES, "table8"):
        raise ValueError(f"Expected `gid` in {[*_TABLES, 'table8']}, got {gid!r}")
    if gid == "main":
        return accuracy_table(config.results(gid), paper=PAPER["table3_cifar10_alexnet"])
    if gid == "table8":
        return augmentation_table(config.results(gid), config.results("main"))
    return _TABLES[gid](config.results(gid))


def _first_lls(config: Config) -> RunResult:
    return next(r for r in config.results("main") if r.params["method"] == "LLS")


def q_figure(config: Config):
    """Figures 3-4 from the runs of ``config`` (live or committed): :func:`~c2f_utils.chapters.lls.plot_q_and_confusion`
    of the first LLS run of the ``main`` grid."""
    return plot_q_and_confusion(_first_lls(config), CLASS_NAMES[config["dataset"]])


def q_summary(config: Config) -> pd.Series:
    """The learned :math:`Q` of the run :func:`q_figure` draws: the range of its off-diagonal
    and diagonal entries against the uniform :math:`1/K`, and each class's most related class
    (largest off-diagonal entry of its row)."""
    import torch

    first = _first_lls(config)
    names = CLASS_NAMES[config["dataset"]]
    q = torch.softmax(torch.as_tensor(first.arrays["q_logits"]), 1)
    off = q[~torch.eye(len(q), dtype=torch.bool)]
    related = q.clone().fill_diagonal_(0).argmax(1)
    return pd.Series(
        {
            "seed": first.params["seed"],
            "off-diagonal range": f"[{off.min():.3f}, {off.max():.3f}]",
            "diagonal range": f"[{q.diagonal().min():.3f}, {q.diagonal().max():.3f}]",
            "uniform 1/K": f"{1 / len(q):.3f}",
            "most related class": ", ".join(f"{names[i]} -> {names[j]}" for i, j in enumerate(related.tolist())),
        },
        name="learned Q",
    )


def geometry_figure(config: Config):
    """Figures 5-6 from the runs of ``config`` (live or committed): :func:`~c2f_utils.chapters.lls.plot_geometry` of the
    ``main`` grid's first seed, with the dataset's trio (:data:`~c2f_utils.chapters.lls.TRIOS`)."""
    dataset = config["dataset"]
    return plot_geometry(config.results("main"), CLASS_NAMES[dataset], TRIOS[dataset], seed=config["seeds"][0])


def fig8_figure(config: Config):
    """Fig. 8 (App. E) from the runs of ``config``: :func:`~c2f_utils.chapters.lls.plot_geometry` of the ``fig8`` grid's
    first seed (the dataset of ``fig8.dataset``, the network of ``fig8.model``)."""
    dataset = config["fig8.dataset"] or config["dataset"]
    return plot_geometry(config.results("fig8"), CLASS_NAMES[dataset], TRIOS[dataset], seed=config["seeds"][0])


def ablation_q_figure(config: Config):
    """Fig. 9 (App. H) from the runs of ``config``: :func:`~c2f_utils.chapters.lls.plot_ablation_q` of the ``ablation``
    grid's first seed."""
    runs = config.results("ablation")
    return plot_ablation_q(runs, CLASS_NAMES[config["dataset"]], seed=min(r.params["seed"] for r in runs))


MAJORITY = 0.11
"""Largest class share of the training labels (ten balanced classes: digits, CIFAR-10), an upper bound."""
CHECKS = (report.above_majority("train_acc", MAJORITY),)
"""What a working ``main``/``ablation`` run is: training accuracy above the majority class by 0.05."""


def _teacher_beats_student(main: Sequence[RunResult]) -> report.Check:
    """A distilled student counts when its teacher run (same method and seed) is better than it on the test set."""
    teachers = {(r.params["method"], r.params["seed"]): r.metrics["test_acc"] for r in main}

    def rule(run: RunResult) -> str | None:
        if run.params["kind"] == "alone":
            return None
        key = (TEACHER_OF[run.params["kind"]], run.params["seed"])
        if key not in teachers:
            return f"teacher {key[0]} seed {key[1]} invalid or missing"
        if teachers[key] <= run.metrics["test_acc"]:
            return f"teacher acc {teachers[key]:.3g} <= student acc {run.metrics['test_acc']:.3g}"
        return None

    return report.Check("teacher better than its student", rule)


def _subset_majority(run: RunResult) -> float:
    """Largest class share of a subset run's training labels: half of ten balanced classes
    (a bound, as :data:`MAJORITY`) or the whole set's."""
    return 0.21 if run.params["subset"] == "classes" else MAJORITY


def validity(config: Config) -> dict[str, report.Validity]:
    """:data:`CHECKS` on the runs of the ``main``, ``ablation``, ``fig8`` and ``table8`` grids,
    and on the ``subset`` runs against their own majority class; a distilled student needs a
    valid teacher that beats it (:func:`c2f_utils.report.valid_runs`)."""

    def label(r: RunResult) -> str:
        extra = [r.params[k] for k in ("subset", "augmentation") if r.params.get(k, "standard") != "standard"]
        return " ".join(map(str, (*extra, r.params.get("method", r.params.get("kind")), "seed", r.params["seed"])))

    grids = ("main", "ablation", "fig8", "table8")
    out = {grid: report.valid_runs(config.results(grid), CHECKS, label=label) for grid in grids}
    subset_check = (report.above_majority("train_acc", _subset_majority),)
    out["subset"] = report.valid_runs(config.results("subset"), subset_check, label=label)
    teacher = _teacher_beats_student(out["main"].valid)
    out["distill"] = report.valid_runs(config.results("distill"), (teacher,), label=label)
    return out


def card(config: Config) -> pd.DataFrame:
    """:func:`scorecard` of the valid runs of ``config`` (live or committed), with its agreement and geometry."""
    checked = validity(config)
    main = checked["main"].valid
    geometry = geometry_summary(main, TRIOS[config["dataset"]], CLASS_NAMES[config["dataset"]])
    return scorecard(config, q_confusion_agreement(main), geometry, checked)


def scorecard(
    config: Config,
    agreement: pd.DataFrame,
    geometry: pd.DataFrame,
    validity: dict[str, report.Validity] | None = None,
) -> pd.DataFrame:
    """The scorecard (:mod:`c2f_utils.report`) from the runs of ``config`` (read from the cache).

    Only the valid runs of ``validity`` (:func:`validity`; all runs when None) count, and each
    row lists the runs it excluded. "A beats B" is a paired difference over seeds (same
    initialisation and batch order). A "fails to train" claim is about the runs that fail: its
    ablated runs are all kept. The Q-confusion agreement is one Spearman correlation per seed
    (independent runs) tested against 0, its expectation when one matrix's classes are
    relabelled at random (the Mantel null)."""
    checked = validity or {}
    runs = {grid: config.results(grid) for grid in ("main", "ablation", "distill")}
    kept = {g: checked[g].valid if g in checked else runs[g] for g in runs}
    frames = {grid: results_frame(kept[grid]) for grid in kept}
    frames["distill"] = frames["distill"].rename(columns={"kind": "method"})
    every_ablation = results_frame(runs["ablation"])
    scales = {"main": "(CIFAR-10, AlexNet)", "ablation": "(Tiny-ImageNet, R18)", "distill": "(CIFAR-100, R34 -> R18)"}
    where = report.where(config.profile, config["dataset"], config["seeds"])
    t3, t4, t5 = PAPER["table3_cifar10_alexnet"], PAPER["table4_tiny_r18"], PAPER["table5_cifar100_r34_r18"]
    claims: list[report.Claim] = []

    def of(grid: str, *names: str) -> report.Validity | None:
        if grid not in checked:
            return None
        return checked[grid].where(kind=names) if grid == "distill" else checked[grid].where(method=names)

    def claim(text: str, grid: str, a: str, b: str, paper: float | None = None, min_effect: float = 0.0) -> None:
        """A > B, paired by seed: test accuracy in the ``grid`` runs, or a column of the geometry summary."""
        if grid in frames:
            frame, column, scale, runs_of = frames[grid], "test_acc", 100.0, of(grid, a, b)
            if min_effect:  # "B fails": every run of B, valid or not, with the valid runs of A
                frame = pd.concat([frame[frame.method == a], every_ablation[every_ablation.method == b]])
                runs_of = of(grid, a)
        else:
            frame, column, scale, runs_of = geometry, grid, 1.0, of("main", a, b)
        finding = report.compare(
            report.greater, frame, column, "method", a, b, scale=scale, min_effect=min_effect, digits=2
        )
        reference = "qualitative" if paper is None else f"{paper:+.2f} pp {scales[grid]}"
        seeds = config[f"{grid}.seeds"] if grid in ("ablation", "distill") else config["seeds"]
        claims.append(
            report.Claim(text, finding, report.where(config.profile, config["dataset"], seeds), reference, runs_of)
        )

    for base in METHODS[:-1]:
        claim(f"LLS beats {base} (Tables 1-3)", "main", "LLS", base, t3["LLS"] - t3[base])
    for name, paper in (("confusion", "qualitative (heatmaps)"), ("soft_confusion", "not in the paper")):
        values = agreement[f"spearman_{name}"] if len(agreement) else []
        finding = report.judge(report.greater, values, value=0.0, paired=False, digits=2)
        text = f"Q follows the test {name.replace('_', ' ')} (Figs 3-4)"
        claims.append(report.Claim(text, finding, where, paper, of("main", "LLS")))
    for row in ("No RCE", "No Pred EM", "No Targets EM", "FCE only", "Symmetric CE", "Forward KL"):
        claim(f"full LLS beats '{row}' (Table 4)", "ablation", "LLS", row, t4["LLS"] - t4[row])
    for row in ("No FCE", "Reverse KL"):  # "fails" = at least 5 pp below full LLS (the paper: 38 pp)
        claim(f"'{row}' fails to train (Table 4)", "ablation", "LLS", row, t4["LLS"] - t4[row], min_effect=5.0)
    claim("LS makes class centres more equidistant than 1-hot (Fig. 5)", "equidistance_cv", "1-hot", "LS")
    claim("LLS keeps more class structure than LS (Fig. 5)", "equidistance_cv", "LLS", "LS")
    claim("LS pulls the related trio pair apart more than LLS (Fig. 6)", "trio_ratio", "LS", "LLS")
    claim("LLS clusters are more compact than 1-hot (Fig. 5, t-SNE)", "silhouette", "LLS", "1-hot")
    claim("an LLS teacher beats an LS teacher (Table 5)", "distill", "KD LLS", "KD LS", t5["KD LLS"] - t5["KD LS"])
    alone = PAPER["table2_cifar100_r18_1hot"]  # the paper's R18 trained alone: Table 2
    claim("LLS-ST helps a student over training alone (Table 5)", "distill", "LLS-ST", "alone", t5["LLS-ST"] - alone)
    # No profile has the paper's scale: Tiny-ImageNet R18 on a GPU (Table 9), CIFAR-10 AlexNet (Table 3).
    t9 = PAPER["table9_time_overhead_pct"]
    time_pct = [overhead_table(config.results("overhead")[0]).loc["LLS", "time +%"]]
    finding = report.paper_check(time_pct, t9, tolerance=1.0, scale_matches=False, digits=1)
    claims.append(report.Claim("LLS costs little time (Table 9)", finding, where, f"+{t9}% (Tiny-ImageNet, R18, GPU)"))
    lls_acc = 100 * frames["main"].query("method == 'LLS'").test_acc if len(frames["main"]) else []
    finding = report.judge(report.paper_check, lls_acc, paper=t3["LLS"], tolerance=1.0, scale_matches=False, digits=2)
    text = "absolute LLS accuracy (Table 3)"
    claims.append(report.Claim(text, finding, where, f"{t3['LLS']}% {scales['main']}", of("main", "LLS")))
    claims += _appendix_claims(config, checked)
    return report.scorecard(claims)


def _appendix_claims(config: Config, checked: dict[str, report.Validity]) -> list[report.Claim]:
    """The claims of Apps. D-F (Tables 6-8, Fig. 8) from the valid runs of ``checked``
    (all runs of a grid it does not check)."""
    kept = {g: checked[g].valid if g in checked else config.results(g) for g in ("subset", "fig8", "table8")}
    claims: list[report.Claim] = []

    def runs_of(grid: str, **params: Any) -> report.Validity | None:
        return checked[grid].where(**params) if grid in checked else None

    def pp(value: float) -> str:
        return f"{value:+.2f} pp"

    where = report.where(config.profile, config["dataset"], config["subset.seeds"])
    subsets = results_frame(kept["subset"])
    tables = {"samples": ("Table 6", "table6_cifar100_r18"), "classes": ("Table 7", "table7_cifar100_r18")}
    pairs = {"samples": (("LLS-ST", "1-hot"), ("LLS-ST", "LS"), ("LLS-ST", "LLS")),
             "classes": (("LLS", "1-hot"), ("LLS", "LS"), ("LLS-ST", "1-hot"))}  # fmt: skip
    for subset, (table, paper_id) in tables.items():
        frame = subsets[subsets.subset == subset] if len(subsets) else subsets
        for a, b in pairs[subset]:
            finding = report.compare(report.greater, frame, "test_acc", "method", a, b, scale=100.0, digits=2)
            paper = f"{pp(PAPER[paper_id][a] - PAPER[paper_id][b])} (CIFAR-100, R18)"
            text = f"{a} beats {b} on half the {subset} ({table})"
            claims.append(report.Claim(text, finding, where, paper, runs_of("subset", subset=subset, method=(a, b))))
    t8 = PAPER["table8_imagenet100_r18"]
    aug_where = report.where(config.profile, config["dataset"], config["table8.seeds"])
    augmented = results_frame(kept["table8"])
    for aug in AUGMENTATIONS[1:]:
        frame = augmented[augmented.augmentation == aug] if len(augmented) else augmented
        finding = report.compare(report.greater, frame, "test_acc", "method", "LLS", "1-hot", scale=100.0, digits=2)
        paper = f"{pp(t8[(aug, 'LLS')] - t8[(aug, '1-hot')])} (ImageNet-100, R18)"
        text = f"LLS adds to {aug}: {aug} + LLS beats {aug} alone (Table 8)"
        claims.append(report.Claim(text, finding, aug_where, paper, runs_of("table8", augmentation=aug)))
    dataset = config["fig8.dataset"] or config["dataset"]
    geometry = geometry_summary(kept["fig8"], TRIOS[dataset], CLASS_NAMES[dataset])
    fig8_where = report.where(config.profile, dataset, config["seeds"])
    for text, column, a, b in (
        ("LS makes class centres more equidistant than 1-hot (Fig. 8)", "equidistance_cv", "1-hot", "LS"),
        ("LLS keeps more class structure than LS (Fig. 8)", "equidistance_cv", "LLS", "LS"),
        ("LLS clusters are more compact than 1-hot (Fig. 8, t-SNE)", "silhouette", "LLS", "1-hot"),
    ):
        finding = report.compare(report.greater, geometry, column, "method", a, b, digits=2)
        claims.append(
            report.Claim(text, finding, fig8_where, "qualitative (FashionMNIST, LeNet)", runs_of("fig8", method=(a, b)))
        )
    return claims
