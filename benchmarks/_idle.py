"""The benchmarks' guard against a loaded machine: two PyTorch processes on two cores slow
each other down about tenfold, so a time taken beside other work is not a benchmark."""

from __future__ import annotations

import os

from c2f_utils.sweep import available_cores


def check_idle(force: bool) -> dict[str, float | int | bool]:
    """Exit unless the 1-minute load average is at most half the available cores (or ``force``);
    returns what the record states about the machine."""
    cores = available_cores()
    load = os.getloadavg()[0]
    loaded = load > 0.5 * cores
    if loaded and not force:
        raise SystemExit(f"load average {load:.2f} on {cores} cores: not an idle machine (use --force to record)")
    return {"cores": cores, "load_average_at_start": load, "recorded_on_loaded_machine": loaded}
