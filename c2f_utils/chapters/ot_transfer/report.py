"""Report of "Representation transfer by optimal transport": tables and figures.

Reads the runs of :mod:`~c2f_utils.chapters.ot_transfer.experiments` (live or committed): the
selection on validation (:func:`select_best`) and Tables 1-2 (:func:`accuracy_table`,
:func:`transfer_table`, :func:`compression_table`, :func:`teacher_table`), Figures 2-3
(:func:`plot_depth_traces`, :func:`depth_figure`, :func:`trace_table`, :func:`plot_training_traces`,
:func:`training_trace_figure`), the §2 demonstration (:func:`permutation_demo`) and §4's timings
(:func:`cost_tables`, :func:`benchmark_tables`, :func:`solver_summary`, :func:`plot_solver_times`).
The validity checks and the scorecard are in :mod:`~c2f_utils.chapters.ot_transfer.verdicts`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ... import report
from ...experiments import Config
from ...runs import RunResult, results_frame
from .experiments import CHAPTER
from .networks import COMPRESSION_METHODS, DIGIT_INPUTS, LABELS, TARGET, TRANSFER_METHODS, make_model

__all__ = [
    "BENCHMARK",
    "COMPRESS_GRIDS",
    "PAPER_D",
    "accuracy_table",
    "benchmark_tables",
    "compression_table",
    "cost_tables",
    "depth_figure",
    "permutation_demo",
    "plot_depth_traces",
    "plot_solver_times",
    "plot_training_traces",
    "select_best",
    "solver_summary",
    "teacher_table",
    "trace_table",
    "training_trace_figure",
    "transfer_results",
    "transfer_table",
]


def select_best(
    frame: pd.DataFrame, by: Sequence[str] = ("method",), hyper: Sequence[str] = ("alpha",)
) -> pd.DataFrame:
    """The paper's model selection: for each group ``by``, the rows (all seeds) of the
    hyper-parameters with the best validation accuracy averaged over seeds."""
    by, hyper = list(by), list(hyper)
    means = frame.groupby(by + hyper, as_index=False)["val_acc"].mean()
    return frame.merge(means.loc[means.groupby(by)["val_acc"].idxmax(), by + hyper], on=by + hyper)


def accuracy_table(selected: pd.DataFrame, by: Sequence[str], hyper: Sequence[str]) -> pd.DataFrame:
    """Test accuracy (%) of the selected runs: the selection, mean ± 95% CI, standard deviation, seeds."""
    by, order = list(by), COMPRESSION_METHODS if "student" in by else TRANSFER_METHODS
    rank = selected[by[-1]].map({m: i for i, m in enumerate(order)})
    frame = selected.assign(_rank=rank, pct=100 * selected.test_acc).sort_values([*by[:-1], "_rank", "seed"])
    table = report.mean_ci_table(frame, by, {"pct": "test accuracy (%)"}, digits=2)
    chosen = frame.groupby(by, sort=False)
    for i, h in enumerate(hyper):
        table.insert(i, h, chosen[h].first().to_numpy())
    table.insert(len(hyper) + 1, "std", chosen["pct"].std().round(2).to_numpy())
    return table.rename(index=LABELS)


def cost_tables(result: RunResult) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A :class:`Cost` result as two tables: ms per step and its ratio to an L2-SP step (per
    network and regularizer), and ms per plan with its relative gap (per ``d`` and solver)."""
    a = result.arrays
    steps = pd.DataFrame({"network": a["network"], "regularizer": a["regularizer"], "ms per step": a["step_ms"]})
    l2sp = steps[steps.regularizer == "l2sp"].set_index("network")["ms per step"]
    steps["× L2-SP"] = steps["ms per step"] / steps.network.map(l2sp)
    return steps, pd.DataFrame({"d": a["d"], "solver": a["solver"], "ms": a["ms"], "relative gap": a["gap"]})


def _trace_columns(frame: pd.DataFrame) -> list[str]:
    """The ``trace_<layer>`` columns of :class:`Finetune` results, shallowest first, without empty ones."""
    cols = [c for c in frame.columns if c.startswith("trace_") and frame[c].notna().any()]
    if not cols:
        raise ValueError(f"Expected `frame` with trace_<layer> columns of Finetune runs, got {list(frame.columns)}")
    return cols


