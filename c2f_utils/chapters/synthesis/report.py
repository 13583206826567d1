"""Report of "Synthesis": validity of the runs, selection, tables, figure and scorecard.

Reads the runs of :mod:`~c2f_utils.chapters.synthesis.experiments` (live or committed):
:func:`validity` and :func:`frame`, :func:`selected`, :func:`summary_table`,
:func:`best_per_measurement`, :func:`rank_correlations`, :func:`tradeoff_figure`,
:func:`scorecard`, and the chapter's :func:`card`, :func:`summary`, :func:`leaders` and
:func:`tradeoff` of a configuration.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from ... import report
from ...experiments import Config
from ...runs import results_frame
from .protocol import CRITERIA, LABELS, MEASUREMENTS, STRENGTH_NAMES, coarsening

__all__ = [
    "CHECKS",
    "TIE_MARGIN",
    "best_per_measurement",
    "card",
    "frame",
    "leaders",
    "majority",
    "rank_correlations",
    "scorecard",
    "selected",
    "summary",
    "summary_table",
    "tradeoff",
    "tradeoff_figure",
    "validity",
]

_COARSE_OF = {"lt5": lambda c: int(c >= 5), "vehicle": lambda c: int(c in (0, 1, 8, 9))}
"""Coarse class of each fine class for the ten-class coarsenings (digits: 5-9; CIFAR-10: vehicles)."""


def majority(run: Any) -> float:
    """Largest coarse class share of a ``train`` run's labels: the fine classes it keeps are
    balanced, so the share of the largest coarse group among them (CIFAR-10 without horse
    and truck: 5 animals of 8 classes, 0.625); CIFAR-100's 20 superclasses: at most 0.06."""
    scheme = coarsening(run.params["dataset"])
    if scheme not in _COARSE_OF:
        return 0.06
    kept = [c for c in range(10) if c not in run.params["held_out"]]
    shares = [sum(_COARSE_OF[scheme](c) == g for c in kept) / len(kept) for g in (0, 1)]
    return max(shares)


CHECKS = (report.above_majority("train_acc", majority, margin=0.05),)
"""What a working ``train`` run is: training accuracy above its majority coarse class by 0.05
(a run that collapsed to one class measures nothing about its criterion)."""


def _teacher_beats_student(teachers: list[Any]) -> report.Check:
    accs = {(r.params["criterion"], r.params["strength"], r.params["seed"]): r.metrics["test_acc"] for r in teachers}

    def rule(run: Any) -> str | None:
        t = run.params["teacher"]["params"]
        key = (t["criterion"], t["strength"], t["seed"])
        if key not in accs:
            return "teacher run invalid"
        acc = run.metrics["student_acc"]
        return None if accs[key] > acc else f"teacher acc {accs[key]:.3g} <= student acc {acc:.3g}"

    return report.Check("a valid teacher better than its student", rule)


def _label(run: Any) -> str:
    p = _teacher_params(run)
    strength = "" if p["criterion"] == "ce" else f" {STRENGTH_NAMES[p['criterion']]}={p['strength']:g}"
    return f"{p['criterion']}{strength} seed {p['seed']}"


def validity(config: Config) -> dict[str, report.Validity]:
    """:data:`CHECKS` on the ``train`` runs; a distilled student needs a valid teacher that beats it."""
    teachers = report.valid_runs([r for c in CRITERIA for r in config.results(f"train_{c}")], CHECKS, _label)
    students = [r for c in CRITERIA for r in config.results(f"distill_{c}")]
    return {
        "train": teachers,
        "distill": report.valid_runs(students, (_teacher_beats_student(teachers.valid),), _label),
    }


def frame(config: Config, checked: dict[str, report.Validity] | None = None) -> pd.DataFrame:
    """One row per (criterion, strength, seed) of ``config``'s valid runs (live or committed,
    :func:`validity`): the teacher's metrics and its valid student's accuracy (NaN otherwise)."""
    checked = validity(config) if checked is None else checked
    teachers = results_frame(checked["train"].valid)
    students = pd.DataFrame(
        [
            {"criterion": r.params["teacher"]["params"]["criterion"], "strength": r.params["strength"],
             "seed": r.params["seed"], **r.metrics}
            for r in checked["distill"].valid
        ],
        columns=["criterion", "strength", "seed", "student_acc"],
    )  # fmt: skip
    keys = ["criterion", "strength", "seed"]
    return teachers.merge(students[[*keys, "student_acc"]], on=keys, how="left")


def selected(frame: pd.DataFrame) -> pd.DataFrame:
    """For each criterion, the rows (all seeds) of the ``strength`` with the best mean
    validation accuracy (ties: the smaller strength). The selection sees only ``val_acc``."""
    need = {"criterion", "strength", "seed", "val_acc"}
    if not isinstance(frame, pd.DataFrame) or not need <= set(frame.columns):
        raise ValueError(f"Expected `frame` with columns {sorted(need)}, got {frame!r:.80}")
    means = frame.groupby(["criterion", "strength"], as_index=False)["val_acc"].mean()
    best = means.sort_values(["criterion", "val_acc", "strength"], ascending=[True, False, True])
    best = best.drop_duplicates("criterion")[["criterion", "strength"]]
    out = frame.merge(best, on=["criterion", "strength"])
    order = {c: i for i, c in enumerate(CRITERIA)}
    return out.sort_values(["criterion", "seed"], key=lambda s: s.map(order) if s.name == "criterion" else s)


