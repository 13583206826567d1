"""Report of "Label smoothing as an information bottleneck": validity, tables, figures and scorecard.

Reads the runs of :mod:`~c2f_utils.chapters.ls_ib.experiments` (live or committed): the frames
(:func:`plane_frame`, :func:`ib_frame`), the ``plot_*`` figures and their ``*_figure`` of a
configuration, the tables (:func:`plane_table`, :func:`nuisance_table`, :func:`saliency_table`),
:func:`validity` and the :func:`scorecard` (:func:`card` of a configuration).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd

from ... import report
from ...experiments import Config
from ...runs import RunResult, results_frame
from .experiments import resolve_counts_dataset

__all__ = ["ACCURACY_MARGIN", "CHECKS", "GAIN_TOLERANCE", "MAJORITY", "PLANE_TOLERANCE", "PROPOSITION_TRAIN_ACC"]
__all__ += ["card", "ib_figure", "nuisance_figure", "plane_figure", "saliency_figure", "validity"]
__all__ += ["ib_frame", "plane_frame", "plot_ib", "plot_nuisance", "plot_plane", "plot_saliency", "scorecard"]
__all__ += ["nuisance_table", "plane_table", "saliency_table"]

PLANE_TOLERANCE = 0.05
"""Nats: "on the line / at the point" (Figure 3 claims), fixed before the runs (about 2% of H(Y))."""
GAIN_TOLERANCE = 1e-3
"""Nats: the smallest gain over the LS curve counted as a gain (the IB solver's numerical resolution)."""
ACCURACY_MARGIN = 0.01
"""Equivalence margin of the "no accuracy gain" claims: 1 accuracy point, declared before the runs."""


def plane_frame(results: list[RunResult]) -> pd.DataFrame:
    """Figure 3 runs, one row each: ``loss`` (``"ls"``/``"cp"``), ``strength`` (α or β), ``seed``, metrics."""
    frame = results_frame(results)
    return frame.assign(loss=np.where(frame.beta > 0, "cp", "ls"), strength=frame.alpha + frame.beta)


def plot_plane(frame: pd.DataFrame, title: str = ""):
    """Figure 3: the empirical plane of the training set (left) and the test set (right)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), sharex=True, sharey=True)
    ls, cp = frame[frame.loss == "ls"], frame[frame.loss == "cp"]
    for ax, split in zip(axes, ("train", "test"), strict=True):
        h_y = float(frame[f"{split}_h_y"].iloc[0])
        ax.plot([0, h_y, 1.15 * h_y], [0, h_y, h_y], color="k", lw=1.2, label="empirical IB curve")
        sc = ax.scatter(ls[f"{split}_i_xt"], ls[f"{split}_i_ty"], c=ls.strength, cmap="viridis", s=28, zorder=3)
        ax.scatter(cp[f"{split}_i_xt"], cp[f"{split}_i_ty"], marker="x", color="C3", s=40, label="conf. penalty")
        ax.scatter([h_y], [h_y], marker="*", s=160, fc="none", ec="k", zorder=4, label="CE optimum (H(Y), H(Y))")
        ax.set(title=f"{split} set", xlabel="I(X;T) [nats]", ylabel="I(T;Y) [nats]", aspect="equal")
    fig.colorbar(sc, ax=axes, label="label smoothing α", shrink=0.8)
    axes[0].legend(fontsize="small", loc="lower right")
    sns.despine(fig)
    fig.suptitle(title)
    return fig


def ib_frame(result: RunResult) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Figure 4: the solutions with their gain over the LS curve at equal I(X;T) (NaN outside the
    curve's range), the LS curve, and the data's ``h_y``, ``i_xy``, ``n_items``, ``dataset``."""
    a = result.arrays
    order = np.argsort(a["ls_i_xt"])
    inside = (a["i_xt"] >= a["ls_i_xt"].min()) & (a["i_xt"] <= a["ls_i_xt"].max())
    ls_here = np.where(inside, np.interp(a["i_xt"], a["ls_i_xt"][order], a["ls_i_ty"][order]), np.nan)
    solutions = pd.DataFrame({"beta": a["beta"], "i_xt": a["i_xt"], "i_ty": a["i_ty"], "ls_i_ty_same_i_xt": ls_here})
    solutions["gain_over_ls"] = solutions.i_ty - ls_here
    curve = pd.DataFrame({"alpha": a["ls_alpha"], "i_xt": a["ls_i_xt"], "i_ty": a["ls_i_ty"]})
    return solutions, curve, {"dataset": result.params["dataset"], **result.metrics}


def plot_ib(solutions: pd.DataFrame, curve: pd.DataFrame, info: dict[str, Any]):
    """Figure 4: IB-Lagrangian solutions, the LS optimum curve and the DPI bound (right: zoomed)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4))
    xs = np.array([0, info["i_xy"], 1.05 * info["h_y"]])
    for ax in axes:
        ax.plot(xs, np.minimum(xs, info["i_xy"]), color="k", lw=1, ls="--", label="DPI bound min(I(X;T), I(X;Y))")
        ax.plot(curve.i_xt, curve.i_ty, color="C0", lw=1.6, label="LS optimum, α from 0 to 1")
        sc = ax.scatter(solutions.i_xt, solutions.i_ty, c=solutions.beta, cmap="magma", s=26, zorder=3, vmin=0, vmax=1)
        ax.set(
            xlabel="I(X;T) [nats]", ylabel="I(T;Y) [nats]", title=f"{info['dataset']}: {int(info['n_items'])} inputs"
        )
    top = solutions[solutions.i_xt > 0.5 * info["h_y"]]  # right panel: the informative end
    if len(top):
        axes[1].set(xlim=(top.i_xt.min() - 0.05, info["h_y"] + 0.02), ylim=(top.i_ty.min() - 0.05, info["i_xy"] + 0.03))
    fig.colorbar(sc, ax=axes, label="IB Lagrangian β", shrink=0.8)
    axes[0].legend(fontsize="small", loc="lower right")
    sns.despine(fig)
    return fig


def plot_nuisance(frame: pd.DataFrame, raw: float, target_name: str, nuisance_name: str):
    """Figure 6: target accuracy and nuisance-probe accuracy against α (mean ± sd over seeds)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    sns.lineplot(frame, x="alpha", y="target_acc", errorbar="sd", marker="o", ax=axes[0])
    sns.lineplot(frame, x="alpha", y="nuisance_probe_acc", errorbar="sd", marker="o", ax=axes[1], color="C1")
    axes[1].axhline(raw, color="k", ls=":", lw=1, label="probe on raw pixels")
    axes[1].axhline(0.1, color="grey", ls="--", lw=1, label="chance")
    axes[0].set(title=f"{target_name} (the model)", xlabel="label smoothing α", ylabel="test accuracy")
    axes[1].set(title=f"{nuisance_name} from frozen features", xlabel="label smoothing α", ylabel="probe test accuracy")
    axes[1].legend(fontsize="small")
    sns.despine(fig)
    return fig


def plot_saliency(results: list[RunResult], alpha: float):
    """Figures 7-8: each seed's random test sample, then the Grad-CAM maps of CE and of LS ``alpha``
    (drawn from the records: the shown images, their boxes and maps)."""
    import matplotlib.pyplot as plt

    runs = {(r.params["alpha"], r.params["seed"]): r.arrays for r in results}
    seeds = sorted({s for _, s in runs})
    n = len(results[0].arrays["show"])
    fig, axes = plt.subplots(3 * len(seeds), n, figsize=(1.1 * n, 3.5 * len(seeds)), squeeze=False)
    for r, seed in enumerate(seeds):
        ce = runs[(0.0, seed)]
        rows = (("image", None), ("CE", ce["maps"]), (f"LS {alpha:g}", runs[(alpha, seed)]["maps"]))
        for (k, (name, maps)), j in itertools.product(enumerate(rows), range(n)):
            top, left, h, w = ce["boxes"][j].tolist()
            ax = axes[3 * r + k, j]
            ax.imshow(ce["images"][j], cmap="gray")
            if maps is not None:
                ax.imshow(maps[j], cmap="jet", alpha=0.5, vmin=0, vmax=1)
            ax.add_patch(plt.Rectangle((left - 0.5, top - 0.5), w, h, fill=False, ec="lime", lw=0.8))
            ax.set(xticks=[], yticks=[], ylabel=(f"seed {seed}\n{name}" if k == 0 else name) if j == 0 else "")
    fig.tight_layout(pad=0.2)
    return fig


_NUISANCE_NAMES = {"occluded_digits": ("target digit", "occluder digit")}


def nuisance_figure(config: Config):
    """:func:`plot_nuisance` of the Figure 6 runs of ``config`` (live or committed)."""
    dataset = config["nuisance.dataset"]
    names = _NUISANCE_NAMES.get(dataset, ("CIFAR-10 class", "MNIST occluder digit"))
    raw = config.results("raw_nuisance")[0].metrics["nuisance_probe_acc"]
    return plot_nuisance(results_frame(config.results("nuisance")), raw, *names)


def saliency_figure(config: Config):
    """:func:`plot_saliency` of the Figures 7-8 runs of ``config`` (live or committed)."""
    return plot_saliency(config.results("saliency"), max(config["saliency.alphas"]))


_NO_COMPARISON = report.not_tested("no IB solution in the LS curve's range")

PROPOSITION_TRAIN_ACC = 0.99
"""Training accuracy Propositions 4.4-4.5 assume (a model that fits its training labels): below it
the Figure 3 runs are outside the propositions' hypothesis and their claims are not tested."""
MAJORITY = 0.12
"""Largest class share of the ten digit or object classes (every dataset of the chapter), an upper bound."""
CHECKS: dict[str, tuple[report.Check, ...]] = {
    "plane": (report.at_least("train_acc", PROPOSITION_TRAIN_ACC, "train acc"),),
    "nuisance": (report.above_majority("target_acc", MAJORITY),),
    "saliency": (report.above_majority("test_acc", MAJORITY),),
}
"""What a working run is, per group: Figure 3's fit their training labels (the propositions'
hypothesis); Figures 6-8's classify their held-out target above the majority class."""


def validity(results: list[RunResult], group: str) -> report.Validity:
    """:data:`CHECKS` ``[group]`` on ``results`` (:func:`c2f_utils.report.valid_runs`)."""

    def label(r: RunResult) -> str:
        strength = f"β={r.params['beta']:g}" if r.params.get("beta") else f"α={r.params['alpha']:g}"
        return f"{strength} seed {r.params['seed']}"

    return report.valid_runs(results, CHECKS[group], label=label)


_CLAIM = {
    "ce": "CE reaches (H(Y), H(Y)) on the training set: distance < {tol} nats (Prop. 4.4, Fig. 3)",
    "line": "LS solutions lie on the IB line I(T;Y) = I(X;T): largest gap over α < {tol} nats (Prop. 4.5, Fig. 3)",
    "optimum": "each LS model reaches the LS optimum's I(X;T): largest distance over α < {tol} nats (Prop. 4.5)",
    "ib": "with contradicting labels, IB solutions beat the LS optimum: largest gain in I(T;Y), nats (§5.2.2, Fig. 4)",
    "nuisance": "LS (α={alpha:g} vs 0) removes nuisance information from the penultimate features (§5.3.1, Fig. 6)",
    "accuracy": "LS (α={alpha:g} vs 0) gives no accuracy gain on the occluded task: within ±{margin:g} (§5.3.1)",
    "saliency": "LS puts more Grad-CAM saliency on the original digit than CE: share in the digit's box (§5.3.2)",
    "clutter_acc": "CE and LS reach the same accuracy on cluttered digits: within ±{margin:g} (§5.3.2)",
    "digit1": "{model}: the saliency of digit 1 spreads beyond the digit more than for other digits (App. A.4)",
}
_PAPER_SAYS = {
    "ce": "Fig. 3: CE at (H(Y), H(Y)) on CIFAR-10 and Flowers-102 (no number)",
    "line": "Fig. 3: all LS points on the line (no number)",
    "optimum": "implied by Prop. 4.5 under Assumption 4.3 (not plotted)",
    "ib": "Fig. 4: solutions above the LS curve on CIFAR-10H (no number)",
    "nuisance": "Fig. 6: MNIST probe accuracy falls markedly with α (no number in the text)",
    "accuracy": "Fig. 6: CIFAR-10 accuracy flat in α",
    "saliency": "Fig. 7-8: CE attends to the clutter, LS to the original digit (maps only)",
    "clutter_acc": "CE 97.99 %, LS 98.05 % (Cluttered MNIST, ResNet-20)",
    "digit1": "Fig. 8: digit-1 maps cover the whole image, more so with LS",
}


def plane_figure(config: Config):
    """:func:`plot_plane` of the Figure 3 runs of ``config`` (live or committed)."""
    plane = plane_frame(config.results("plane") + config.results("plane_cp"))
    return plot_plane(plane, f"{config.profile}: {config['plane.dataset']}, {len(config['seeds'])} seeds")


_PLANE_COLUMNS = {
    "train_acc": "train accuracy",
    "train_i_xt": "train I(X;T)",
    "train_i_ty": "train I(T;Y)",
    "train_ls_optimum": "LS optimum",
    "test_i_xt": "test I(X;T)",
    "test_i_ty": "test I(T;Y)",
    "test_acc": "test accuracy",
}
_NUISANCE_COLUMNS = {
    "train_acc": "train accuracy",
    "target_acc": "target accuracy",
    "nuisance_probe_acc": "nuisance probe (test)",
    "nuisance_probe_train_acc": "nuisance probe (train)",
}
_SALIENCY_COLUMNS = {"train_acc": "train accuracy", "test_acc": "test accuracy", "box_mass": "share in the box"}


def plane_table(config: Config) -> pd.DataFrame:
    """Figure 3's runs of ``config`` (live or committed), mean ± 95% CI over seeds per criterion
    (``loss``: ls or cp) and strength: training accuracy, the planes and the LS optimum's I(X;T)."""
    frame = plane_frame(config.results("plane") + config.results("plane_cp"))
    columns = {"ls": _PLANE_COLUMNS, "cp": {k: v for k, v in _PLANE_COLUMNS.items() if k != "train_ls_optimum"}}
    parts = {
        loss: report.mean_ci_table(frame[frame.loss == loss], "strength", cols)
        for loss, cols in columns.items()
        if (frame.loss == loss).any()
    }
    table = pd.concat(parts, names=["loss"])
    return table[[*_PLANE_COLUMNS.values(), "seeds"]].fillna("—")


def nuisance_table(config: Config) -> pd.DataFrame:
    """Figure 6's runs of ``config`` (live or committed), mean ± 95% CI over seeds per α."""
    return report.mean_ci_table(results_frame(config.results("nuisance")), "alpha", _NUISANCE_COLUMNS)


def saliency_table(config: Config) -> pd.DataFrame:
    """Figures 7-8's runs of ``config`` (live or committed), mean ± 95% CI over seeds per α:
    accuracies, the share of saliency in the digit's box, and that share per digit."""
    per_digit = {f"box_mass_{c}": f"digit {c}" for c in range(10)}
    frame = results_frame(config.results("saliency"))
    return report.mean_ci_table(frame, "alpha", {**_SALIENCY_COLUMNS, **per_digit})


def ib_figure(config: Config):
    """:func:`plot_ib` of the Figure 4 run of ``config`` (live or committed)."""
    return plot_ib(*ib_frame(config.results("ib")[0]))


def card(config: Config) -> pd.DataFrame:
    """:func:`scorecard` of the valid runs of ``config`` (live or committed), listing the others."""
    checked = {
        "plane": validity(config.results("plane") + config.results("plane_cp"), "plane"),
        "nuisance": validity(config.results("nuisance"), "nuisance"),
        "saliency": validity(config.results("saliency"), "saliency"),
    }
    valid_plane = checked["plane"].valid
    plane = plane_frame(valid_plane) if valid_plane else pd.DataFrame()
    nuisance = results_frame(checked["nuisance"].valid)
    saliency = results_frame(checked["saliency"].valid)
    run = bool(config.results("saliency"))
    return scorecard(plane, ib_frame(config.results("ib")[0])[0], nuisance, saliency, config, checked, run)


def _claim(
    cid: str, finding: report.Finding, where: str, validity: report.Validity | None = None, **fmt: Any
) -> report.Claim:
    text = _CLAIM[cid].format(tol=PLANE_TOLERANCE, margin=ACCURACY_MARGIN, **fmt)
    return report.Claim(text, finding, where, _PAPER_SAYS[cid], validity)


def scorecard(
    plane: pd.DataFrame,
    ib: pd.DataFrame,
    nuisance: pd.DataFrame,
    saliency: pd.DataFrame,
    config: Config,
    validity: dict[str, report.Validity] | None = None,
    saliency_run: bool | None = None,
):
    """Claims, the paper's figure or number, ours and the verdict (:mod:`c2f_utils.report`).

    Declared before the runs: :data:`PLANE_TOLERANCE`, :data:`GAIN_TOLERANCE`, :data:`ACCURACY_MARGIN`,
    and what a working run is (:data:`CHECKS`). The frames hold the valid runs only; ``validity``
    (per group) lists every run with why it was excluded. Runs of different α share their seed and
    are compared paired; "no accuracy gain" compares CE with the largest α of the sweep
    (pre-declared, never the best α on the test set). ``ib`` is :func:`ib_frame`'s solutions;
    ``saliency`` is empty when Figures 7-8 did not run (``saliency_run``, default: not empty).
    """
    seeds, profile = config["seeds"], config.profile
    checked = validity or {}
    plane = plane if len(plane) else pd.DataFrame(columns=["loss", "strength", "seed", "alpha", "beta"])
    ls = plane[plane.loss == "ls"].sort_values("seed")
    ce = ls[ls.strength == 0]
    ce_dist = np.maximum(abs(ce.train_i_xt - ce.train_h_y), abs(ce.train_i_ty - ce.train_h_y)) if len(ce) else []
    off_line = (ls.train_i_xt - ls.train_i_ty).groupby(ls.seed).max() if len(ls) else []
    off_optimum = (ls.train_i_xt - ls.train_ls_optimum).abs().groupby(ls.seed).max() if len(ls) else []
    gains, ib_data = ib.gain_over_ls.dropna(), resolve_counts_dataset(config["ib.dataset"])
    ib_finding = report.deterministic(gains.max(), at_least=GAIN_TOLERANCE) if len(gains) else _NO_COMPARISON
    at, at_nuisance = (report.where(profile, config[f"{g}.dataset"], seeds) for g in ("plane", "nuisance"))
    alpha = max(config["nuisance.alphas"])
    less = report.less
    pairs = {m: report.compare(less, nuisance, m, "alpha", alpha, 0.0) for m in ("nuisance_probe_acc",)}
    accuracy = report.compare(report.equivalent, nuisance, "target_acc", "alpha", alpha, 0.0, margin=ACCURACY_MARGIN)
    on_plane = checked.get("plane")
    plane_ce, plane_ls = (
        (None, None) if on_plane is None else (on_plane.where(alpha=0.0, beta=0.0), on_plane.where(beta=0.0))
    )
    on_nuisance = None if "nuisance" not in checked else checked["nuisance"].where(alpha=(0.0, alpha))
    claims = [
        _claim("ce", report.judge(less, ce_dist, value=PLANE_TOLERANCE, paired=False), at, plane_ce),
        _claim("line", report.judge(less, off_line, value=PLANE_TOLERANCE, paired=False), at, plane_ls),
        _claim("optimum", report.judge(less, off_optimum, value=PLANE_TOLERANCE, paired=False), at, plane_ls),
        _claim("ib", ib_finding, report.where(profile, ib_data, [0]) + " (deterministic: one run)"),
        _claim("nuisance", pairs["nuisance_probe_acc"], at_nuisance, on_nuisance, alpha=alpha),
        _claim("accuracy", accuracy, at_nuisance, on_nuisance, alpha=alpha),
    ]
    run = (not saliency.empty) if saliency_run is None else saliency_run
    return report.scorecard(claims + _saliency_claims(saliency, config, run, checked.get("saliency")))


def _saliency_claims(
    frame: pd.DataFrame, config: Config, run: bool, validity: report.Validity | None
) -> list[report.Claim]:
    if not run:
        not_run = report.not_tested("not run in this profile (saliency.alphas = [])")
        return [_claim("saliency", not_run, f"{config.profile}; {config['saliency.dataset']}")]
    alpha, seeds = max(config["saliency.alphas"]), config["seeds"]
    at = report.where(config.profile, config["saliency.dataset"], seeds) + f"; LS α={alpha:g}"
    frame = frame.sort_values("seed") if len(frame) else frame
    claims = [
        _claim("saliency", report.compare(report.greater, frame, "box_mass", "alpha", alpha, 0.0), at, validity),
        _claim(
            "clutter_acc",
            report.compare(report.equivalent, frame, "test_acc", "alpha", alpha, 0.0, margin=ACCURACY_MARGIN),
            at,
            validity,
        ),
    ]
    others = [f"box_mass_{c}" for c in range(10) if c != 1]
    for model, a in (("CE", 0.0), ("LS", alpha)):
        g = frame[frame.alpha == a] if len(frame) else frame
        one = None if validity is None else validity.where(alpha=a)
        found = report.judge(
            report.less, g.box_mass_1 if len(g) else [], g[others].mean(axis=1) if len(g) else [], paired=True
        )
        claims.append(_claim("digit1", found, at, one, model=model))
    return claims