def plot_depth_traces(frame: pd.DataFrame, methods: Sequence[str] = ("none", "l2sp", "omega_p")):
    """Figure 2: trace of the plan between pretrained and fine-tuned representations vs depth."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    cols = _trace_columns(frame)
    long = frame[frame.method.isin(methods)].melt(id_vars=["method", "seed"], value_vars=cols, var_name="layer")
    long["hidden layer"] = long.layer.map({c: i + 1 for i, c in enumerate(cols)})
    long["method"] = long.method.map(LABELS)
    fig, ax = plt.subplots(figsize=(5, 3.4))
    sns.lineplot(data=long, x="hidden layer", y="value", hue="method", marker="o", errorbar=("ci", 95), ax=ax)
    ax.set(xticks=range(1, len(cols) + 1), ylim=(-0.02, 1.02), ylabel="trace of the OT plan")
    ax.set_title("pretrained vs fine-tuned neurons")
    fig.tight_layout()
    return fig


def plot_training_traces(results: Sequence[RunResult]):
    """Figure 3: mean trace of the mini-batch plans of Ω_P over the epochs of :class:`Finetune` runs."""
    from ...plots import plot_over_epochs

    history = pd.concat([r.history.assign(seed=r.params["seed"]) for r in results]).dropna(subset=["plan_trace"])
    return plot_over_epochs(history, ["plan_trace"], titles=["Ω_P: trace of the plan during training"])[0]


def plot_solver_times(frame: pd.DataFrame):
    """Solver time vs number of neurons, log-log; one line style per device when ``frame`` has a
    ``device`` column (:func:`benchmark_tables`)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    style = "device" if "device" in frame.columns and frame["device"].nunique() > 1 else None
    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    sns.lineplot(data=frame, x="d", y="ms", hue="solver", style=style, marker="o", ax=ax)
    ax.set(xscale="log", yscale="log", xlabel="neurons d = d'", ylabel="ms per plan", title="time of one OT plan")
    fig.tight_layout()
    return fig


BENCHMARK = "criteria_step"
"""The benchmark (``benchmarks/criteria_step.py``) whose records the cost section quotes."""
PAPER_D = 2048
"""The paper's number of penalised neurons (ResNet-101's penultimate layer)."""


def _device_label(record: Mapping[str, Any]) -> str:
    prov = record.get("provenance", {})
    return f"{prov.get('device', '?')}, {record.get('threads', '?')} threads"


