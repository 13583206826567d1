"""Sweeps: speed-up of 2 workers over 1, and each executor's own cost per run.

1. *Scaling*: 8 equal CPU runs (the setting chapter's training run on the embedded
   digits, ``--epochs`` epochs, seeds 0-3 x coarse/fine labels) swept with the local
   executor on 1 worker and on 2 workers, each into an empty cache. The ratio of the wall
   times is the speed-up (target: at least 1.7 on two cores). Wall times include
   starting the worker processes, as a user's sweep does.
2. *Overhead*: ``--null-runs`` runs that do nothing (:class:`c2f_utils.sweep.NullRun`)
   swept on each executor with 2 workers; the cost per run is
   ``(wall(n runs) - wall(1 run)) / (n - 1)``, which removes the engine's start-up
   (target: under 50 ms per run on Dask's LocalCluster).

    python benchmarks/sweep_scaling.py [--epochs 15] [--null-runs 100] [--out benchmarks/results]

Run it on an otherwise idle machine: it refuses to record when the 1-minute load average
is above 0.5 per core at the start (``--force`` records anyway and says so).
Writes ``benchmarks/results/sweep_scaling.json`` with provenance.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from _idle import check_idle

from c2f_utils.chapters import setting
from c2f_utils.runs import provenance
from c2f_utils.sweep import NullRun, sweep


def _timed(runs_or_config, executor: str, workers: int, **options) -> float:
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        report = sweep(runs_or_config, executor=executor, workers=workers, cache_dir=cache, progress=False, **options)
        wall = time.perf_counter() - start
    if report.failed:
        raise RuntimeError(f"{len(report.failed)} runs failed:\n{report.failed[0].error}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--null-runs", type=int, default=100)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--force", action="store_true", help="record even on a loaded machine")
    args = parser.parse_args()
    machine = check_idle(args.force)

    config = setting.CHAPTER.configure("quick", epochs=args.epochs, seeds=[0, 1, 2, 3], probe_every=args.epochs)
    n_runs = len(config.runs("train"))
    scaling = {w: _timed(config.runs("train"), "local", w) for w in (1, 2)}
    print(f"{n_runs} runs: 1 worker {scaling[1]:.1f} s, 2 workers {scaling[2]:.1f} s: {scaling[1] / scaling[2]:.2f}x")

    overhead = {}
    for executor in ("local", "dask", "submitit"):
        options = {"cluster": "local", "folder": tempfile.mkdtemp()} if executor == "submitit" else {}
        # submitit's local executor starts one process per run (seconds each): fewer runs measure it.
        count = args.null_runs if executor != "submitit" else 6
        many = [NullRun(i, 0.0) for i in range(count)]
        one = _timed([NullRun(10**6, 0.0)], executor, 2, **options)
        total = _timed(many, executor, 2, **options)
        overhead[executor] = {"one_run_s": one, "n_runs": count, "n_runs_s": total,
                              "per_run_ms": 1000 * (total - one) / (count - 1)}  # fmt: skip
        print(f"{executor}: {overhead[executor]['per_run_ms']:.1f} ms per run (start-up {one:.1f} s)")

    record = {
        "benchmark": "sweep_scaling",
        "scaling": {
            "runs": n_runs,
            "run": f"setting.train_and_probe, digits, {args.epochs} epochs",
            "wall_s": {str(w): t for w, t in scaling.items()},
            "speedup_2_over_1": scaling[1] / scaling[2],
            "target": ">= 1.7",
        },
        "overhead": overhead,
        "overhead_target_dask_ms": 50,
        **machine,
        "provenance": provenance(),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "sweep_scaling.json"
    path.write_text(json.dumps(record, indent=1, sort_keys=True))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
