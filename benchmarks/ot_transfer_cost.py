"""Cost of the OT regularizer: a training step with Ω_P vs L2-SP, and the plan's solver time vs d.

Usage::

    python benchmarks/ot_transfer_cost.py                      # CPU
    python benchmarks/ot_transfer_cost.py --device cuda --dims 64 128 256 512 1024 2048

Results are cached like every run of the book (``$C2F_CACHE_DIR``): the chapter's
:class:`~c2f_utils.chapters.ot_transfer.Cost` experiment, keyed by its parameters and device.
"""

from __future__ import annotations

import argparse

import pandas as pd

from c2f_utils.chapters import ot_transfer as ch


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dims", type=int, nargs="+", default=[64, 128, 256, 512, 1024, 2048])
    parser.add_argument("--prox-max-dim", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--networks", nargs="+", default=["mlp", "resnet20"])
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args(argv)
    pd.set_option("display.width", 120)
    cost = ch.Cost(args.networks, args.batch_size, args.dims, args.prox_max_dim, args.repeats, args.device)
    steps, solvers = ch.cost_tables(cost.cached())
    print(steps.to_string(index=False))
    print()
    print(solvers.to_string(index=False))


if __name__ == "__main__":
    main()
