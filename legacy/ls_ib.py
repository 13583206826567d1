"""Chapter "Label smoothing as an information bottleneck" (Kudo, TMLR 2025).

Four experiments, each a cached run per (setting, seed):

- :func:`plane_run` (Figure 3): train with label smoothing (or the confidence penalty)
  and place the outputs on the exact empirical information plane of the training and
  test sets;
- :func:`ib_run` (Figure 4): IB-Lagrangian solutions on a dataset with several labels
  per input (CIFAR-10H or its synthetic stand-in) against the LS optimum curve;
- :func:`nuisance_run` (Figure 6): target accuracy and the accuracy of a linear probe
  that reads the occluder's digit (a nuisance) from the frozen penultimate features;
- :func:`saliency_run` (Figures 7-8): Grad-CAM maps on cluttered digits and the share
  of their mass on the original digit.

The plotting helpers and the scorecard live here too; the notebook only calls them.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from .. import data as c2f_data
from ..losses import ConfidencePenalty
from ..models import MLP, LeNet5, cifar_resnet
from ..probes import (
    box_area_fraction,
    box_mass,
    gradcam_maps,
    ib_lagrangian,
    info_plane,
    label_information,
    linear_probe,
    ls_info_plane,
)
from ..runs import RunOutput, cached_run, format_mean_ci, mean_ci
from ..train import TrainConfig, crop_flip, extract_features, fit, seed_everything
from . import ChapterSpec, Param, register

__all__ = [
    "SPEC",
    "ib_frame",
    "ib_run",
    "nuisance_frame",
    "nuisance_run",
    "plane_frame",
    "plane_run",
    "plot_ib",
    "plot_nuisance",
    "plot_plane",
    "plot_saliency",
    "resolve_counts_dataset",
    "saliency_class_table",
    "saliency_frame",
    "saliency_run",
    "scorecard",
]

_TENTHS = [round(0.1 * i, 1) for i in range(10)]

SPEC = register(
    ChapterSpec(
        name="ls_ib",
        source="ls_ib.md",
        title="Label smoothing as an information bottleneck",
        params={
            "dataset": Param(
                "str",
                "auto",
                "cifar10h",
                "Figure 4 labels: 'cifar10h' (real counts), 'annotator_counts' (synthetic), "
                "'auto' (cifar10h when its file is in the data folder, else synthetic)",
                ("auto", "cifar10h", "annotator_counts"),
            ),
            "plane_dataset": Param("str", "digits", "cifar10", "Figure 3 data", ("digits", "cifar10")),
            "nuisance_dataset": Param(
                "str", "occluded_digits", "occluded_cifar", "Figure 6 data", ("occluded_digits", "occluded_cifar")
            ),
            "clutter_dataset": Param(
                "str",
                "cluttered_digits",
                "cluttered_mnist",
                "Figures 7-8 data",
                ("cluttered_digits", "cluttered_mnist"),
            ),
            "seeds": Param("list[int]", [0, 1, 2], [0, 1, 2, 3, 4], "training (and solver) seeds"),
            "device": Param("str", "cpu", "auto", "'cpu', 'cuda' or 'auto'"),
            "alphas": Param("list[float]", _TENTHS, _TENTHS, "label-smoothing strengths of Figure 3"),
            "cp_betas": Param("list[float]", [0.5, 2.0], [0.5, 1.0, 2.0], "confidence-penalty weights (Fig. 3)"),
            "nuisance_alphas": Param("list[float]", [0.0, 0.8], _TENTHS, "label-smoothing strengths of Figure 6"),
            "saliency_alpha": Param("float", 0.1, 0.1, "label smoothing compared with CE in Figures 7-8"),
            "run_saliency": Param(
                "bool", False, True, "run Figures 7-8 (LeNet-5 on cluttered digits needs more than the quick budget)"
            ),
            "ib_betas": Param(
                "list[float]",
                [round(0.1 * i, 1) for i in range(11)],
                [round(0.1 * i, 1) for i in range(11)],
                "IB betas",
            ),
            "ib_steps": Param("int", 100, 3000, "Adam steps per beta of the IB-Lagrangian solver"),
            "epochs": Param("int", 30, 160, "training epochs (Figures 3, 6, 7)"),
            "optimizer": Param("str", "adam", "sgd", "'sgd' (momentum 0.9) or 'adam'", ("sgd", "adam")),
            "lr": Param("float", 0.005, 0.1, "initial learning rate"),
            "batch_size": Param("int", 128, 128, "mini-batch size"),
            "augment": Param("bool", False, True, "random crop and flip on CIFAR images (Figures 3 and 6)"),
            "n_show": Param("int", 8, 20, "saliency maps shown per seed (Figures 7-8)"),
        },
    )
)


# --------------------------------------------------------------------------- shared pieces


@lru_cache(maxsize=8)
def _load(name: str, split: str) -> c2f_data.LabeledData:
    """Each dataset split is generated or decoded once per process (the runs share it)."""
    return c2f_data.load(name, split)


def _model(dataset: str, n_classes: int = 10) -> tuple[nn.Module, nn.Module | None]:
    """The network of each dataset and its Grad-CAM layer (None for MLPs)."""
    if dataset == "digits":
        return MLP(64, n_classes, hidden=(256,), feature_dim=128), None
    if dataset == "occluded_digits":
        return MLP(3 * 16 * 16, n_classes, hidden=(256,), feature_dim=128), None
    if dataset == "cluttered_digits":
        model = LeNet5(n_classes, in_channels=1)
        return model, model.conv2
    if dataset == "cluttered_mnist":
        model = cifar_resnet(20, n_classes, in_channels=1)  # the paper's ResNet-20
        return model, model.stages[-1]
    model = cifar_resnet(56, n_classes)  # CIFAR-10 and Occluded CIFAR: the paper's ResNet-56
    return model, model.stages[-1]


def _criterion(loss: str, strength: float) -> nn.Module:
    if loss == "ls":
        return nn.CrossEntropyLoss(label_smoothing=strength)  # Eq. 2-3 with r(T) uniform
    if loss == "cp":
        return ConfidencePenalty(strength)
    raise ValueError(f"Expected `loss` in ['ls', 'cp'], got {loss!r}")


def _train(
    dataset: str,
    train: c2f_data.LabeledData,
    criterion: nn.Module,
    seed: int,
    epochs: int,
    optimizer: str,
    lr: float,
    batch_size: int,
    augment: bool,
    device: str,
) -> tuple[nn.Module, nn.Module | None]:
    seed_everything(seed)
    model, layer = _model(dataset, train.n_classes())
    config = TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        optimizer=optimizer,
        lr=lr,
        momentum=0.9,
        weight_decay=0.0,  # the paper removes weight decay
        schedule="multistep" if optimizer == "sgd" else "cosine",
        milestones=(epochs // 2, 3 * epochs // 4) if optimizer == "sgd" else (),  # 80 and 120 of 160
        seed=seed,
        device=device,
    )
    colour = train.x.shape[1] == 3
    fit(model, (train.x, train.fine), criterion, config, transform=crop_flip() if augment and colour else None)
    return model, layer


def _probs(model: nn.Module, x: Tensor, device: str) -> Tensor:
    return torch.softmax(extract_features(model, x, device=device).logits.double(), dim=1)


# --------------------------------------------------------------------------- Figure 3


def plane_run(
    dataset: str,
    loss: str,
    strength: float,
    seed: int,
    epochs: int,
    optimizer: str,
    lr: float,
    batch_size: int,
    augment: bool,
    device: str,
) -> RunOutput:
    """Train with LS (``loss="ls"``, ``strength`` = alpha) or the confidence penalty
    (``"cp"``, ``strength`` = beta); the exact plane points of the train and test sets."""
    train, test = _load(dataset, "train"), _load(dataset, "test")
    model, _ = _train(
        dataset, train, _criterion(loss, strength), seed, epochs, optimizer, lr, batch_size, augment, device
    )
    metrics: dict[str, float] = {}
    for split, d in (("train", train), ("test", test)):
        probs = _probs(model, d.x, device)
        point = info_plane(probs, d.fine)
        metrics[f"{split}_i_xt"], metrics[f"{split}_i_ty"] = point
        metrics[f"{split}_h_y"] = label_information(d.fine, 10).i_xt
        metrics[f"{split}_acc"] = float((probs.argmax(1) == d.fine).double().mean())
        if loss == "ls":
            metrics[f"{split}_ls_optimum"] = ls_info_plane(strength, torch.bincount(d.fine, minlength=10)).i_xt
    return RunOutput(metrics=metrics)


def plane_frame(P: dict[str, Any]) -> pd.DataFrame:
    """All Figure 3 runs (LS for each alpha, CP for each beta, every seed), one row per run."""
    common = {k: P[k] for k in ("epochs", "optimizer", "lr", "batch_size", "augment", "device")}
    grid = [("ls", a) for a in P["alphas"]] + [("cp", b) for b in P["cp_betas"]]
    rows = []
    for loss, strength in grid:
        for seed in P["seeds"]:
            params = {"dataset": P["plane_dataset"], "loss": loss, "strength": strength, "seed": seed, **common}
            res = cached_run("ls_ib.plane", plane_run, params)
            rows.append({"loss": loss, "strength": strength, "seed": seed, **res.metrics})
    return pd.DataFrame(rows)


def plot_plane(frame: pd.DataFrame, title: str = ""):
    """Figure 3: the empirical plane of the training set (left) and the test set (right)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), sharex=True, sharey=True)
    ls = frame[frame.loss == "ls"]
    cp = frame[frame.loss == "cp"]
    for ax, split in zip(axes, ("train", "test"), strict=True):
        h_y = float(frame[f"{split}_h_y"].iloc[0])
        xs = np.linspace(0, 1.15 * h_y, 50)
        ax.plot(xs, np.minimum(xs, h_y), color="k", lw=1.2, label="empirical IB curve")
        sc = ax.scatter(ls[f"{split}_i_xt"], ls[f"{split}_i_ty"], c=ls.strength, cmap="viridis", s=28, zorder=3)
        ax.scatter(
            cp[f"{split}_i_xt"], cp[f"{split}_i_ty"], marker="x", color="C3", s=40, zorder=3, label="confidence penalty"
        )
        ax.scatter(
            [h_y], [h_y], marker="*", s=160, facecolor="none", edgecolor="k", zorder=4, label="CE optimum (H(Y), H(Y))"
        )
        ax.set(title=f"{split} set", xlabel="I(X;T) [nats]", ylabel="I(T;Y) [nats]", aspect="equal")
    fig.colorbar(sc, ax=axes, label="label smoothing α", shrink=0.8)
    axes[0].legend(fontsize="small", loc="lower right")
    sns.despine(fig)
    if title:
        fig.suptitle(title)
    return fig