def summary_table(sel: pd.DataFrame, measurements: Sequence[str] = tuple(MEASUREMENTS)) -> pd.DataFrame:
    """Criteria x measurements: mean ± 95% interval over seeds of the selected runs.

    A cell of a directed measurement (:data:`~c2f_utils.chapters.synthesis.protocol.MEASUREMENTS`) is marked
    ``*`` when its criterion is best in the column *and* beats the runner-up significantly: the paired
    difference over seeds (each seed fixes initialisation and batches for every criterion)
    has its whole 95% interval on the better side (:func:`c2f_utils.report.greater`, verdict "reproduced").
    """
    rows = {}
    for criterion, group in sel.groupby("criterion", sort=False):
        strength = group["strength"].iloc[0]
        name = LABELS[criterion] + ("" if criterion == "ce" else f" ({STRENGTH_NAMES[criterion]} = {strength:g})")
        rows[criterion] = {"criterion": name}
        for m in measurements:
            values = group.sort_values("seed")[m].dropna()
            rows[criterion][MEASUREMENTS[m][0]] = report.estimate(values).format(3) if len(values) else "—"
    table = pd.DataFrame.from_dict(rows, orient="index")
    for m, (best, runner) in _leaders(sel, measurements).items():
        if best is not None and _beats(sel, m, best, runner):
            table.loc[best, MEASUREMENTS[m][0]] += " *"
    return table.set_index("criterion")


def _leaders(sel: pd.DataFrame, measurements: Sequence[str]) -> dict[str, tuple[Any, Any]]:
    """Leader and runner-up of every directed measurement (descriptive ones are left out)."""
    out = {}
    for m in (m for m in measurements if MEASUREMENTS[m][1]):
        means = sel.groupby("criterion")[m].mean().dropna() * MEASUREMENTS[m][1]
        ranked = means.sort_values(ascending=False).index.tolist()
        out[m] = (ranked[0], ranked[1]) if len(ranked) > 1 else (None, None)
    return out


TIE_MARGIN = 0.01
"""Equivalence margin of a tie between two criteria on a directed measurement (accuracies, ECE):
one point, declared before the runs. A tie is shown by two one-sided tests, never by a lead
that is not significant."""


def _lead(sel: pd.DataFrame, m: str, a: str, b: str, test=None) -> report.Finding:
    """``a`` better than ``b`` on ``m`` (or ``test``, e.g. :func:`~c2f_utils.report.equivalent`), paired by seed."""
    sign = MEASUREMENTS[m][1]
    rows = sel.dropna(subset=[m])
    signed = rows.assign(**{m: sign * rows[m]})
    if test is report.equivalent:
        return report.compare(report.equivalent, signed, m, "criterion", a, b, margin=TIE_MARGIN)
    return report.compare(report.greater, signed, m, "criterion", a, b)


def _beats(sel: pd.DataFrame, m: str, a: str, b: str) -> bool:
    return _lead(sel, m, a, b).verdict == "reproduced"


def best_per_measurement(sel: pd.DataFrame, measurements: Sequence[str] = tuple(MEASUREMENTS)) -> pd.DataFrame:
    """For each directed measurement, the leading criterion, the runner-up, the verdict on
    "the leader beats the runner-up" (paired, 95%: the ``*`` of :func:`summary_table`) and on
    "they tie" (two one-sided tests within ±:data:`TIE_MARGIN`): the "which criterion for
    which later task" table, computed from the runs. A lead that is not established is not a
    tie: only the equivalence test says the two are the same."""
    rows = []
    for m, (best, runner) in _leaders(sel, measurements).items():
        if best is None:
            continue
        rows.append(
            {
                "measurement": MEASUREMENTS[m][0],
                "best": LABELS[best],
                "runner-up": LABELS[runner],
                "lead (paired, 95%)": _lead(sel, m, best, runner).verdict,
                f"tie within ±{TIE_MARGIN:g} (TOST)": _lead(sel, m, best, runner, report.equivalent).verdict,
            }
        )
    return pd.DataFrame(rows).set_index("measurement")


def rank_correlations(sel: pd.DataFrame, measurements: Sequence[str] = tuple(MEASUREMENTS)) -> pd.DataFrame:
    """Spearman rank correlation across criteria (their mean over seeds) between every pair
    of measurements: does one measurement order the criteria like another?"""
    means = sel.groupby("criterion")[list(measurements)].mean()
    return means.rename(columns={m: MEASUREMENTS[m][0] for m in measurements}).corr(method="spearman")


