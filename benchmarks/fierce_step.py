"""Time of one training step with FIERCELoss vs plain cross-entropy, side by side.

ResNet-18 (CIFAR stem, 512-d features) on a CIFAR-size batch (64 x 3 x 32 x 32), SGD.
The two criteria alternate step by step on the same model and batch, so drifts in the
machine's load hit both equally; the ratio of the medians is the overhead.

    python benchmarks/fierce_step.py [--device cpu|cuda] [--steps 20] [--batch-size 64]

Writes ``benchmarks/results/fierce_step_<device>.json`` (device, time, commit, parameters,
per-step times). Target (issue): at most 10% overhead.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from c2f_utils.losses import FIERCELoss
from c2f_utils.models import resnet18
from c2f_utils.runs import provenance


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = resnet18(64).to(device)
    crit = FIERCELoss(512, n_anchors=100, lam=1.5, unit="bits").to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(args.batch_size, 3, 32, 32, device=device)
    y = torch.randint(0, 64, (args.batch_size,), device=device)

    def step(kind: str) -> float:
        _sync(device)
        start = time.perf_counter()
        out = model(x)
        loss = F.cross_entropy(out.logits, y) if kind == "ce" else crit(out.logits, out.features, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        _sync(device)
        return time.perf_counter() - start

    for _ in range(args.warmup):
        step("ce")
        step("fierce")
    times: dict[str, list[float]] = {"ce": [], "fierce": []}
    for i in range(args.steps):
        for kind in ("ce", "fierce") if i % 2 == 0 else ("fierce", "ce"):
            times[kind].append(step(kind))
    med = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "benchmark": "fierce_step",
        "model": "resnet18 (cifar stem, 512-d features)",
        "batch": [args.batch_size, 3, 32, 32],
        "steps": args.steps,
        "median_step_s": med,
        "overhead_ratio": med["fierce"] / med["ce"],
        "times_s": times,
        "threads": torch.get_num_threads(),
        "provenance": provenance(),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"fierce_step_{device.type}.json"
    path.write_text(json.dumps(result, indent=2))
    ratio = result["overhead_ratio"]
    print(f"CE {med['ce'] * 1e3:.1f} ms, FIERCE {med['fierce'] * 1e3:.1f} ms per step: ratio {ratio:.3f}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
