"""Epoch time of the book's training loop (:func:`c2f_utils.train.fit`) against a minimal hand-
written loop on the same model, data and recipe, side by side.

The recipe is the paper profiles' CIFAR one (LLS, FIERCE few-shot): SGD with Nesterov momentum
0.9, weight decay 5e-4, batch 128, cross-entropy, random crop and flip
(:func:`c2f_utils.train.crop_flip`), for two models: ResNet-18 with the CIFAR stem on CIFAR-
shaped images (compute-bound: a step takes seconds on a CPU) and LeNet-5 on MNIST-shaped images
(the CPU profiles' network: a step takes milliseconds, so any per-step overhead of ``fit``
shows). The data are in-memory tensors (timing does not depend on their values). The hand-
written loop does what a careful researcher would write by hand and nothing more: one
permutation per epoch, a batch by indexing, the same augmentation, and on CUDA the same
efficiencies ``fit`` uses (data on the device, bfloat16 autocast, channels-last), so the ratio
is ``fit``'s own overhead: history, checks, checkpoint hooks, progress. Blocks of ``--epochs``
epochs of the two alternate (``fit`` first, then the hand-written loop, then the other order),
so drifts in the machine's load hit both alike; the ratio of the median epoch times is the
overhead.

    python benchmarks/fit_epoch.py [--device cpu|cuda] [--models lenet5,resnet18] [--rounds 4] [--epochs 2]

Writes ``benchmarks/results/fit_epoch_<device>.json`` (device, times per model, commit,
parameters); its ``ratio_fit_to_hand_written`` is the larger of the models' ratios. Target
(issue 31): ``fit`` within 1.05x of the hand-written loop.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from _idle import check_idle

from c2f_utils.models import create
from c2f_utils.runs import provenance
from c2f_utils.train import TrainConfig, crop_flip, fit


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def hand_written_epochs(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    epochs: int,
    batch_size: int,
    device: torch.device,
    seed: int,
) -> float:
    """Train ``model`` for ``epochs`` epochs with a minimal loop; returns the wall time (s)."""
    _sync(device)
    start = time.perf_counter()
    cuda = device.type == "cuda"
    model.to(device, memory_format=torch.channels_last if cuda else torch.preserve_format)
    x, y = x.to(device), y.to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    augment = crop_flip()
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=generator).to(device)
        for i in range(0, len(x), batch_size):
            rows = perm[i : i + batch_size]
            xb = augment(x[rows])
            if cuda:
                xb = xb.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
                loss = F.cross_entropy(model(xb).logits, y[rows])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    _sync(device)
    return time.perf_counter() - start


def fit_epochs(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    epochs: int,
    batch_size: int,
    device: torch.device,
    seed: int,
) -> float:
    """Train ``model`` for ``epochs`` epochs with :func:`fit`; returns the wall time (s)."""
    config = TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        optimizer="sgd",
        lr=0.1,
        momentum=0.9,
        nesterov=True,
        weight_decay=5e-4,
        seed=seed,
        device=str(device),
        progress=False,
    )
    _sync(device)
    start = time.perf_counter()
    fit(model, (x, y), None, config, transform=crop_flip())
    _sync(device)
    return time.perf_counter() - start


MODELS = {  # name -> (input shape, samples on a CPU, on a GPU)
    "lenet5": ((1, 28, 28), 8192, 60_000),
    "resnet18": ((3, 32, 32), 1024, 50_000),
}


def time_model(name: str, device: torch.device, samples: int | None, rounds: int, epochs: int, batch: int) -> dict:
    """Median epoch time of both loops on model ``name``, alternating blocks of ``epochs`` epochs."""
    shape, on_cpu, on_gpu = MODELS[name]
    samples = samples or (on_cpu if device.type == "cpu" else on_gpu)
    torch.manual_seed(0)
    x = torch.rand(samples, *shape)
    y = torch.randint(0, 10, (samples,))
    loops = {"fit": fit_epochs, "hand_written": hand_written_epochs}
    models = {}
    for loop in loops:
        torch.manual_seed(1)
        models[loop] = create(name, n_classes=10, input_shape=shape)
    for loop, run in loops.items():  # warm-up: allocator, cuDNN autotuning, lazy imports
        run(models[loop], x, y, 1, batch, device, 0)
    times: dict[str, list[float]] = {loop: [] for loop in loops}
    for r in range(rounds):
        order = list(loops) if r % 2 == 0 else list(reversed(loops))
        for loop in order:
            times[loop].append(loops[loop](models[loop], x, y, epochs, batch, device, r + 1) / epochs)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{name}: fit {med['fit']:.3f} s, hand-written {med['hand_written']:.3f} s per epoch ({samples} images): "
          f"ratio {med['fit'] / med['hand_written']:.3f}", flush=True)  # fmt: skip
    return {
        "samples": samples,
        "median_epoch_s": med,
        "ratio_fit_to_hand_written": med["fit"] / med["hand_written"],
        "epoch_times_s": times,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--models", default="lenet5,resnet18", help=f"comma-separated, among {list(MODELS)}")
    parser.add_argument("--samples", type=int, default=None, help="training images (default: per model and device)")
    parser.add_argument("--rounds", type=int, default=4, help="alternating blocks of each loop")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per block")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--force", action="store_true", help="record even on a loaded machine (said in the record)")
    args = parser.parse_args()
    device = torch.device(args.device)
    names = args.models.split(",")
    if not names or not set(names) <= set(MODELS):
        parser.error(f"--models must name models among {list(MODELS)}, got {args.models!r}")
    for name in ("samples", "rounds", "epochs", "batch_size"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    machine = check_idle(args.force)
    per_model = {n: time_model(n, device, args.samples, args.rounds, args.epochs, args.batch_size) for n in names}
    result = {
        "benchmark": "fit_epoch",
        "recipe": "SGD nesterov, crop+flip, cross-entropy",
        "device_type": device.type,
        "batch_size": args.batch_size,
        "rounds": args.rounds,
        "epochs_per_block": args.epochs,
        "models": per_model,
        "ratio_fit_to_hand_written": max(m["ratio_fit_to_hand_written"] for m in per_model.values()),
        "threads": torch.get_num_threads(),
        **machine,
        "provenance": provenance(),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"fit_epoch_{device.type}.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"ratio (largest): {result['ratio_fit_to_hand_written']:.3f}; wrote {path}")


if __name__ == "__main__":
    main()