def benchmark_tables(records: Mapping[str, Mapping[str, Any]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The recorded step-time benchmark (:func:`c2f_utils.evidence.benchmark_records` of
    :data:`BENCHMARK`) as two tables, one block per device.

    ``steps``: per criterion, the median ms of one ResNet-18 training step (batch 64), its
    median ratio to the cross-entropy step of the same round with a 95% bootstrap interval,
    and the issue's target. ``solvers``: per ``d``, the median ms of one plan per solver, the
    proximal solver's steps and row-marginal error before rounding, and its transport cost
    over the exact one.
    """
    if not isinstance(records, Mapping) or not records:
        raise ValueError(f"Expected `records` as a non-empty mapping device -> benchmark record, got {records!r:.80}")
    steps, solvers = [], []
    for device, record in records.items():
        if record.get("benchmark") != BENCHMARK:
            raise ValueError(f"Expected records of benchmark {BENCHMARK!r}, got {record.get('benchmark')!r} ({device})")
        label = _device_label(record)
        for name, row in record["steps"].items():
            ci = row.get("ratio_ci95") or [np.nan, np.nan]
            steps.append(
                {
                    "device": label,
                    "criterion": name,
                    "ms per step": 1e3 * row["median_step_s"],
                    "× CE": row["ratio_to_ce"],
                    "95% CI low": ci[0],
                    "95% CI high": ci[1],
                    "target": row.get("target"),
                    "IPOT steps (median)": row.get("ipot_iterations", {}).get("median"),
                }
            )
        for row in record["solver_vs_d"]:
            for solver, cell in row.items():
                if isinstance(cell, dict):
                    solvers.append(
                        {
                            "device": label,
                            "d": row["d"],
                            "solver": solver,
                            "ms": 1e3 * cell["median_s"],
                            "IPOT steps": cell.get("iterations"),
                            "marginal error": cell.get("marginal_error"),
                            "cost / exact": cell["transport_cost"] / row["exact (POT emd)"]["transport_cost"],
                        }
                    )
    return pd.DataFrame(steps), pd.DataFrame(solvers)


def solver_summary(solvers: pd.DataFrame) -> pd.DataFrame:
    """Per device of :func:`benchmark_tables`' ``solvers``: the smallest ``d`` from which the
    proximal solver is faster than the exact one at every larger recorded ``d``, the range of
    its proximal steps, and its largest relative excess of transport cost over the exact plan's."""
    need = {"device", "d", "solver", "ms", "IPOT steps", "cost / exact"}
    if not isinstance(solvers, pd.DataFrame) or not need <= set(solvers.columns):
        raise ValueError(f"Expected `solvers` from benchmark_tables with columns {sorted(need)}, got {solvers!r:.80}")
    rows = {}
    for device, frame in solvers.groupby("device", sort=False):
        wide = frame.pivot_table(index="d", columns="solver", values="ms").sort_index()
        faster = (wide["proximal (IPOT)"] < wide["exact (POT emd)"]).to_numpy()
        tail = np.flatnonzero(~faster)
        first = len(faster) if len(tail) == 0 else tail[-1] + 1
        prox = frame[frame.solver == "proximal (IPOT)"]
        counts = prox["IPOT steps"].dropna()
        rows[device] = {
            "IPOT faster from d =": str(wide.index[first]) if first < len(wide) else f"not up to {wide.index[-1]}",
            "IPOT steps": f"{int(counts.min())}-{int(counts.max())}" if len(counts) else "not recorded",
            "largest cost / exact - 1": float(prox["cost / exact"].max() - 1),
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("device")


COMPRESS_GRIDS = ("compress_none", "compress", "compress_identity", "compress_kd")


def _compression_results(config: Config) -> list[RunResult]:
    """Every Table 2 run of ``config``."""
    return [r for gid in COMPRESS_GRIDS for r in config.results(gid)]


def permutation_demo(config: Config, n_images: int = 64) -> pd.DataFrame:
    """:func:`~c2f_utils.probes.permutation_probe` of the transfer source network of ``config``
    on ``n_images`` target test images (live or committed runs).

    The probe permutes the neurons of an MLP's feature layer. A profile whose source is the
    ImageNet ResNet-101 (``fgvc_aircraft``) shows it on the quick profile's source MLP
    instead (cached, seconds): a ResNet's pooled channels can be relabelled only by
    permuting its whole last stage.
    """
    from ... import data as c2f_data
    from ... import models as c2f_models
    from ...probes import permutation_probe

    if config["dataset"] in DIGIT_INPUTS:
        source_run = config.runs("transfer")[0].source()
        result = config.result(source_run)
    else:
        source_run = CHAPTER.configure("quick").runs("transfer")[0].source()
        result = source_run.cached()
    source = c2f_models.load_state_arrays(make_model("source", source_run.dataset), result.arrays).eval()
    target_test = c2f_data.class_subset(c2f_data.load(source_run.dataset, "test"), TARGET, relabel=True)
    return permutation_probe(source, target_test.x[:n_images])


def transfer_results(config: Config) -> list[RunResult]:
    """Every Table 1 run of ``config`` (live or committed): the unregularized runs, then L2's
    (its own strengths, the parameter ``l2.alphas``), then the other regularizers'."""
    return config.results("transfer_none") + config.results("transfer_l2") + config.results("transfer")


def depth_figure(config: Config):
    """Figure 2 from the runs of ``config`` (live or committed): :func:`plot_depth_traces` of the
    transfer runs at each method's selected strength (:func:`select_best`)."""
    transfer = results_frame(transfer_results(config))
    return plot_depth_traces(select_best(transfer))


def training_trace_figure(config: Config):
    """Figure 3 from the runs of ``config`` (live or committed): :func:`plot_training_traces` of
    the :math:`\\Omega_P` transfer runs at its selected strength."""
    results = transfer_results(config)
    selected = select_best(results_frame(results))
    alpha = selected[selected.method == "omega_p"].alpha.iloc[0]
    return plot_training_traces([r for r in results if r.params["method"] == "omega_p" and r.params["alpha"] == alpha])


def trace_table(config: Config) -> pd.DataFrame:
    """Figure 2's numbers from the runs of ``config`` (live or committed): for each method at its
    selected strength, the mean plan trace over seeds at each layer, shallowest first, and the
    smallest and largest penultimate-layer trace among its seeds."""
    selected = select_best(results_frame(transfer_results(config)))
    cols = _trace_columns(selected)
    order = [m for m in TRANSFER_METHODS if m in set(selected.method)]
    by_method = selected.groupby("method")
    table = by_method[cols].mean().reindex(order)
    table.insert(0, "alpha", by_method["alpha"].first().reindex(order))
    table["penultimate min"] = by_method[cols[-1]].min().reindex(order)
    table["penultimate max"] = by_method[cols[-1]].max().reindex(order)
    return table.rename(index=LABELS)


def teacher_table(config: Config) -> pd.DataFrame:
    """The compression teacher's test accuracy (%) beside its students trained alone (method
    "none"; mean, smallest and largest over seeds), from the runs of ``config``."""
    teacher = config.result(config.runs(COMPRESS_GRIDS[0])[0].teacher()).metrics["test_acc"]
    alone = results_frame(config.results("compress_none"))
    rows = {"teacher": {"mean": 100 * teacher, "min": 100 * teacher, "max": 100 * teacher, "runs": 1}}
    for student, frame in alone.groupby("student"):
        acc = 100 * frame.test_acc
        rows[f"student {student} alone"] = {"mean": acc.mean(), "min": acc.min(), "max": acc.max(), "runs": len(acc)}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("test accuracy (%)").round(2)


def transfer_table(config: Config) -> pd.DataFrame:
    """Table 1 (:func:`accuracy_table` of the selected strengths) from the runs of ``config``."""
    transfer = results_frame(transfer_results(config))
    return accuracy_table(select_best(transfer), ["method"], ["alpha"])


def compression_table(config: Config) -> pd.DataFrame:
    """Table 2 (:func:`accuracy_table` of the selected strengths) from the runs of ``config``."""
    compression = results_frame(_compression_results(config))
    selected = select_best(compression, by=("student", "method"), hyper=("alpha", "temperature"))
    return accuracy_table(selected, ["student", "method"], ["alpha", "temperature"])