# --------------------------------------------------------------------------- Figure 4


def resolve_counts_dataset(name: str) -> str:
    """``"auto"`` -> ``"cifar10h"`` when its file is in the data folder, else ``"annotator_counts"``."""
    if name != "auto":
        return name
    try:
        c2f_data.load("cifar10h", "test", download=False)
    except c2f_data.DatasetNotFoundError:
        return "annotator_counts"
    return "cifar10h"


def ib_run(dataset: str, betas: list[float], steps: int, seed: int, device: str) -> RunOutput:
    """IB-Lagrangian solutions (Adam on an ``N x K`` logit matrix, paper §5.2.2) and the LS curve.

    The solver starts near the soft labels (``init="labels"``, seeded noise) and solves
    the betas in increasing order, each from the previous solution.
    """
    d = c2f_data.load(dataset, "all" if dataset == "annotator_counts" else "test")
    counts = d.meta["counts"]
    sols = ib_lagrangian(
        counts,
        sorted(betas),
        steps=steps,
        lr=0.1,
        init="labels",
        init_scale=0.5,
        warm_start=True,
        seed=seed,
        device=device,
    )
    alphas = np.linspace(0, 1, 101)
    ls = np.array([tuple(ls_info_plane(float(a), counts)) for a in alphas])
    ceiling = label_information(counts)
    return RunOutput(
        metrics={"h_y": ceiling.i_xt, "i_xy": ceiling.i_ty, "n_items": len(counts)},
        arrays={
            "beta": np.array([s.beta for s in sols]),
            "i_xt": np.array([s.i_xt for s in sols]),
            "i_ty": np.array([s.i_ty for s in sols]),
            "ls_alpha": alphas,
            "ls_i_xt": ls[:, 0],
            "ls_i_ty": ls[:, 1],
        },
    )


