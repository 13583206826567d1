"""Report of "The coarse-to-fine setting": validity of the runs, tables, figure and scorecard.

Reads the runs of :mod:`~c2f_utils.chapters.setting.experiments` (live or committed):
:func:`histories`, :func:`validity`, :func:`summary_table`, :func:`scorecard`,
:func:`plot_histories`, and the chapter's :func:`figure` and :func:`card` of a configuration.
"""

from __future__ import annotations

import pandas as pd

from ... import report
from ...experiments import Config
from ...runs import RunResult

__all__ = [
    "CHECKS",
    "MAJORITY",
    "card",
    "figure",
    "histories",
    "plot_histories",
    "scorecard",
    "summary_table",
    "validity",
]


def histories(results: list[RunResult]) -> pd.DataFrame:
    """Long-format history of the ``train`` runs, with ``trained_on`` and ``seed`` columns."""
    frames = [r.history.assign(trained_on=r.params["labeling"], seed=r.params["seed"]) for r in results]
    if not frames:  # every run invalid
        return pd.DataFrame(columns=["epoch", "trained_on", "seed", "fine_probe_acc", "within_coarse_acc", "test_acc"])
    return pd.concat(frames, ignore_index=True)


MAJORITY = {"coarse": 0.52, "fine": 0.12}
"""Largest class share of each labeling, an upper bound over digits and MNIST (digits 0-4 are
51.4% of MNIST's test set, digit 1 is 11.4%): a network at this training accuracy answers one class."""
CHECKS = (report.above_majority("train_acc", lambda run: MAJORITY[run.params["labeling"]], margin=0.05),)
"""What a working ``train`` run is: training accuracy above its labeling's majority class by 0.05."""


def validity(results: list[RunResult]) -> report.Validity:
    """:data:`CHECKS` on the ``train`` runs (:func:`c2f_utils.report.valid_runs`)."""
    return report.valid_runs(results, CHECKS, label=lambda r: f"{r.params['labeling']} seed {r.params['seed']}")


def summary_table(history: pd.DataFrame, raw: dict[str, float]) -> pd.DataFrame:
    """Fine-label probe accuracy at initialisation, after training, and on raw inputs (mean ± 95% CI)."""
    columns = {"fine_probe_acc": "fine probe accuracy", "within_coarse_acc": "fine accuracy given coarse"}
    parts = []
    for stage, epoch in (("at initialisation", 0), ("after training", history.epoch.max())):
        table = report.mean_ci_table(history[history.epoch == epoch], "trained_on", columns)
        table.index = [f"network trained on {t} labels, {stage}" for t in table.index]
        parts.append(table)
    raw_row = pd.DataFrame({label: [f"{raw[c]:.3f}"] for c, label in columns.items()} | {"seeds": [1]})
    parts.append(raw_row.set_axis(["raw pixels (deterministic probe)"]))
    return pd.concat(parts).rename_axis("features")


def scorecard(
    history: pd.DataFrame, raw: dict[str, float], config, validity: report.Validity | None = None
) -> pd.DataFrame:
    """The chapter's claims, what we measured, and the book's verdict (:mod:`c2f_utils.report`).

    ``history`` holds the valid runs only (:func:`validity`, listed in the scorecard).
    Comparisons between networks are paired by seed (each seed fixes the initialisation
    and the batch order of both runs); comparisons with chance and with the raw-pixel
    probe (deterministic) are against a constant.
    """
    last = history[history.epoch == history.epoch.max()].sort_values("seed")
    first = history[history.epoch == 0].sort_values("seed")
    where = report.where(config.profile, config["dataset"], config["seeds"])

    def col(frame: pd.DataFrame, labeling: str, metric: str = "fine_probe_acc") -> list[float]:
        return frame[frame.trained_on == labeling][metric].tolist()

    n_groups = 5  # digits per coarse class for lt5 and parity
    at_init = first[first.trained_on == "coarse"].assign(trained_on="init")
    coarse_only = None if validity is None else validity.where(labeling="coarse")
    greater, less = report.greater, report.less
    claims = [
        report.Claim(
            "coarse training keeps fine information well above chance",
            report.judge(greater, col(last, "coarse"), value=0.1, paired=False),
            where,
            "premise (fine probe accuracy > 0.10, chance)",
            validity=coarse_only,
        ),
        report.Claim(
            "within a coarse class, digits stay separable",
            report.judge(greater, col(last, "coarse", "within_coarse_acc"), value=1 / n_groups, paired=False),
            where,
            f"premise (fine accuracy given coarse > {1 / n_groups:.2f}, chance)",
            validity=coarse_only,
        ),
        report.Claim(
            "coarse training keeps less fine information than fine training",
            report.compare(less, last, "fine_probe_acc", "trained_on", "coarse", "fine"),
            where,
            "premise (coarse-trained < fine-trained probe)",
            validity=validity,
        ),
        report.Claim(
            "coarse training discards fine information present in the input",
            report.judge(less, col(last, "coarse"), value=raw["fine_probe_acc"], paired=False),
            where,
            "premise (coarse-trained < raw-pixel probe)",
            validity=coarse_only,
        ),
        report.Claim(
            "coarse training adds fine information over random features",
            report.compare(greater, pd.concat([last, at_init]), "fine_probe_acc", "trained_on", "coarse", "init"),
            where,
            "premise (trained > initialisation probe)",
            validity=coarse_only,
        ),
    ]
    return report.scorecard(claims)


def plot_histories(history: pd.DataFrame, raw: dict[str, float], title: str = ""):
    """The chapter's figure: own-task accuracy, fine probe and fine-given-coarse accuracy over epochs.

    Dotted black lines mark the same probes on the raw pixels.
    """
    from ...plots import plot_over_epochs

    fig, axes = plot_over_epochs(
        history.dropna(subset=["fine_probe_acc"]),
        ["test_acc", "fine_probe_acc", "within_coarse_acc"],
        hue="trained_on",
        titles=["network on its own labels", "linear probe: fine label", "fine label given coarse"],
        ylabels=["test accuracy", "probe test accuracy", "probe test accuracy"],
    )
    for ax, key in zip(axes[1:], ("fine_probe_acc", "within_coarse_acc"), strict=True):
        ax.axhline(raw[key], color="k", lw=1, ls=":", label="raw pixels")
    axes[-1].legend(fontsize="small")
    if title:
        fig.suptitle(title, y=1.03)
    return fig


def figure(config: Config):
    """:func:`plot_histories` of the runs of ``config`` (live or committed)."""
    title = f"{config.profile}: {config['dataset']}, trained on '{config['coarsening']}' vs on the fine labels"
    return plot_histories(histories(config.results("train")), config.results("raw")[0].metrics, title)


def card(config: Config) -> pd.DataFrame:
    """:func:`scorecard` of the runs of ``config`` (live or committed)."""
    valid = validity(config.results("train"))
    return scorecard(histories(valid.valid), config.results("raw")[0].metrics, config, valid)
