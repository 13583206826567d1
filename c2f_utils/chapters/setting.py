"""Chapter "The coarse-to-fine setting": what coarse training leaves of the fine labels.

A network is trained with cross-entropy on a *coarse* labeling (digit < 5) and, as a
reference, on the *fine* one (the digit). After every epoch its penultimate features
are frozen and probed: a linear probe (logistic regression) fit on training-set
features predicts the fine label of test images. Chance is 10%; a probe on the raw
pixels gives the information available before any training.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import torch

from .. import data as c2f_data
from ..models import MLP, LeNet5
from ..probes import linear_probe, within_group_accuracy
from ..runs import RunOutput, cached_run, format_mean_ci, summarize
from ..train import EpochState, TrainConfig, extract_features, fit, seed_everything
from . import ChapterSpec, Param, register

__all__ = [
    "SPEC",
    "histories",
    "plot_histories",
    "raw_input_probe",
    "scorecard",
    "summary_table",
    "train_and_probe",
]

SPEC = register(
    ChapterSpec(
        name="setting",
        source="setting.md",
        title="The coarse-to-fine setting",
        params={
            "dataset": Param("str", "digits", "mnist", "dataset (fine labels: the digit)", ("digits", "mnist")),
            "coarsening": Param("str", "lt5", "lt5", "coarse labeling trained on", ("lt5", "parity")),
            "seeds": Param("list[int]", [0, 1, 2], [0, 1, 2, 3, 4], "training seeds"),
            "device": Param("str", "cpu", "auto", "'cpu', 'cuda' or 'auto'"),
            "epochs": Param("int", 30, 20, "training epochs"),
            "lr": Param("float", 0.05, 0.05, "SGD learning rate (momentum 0.9, cosine schedule)"),
            "batch_size": Param("int", 64, 128, "mini-batch size"),
            "feature_dim": Param("int", 32, 84, "size of the penultimate (feature) layer"),
            "probe_every": Param("int", 1, 2, "probe the features every this many epochs"),
            "probe_max_train": Param("int", 0, 10000, "probe fit on at most this many samples (0: all)"),
        },
    )
)


def _model(dataset: str, n_classes: int, feature_dim: int) -> torch.nn.Module:
    if dataset == "digits":
        return MLP(64, n_classes, hidden=(128,), feature_dim=feature_dim)
    return LeNet5(n_classes, in_channels=1, feature_dim=feature_dim)


def _probe(features_train, fine_train, features_test, fine_test, groups, max_train, seed) -> dict[str, float]:
    res = linear_probe(features_train, fine_train, features_test, fine_test, max_train=max_train or None, seed=seed)
    return {
        "fine_probe_acc": res.test_score,
        "within_coarse_acc": within_group_accuracy(res.test_prediction, fine_test, groups[res.classes], res.classes),
    }


def _fine_to_coarse(train: c2f_data.LabeledData, coarsening: str) -> torch.Tensor:
    """Coarse class of each fine class, read off the training labels."""
    fine, coarse = train.fine, train.labels(coarsening)
    table = torch.zeros(int(fine.max()) + 1, dtype=torch.int64)
    table[fine] = coarse
    return table


def train_and_probe(
    dataset: str,
    labeling: str,
    coarsening: str,
    seed: int,
    epochs: int,
    lr: float,
    batch_size: int,
    feature_dim: int,
    probe_every: int,
    probe_max_train: int,
    device: str,
) -> RunOutput:
    """Train on ``labeling`` (``"coarse"`` or ``"fine"``) and probe the features over epochs.

    History columns: ``test_acc`` (the network on its own labeling), ``fine_probe_acc``
    (linear probe, 10 digits) and ``within_coarse_acc`` (the probe's fine accuracy when
    the coarse class is given, see :func:`~c2f_utils.probes.within_group_accuracy`).
    """
    if labeling not in ("coarse", "fine"):
        raise ValueError(f"Expected `labeling` in ['coarse', 'fine'], got {labeling!r}")
    train = c2f_data.load(dataset, "train")
    test = c2f_data.load(dataset, "test")
    target = coarsening if labeling == "coarse" else "fine"
    groups = _fine_to_coarse(train, coarsening).numpy()
    seed_everything(seed)
    model = _model(dataset, train.n_classes(target), feature_dim)

    def probe(state: EpochState) -> dict[str, float] | None:
        if state.epoch % probe_every and state.epoch != epochs:
            return None
        tr = extract_features(state.model, train.x, device=state.device)
        te = extract_features(state.model, test.x, device=state.device)
        out = _probe(tr.features, train.fine, te.features, test.fine, groups, probe_max_train, seed)
        out["test_acc"] = float((te.logits.argmax(1) == test.labels(target)).float().mean())
        return out

    config = TrainConfig(
        epochs=epochs, batch_size=batch_size, lr=lr, momentum=0.9, schedule="cosine", seed=seed, device=device
    )
    result = fit(model, (train.x, train.labels(target)), config=config, callbacks=[probe])
    history = result.history
    last = history.iloc[-1]
    metrics = {k: float(last[k]) for k in ("test_acc", "fine_probe_acc", "within_coarse_acc")}
    return RunOutput(metrics=metrics, history=history)


def raw_input_probe(dataset: str, coarsening: str, probe_max_train: int = 0) -> dict[str, float]:
    """The same probe on the raw inputs (flattened pixels): what was there before training."""
    train = c2f_data.load(dataset, "train")
    test = c2f_data.load(dataset, "test")
    groups = _fine_to_coarse(train, coarsening).numpy()
    return _probe(train.x.flatten(1), train.fine, test.x.flatten(1), test.fine, groups, probe_max_train, 0)


def histories(params: dict[str, Any]) -> pd.DataFrame:
    """Run (or read from the cache) every seed for coarse and fine training; long-format history."""
    shared = {k: v for k, v in params.items() if k not in ("profile", "seeds")}
    frames = []
    for labeling in ("coarse", "fine"):
        for seed in params["seeds"]:
            run_params = {**shared, "labeling": labeling, "seed": seed}
            res = cached_run("setting.train_and_probe", train_and_probe, run_params)
            frames.append(res.history.assign(trained_on=labeling, seed=seed))
    return pd.concat(frames, ignore_index=True)


def summary_table(history: pd.DataFrame, raw: dict[str, float]) -> pd.DataFrame:
    """Fine-label probe accuracy before training, after training, and on raw inputs (mean ± 95% CI)."""
    metrics = ["fine_probe_acc", "within_coarse_acc"]
    last = history[history.epoch == history.epoch.max()]
    first = history[history.epoch == 0]
    rows = []
    for stage, frame in (("at initialisation", first), ("after training", last)):
        summary = summarize(frame, "trained_on", metrics)
        for _, r in summary.iterrows():
            rows.append(
                {
                    "features": f"network trained on {r.trained_on} labels, {stage}",
                    **{m: format_mean_ci(r[m], r[f"{m}_ci"]) for m in metrics},
                    "seeds": int(r.n),
                }
            )
    rows.append({"features": "raw pixels", **{m: f"{raw[m]:.3f}" for m in metrics}, "seeds": 1})
    table = pd.DataFrame(rows).rename(
        columns={"fine_probe_acc": "fine probe accuracy", "within_coarse_acc": "fine accuracy given coarse"}
    )
    return table.set_index("features")


def scorecard(history: pd.DataFrame, raw: dict[str, float]) -> pd.DataFrame:
    """The chapter's claims, what we measured (mean ± 95% CI over seeds) and a verdict.

    A difference counts as established when the two 95% intervals do not overlap.
    """
    last = history[history.epoch == history.epoch.max()]
    first = history[history.epoch == 0]

    def stat(frame: pd.DataFrame, labeling: str, metric: str) -> tuple[float, float]:
        s = summarize(frame[frame.trained_on == labeling], "trained_on", [metric]).iloc[0]
        return float(s[metric]), float(s[f"{metric}_ci"])

    def verdict(lower: tuple[float, float], upper: tuple[float, float]) -> str:
        single = any(math.isnan(h) for _, h in (lower, upper))
        lo_half, up_half = (0.0 if math.isnan(h) else h for _, h in (lower, upper))
        if lower[0] + lo_half < upper[0] - up_half:
            text = "reproduced"
        elif lower[0] < upper[0]:
            text = "partly (intervals overlap)"
        else:
            text = "not reproduced"
        return text + (" (one seed: no interval)" if single else "")

    coarse_last = stat(last, "coarse", "fine_probe_acc")
    fine_last = stat(last, "fine", "fine_probe_acc")
    coarse_first = stat(first, "coarse", "fine_probe_acc")
    coarse_within = stat(last, "coarse", "within_coarse_acc")
    n_groups = 5  # digits per coarse class for lt5 and parity
    rows = [
        {
            "claim": "coarse training keeps fine information well above chance",
            "expected": "fine probe accuracy > 0.10 (chance)",
            "ours": format_mean_ci(*coarse_last),
            "verdict": verdict((0.1, 0.0), coarse_last),
        },
        {
            "claim": "within a coarse class, digits stay separable",
            "expected": f"fine accuracy given coarse > {1 / n_groups:.2f} (chance)",
            "ours": format_mean_ci(*coarse_within),
            "verdict": verdict((1 / n_groups, 0.0), coarse_within),
        },
        {
            "claim": "coarse training keeps less fine information than fine training",
            "expected": "coarse-trained < fine-trained probe accuracy",
            "ours": f"{format_mean_ci(*coarse_last)} vs {format_mean_ci(*fine_last)}",
            "verdict": verdict(coarse_last, fine_last),
        },
        {
            "claim": "coarse training discards fine information present in the input",
            "expected": f"coarse-trained < raw-pixel probe ({raw['fine_probe_acc']:.3f})",
            "ours": format_mean_ci(*coarse_last),
            "verdict": verdict(coarse_last, (raw["fine_probe_acc"], 0.0)),
        },
        {
            "claim": "coarse training adds fine information over random features",
            "expected": "trained > initialisation probe accuracy",
            "ours": f"{format_mean_ci(*coarse_last)} vs {format_mean_ci(*coarse_first)} at init",
            "verdict": verdict(coarse_first, coarse_last),
        },
    ]
    return pd.DataFrame(rows).set_index("claim")


def plot_histories(history: pd.DataFrame, raw: dict[str, float], title: str = ""):
    """The chapter's figure: own-task accuracy, fine probe and fine-given-coarse accuracy over epochs.

    Dotted black lines mark the same probes on the raw pixels.
    """
    from ..plots import plot_over_epochs

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