def _ls_at(i_xt: np.ndarray, ls_i_xt: np.ndarray, ls_i_ty: np.ndarray) -> np.ndarray:
    """The LS curve's I(T;Y) at the given I(X;T) (NaN outside the curve's range)."""
    order = np.argsort(ls_i_xt)
    inside = (i_xt >= ls_i_xt.min()) & (i_xt <= ls_i_xt.max())
    return np.where(inside, np.interp(i_xt, ls_i_xt[order], ls_i_ty[order]), np.nan)


def ib_frame(P: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, float]]:
    """Figure 4 runs: solutions per (seed, beta) with their gap over LS, the LS curve, and H(Y), I(X;Y)."""
    dataset = resolve_counts_dataset(P["dataset"])
    rows, curve, info = [], None, {}
    for seed in P["seeds"]:
        params = {
            "dataset": dataset,
            "betas": P["ib_betas"],
            "steps": P["ib_steps"],
            "seed": seed,
            "device": P["device"],
        }
        res = cached_run("ls_ib.ib", ib_run, params)
        a = res.arrays
        ls_here = _ls_at(a["i_xt"], a["ls_i_xt"], a["ls_i_ty"])
        for b, x, y, ly in zip(a["beta"], a["i_xt"], a["i_ty"], ls_here, strict=True):
            rows.append(
                {"seed": seed, "beta": b, "i_xt": x, "i_ty": y, "ls_i_ty_same_i_xt": ly, "gain_over_ls": y - ly}
            )
        curve = pd.DataFrame({"alpha": a["ls_alpha"], "i_xt": a["ls_i_xt"], "i_ty": a["ls_i_ty"]})
        info = {"dataset": dataset, **res.metrics}
    return pd.DataFrame(rows), curve, info


