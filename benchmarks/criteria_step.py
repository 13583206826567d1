"""Step time of every criterion and regulariser of the book against a cross-entropy step.

ResNet-18 (CIFAR stem, 512-d features), batch 64 x 3 x 32 x 32, SGD with momentum; one
training step = forward, criterion, backward, optimiser step. All criteria share one process,
one model and one batch, and run *interleaved*: each round takes one step of every criterion
in a fresh random order, so drifts of the machine's load hit all of them alike. The ratio of
a criterion to cross-entropy is taken within each round (the CE step of the same round), and
the table gives the median over rounds with a 95% bootstrap interval (scipy).

What a step includes beyond the CE step: KD, a frozen teacher's forward pass (its real cost
in training); L2-SP, the distance to the starting weights; OT, the plan between the batch's
512 features and a reference network's features of the same batch, computed once beforehand
(the regulariser's own cost, as the OT-transfer paper times it against L2-SP).

A second table times the transport plan alone against the number of neurons d (cost between
two random n x d representations, n = 64): this package's exact solver (POT's network simplex),
its proximal (IPOT) solver, and POT's entropic Sinkhorn for reference.

    python benchmarks/criteria_step.py [--device cpu|cuda] [--rounds 15] [--dims 64 128 ... 4096]

Refuses to record on a loaded machine (1-minute load average above half the cores) unless
``--force``, which is then written in the record. Writes ``benchmarks/results/criteria_step_<device>.json``.
Targets (issue "Performance"): FIERCE and LLS <= 1.05, OT (both solvers) <= 1.3 a CE step.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from _idle import check_idle
from scipy.stats import bootstrap

from c2f_utils.losses import (
    L2SP,
    ConfidencePenalty,
    FIERCELoss,
    KDLoss,
    LLSLoss,
    OnlineLabelSmoothing,
    OTRegularizer,
    TFKDReg,
    ipot,
    neuron_cost,
    transport_plan,
)
from c2f_utils.models import resnet18
from c2f_utils.runs import provenance

TARGETS = {"FIERCE": 1.05, "LLS": 1.05, "OT exact": 1.3, "OT proximal": 1.3}
K = 10


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def criteria(model: torch.nn.Module, x: torch.Tensor, device: torch.device) -> dict[str, Callable]:
    """name -> loss(output, y) for one step; the criteria's own parameters are on ``device``."""
    teacher = copy.deepcopy(model).eval()
    reference = copy.deepcopy(model).eval()
    with torch.no_grad():
        ref_features = reference(x).features
    ls = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
    conf = ConfidencePenalty(beta=0.1)
    fierce = FIERCELoss(512, n_anchors=100, lam=1.0, similarity="dot", unit="bits").to(device)
    lls = LLSLoss(K, alpha=0.1).to(device)
    ols = OnlineLabelSmoothing(K, alpha=0.5).to(device)
    tfkd = TFKDReg(K, alpha=0.1).to(device)
    kd = KDLoss(temperature=4.0, beta=0.5, divergence="kl", t2_scaling=True)
    l2sp = L2SP(reference, alpha=0.01, beta=0.01, new=("head.",))
    ot_exact, ot_prox = OTRegularizer(solver="exact"), OTRegularizer(solver="proximal")

    def with_teacher(out, y):
        with torch.no_grad():
            t = teacher(x).logits
        return kd(out.logits, t, y)

    return (
        {
            "CE": lambda out, y: F.cross_entropy(out.logits, y),
            "LS": lambda out, y: ls(out.logits, y),
            "confidence penalty": lambda out, y: conf(out.logits, y),
            "FIERCE": lambda out, y: fierce(out.logits, out.features, y),
            "LLS": lambda out, y: lls(out.logits, y),
            "OLS": lambda out, y: ols(out.logits, y),
            "TF-KD_reg": lambda out, y: tfkd(out.logits, y),
            "KD (teacher forward)": with_teacher,
            "L2-SP": lambda out, y: F.cross_entropy(out.logits, y) + l2sp(model),
            "OT exact": lambda out, y: F.cross_entropy(out.logits, y) + 0.01 * ot_exact(out.features, ref_features),
            "OT proximal": lambda out, y: F.cross_entropy(out.logits, y) + 0.01 * ot_prox(out.features, ref_features),
        },
        [lls, ols],
        ot_prox,
    )


