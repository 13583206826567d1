"""Chapter "Representation transfer by optimal transport" (Li et al., arXiv:2007.06737).

Quick profile: scikit-learn's digits. *Transfer* (Table 1): an MLP pretrained on the
digits 0-4 is fine-tuned on the digits 5-9 from a few labels per class, with no
regularizer, L2, L2-SP, :math:`\\Omega_I`, :math:`\\Omega_U` or :math:`\\Omega_P`, each
strength chosen on a validation split. *Compression* (Table 2): a wide MLP teacher
trained on the ten digits is transferred to a medium student (same feature width) and
a slim one, with :math:`\\Omega_U`, :math:`\\Omega_I`, knowledge distillation or
:math:`\\Omega_P`. Plus the plan traces over depth and over training (Figures 2-3),
the permutation demonstration and the cost of a training step.
"""

from __future__ import annotations

import copy
import math
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from .. import data as c2f_data
from ..losses import L2SP, L2Penalty, OTRegularizer, TemperatureKD, neuron_cost, transport_plan
from ..models import MLP, ModelOutput, cifar_resnet
from ..probes import layer_representations, ot_plan_analysis, ot_plan_trace
from ..runs import RunOutput, cached_run, format_mean_ci, mean_ci, sweep
from ..train import EpochState, TrainConfig, extract_features, fit, resolve_device, seed_everything
from . import ChapterSpec, Param, register

__all__ = [
    "COMPRESSION_METHODS",
    "SPEC",
    "TRANSFER_METHODS",
    "compress",
    "compression_runs",
    "finetune",
    "paired_difference",
    "permutation_demo",
    "permute_features",
    "plot_depth_traces",
    "plot_solver_times",
    "plot_training_traces",
    "pretrained_source_model",
    "scorecard",
    "select_best",
    "solver_times",
    "step_times",
    "teacher_model",
    "transfer_runs",
]

TRANSFER_METHODS = ("none", "l2", "l2sp", "omega_i", "omega_u", "omega_p")
COMPRESSION_METHODS = ("none", "omega_u", "omega_i", "kd", "omega_p")
LABELS = {
    "none": "none",
    "l2": "L2",
    "l2sp": "L2-SP",
    "omega_i": "Ω_I (identity)",
    "omega_u": "Ω_U (uniform)",
    "omega_p": "Ω_P (OT, ours)",
    "kd": "KD",
}
LAYERS = ("body.1", "body.3", "body.5")
"""The three hidden layers (after their ReLU) of the transfer MLP; ``body.5`` is the penultimate one."""

SPEC = register(
    ChapterSpec(
        name="ot_transfer",
        source="ot_transfer.md",
        title="Representation transfer by optimal transport",
        params={
            "dataset": Param(
                "str",
                "digits",
                "fgvc_aircraft",
                "transfer target (quick: digits 0-4 -> 5-9)",
                ("digits", "fgvc_aircraft"),
            ),
            "seeds": Param("list[int]", [0, 1, 2], [0, 1, 2, 3, 4], "fine-tuning seeds (few-shot sample, head, order)"),
            "device": Param("str", "cpu", "auto", "'cpu', 'cuda' or 'auto'"),
            "shots": Param("int", 10, 0, "labelled target images per class for training (and as many for validation)"),
            "pretrain_epochs": Param("int", 20, 0, "epochs of the source (pre-)training"),
            "epochs": Param("int", 20, 0, "fine-tuning epochs"),
            "lr": Param("float", 0.02, 0.01, "fine-tuning SGD learning rate (momentum 0.9)"),
            "batch_size": Param("int", 25, 64, "mini-batch size (the n examples that describe a neuron)"),
            "alphas": Param(
                "list[float]",
                [1e-3, 1e-2, 1e-1],
                [1e-4, 1e-3, 1e-2, 1e-1, 1.0],
                "regularization grid, transfer",
            ),
            "l2sp_beta": Param("float", 0.01, 0.01, "L2-SP strength on the new head"),
            "compress_alphas": Param(
                "list[float]", [1.0], [1e-3, 1e-2, 1e-1, 1.0, 10.0], "regularization grid, compression"
            ),
            "temperatures": Param("list[float]", [4.0], [4.0, 5.0, 10.0], "KD temperatures"),
            "compress_epochs": Param("int", 4, 0, "student training epochs"),
            "cost_dims": Param("list[int]", [64, 256, 1024], [64, 128, 256, 512, 1024, 2048], "neurons d"),
            "cost_prox_max_dim": Param("int", 64, 2048, "largest d timed with the proximal solver"),
            "cost_repeats": Param("int", 5, 20, "timed repetitions per measurement (median)"),
        },
    )
)