def plot_ib(solutions: pd.DataFrame, curve: pd.DataFrame, info: dict[str, Any]):
    """Figure 4: IB-Lagrangian solutions, the LS optimum curve and the DPI bound."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4))
    xs = np.linspace(0, 1.05 * info["h_y"], 100)
    for ax, zoom in zip(axes, (False, True), strict=True):
        ax.plot(xs, np.minimum(xs, info["i_xy"]), color="k", lw=1, ls="--", label="DPI bound min(I(X;T), I(X;Y))")
        ax.plot(curve.i_xt, curve.i_ty, color="C0", lw=1.6, label="LS optimum, α from 0 to 1")
        sc = ax.scatter(solutions.i_xt, solutions.i_ty, c=solutions.beta, cmap="magma", s=26, zorder=3, vmin=0, vmax=1)
        ax.set(xlabel="I(X;T) [nats]", ylabel="I(T;Y) [nats]")
        if zoom:
            top = solutions[solutions.i_xt > 0.5 * info["h_y"]]
            if len(top):
                ax.set(
                    xlim=(top.i_xt.min() - 0.05, info["h_y"] + 0.02), ylim=(top.i_ty.min() - 0.05, info["i_xy"] + 0.03)
                )
            ax.set_title("zoom on the informative end")
        else:
            ax.set_title(f"{info['dataset']}: {int(info['n_items'])} inputs")
    fig.colorbar(sc, ax=axes, label="IB Lagrangian β", shrink=0.8)
    axes[0].legend(fontsize="small", loc="lower right")
    sns.despine(fig)
    return fig


# --------------------------------------------------------------------------- Figure 6


def nuisance_run(
    dataset: str,
    alpha: float,
    seed: int,
    epochs: int,
    optimizer: str,
    lr: float,
    batch_size: int,
    augment: bool,
    device: str,
) -> RunOutput:
    """Target accuracy with LS ``alpha`` and a linear probe of the nuisance (the occluder's digit)
    trained on the frozen penultimate features of the training set, scored on the test set."""
    train, test = _load(dataset, "train"), _load(dataset, "test")
    model, _ = _train(dataset, train, _criterion("ls", alpha), seed, epochs, optimizer, lr, batch_size, augment, device)
    tr = extract_features(model, train.x, device=device)
    te = extract_features(model, test.x, device=device)
    probe = linear_probe(tr.features, train.meta["nuisance"], te.features, test.meta["nuisance"], seed=seed)
    return RunOutput(
        metrics={
            "target_acc": float((te.logits.argmax(1) == test.fine).float().mean()),
            "nuisance_probe_acc": probe.test_score,
            "nuisance_probe_train_acc": probe.train_score,
        }
    )


def nuisance_frame(P: dict[str, Any]) -> tuple[pd.DataFrame, float]:
    """Figure 6 runs, and the nuisance probe's accuracy on the raw pixels for reference."""
    common = {k: P[k] for k in ("epochs", "optimizer", "lr", "batch_size", "augment", "device")}
    rows = []
    for alpha in P["nuisance_alphas"]:
        for seed in P["seeds"]:
            params = {"dataset": P["nuisance_dataset"], "alpha": alpha, "seed": seed, **common}
            res = cached_run("ls_ib.nuisance", nuisance_run, params)
            rows.append({"alpha": alpha, "seed": seed, **res.metrics})
    train, test = _load(P["nuisance_dataset"], "train"), _load(P["nuisance_dataset"], "test")
    raw = linear_probe(
        train.x.flatten(1), train.meta["nuisance"], test.x.flatten(1), test.meta["nuisance"], max_train=5000
    ).test_score
    return pd.DataFrame(rows), raw


def plot_nuisance(frame: pd.DataFrame, raw: float, target_name: str, nuisance_name: str):
    """Figure 6: target accuracy and nuisance-probe accuracy against alpha (mean ± sd over seeds)."""
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


# --------------------------------------------------------------------------- Figures 7-8


def saliency_run(
    dataset: str,
    alpha: float,
    seed: int,
    epochs: int,
    optimizer: str,
    lr: float,
    batch_size: int,
    n_show: int,
    device: str,
) -> RunOutput:
    """Train on cluttered digits with LS ``alpha`` (0: CE); Grad-CAM of the true class on every
    test image; the share of saliency inside the original digit's box, overall and per class."""
    train, test = _load(dataset, "train"), _load(dataset, "test")
    model, layer = _train(
        dataset, train, _criterion("ls", alpha), seed, epochs, optimizer, lr, batch_size, False, device
    )
    logits = extract_features(model, test.x, device=device).logits
    maps = gradcam_maps(model, test.x, layer, test.fine)
    mass = box_mass(maps, test.meta["box"])
    show = np.random.default_rng(seed).choice(len(test), n_show, replace=False)
    metrics = {
        "test_acc": float((logits.argmax(1) == test.fine).float().mean()),
        "box_mass": float(np.nanmean(mass)),
        "empty_maps": int(np.isnan(mass).sum()),
        "box_area": float(box_area_fraction(test.meta["box"], *test.x.shape[-2:]).mean()),
    }
    for c in range(10):
        metrics[f"box_mass_{c}"] = float(np.nanmean(mass[test.fine.numpy() == c]))
    return RunOutput(metrics=metrics, arrays={"show": show, "maps": maps[show].astype(np.float32)})


def saliency_frame(P: dict[str, Any]) -> tuple[pd.DataFrame, dict[tuple[float, int], np.ndarray]]:
    """Figures 7-8 runs for CE and LS(saliency_alpha); per-run metrics and the shown maps."""
    common = {k: P[k] for k in ("epochs", "optimizer", "lr", "batch_size", "n_show", "device")}
    rows, shown = [], {}
    for alpha in (0.0, P["saliency_alpha"]):
        for seed in P["seeds"]:
            params = {"dataset": P["clutter_dataset"], "alpha": alpha, "seed": seed, **common}
            res = cached_run("ls_ib.saliency", saliency_run, params)
            rows.append({"alpha": alpha, "seed": seed, **res.metrics})
            shown[(alpha, seed)] = (res.arrays["show"], res.arrays["maps"])
    return pd.DataFrame(rows), shown


def saliency_class_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Saliency mass on the digit per class (mean ± 95% CI over seeds), CE vs LS: the digit-1 caveat."""
    out = {}
    for alpha, group in frame.groupby("alpha"):
        label = "CE" if alpha == 0 else f"LS α={alpha:g}"
        out[label] = [format_mean_ci(*mean_ci(group[f"box_mass_{c}"])) for c in range(10)]
    return pd.DataFrame(out, index=pd.Index(range(10), name="digit"))


def plot_saliency(shown: dict[tuple[float, int], tuple[np.ndarray, np.ndarray]], dataset: str, alpha: float):
    """Figures 7-8: the images, then the Grad-CAM maps of CE and LS, for each seed's random sample."""
    import matplotlib.pyplot as plt

    test = _load(dataset, "test")
    seeds = sorted({s for _, s in shown})
    n = len(next(iter(shown.values()))[0])
    fig, axes = plt.subplots(3 * len(seeds), n, figsize=(1.1 * n, 3.5 * len(seeds)), squeeze=False)
    for r, seed in enumerate(seeds):
        idx, ce = shown[(0.0, seed)]
        _, ls = shown[(alpha, seed)]
        for j, i in enumerate(idx):
            img = test.x[i, 0].numpy()
            t, left, h, w = test.meta["box"][i].tolist()
            for k, (overlay, name) in enumerate(((None, "image"), (ce[j], "CE"), (ls[j], f"LS {alpha:g}"))):
                ax = axes[3 * r + k, j]
                ax.imshow(img, cmap="gray")
                if overlay is not None:
                    ax.imshow(overlay, cmap="jet", alpha=0.5, vmin=0, vmax=1)
                ax.add_patch(plt.Rectangle((left - 0.5, t - 0.5), w, h, fill=False, ec="lime", lw=0.8))
                ax.set_xticks([])
                ax.set_yticks([])
                if j == 0:
                    ax.set_ylabel(f"seed {seed}\n{name}" if k == 0 else name, fontsize="small")
    fig.tight_layout(pad=0.2)
    return fig


# --------------------------------------------------------------------------- scorecard


def _verdict_less(lower: tuple[float, float], upper: tuple[float, float]) -> str:
    """Reproduced when the interval of ``lower`` ends below the interval of ``upper``."""
    lo = lower[0] + (0.0 if math.isnan(lower[1]) else lower[1])
    hi = upper[0] - (0.0 if math.isnan(upper[1]) else upper[1])
    if lo < hi:
        return "reproduced"
    if lower[0] < upper[0]:
        return "partly (intervals overlap)"
    return "not reproduced"


def scorecard(
    plane: pd.DataFrame,
    ib: pd.DataFrame,
    ib_info: dict[str, Any],
    nuisance: pd.DataFrame,
    saliency: pd.DataFrame | None,
    P: dict[str, Any],
    tolerance: float = 0.05,
) -> pd.DataFrame:
    """The chapter's claims, the paper's figure or number, ours (mean ± 95% CI over seeds) and a verdict.

    "On the line / at the point" means within ``tolerance`` nats (fixed before the runs:
    a few percent of H(Y)). A difference counts as established when the two 95%
    intervals do not overlap.
    """
    profile = P["profile"]
    scale = "" if profile == "paper" else " (paper scale not tested)"
    rows = []

    def ci(values) -> tuple[float, float]:
        return mean_ci(np.asarray(values, dtype=float))

    ls = plane[plane.loss == "ls"]
    ce = ls[ls.strength == 0]
    h_y = float(plane.train_h_y.iloc[0])
    ce_x, ce_y = ci(ce.train_i_xt), ci(ce.train_i_ty)
    ok = abs(ce_x[0] - h_y) < tolerance and abs(ce_y[0] - h_y) < tolerance
    rows.append(
        {
            "claim": "CE reaches empirical minimal sufficiency (H(Y), H(Y)) on the training set (Prop. 4.4, Fig. 3)",
            "paper": "Fig. 3: CE at (H(Y), H(Y)) on CIFAR-10 and Flowers-102 (no number)",
            "ours": f"({format_mean_ci(*ce_x)}, {format_mean_ci(*ce_y)}) vs H(Y) = {h_y:.3f}; "
            f"{profile}, {P['plane_dataset']}",
            "verdict": ("reproduced" if ok else "not reproduced") + scale,
        }
    )
    gaps = ls.groupby("seed").apply(lambda g: float((g.train_i_xt - g.train_i_ty).max()), include_groups=False)
    gap = ci(gaps)
    rows.append(
        {
            "claim": "LS solutions lie on the IB line I(T;Y) = I(X;T) for every α (Prop. 4.5, Fig. 3)",
            "paper": "Fig. 3: all LS points on the line (no number)",
            "ours": f"largest I(X;T) - I(T;Y) over α: {format_mean_ci(*gap)} nats; {profile}, {P['plane_dataset']}",
            "verdict": ("reproduced" if gap[0] < tolerance else "not reproduced") + scale,
        }
    )
    dist = ls.groupby("seed").apply(
        lambda g: float((g.train_i_xt - g.train_ls_optimum).abs().max()), include_groups=False
    )
    d = ci(dist)
    rows.append(
        {
            "claim": "each LS model reaches the LS optimum's point (closed form of Prop. 4.5)",
            "paper": "implied by Prop. 4.5 under Assumption 4.3 (not plotted)",
            "ours": f"largest |I(X;T) - closed form| over α: {format_mean_ci(*d)} nats",
            "verdict": ("reproduced" if d[0] < tolerance else "not reproduced") + scale,
        }
    )
    sol = ib[np.isfinite(ib.gain_over_ls)]
    best = ci(sol.groupby("seed").gain_over_ls.max()) if len(sol) else (float("nan"), float("nan"))
    beats = sol[sol.gain_over_ls > 1e-3]
    rows.append(
        {
            "claim": "with contradicting labels, IB-Lagrangian solutions beat the LS optimum (§5.2.2, Fig. 4)",
            "paper": "Fig. 4: solutions above the LS curve on CIFAR-10H (no number)",
            "ours": f"largest gain in I(T;Y) at equal I(X;T): {format_mean_ci(*best)} nats; β with a gain > 0.001: "
            f"{sorted(set(beats.beta.round(2)))}; {ib_info['dataset']}",
            "verdict": _verdict_less((0.0, float("nan")), best) if len(sol) else "not tested (no solution in LS range)",
        }
    )
    low = ci(nuisance[nuisance.alpha == nuisance.alpha.min()].nuisance_probe_acc)
    high = ci(nuisance[nuisance.alpha == nuisance.alpha.max()].nuisance_probe_acc)
    rows.append(
        {
            "claim": "LS removes nuisance information from the penultimate features (§5.3.1, Fig. 6)",
            "paper": "Fig. 6: MNIST probe accuracy falls markedly with α (no number in the text)",
            "ours": f"nuisance probe accuracy α={nuisance.alpha.min():g}: {format_mean_ci(*low)}, "
            f"α={nuisance.alpha.max():g}: {format_mean_ci(*high)}; {profile}, {P['nuisance_dataset']}",
            "verdict": _verdict_less(high, low) + scale,
        }
    )
    acc_ce = ci(nuisance[nuisance.alpha == 0].target_acc) if (nuisance.alpha == 0).any() else (float("nan"),) * 2
    best_alpha = nuisance.groupby("alpha").target_acc.mean().idxmax()
    acc_best = ci(nuisance[nuisance.alpha == best_alpha].target_acc)
    same = abs(acc_best[0] - acc_ce[0]) <= (acc_best[1] + acc_ce[1] if np.isfinite(acc_best[1]) else 0)
    rows.append(
        {
            "claim": "LS gives no significant accuracy gain on the occluded task (§5.3.1)",
            "paper": "Fig. 6: CIFAR-10 accuracy flat in α",
            "ours": f"α=0: {format_mean_ci(*acc_ce)}, best α={best_alpha:g}: {format_mean_ci(*acc_best)}",
            "verdict": ("reproduced" if same else "not reproduced (LS changes accuracy)") + scale,
        }
    )
    if saliency is None:
        rows.append(
            {
                "claim": "LS puts more Grad-CAM saliency on the original digit than CE (§5.3.2, Fig. 7-8, App. A.4)",
                "paper": "Fig. 7-8: CE attends to the clutter, LS to the original digit (maps only)",
                "ours": "not run (run_saliency=False)",
                "verdict": "not tested in this profile",
            }
        )
        return pd.DataFrame(rows).set_index("claim")
    alpha = P["saliency_alpha"]
    m_ce, m_ls = ci(saliency[saliency.alpha == 0].box_mass), ci(saliency[saliency.alpha == alpha].box_mass)
    rows.append(
        {
            "claim": f"LS (α={alpha:g}) puts more Grad-CAM saliency on the original digit than CE (§5.3.2, Fig. 7-8)",
            "paper": "Fig. 7-8: CE attends to the clutter, LS to the original digit (maps only)",
            "ours": f"share of saliency in the digit's box: CE {format_mean_ci(*m_ce)}, LS {format_mean_ci(*m_ls)} "
            f"(box area {saliency.box_area.mean():.2f}); {P['clutter_dataset']}",
            "verdict": _verdict_less(m_ce, m_ls) + scale,
        }
    )
    a_ce, a_ls = ci(saliency[saliency.alpha == 0].test_acc), ci(saliency[saliency.alpha == alpha].test_acc)
    rows.append(
        {
            "claim": "CE and LS reach about the same accuracy on cluttered digits (§5.3.2)",
            "paper": "CE 97.99 %, LS 98.05 % (Cluttered MNIST, ResNet-20)",
            "ours": f"CE {format_mean_ci(*a_ce)}, LS {format_mean_ci(*a_ls)}; {P['clutter_dataset']}",
            "verdict": "not tested at this scale" if profile != "paper" else "compare with the paper's numbers",
        }
    )
    one = [c for c in range(10) if c != 1]
    for name, a in (("CE", 0.0), ("LS", alpha)):
        g = saliency[saliency.alpha == a]
        ones, others = ci(g.box_mass_1), ci(g[[f"box_mass_{c}" for c in one]].mean(1))
        rows.append(
            {
                "claim": f"{name}: saliency of digit 1 spreads beyond the digit more than for other digits (App. A.4)",
                "paper": "Fig. 8: digit-1 maps cover the whole image, more so with LS",
                "ours": f"box share digit 1: {format_mean_ci(*ones)}, other digits: {format_mean_ci(*others)}",
                "verdict": _verdict_less(ones, others) + scale,
            }
        )
    return pd.DataFrame(rows).set_index("claim")
