"""Bad and edge-case inputs against the public API (tests/bad_inputs.py), with a ratchet.

Every case must end as it should: a bad input in a ``ValueError``/``TypeError`` naming the
argument, a valid one (a NumPy scalar, ``int32`` labels) in finite values, an edge case
(a zero probability, a single-class batch) in either. The cases that do not yet are listed
in ``bad_inputs_baseline.json`` with the outcome they have (issues 14 and 30): they are expected
failures, and one that starts passing fails the run until it is removed from the list, so
the list only shrinks. ``python tests/bad_inputs.py -v`` prints the counts and the cases.
"""

from __future__ import annotations

import importlib
import inspect
import json

import bad_inputs
import pytest
import torch

BASELINE: dict[str, str] = json.loads(bad_inputs.BASELINE.read_text())
CASES = bad_inputs.cases(bad_inputs.all_calls())
SWEPT_MODULES = ("losses", "probes", "models", "train", "data", "report", "weights")
# Public names that take no arguments to spoil: results, exceptions, constants, registries.
NOT_CALLS = {
    "losses": {"ConvergenceWarning", "ProximalPlan", "LLS_ABLATIONS", "LLS_TERMS", "available", "register"},
    "probes": {
        "Agreement", "CalibrationResult", "FewShotResult", "IBSolution", "InfoPlanePoint",
        "OTRegressionResult", "PlanAnalysis", "ProbeResult", "TransferResult",
    },
    "models": {"ModelOutput", "available", "register"},
    "train": {"EpochState", "TrainResult", "SMOKE_ENV"},
    "data": {"DatasetNotFoundError", "DatasetSpec", "LabeledData", "register"},
    "report": {"Check", "Claim", "Estimate", "Finding", "Validity"},
    "weights": {"WeightsChecksumError", "WeightsNotFoundError"},
}  # fmt: skip


def test_at_least_700_cases() -> None:
    assert len(CASES) >= 700
    assert len({c.id for c in CASES}) == len(CASES), "case ids must be unique"


def test_every_public_callable_is_swept() -> None:
    swept = {c.call.id.split(".")[0] + "." + c.call.id.split(".")[1] for c in CASES}
    missing = []
    for short in SWEPT_MODULES:
        module = importlib.import_module(f"c2f_utils.{short}")
        for name in module.__all__:
            obj = getattr(module, name)
            if name in NOT_CALLS[short] or not callable(obj) or (inspect.isclass(obj) and issubclass(obj, Exception)):
                continue
            if f"{short}.{name}" not in swept:
                missing.append(f"{short}.{name}")
    assert not missing, f"public callables with no bad-input case: {missing}"


def test_every_axis_of_issue_30_is_swept() -> None:
    """Round two (bad_inputs_axes) sweeps each axis, with cases that must be refused and cases that must work."""
    kinds = {(c.axis, c.kind) for c in CASES if c.axis}
    for axis in bad_inputs.AXES:
        assert (axis, "bad") in kinds, f"no bad input along the axis {axis!r}"
    assert sum(c.axis is not None for c in CASES) >= 800


def test_baseline_lists_only_existing_failing_cases() -> None:
    ids = {c.id for c in CASES}
    assert set(BASELINE) <= ids, f"baseline names cases that no longer exist: {sorted(set(BASELINE) - ids)[:10]}"
    assert set(BASELINE.values()) <= set(bad_inputs.OUTCOMES) - bad_inputs.GOOD


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: bad_inputs.Case, request: pytest.FixtureRequest) -> None:
    torch.manual_seed(0)
    outcome = case.run()
    if case.id in BASELINE:
        reason = f"issues 14/30, not yet validated: {BASELINE[case.id]}"
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))
    assert bad_inputs.outcome_ok(case, outcome), f"{case.kind} input: {outcome}"