def step_table(device: torch.device, rounds: int, batch: int, seed: int) -> dict:
    torch.manual_seed(seed)
    model = resnet18(K).to(device)
    x = torch.randn(batch, 3, 32, 32, device=device)
    y = torch.randint(0, K, (batch,), device=device)
    losses, crit_modules, ot_prox = criteria(model, x, device)
    prox_steps: list[tuple[int, float]] = []
    params = list(model.parameters()) + [p for m in crit_modules for p in m.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=1e-3, momentum=0.9)

    def step(name: str) -> float:
        _sync(device)
        start = time.perf_counter()
        out = model(x)
        loss = losses[name](out, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        _sync(device)
        seconds = time.perf_counter() - start
        if name == "OT proximal":
            prox_steps.append((ot_prox.last_iterations, ot_prox.last_marginal_error))
        return seconds

    names = list(losses)
    for name in names:  # warm-up: allocations, first-call overheads
        step(name)
    rng = random.Random(seed)
    times: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(rounds):
        order = names[:]
        rng.shuffle(order)
        for name in order:
            times[name].append(step(name))
    rows = {}
    for name in names:
        ratios = np.array(times[name]) / np.array(times["CE"])
        if rounds < 3:
            ci = None
        elif np.ptp(ratios) == 0:  # CE against itself: every ratio is 1
            ci = [float(ratios[0])] * 2
        else:
            interval = bootstrap((ratios,), np.median, confidence_level=0.95, random_state=seed).confidence_interval
            ci = [float(interval.low), float(interval.high)]
        rows[name] = {
            "median_step_s": statistics.median(times[name]),
            "ratio_to_ce": float(np.median(ratios)),
            "ratio_ci95": ci,
            "target": TARGETS.get(name),
            "meets_target": bool(np.median(ratios) <= TARGETS[name]) if name in TARGETS else None,
        }
    iterations = [k for k, _ in prox_steps]
    rows["OT proximal"]["ipot_iterations"] = {"median": statistics.median(iterations), "max": max(iterations)}
    rows["OT proximal"]["ipot_marginal_error_max"] = max(e for _, e in prox_steps)
    return {"rows": rows, "times_s": times}


def solver_table(device: torch.device, dims: list[int], n: int, repeats: int, seed: int) -> list[dict]:
    import ot

    g = torch.Generator().manual_seed(seed)
    out = []
    for d in dims:
        f, r = torch.randn(n, d, generator=g).to(device), torch.randn(n, d, generator=g).to(device)
        cost = neuron_cost(f, r)
        row: dict = {"d": d}
        a = b = torch.full((d,), 1 / d, dtype=cost.dtype, device=device)  # uniform marginals, d = d'
        solved: dict = {}

        def proximal(c: torch.Tensor, solved: dict = solved) -> torch.Tensor:
            result = ipot(c)
            solved["iterations"], solved["marginal_error"] = result.iterations, result.marginal_error
            return result.plan

        solvers = {
            "exact (POT emd)": lambda c: transport_plan(c, "exact"),
            "proximal (IPOT)": proximal,
            # POT's entropic solver on the same device (its torch backend), for reference: a blurred plan
            "POT sinkhorn (reg 0.05)": lambda c, a=a, b=b: ot.sinkhorn(a, b, c / c.max(), 0.05),
        }
        exact_value = None
        for name, solve in solvers.items():
            seconds = []
            for _ in range(repeats):
                _sync(device)
                start = time.perf_counter()
                plan = solve(cost)
                _sync(device)
                seconds.append(time.perf_counter() - start)
            value = float((plan.to(cost.device, cost.dtype) * cost).sum())
            exact_value = value if exact_value is None else exact_value
            row[name] = {"median_s": statistics.median(seconds), "seconds": seconds, "transport_cost": value}
        row["proximal (IPOT)"].update(solved)
        row["proximal_cost_over_exact"] = row["proximal (IPOT)"]["transport_cost"] / exact_value
        out.append(row)
        print(f"d={d}: " + ", ".join(f"{k} {v['median_s']:.3f} s" for k, v in row.items() if isinstance(v, dict)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--dims", type=int, nargs="+", default=[64, 128, 256, 512, 1024, 2048, 4096])
    parser.add_argument("--solver-repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--force", action="store_true", help="record even on a loaded machine (said in the record)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    device = torch.device(args.device)
    machine = check_idle(args.force)
    steps = step_table(device, args.rounds, args.batch_size, args.seed)
    print(f"{'criterion':<22} {'step s':>8} {'x CE':>6}  95% CI          target")
    for name, row in steps["rows"].items():
        ci = "" if row["ratio_ci95"] is None else f"[{row['ratio_ci95'][0]:.3f}, {row['ratio_ci95'][1]:.3f}]"
        mark = "" if row["target"] is None else f"<= {row['target']} {'met' if row['meets_target'] else 'NOT met'}"
        print(f"{name:<22} {row['median_step_s']:8.3f} {row['ratio_to_ce']:6.3f}  {ci:<16} {mark}")
    solvers = solver_table(device, args.dims, args.batch_size, args.solver_repeats, args.seed)
    result = {
        "benchmark": "criteria_step",
        "model": "resnet18 (cifar stem, 512-d features), SGD momentum 0.9",
        "batch": [args.batch_size, 3, 32, 32],
        "rounds": args.rounds,
        "steps": steps["rows"],
        "step_times_s": steps["times_s"],
        "solver_vs_d": solvers,
        "threads": torch.get_num_threads(),
        **machine,
        "provenance": provenance(),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"criteria_step_{device.type}.json"
    path.write_text(json.dumps(result, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