# --------------------------------------------------------------------------- data


def _digits(split: str) -> c2f_data.LabeledData:
    return c2f_data.load("digits", split)


def _check_dataset(dataset: str) -> None:
    if dataset != "digits":
        raise NotImplementedError(
            f"dataset={dataset!r}: the paper profile (ImageNet ResNet-101 fine-tuned on FGVC-Aircraft and the "
            "other fine-grained targets; CIFAR ResNet students) is not implemented in this chapter yet; "
            "use the quick profile (dataset='digits')"
        )


def _target_split(seed: int, shots: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Few-shot train and validation sets of digits 5-9 (relabelled 0-4), drawn by ``seed``."""
    train = _digits("train")
    pool = torch.nonzero(train.fine >= 5).squeeze(1)
    rng = np.random.default_rng([seed, 6])
    tr_idx, va_idx = [], []
    for digit in range(5, 10):
        idx = pool[train.fine[pool] == digit].numpy()
        if len(idx) < 2 * shots:
            raise ValueError(f"Expected `shots` <= {len(idx) // 2} for digit {digit}, got {shots}")
        chosen = rng.permutation(idx)[: 2 * shots]
        tr_idx.append(chosen[:shots])
        va_idx.append(chosen[shots:])
    tr, va = torch.as_tensor(np.concatenate(tr_idx)), torch.as_tensor(np.concatenate(va_idx))
    return train.x[tr], train.fine[tr] - 5, train.x[va], train.fine[va] - 5


def _target_test() -> tuple[Tensor, Tensor]:
    test = _digits("test")
    keep = test.fine >= 5
    return test.x[keep], test.fine[keep] - 5


def _accuracy(model: nn.Module, x: Tensor, y: Tensor, device: torch.device) -> float:
    return float((extract_features(model, x, device=device).logits.argmax(1) == y).float().mean())


# --------------------------------------------------------------------- models


def _transfer_mlp() -> MLP:
    return MLP(64, 5, hidden=(128, 128), feature_dim=64, activation="tanh")


def _state_arrays(model: nn.Module) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}


def _load(model: nn.Module, arrays: dict[str, np.ndarray]) -> nn.Module:
    model.load_state_dict({k: torch.as_tensor(v) for k, v in arrays.items()})
    return model.eval()


def _pretrain(dataset: str, epochs: int, device: str) -> RunOutput:
    _check_dataset(dataset)
    train, test = _digits("train"), _digits("test")
    src, src_test = train.fine < 5, test.fine < 5
    seed_everything(0)
    model = _transfer_mlp()
    cfg = TrainConfig(epochs=epochs, batch_size=32, lr=0.05, schedule="cosine", seed=0, device=device)
    fit(model, (train.x[src], train.fine[src]), config=cfg)
    acc = _accuracy(model, test.x[src_test], test.fine[src_test], resolve_device(device))
    return RunOutput(metrics={"source_test_acc": acc}, arrays=_state_arrays(model))


def pretrained_source_model(dataset: str, pretrain_epochs: int, device: str = "cpu") -> tuple[MLP, float]:
    """The network pretrained on the source task (digits 0-4), cached; and its source test accuracy."""
    res = cached_run(
        "ot_transfer.pretrain", _pretrain, {"dataset": dataset, "epochs": pretrain_epochs, "device": device}
    )
    return _load(_transfer_mlp(), res.arrays), res.metrics["source_test_acc"]  # type: ignore[return-value]


def _teacher_mlp() -> MLP:
    return MLP(64, 10, hidden=(256, 256), feature_dim=128, activation="tanh")


def _student_mlp(size: str) -> MLP:
    if size == "M":
        return MLP(64, 10, hidden=(64,), feature_dim=128, activation="tanh")
    if size == "S":
        return MLP(64, 10, hidden=(32,), feature_dim=32, activation="tanh")
    raise ValueError(f"Expected `student` in ['M', 'S'], got {size!r}")


def _compression_split() -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Digits training split cut into a fitting part (80%) and a validation part (20%), fixed."""
    train = _digits("train")
    va_mask = torch.zeros(len(train), dtype=torch.bool)
    va_mask[torch.as_tensor(np.random.default_rng(7).permutation(len(train))[: len(train) // 5])] = True
    return train.x[~va_mask], train.fine[~va_mask], train.x[va_mask], train.fine[va_mask]


def _train_teacher(dataset: str, epochs: int, device: str) -> RunOutput:
    _check_dataset(dataset)
    x, y, _, _ = _compression_split()
    test = _digits("test")
    seed_everything(100)
    model = _teacher_mlp()
    cfg = TrainConfig(epochs=epochs, batch_size=64, lr=0.05, schedule="cosine", seed=100, device=device)
    fit(model, (x, y), config=cfg)
    return RunOutput(
        metrics={"teacher_test_acc": _accuracy(model, test.x, test.fine, resolve_device(device))},
        arrays=_state_arrays(model),
    )


def teacher_model(dataset: str, epochs: int, device: str = "cpu") -> tuple[MLP, float]:
    """The compression teacher (trained on 80% of the digits training split), cached; and its test accuracy."""
    res = cached_run("ot_transfer.teacher", _train_teacher, {"dataset": dataset, "epochs": epochs, "device": device})
    return _load(_teacher_mlp(), res.arrays), res.metrics["teacher_test_acc"]  # type: ignore[return-value]


# ------------------------------------------------------------- regularizers


class _ReferenceRegularizer:
    """``alpha * Omega(features, reference features)`` for :func:`fit`, recording plan traces."""

    def __init__(self, omega: OTRegularizer, reference: nn.Module, alpha: float) -> None:
        self.omega, self.reference, self.alpha = omega, reference, alpha
        self.traces: list[float] = []

    def __call__(self, x: Tensor, out: ModelOutput) -> Tensor:
        with torch.no_grad():
            ref = self.reference(x).features
        value = self.omega(out.features, ref)
        trace = self.omega.last_trace
        if self.omega.plan == "ot" and trace is not None:
            self.traces.append(trace)
        return self.alpha * value

    def bind(self, x: Tensor) -> Callable[[ModelOutput], Tensor]:
        """The regularizer for a fixed batch ``x`` (timing)."""
        return lambda out: self(x, out)

    def epoch_trace(self, state: EpochState) -> dict[str, float] | None:
        if state.epoch == 0 or not self.traces:
            return None
        mean = float(np.mean(self.traces))
        self.traces.clear()
        return {"plan_trace": mean}


def _regularizer(
    method: str, alpha: float, model: nn.Module, reference: nn.Module, l2sp_beta: float, temperature: float
) -> tuple[Callable[[Tensor, ModelOutput], Tensor] | None, list[Callable[[EpochState], Any]]]:
    if method == "none":
        return None, []
    if method == "l2":
        l2 = L2Penalty(alpha)
        return (lambda x, out: l2(model)), []
    if method == "l2sp":
        l2sp = L2SP(reference, alpha, l2sp_beta)
        return (lambda x, out: l2sp(model)), []
    if method == "kd":
        kd = TemperatureKD(temperature)

        def kd_term(x: Tensor, out: ModelOutput) -> Tensor:
            with torch.no_grad():
                teacher_logits = reference(x).logits
            return alpha * kd(out.logits, teacher_logits)

        return kd_term, []
    plan = {"omega_i": "identity", "omega_u": "uniform", "omega_p": "ot"}[method]
    reg = _ReferenceRegularizer(OTRegularizer(plan), reference, alpha)
    return reg, [reg.epoch_trace]


# ------------------------------------------------------------------- Table 1


def finetune(
    dataset: str,
    method: str,
    alpha: float,
    seed: int,
    shots: int,
    pretrain_epochs: int,
    epochs: int,
    lr: float,
    batch_size: int,
    l2sp_beta: float,
    device: str,
) -> RunOutput:
    """Fine-tune the pretrained network on the few-shot target with regularizer ``method``.

    Metrics: ``val_acc``, ``test_acc`` and ``trace_<layer>``, the trace of the optimal
    plan between the pretrained and the fine-tuned representations of the target test
    images at each hidden layer (Figure 2). History: ``plan_trace`` per epoch, the mean
    trace of the mini-batch plans of :math:`\\Omega_P` (Figure 3).
    """
    _check_dataset(dataset)
    if method not in TRANSFER_METHODS:
        raise ValueError(f"Expected `method` in {list(TRANSFER_METHODS)}, got {method!r}")
    dev = resolve_device(device)
    source, _ = pretrained_source_model(dataset, pretrain_epochs, device)
    xtr, ytr, xva, yva = _target_split(seed, shots)
    xte, yte = _target_test()
    seed_everything(seed)
    model = copy.deepcopy(source)
    model.head.reset_parameters()  # a new task: the last layer starts from scratch, seeded
    reference = copy.deepcopy(source).to(dev).eval()
    for p in reference.parameters():
        p.requires_grad_(False)
    regularizer, callbacks = _regularizer(method, alpha, model, reference, l2sp_beta, 1.0)
    cfg = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, schedule="cosine", seed=seed, device=device)
    result = fit(model, (xtr, ytr), config=cfg, regularizer=regularizer, callbacks=callbacks)
    metrics = {"val_acc": _accuracy(model, xva, yva, dev), "test_acc": _accuracy(model, xte, yte, dev)}
    before = layer_representations(reference, xte.to(dev), LAYERS)
    after = layer_representations(model, xte.to(dev), LAYERS)
    for layer in LAYERS:
        metrics[f"trace_{layer}"] = ot_plan_trace(before[layer], after[layer])
    return RunOutput(metrics=metrics, history=result.history)


def transfer_runs(P: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every (method, alpha, seed) fine-tuning run: a frame of metrics and the long history."""
    _check_dataset(P["dataset"])
    shared = {k: P[k] for k in ("dataset", "shots", "pretrain_epochs", "epochs", "lr", "batch_size", "l2sp_beta")}
    shared["device"] = P["device"]
    grid = [
        {**shared, "method": m, "alpha": (0.0 if m == "none" else a), "seed": s}
        for m in TRANSFER_METHODS
        for a in ([0.0] if m == "none" else P["alphas"])
        for s in P["seeds"]
    ]
    results = sweep("ot_transfer.finetune", finetune, grid)
    rows, hist = [], []
    for r in results:
        key = {"method": r.params["method"], "alpha": r.params["alpha"], "seed": r.params["seed"]}
        rows.append({**key, **r.metrics})
        if r.history is not None:
            hist.append(r.history.assign(**key))
    return pd.DataFrame(rows), pd.concat(hist, ignore_index=True)


def select_best(
    frame: pd.DataFrame, by: Sequence[str] = ("method",), hyper: Sequence[str] = ("alpha",)
) -> pd.DataFrame:
    """For each group ``by``, the rows (all seeds) of the hyper-parameters with the best mean validation accuracy."""
    by, hyper = list(by), list(hyper)
    means = frame.groupby(by + hyper, as_index=False)["val_acc"].mean()
    best = means.loc[means.groupby(by)["val_acc"].idxmax(), by + hyper]
    return frame.merge(best, on=by + hyper)


def table(selected: pd.DataFrame, by: Sequence[str], order: Sequence[str], hyper: Sequence[str]) -> pd.DataFrame:
    """Test accuracy of the selected runs: mean ± 95% CI and standard deviation over seeds (in %)."""
    rows = []
    for key, group in selected.groupby(list(by), sort=False):
        key = key if isinstance(key, tuple) else (key,)
        mean, half = mean_ci(100 * group["test_acc"])
        rows.append(
            {
                **dict(zip(by, key, strict=True)),
                **{h: group[h].iloc[0] for h in hyper},
                "test accuracy (%)": format_mean_ci(mean, half, 2),
                "std": round(float(np.std(100 * group["test_acc"], ddof=1)), 2) if len(group) > 1 else math.nan,
                "seeds": len(group),
            }
        )
    out = pd.DataFrame(rows)
    out["order"] = out[by[-1]].map({m: i for i, m in enumerate(order)})
    out = out.sort_values([*by[:-1], "order"]).drop(columns="order")
    out[by[-1]] = out[by[-1]].map(LABELS)
    return out.set_index(list(by))


def paired_difference(selected: pd.DataFrame, a: str, b: str, metric: str = "test_acc") -> tuple[float, float]:
    """Mean and 95% CI half-width over seeds of ``metric(a) - metric(b)`` (paired by seed), in points of %."""
    pa = selected[selected.method == a].set_index("seed")[metric]
    pb = selected[selected.method == b].set_index("seed")[metric]
    common = pa.index.intersection(pb.index)
    if len(common) == 0:
        raise ValueError(f"No common seeds between methods {a!r} and {b!r}")
    return mean_ci(100 * (pa[common] - pb[common]))


# ------------------------------------------------------------------- Table 2


def compress(
    dataset: str,
    student: str,
    method: str,
    alpha: float,
    temperature: float,
    seed: int,
    teacher_epochs: int,
    epochs: int,
    device: str,
) -> RunOutput:
    """Train a student (``"M"``: same feature width as the teacher, ``"S"``: slim) with ``method``."""
    _check_dataset(dataset)
    if method not in COMPRESSION_METHODS:
        raise ValueError(f"Expected `method` in {list(COMPRESSION_METHODS)}, got {method!r}")
    dev = resolve_device(device)
    teacher, _ = teacher_model(dataset, teacher_epochs, device)
    teacher = teacher.to(dev)
    for p in teacher.parameters():
        p.requires_grad_(False)
    x, y, xva, yva = _compression_split()
    test = _digits("test")
    seed_everything(seed)
    model = _student_mlp(student)
    if method == "omega_i" and model.feature_dim != teacher.feature_dim:
        raise ValueError(f"Expected a student of the teacher's width for omega_i, got {student!r}")
    regularizer, callbacks = _regularizer(method, alpha, model, teacher, 0.0, temperature)
    cfg = TrainConfig(epochs=epochs, batch_size=64, lr=0.05, schedule="cosine", seed=seed, device=device)
    fit(model, (x, y), config=cfg, regularizer=regularizer, callbacks=callbacks)
    return RunOutput(
        metrics={"val_acc": _accuracy(model, xva, yva, dev), "test_acc": _accuracy(model, test.x, test.fine, dev)}
    )


def compression_runs(P: dict[str, Any]) -> pd.DataFrame:
    """Every (student, method, alpha, temperature, seed) compression run."""
    _check_dataset(P["dataset"])
    grid = []
    for student in ("S", "M"):
        for method in COMPRESSION_METHODS:
            if method == "omega_i" and student == "S":
                continue  # the identity plan needs d = d'
            alphas = [0.0] if method == "none" else P["compress_alphas"]
            temps = P["temperatures"] if method == "kd" else [0.0]
            for alpha in alphas:
                for temperature in temps:
                    for seed in P["seeds"]:
                        grid.append(
                            {
                                "dataset": P["dataset"],
                                "student": student,
                                "method": method,
                                "alpha": alpha,
                                "temperature": temperature,
                                "seed": seed,
                                "teacher_epochs": P["pretrain_epochs"],
                                "epochs": P["compress_epochs"],
                                "device": P["device"],
                            }
                        )
    results = sweep("ot_transfer.compress", compress, grid)
    return pd.DataFrame(
        [{k: r.params[k] for k in ("student", "method", "alpha", "temperature", "seed")} | r.metrics for r in results]
    )


# ------------------------------------------------------------ why transport


def permute_features(model: MLP, perm: Tensor) -> MLP:
    """A copy of ``model`` whose feature neurons are reordered by ``perm``: the same function."""
    if sorted(perm.tolist()) != list(range(model.feature_dim)):
        raise ValueError(f"Expected `perm` to be a permutation of range({model.feature_dim}), got {perm.tolist()}")
    out = copy.deepcopy(model)
    last = [m for m in out.body if isinstance(m, nn.Linear)][-1]
    with torch.no_grad():
        last.weight.copy_(last.weight[perm])
        last.bias.copy_(last.bias[perm])
        out.head.weight.copy_(out.head.weight[:, perm])
    return out


def permutation_demo(model: MLP, x: Tensor, fractions: Sequence[float] = (0.0, 0.25, 0.5, 1.0), seed: int = 0):
    """Ω_P, Ω_I and Ω_U between a network and copies with a share of their feature neurons permuted.

    Each row: the share of neurons moved (a cyclic shift among a random subset, so
    that none of them stays in place), the largest change of the logits, the three
    regularizers on ``x``, the trace of the optimal plan and the share of neurons
    whose match in the plan is their true counterpart.
    """
    g = torch.Generator().manual_seed(seed)
    d = model.feature_dim
    base = extract_features(model, x, device="cpu")
    rows = []
    for frac in fractions:
        k = round(frac * d)
        perm = torch.arange(d)
        if k >= 2:
            chosen = torch.randperm(d, generator=g)[:k]
            perm[chosen] = chosen[torch.roll(torch.arange(k), 1)]
        other = permute_features(model, perm)
        out = extract_features(other, x, device="cpu")
        analysis = ot_plan_analysis(out.features, base.features)
        rows.append(
            {
                "neurons moved": (perm != torch.arange(d)).float().mean().item(),
                "max |Δ logits|": float((out.logits - base.logits).abs().max()),
                "Ω_P": analysis.cost,
                "Ω_I": float(OTRegularizer("identity")(out.features, base.features)),
                "Ω_U": float(OTRegularizer("uniform")(out.features, base.features)),
                "trace of the plan": analysis.trace,
                "permutation recovered": float((analysis.match == perm.numpy()).mean()),
            }
        )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------- cost


def _median_time(fn: Callable[[], Any], repeats: int, sync: Callable[[], None]) -> float:
    fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _sync(device: torch.device) -> Callable[[], None]:
    return (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)


def _step_times(network: str, batch_size: int, repeats: int, device: str) -> dict[str, float]:
    dev = resolve_device(device)
    seed_everything(0)
    if network == "mlp":
        model, x = _transfer_mlp(), torch.rand(batch_size, 1, 8, 8)
    elif network == "resnet20":
        model, x = cifar_resnet(20, 10), torch.rand(batch_size, 3, 32, 32)
    else:
        raise ValueError(f"Expected `network` in ['mlp', 'resnet20'], got {network!r}")
    model, x = model.to(dev).train(), x.to(dev)
    reference = copy.deepcopy(model).eval()
    y = torch.randint(0, model.head.out_features, (batch_size,), device=dev)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    ce = nn.CrossEntropyLoss()
    l2sp = L2SP(reference, 0.01, 0.01).to(dev)
    regs: dict[str, Callable[[ModelOutput], Tensor] | None] = {
        "none": None,
        "l2sp": lambda out: l2sp(model),
        "omega_p exact": _ReferenceRegularizer(OTRegularizer("ot", "exact"), reference, 0.01).bind(x),
        "omega_p proximal": _ReferenceRegularizer(OTRegularizer("ot", "proximal"), reference, 0.01).bind(x),
    }
    out: dict[str, float] = {}
    for name, reg in regs.items():

        def step(reg: Callable[[ModelOutput], Tensor] | None = reg) -> None:
            res = model(x)
            loss = ce(res.logits, y) + (reg(res) if reg is not None else 0.0)
            opt.zero_grad()
            loss.backward()
            opt.step()

        out[name] = 1000 * _median_time(step, repeats, _sync(dev))
    return out


def step_times(networks: Sequence[str], batch_size: int, repeats: int, device: str) -> pd.DataFrame:
    """Median time (ms) of one SGD step with no regularizer, L2-SP and Ω_P (exact, proximal), side by side."""
    rows = []
    for network in networks:
        res = cached_run(
            "ot_transfer.step_times",
            _step_times,
            {"network": network, "batch_size": batch_size, "repeats": repeats, "device": device},
        )
        for name, ms in res.metrics.items():
            rows.append({"network": network, "regularizer": name, "ms per step": ms})
    frame = pd.DataFrame(rows)
    l2sp = frame[frame.regularizer == "l2sp"].set_index("network")["ms per step"]
    frame["× L2-SP"] = frame["ms per step"] / frame.network.map(l2sp)
    return frame


def _solver_times(dims: list[int], prox_max_dim: int, n: int, repeats: int, device: str) -> RunOutput:
    dev = resolve_device(device)
    g = torch.Generator().manual_seed(0)
    rows = []
    for d in dims:
        a = torch.randn(n, d, generator=g).to(dev)
        t = torch.randn(n, d, generator=g).to(dev)
        cost = neuron_cost(a, t)
        exact_plan = transport_plan(cost, "exact")
        for solver in ("exact", "proximal"):
            if solver == "proximal" and d > prox_max_dim:
                continue
            ms = 1000 * _median_time(lambda c=cost, s=solver: transport_plan(c, s), repeats, _sync(dev))
            gap = float((transport_plan(cost, solver) * cost).sum() / (exact_plan * cost).sum() - 1)
            rows.append({"d": d, "solver": solver, "ms": ms, "relative gap": gap})
    frame = pd.DataFrame(rows)
    return RunOutput(
        metrics={f"{r.solver}_{r.d}_ms": r.ms for r in frame.itertuples()},
        arrays={
            "d": frame.d.to_numpy(),
            "ms": frame.ms.to_numpy(),
            "gap": frame["relative gap"].to_numpy(),
            "solver": frame.solver.to_numpy().astype("U8"),
        },
    )


def solver_times(dims: Sequence[int], prox_max_dim: int, repeats: int, device: str, n: int = 64) -> pd.DataFrame:
    """Median time (ms) to compute the plan between two ``n x d`` representations, per solver and ``d``."""
    res = cached_run(
        "ot_transfer.solver_times",
        _solver_times,
        {"dims": list(dims), "prox_max_dim": prox_max_dim, "n": n, "repeats": repeats, "device": device},
    )
    arr = res.arrays
    return pd.DataFrame({"d": arr["d"], "solver": arr["solver"], "ms": arr["ms"], "relative gap": arr["gap"]})


# ------------------------------------------------------------------- plots


def plot_depth_traces(frame: pd.DataFrame, methods: Sequence[str] = ("none", "l2sp", "omega_p")):
    """Figure 2: trace of the plan between pretrained and fine-tuned representations vs depth."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    cols = [f"trace_{layer}" for layer in LAYERS]
    long = frame[frame.method.isin(methods)].melt(id_vars=["method", "seed"], value_vars=cols, var_name="layer")
    long["hidden layer"] = long.layer.map({c: i + 1 for i, c in enumerate(cols)})
    long["method"] = long.method.map(LABELS)
    fig, ax = plt.subplots(figsize=(5, 3.4))
    sns.lineplot(data=long, x="hidden layer", y="value", hue="method", marker="o", errorbar=("ci", 95), ax=ax)
    ax.set_xticks(range(1, len(LAYERS) + 1))
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("trace of the OT plan")
    ax.set_title("pretrained vs fine-tuned neurons")
    fig.tight_layout()
    return fig


def plot_training_traces(history: pd.DataFrame):
    """Figure 3: mean trace of the mini-batch plans of Ω_P over fine-tuning epochs."""
    from ..plots import plot_over_epochs

    hist = history.dropna(subset=["plan_trace"])
    fig, _ = plot_over_epochs(
        hist, ["plan_trace"], titles=["Ω_P: trace of the plan during training"], ylabels=["trace"]
    )
    return fig


def plot_solver_times(frame: pd.DataFrame):
    """Solver time vs number of neurons, log-log."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(5, 3.4))
    sns.lineplot(data=frame, x="d", y="ms", hue="solver", marker="o", ax=ax)
    ax.set(xscale="log", yscale="log", xlabel="neurons d = d'", ylabel="ms per plan", title="time of one OT plan")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------- scorecard


def _verdict(mean: float, half: float) -> str:
    if math.isnan(half):
        return ("partly" if mean > 0 else "not reproduced") + " (one seed: no interval)"
    if mean - half > 0:
        return "reproduced"
    if mean > 0:
        return "partly (interval includes 0)"
    return "not reproduced"


def scorecard(
    demo: pd.DataFrame,
    transfer: pd.DataFrame,
    compression: pd.DataFrame,
    steps: pd.DataFrame,
    profile: str,
    dataset: str,
) -> pd.DataFrame:
    """Claims, the paper's numbers (typed from the paper), ours from the runs, and verdicts.

    Comparisons are paired by seed: a claim "A beats B" is *reproduced* when the
    95% interval of the mean difference A - B is above 0.
    """
    where = f"({profile}, {dataset})"
    rows = []
    full = demo[demo["neurons moved"] == demo["neurons moved"].max()].iloc[0]
    ok = full["Ω_P"] < 1e-6 * full["Ω_I"] and full["permutation recovered"] == 1.0
    rows.append(
        {
            "claim": "§2: a permuted copy is at OT cost 0 while Ω_I is large; the plan recovers the permutation",
            "paper": "(argument, no number)",
            "ours": f"Ω_P = {full['Ω_P']:.1e}, Ω_I = {full['Ω_I']:.2f}, recovered {full['permutation recovered']:.0%}",
            "verdict": "reproduced" if ok else "not reproduced",
        }
    )
    sel = select_best(transfer)
    for a, b, paper in (
        ("l2sp", "none", "+1.81 (83.99 vs 82.18, mean of 5 targets)"),
        ("omega_p", "l2sp", "+0.68 (84.67 vs 83.99)"),
        ("omega_p", "omega_i", "+0.65 (84.67 vs 84.02)"),
        ("omega_p", "omega_u", "+1.46 (84.67 vs 83.21)"),
    ):
        mean, half = paired_difference(sel, a, b)
        rows.append(
            {
                "claim": f"Table 1: {LABELS[a]} beats {LABELS[b]} in transfer",
                "paper": paper,
                "ours": f"{format_mean_ci(mean, half, 2)} points {where}",
                "verdict": _verdict(mean, half),
            }
        )
    l2sp = sel[sel.method == "l2sp"]
    m, h = mean_ci(l2sp[f"trace_{LAYERS[-1]}"])
    rows.append(
        {
            "claim": "Fig. 2: neurons swap during L2-SP fine-tuning (penultimate-layer trace < 1)",
            "paper": "trace < 1 on 4 of 5 targets (about 1 on Dogs120)",
            "ours": f"trace {format_mean_ci(m, h, 2)} {where}",
            "verdict": _verdict(1 - m, h),
        }
    )
    csel = select_best(compression, by=("student", "method"), hyper=("alpha", "temperature"))
    for student, paper_pk, paper_kn in (
        ("S", "+0.4 (92.8 vs 92.4, CIFAR-10 L→S)", "+0.6 (92.4 vs 91.8)"),
        ("M", "+0.5 (94.5 vs 94.0, CIFAR-10 L→M)", "+0.4 (94.0 vs 93.6)"),
    ):
        part = csel[csel.student == student]
        for a, b, paper in (("omega_p", "kd", paper_pk), ("kd", "none", paper_kn)):
            mean, half = paired_difference(part, a, b)
            rows.append(
                {
                    "claim": f"Table 2: {LABELS[a]} beats {LABELS[b]} for the {student} student",
                    "paper": paper,
                    "ours": f"{format_mean_ci(mean, half, 2)} points {where}",
                    "verdict": _verdict(mean, half),
                }
            )
    for network in sorted(steps.network.unique()):
        part = steps[steps.network == network].set_index("regularizer")["× L2-SP"]
        rows.append(
            {
                "claim": f"§4: a step with Ω_P costs 2.7× one with L2-SP ({network})",
                "paper": "2.7× (IPOT); LP 1.6× slower than IPOT",
                "ours": f"exact {part['omega_p exact']:.1f}×, proximal {part['omega_p proximal']:.1f}× {where}",
                "verdict": "measured (depends on the network and the solver; see notes)",
            }
        )
    return pd.DataFrame(rows).set_index("claim")