def tradeoff_figure(sel: pd.DataFrame, x: str = "test_acc", y: str = "fine_probe_acc"):
    """The trade-off: mean ``x`` against mean ``y`` per criterion, with 95% intervals over seeds."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.6, 4.0))
    for criterion, group in sel.groupby("criterion", sort=False):
        ex, ey = report.estimate(group[x]), report.estimate(group[y])
        ax.errorbar(
            ex.mean,
            ey.mean,
            xerr=[[ex.mean - ex.low], [ex.high - ex.mean]],
            yerr=[[ey.mean - ey.low], [ey.high - ey.mean]],
            fmt="o",
            capsize=3,
            label=LABELS[criterion],
        )
    ax.set(xlabel=MEASUREMENTS[x][0], ylabel=MEASUREMENTS[y][0], title="what coarse training keeps")
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def scorecard(sel: pd.DataFrame, config: Config, validity: dict[str, report.Validity] | None = None) -> pd.DataFrame:
    """Claims from outside the four papers and each paper's central claim, on the common benchmark.

    ``sel`` holds the valid runs only; ``validity`` (:func:`validity`) lists every run and why it
    was excluded. Across-criteria claims (Kornblith et al. 2021) correlate the criteria's means
    (one point per criterion); within-pair claims are paired over seeds.
    """
    where = report.where(config.profile, config["dataset"], config["seeds"])
    means = sel.groupby("criterion")[list(MEASUREMENTS)].mean().dropna()
    checked = validity or {}
    teachers, students = checked.get("train"), checked.get("distill")

    def pair(m: str, a: str, b: str, more: bool = True) -> report.Finding:
        return report.compare(report.greater if more else report.less, sel.dropna(subset=[m]), m, "criterion", a, b)

    def runs(a: str, b: str, grid: Any = None) -> report.Validity | None:
        if grid is None:
            return None
        picked = {c: sel[sel.criterion == c].strength.iloc[0] for c in (a, b) if (sel.criterion == c).any()}
        out = None
        for c in (a, b):
            part = [
                i
                for i, r in enumerate(grid.runs)
                if _teacher_params(r)["criterion"] == c
                and (c not in picked or _teacher_params(r)["strength"] == picked[c])
            ]
            sub = report.Validity(*(tuple(x[i] for i in part) for x in (grid.runs, grid.failures, grid.labels)))
            out = sub if out is None else out + sub
        return out

    across = f"{where}; one point per criterion"
    claims = [
        report.Claim(
            "Kornblith et al. 2021: criteria with higher accuracy give less transferable features "
            "(coarse accuracy vs fine probe, across criteria)",
            report.correlated(means["test_acc"], means["fine_probe_acc"], sign=-1),
            across,
            "negative (ImageNet, 8 objectives)",
            teachers,
        ),
        report.Claim(
            "Kornblith et al. 2021: more class separation, less transferable features (across criteria)",
            report.correlated(means["separation"], means["fine_probe_acc"], sign=-1),
            across,
            "negative",
            teachers,
        ),
        report.Claim(
            "Müller et al. 2019: label smoothing tightens class clusters (separation, LS vs CE)",
            pair("separation", "ls", "ce"),
            where,
            "qualitative (projections)",
            runs("ls", "ce", teachers),
        ),
        report.Claim(
            "Müller et al. 2019: a label-smoothed teacher distils worse (student accuracy, CE vs LS)",
            pair("student_acc", "ce", "ls"),
            where,
            "qualitative (Fig. 5)",
            runs("ce", "ls", students),
        ),
        report.Claim(
            "FIERCE: feature entropy keeps fine information (fine probe, FIERCE vs CE)",
            pair("fine_probe_acc", "fierce", "ce"),
            where,
            "FIERCE chapter",
            runs("fierce", "ce", teachers),
        ),
        report.Claim(
            "LS as IB: label smoothing compresses the outputs (I(X;T), LS vs CE)",
            pair("i_xt", "ls", "ce", more=False),
            where,
            "LS-IB chapter",
            runs("ls", "ce", teachers),
        ),
        report.Claim(
            "LLS: learned smoothing beats fixed smoothing (coarse accuracy, LLS vs LS)",
            pair("test_acc", "lls", "ls"),
            where,
            "LLS chapter",
            runs("lls", "ls", teachers),
        ),
    ]
    return report.scorecard(claims)


def _teacher_params(run: Any) -> dict[str, Any]:
    return run.params if "criterion" in run.params else run.params["teacher"]["params"]


def card(config: Config) -> pd.DataFrame:
    """:func:`scorecard` of the valid runs of ``config`` (live or committed), listing the others."""
    checked = validity(config)
    return scorecard(selected(frame(config, checked)), config, checked)


def summary(config: Config) -> pd.DataFrame:
    """:func:`summary_table` of the selected runs of ``config`` (live or committed)."""
    return summary_table(selected(frame(config)))


def leaders(config: Config) -> pd.DataFrame:
    """:func:`best_per_measurement` of the selected runs of ``config`` (live or committed)."""
    return best_per_measurement(selected(frame(config)))


def tradeoff(config: Config):
    """:func:`tradeoff_figure` of the selected runs of ``config`` (live or committed)."""
    return tradeoff_figure(selected(frame(config)))
