"""Epoch time of the book's training loop (:func:`c2f_utils.train.fit`) against a minimal
hand-written loop on the same model, data and recipe, side by side.

The recipe is the paper profiles' CIFAR one (LLS, FIERCE few-shot): ResNet-18 with the
CIFAR stem, SGD with Nesterov momentum 0.9, weight decay 5e-4, batch 128, cross-entropy,
random crop and flip (:func:`c2f_utils.train.crop_flip`). The data are in-memory tensors of
CIFAR's shape (timing does not depend on their values). The hand-written loop does what a
careful researcher would write by hand and nothing more: one permutation per epoch, a
batch by indexing, the same augmentation, and on CUDA the same efficiencies ``fit`` uses
(data on the device, bfloat16 autocast, channels-last), so the ratio is ``fit``'s own
overhead: history, checks, checkpoint hooks, progress. Blocks of ``--epochs`` epochs of
the two alternate (``fit`` first, then the hand-written loop, then the other order), so
drifts in the machine's load hit both alike; the ratio of the median epoch times is the
overhead.

    python benchmarks/fit_epoch.py [--device cpu|cuda] [--samples N] [--rounds 4] [--epochs 2]

Writes ``benchmarks/results/fit_epoch_<device>.json`` (device, times, commit, parameters).
Target (issue 11): ``fit`` within 1.1x of the hand-written loop.
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

from c2f_utils.models import resnet18
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--samples", type=int, default=None, help="training images (default: 1024 on CPU, 50000)")
    parser.add_argument("--rounds", type=int, default=4, help="alternating blocks of each loop")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per block")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--force", action="store_true", help="record even on a loaded machine (said in the record)")
    args = parser.parse_args()
    device = torch.device(args.device)
    samples = args.samples or (1024 if device.type == "cpu" else 50_000)
    for name in ("samples", "rounds", "epochs", "batch_size"):
        value = samples if name == "samples" else getattr(args, name)
        if value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    machine = check_idle(args.force)
    torch.manual_seed(0)
    x = torch.rand(samples, 3, 32, 32)
    y = torch.randint(0, 10, (samples,))
    loops = {"fit": fit_epochs, "hand_written": hand_written_epochs}
    models = {}
    for name in loops:
        torch.manual_seed(1)
        models[name] = resnet18(10)
    for name, loop in loops.items():  # warm-up: allocator, cuDNN autotuning, lazy imports
        loop(models[name], x, y, 1, args.batch_size, device, 0)
    times: dict[str, list[float]] = {name: [] for name in loops}
    for r in range(args.rounds):
        order = list(loops) if r % 2 == 0 else list(reversed(loops))
        for name in order:
            wall = loops[name](models[name], x, y, args.epochs, args.batch_size, device, r + 1)
            times[name].append(wall / args.epochs)
    med = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "benchmark": "fit_epoch",
        "model": "resnet18 (cifar stem), SGD nesterov, crop+flip, cross-entropy",
        "device_type": device.type,
        "samples": samples,
        "batch_size": args.batch_size,
        "rounds": args.rounds,
        "epochs_per_block": args.epochs,
        "median_epoch_s": med,
        "ratio_fit_to_hand_written": med["fit"] / med["hand_written"],
        "epoch_times_s": times,
        "threads": torch.get_num_threads(),
        **machine,
        "provenance": provenance(),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"fit_epoch_{device.type}.json"
    path.write_text(json.dumps(result, indent=2))
    print(
        f"fit {med['fit']:.3f} s, hand-written {med['hand_written']:.3f} s per epoch "
        f"({samples} images): ratio {result['ratio_fit_to_hand_written']:.3f}"
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
