"""A sweep of bad and edge-case inputs over the public API of c2f_utils (issue 14).

Each public function (or loss module, constructed and called) is declared once with a
*valid* call: its arguments and the *role* of each (``"logits"``, ``"labels"``,
``"pos_float"``...). Every role knows how to spoil a value (a NaN entry, an empty batch, a
label out of range, the string ``"no"`` for a boolean) and which unusual but valid values
it must accept (NumPy scalars, ``int32`` labels, a zero probability). A call's outcome is
classified as:

``clear``
    ``ValueError``/``TypeError`` whose message names the spoiled argument: what we want
    for a bad input, and acceptable for an edge case.
``ok``
    returned finite values: what we want for a valid input.
``obscure``
    any other exception, or a message that does not name the argument.
``nonfinite``
    returned NaN or inf.
``silent``
    a bad input returned a finite result, as if it were fine.
``rejected``
    a valid input (a NumPy scalar, an ``int32`` label) was refused.

A returned :class:`Wrong` (a call whose result a reference computation contradicts, see
``bad_inputs_axes``) is ``silent`` whatever the input.

Round two (issue 30, ``bad_inputs_axes``) adds cases along five *axes*: ``dtype`` (float16,
bfloat16, float64, uint8/bool/float labels), ``scale`` (1e-200 ... 1e200), ``geometry``
(regions outside or over the edge, empty classes), ``duplicates`` (seeds, rows, files) and
``files`` (user files with NaN/inf/empty/duplicated content), plus the runner; their counts are
also printed per axis.

``python tests/bad_inputs.py`` prints the counts per module and outcome.
"""

from __future__ import annotations

import json
import re
import sys
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

GOOD = {"clear", "ok"}
BASELINE = Path(__file__).with_name("bad_inputs_baseline.json")
OUTCOMES = ("clear", "ok", "obscure", "nonfinite", "silent", "rejected")


# --------------------------------------------------------------------------- roles


def _float_tensor(v: Any) -> torch.Tensor:
    return v.clone() if isinstance(v, torch.Tensor) else torch.as_tensor(np.array(v, dtype=np.float32))


def _with_entry(v: Any, value: float) -> Any:
    """A copy of array/tensor ``v`` with its first entry set to ``value``."""
    if isinstance(v, torch.Tensor):
        out = v.clone().to(torch.float32 if not v.is_floating_point() else v.dtype)
        out.view(-1)[0] = value
        return out
    out = np.array(v, dtype=np.float64)
    out.reshape(-1)[0] = value
    return out


def _rows(v: Any, n: int) -> Any:
    return v[:n]


def _drop_last(v: Any) -> Any:
    return v[:-1]


def _more_dims(v: Any) -> Any:
    return v.unsqueeze(-1) if isinstance(v, torch.Tensor) else np.asarray(v)[..., None]


def _as_dtype(v: Any, dtype: str) -> Any:
    if isinstance(v, torch.Tensor):
        return v.to(getattr(torch, dtype))
    return np.asarray(v).astype(dtype)


def _scale_rows(v: Any) -> Any:
    return v * 2


def _negative_entry(v: Any) -> Any:
    return _with_entry(v, -0.5)


_NUMBER_BAD: list[tuple[str, Callable[[Any], Any]]] = [
    ("nan", lambda v: float("nan")),
    ("inf", lambda v: float("inf")),
    ("str", lambda v: str(v)),
    ("none", lambda v: None),
    ("bool", lambda v: True),
]
_INT_BAD: list[tuple[str, Callable[[Any], Any]]] = [
    ("float", lambda v: v + 0.5),
    ("str", lambda v: str(v)),
    ("none", lambda v: None),
    ("bool", lambda v: True),
]
_TENSOR_BAD: list[tuple[str, Callable[[Any], Any]]] = [
    ("nan", lambda v: _with_entry(v, float("nan"))),
    ("inf", lambda v: _with_entry(v, float("inf"))),
    ("empty", lambda v: _rows(v, 0)),
    ("extra_dim", _more_dims),
    ("str", lambda v: "x"),
    ("none", lambda v: None),
]
_LABEL_BAD: list[tuple[str, Callable[[Any], Any]]] = [
    ("negative", lambda v: _set_label(v, -1)),
    ("fractional", lambda v: _as_dtype(v, "float32") + 0.5),
    ("empty", lambda v: _rows(v, 0)),
    ("column", _more_dims),
    ("none", lambda v: None),
]


def _set_label(v: Any, value: int) -> Any:
    out = v.clone() if isinstance(v, torch.Tensor) else np.array(v)
    out[0] = value
    return out


@dataclass(frozen=True)
class Role:
    """How to spoil a value of this role (``bad``) and which other values it must take (``valid``:
    must return finite values; ``edge``: may also be refused with a clear error)."""

    bad: tuple[tuple[str, Callable[[Any], Any]], ...]
    valid: tuple[tuple[str, Callable[[Any], Any]], ...] = ()
    edge: tuple[tuple[str, Callable[[Any], Any]], ...] = ()


def add_role(name: str, role: Role) -> None:
    """Register a role of a call file; one name, one definition (files must not redefine each other's)."""
    if name in ROLES and ROLES[name] != role:
        raise ValueError(f"role {name!r} is already defined differently")
    ROLES[name] = role


def _role(bad: list, valid: list = (), edge: list = ()) -> Role:  # type: ignore[assignment]
    return Role(tuple(bad), tuple(valid), tuple(edge))


_NP_FLOAT = [("numpy_scalar", lambda v: np.float64(v))]
_NP_INT = [("numpy_scalar", lambda v: np.int64(v))]

ROLES: dict[str, Role] = {
    # numbers
    "float": _role(_NUMBER_BAD, _NP_FLOAT),
    "nonneg_float": _role([*_NUMBER_BAD, ("negative", lambda v: -1.0)], _NP_FLOAT),
    "pos_float": _role([*_NUMBER_BAD, ("negative", lambda v: -1.0), ("zero", lambda v: 0.0)], _NP_FLOAT),
    "unit_float": _role([*_NUMBER_BAD, ("negative", lambda v: -0.1), ("above_one", lambda v: 1.5)], _NP_FLOAT),
    "int": _role(_INT_BAD, _NP_INT),
    "nonneg_int": _role([*_INT_BAD, ("negative", lambda v: -1)], _NP_INT),
    "pos_int": _role([*_INT_BAD, ("negative", lambda v: -1), ("zero", lambda v: 0)], _NP_INT),
    "bool": _role(
        [("str_no", lambda v: "no"), ("int", lambda v: 1), ("none", lambda v: None)],
        [("numpy_bool", lambda v: np.bool_(v))],
    ),
    "choice": _role([("unknown", lambda v: "__nope__"), ("int", lambda v: 3), ("none", lambda v: None)]),
    # arrays and tensors
    "features": _role(_TENSOR_BAD, [("float64", lambda v: _as_dtype(v, "float64"))]),
    "paired_features": _role([*_TENSOR_BAD, ("fewer_rows", _drop_last)]),
    "logits": _role(
        [*_TENSOR_BAD, ("fewer_rows", _drop_last)],
        [("float64", lambda v: _as_dtype(v, "float64"))],
        [("zero_probability", lambda v: _with_entry(v, float("-inf")))],
    ),
    "probs": _role(
        [*_TENSOR_BAD, ("fewer_rows", _drop_last), ("negative", _negative_entry), ("rows_sum_2", _scale_rows)]
    ),
    "labels": _role(
        [*_LABEL_BAD, ("out_of_range", lambda v: _set_label(v, 10_000))],
        [("int32", lambda v: _as_dtype(v, "int32"))],
        [("single_class", lambda v: v * 0)],
    ),
    "paired_labels": _role(
        [*_LABEL_BAD, ("fewer_rows", _drop_last), ("out_of_range", lambda v: _set_label(v, 10_000))],
        [("int32", lambda v: _as_dtype(v, "int32"))],
        [("single_class", lambda v: v * 0)],
    ),
    "targets": _role([*_TENSOR_BAD[:3], ("fewer_rows", _drop_last), ("none", lambda v: None)]),
    "images": _role([*_TENSOR_BAD[:4], ("none", lambda v: None)]),
    "cost": _role(_TENSOR_BAD),
    "batched_cost": _role([b for b in _TENSOR_BAD if b[0] != "extra_dim"], [("batched", lambda v: v[None])]),
    "model": _role([("none", lambda v: None), ("str", lambda v: "model")]),
    "floats": _role([("empty", lambda v: []), ("nan", lambda v: [float("nan")]), ("str", lambda v: "0.1")]),
}


# --------------------------------------------------------------------------- calls and cases


@dataclass(frozen=True)
class Call:
    """A public callable, a factory of its valid keyword arguments, and the role of each one swept."""

    id: str
    fn: Callable[..., Any]
    valid: Callable[[], dict[str, Any]]
    roles: Mapping[str, str]
    # what a clear error about an argument must name, where that is not the argument's name
    # (the file whose content is spoiled, the command-line option)
    mentions: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Wrong:
    """What a checked call returns when its result disagrees with an independent reference."""

    why: str


AXES = ("dtype", "scale", "geometry", "duplicates", "files", "runner")
# Role -> the axis spoils of issue 30: (axis, kind, label, spoil), registered by bad_inputs_axes.
AXIS_SPOILS: dict[str, list[tuple[str, str, str, Callable[[Any], Any]]]] = {}


def add_axis_spoil(role: str, axis: str, kind: str, label: str, spoil: Callable[[Any], Any]) -> None:
    """Register a spoil of ``role`` along ``axis`` (one of ``AXES``); ``kind`` as in :class:`Role`."""
    if axis not in AXES or kind not in ("bad", "valid", "edge"):
        raise ValueError(f"unknown axis {axis!r} or kind {kind!r}")
    AXIS_SPOILS.setdefault(role, []).append((axis, kind, label, spoil))


@dataclass(frozen=True)
class Case:
    id: str
    call: Call
    arg: str
    kind: str  # "bad", "valid" or "edge"
    spoil: Callable[[Any], Any]
    axis: str | None = None  # the issue-30 axis of the case, None for the first sweep's cases

    @property
    def module(self) -> str:
        return self.call.id.split(".")[0]

    def run(self) -> str:
        kwargs = self.call.valid()
        kwargs[self.arg] = self.spoil(kwargs[self.arg])
        return classify(self.call.fn, kwargs, self.call.mentions.get(self.arg, self.arg), self.kind)


def cases(calls: list[Call]) -> list[Case]:
    out = []
    for call in calls:
        for arg, role_name in call.roles.items():
            role = ROLES[role_name]
            for kind, spoils in (("bad", role.bad), ("valid", role.valid), ("edge", role.edge)):
                for label, spoil in spoils:
                    out.append(Case(f"{call.id}:{arg}:{label}", call, arg, kind, spoil))
            for axis, kind, label, spoil in AXIS_SPOILS.get(role_name, ()):
                out.append(Case(f"{call.id}:{arg}:{axis}.{label}", call, arg, kind, spoil, axis))
    return out


def _numbers(value: Any) -> Iterator[np.ndarray]:
    """Every numeric array inside a result (tensors, arrays, floats, dataclasses, mappings, frames)."""
    if isinstance(value, torch.Tensor):
        if value.is_floating_point() or value.is_complex():
            yield value.detach().cpu().double().numpy()
    elif isinstance(value, np.ndarray):
        if value.dtype.kind in "fc":
            yield value.astype(np.float64)
    elif isinstance(value, float | np.floating):
        yield np.asarray(value, dtype=np.float64)
    elif isinstance(value, pd.DataFrame):
        yield from (_numbers(value[c].to_numpy()) for c in value.columns if value[c].dtype.kind in "fc")
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _numbers(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _numbers(v)
    elif is_dataclass(value) and not isinstance(value, type):
        for f in fields(value):
            yield from _numbers(getattr(value, f.name))


def _flatten(gen: Any) -> Iterator[np.ndarray]:
    for item in gen:
        if isinstance(item, np.ndarray):
            yield item
        else:
            yield from _flatten(item)


def names_argument(message: str, arg: str) -> bool:
    return f"`{arg}`" in message or re.search(rf"\b{re.escape(arg)}\b", message) is not None


def classify(fn: Callable[..., Any], kwargs: dict[str, Any], arg: str, kind: str) -> str:
    """The outcome of ``fn(**kwargs)`` where ``kwargs[arg]`` was spoiled (``kind`` "bad") or made unusual."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = fn(**kwargs)
    except (ValueError, TypeError) as exc:
        if not names_argument(str(exc), arg):
            return "obscure"
        return "rejected" if kind == "valid" else "clear"
    except Exception:  # noqa: BLE001 - anything else is an obscure failure for the user
        return "obscure"
    if isinstance(result, Wrong):
        return "silent"
    if any(not np.isfinite(a).all() for a in _flatten(_numbers(result))):
        return "nonfinite"
    return "silent" if kind == "bad" else "ok"


def outcome_ok(case: Case, outcome: str) -> bool:
    if case.kind == "valid":
        return outcome == "ok"
    if case.kind == "edge":
        return outcome in GOOD
    return outcome == "clear"


def summary(results: list[tuple[Case, str]]) -> pd.DataFrame:
    counts = Counter((c.module, c.kind, o) for c, o in results)
    rows = [{"module": m, "kind": k, "outcome": o, "cases": n} for (m, k, o), n in sorted(counts.items())]
    return pd.DataFrame(rows).pivot_table(
        index=["module", "kind"], columns="outcome", values="cases", fill_value=0, aggfunc="sum"
    )


def axis_summary(results: list[tuple[Case, str]]) -> pd.DataFrame:
    """Counts of the issue-30 cases per axis, kind and outcome."""
    rows = [{"axis": c.axis, "kind": c.kind, "outcome": o} for c, o in results if c.axis]
    if not rows:
        return pd.DataFrame()
    return (
        pd.DataFrame(rows)
        .value_counts()
        .rename("cases")
        .reset_index()
        .pivot_table(index=["axis", "kind"], columns="outcome", values="cases", fill_value=0, aggfunc="sum")
    )


def all_calls() -> list[Call]:
    """Every declared call: losses (bad_inputs_api), probes (bad_inputs_probes), the rest (bad_inputs_rest),
    and the calls of issue 30's axes (bad_inputs_axes, which also adds axis spoils to the others' roles)."""
    import bad_inputs_api
    import bad_inputs_axes
    import bad_inputs_probes
    import bad_inputs_rest

    return [*bad_inputs_api.CALLS, *bad_inputs_probes.CALLS, *bad_inputs_rest.CALLS, *bad_inputs_axes.CALLS]


def main() -> int:
    torch.manual_seed(0)
    results = [(c, c.run()) for c in cases(all_calls())]
    with pd.option_context("display.width", 200, "display.max_rows", 500):
        print(summary(results))
        print(axis_summary(results))
    failing = {c.id: o for c, o in results if not outcome_ok(c, o)}
    print(f"\n{len(results)} cases, {len(failing)} not as they should be")
    if "-v" in sys.argv:
        print("\n".join(f"{i}: {o}" for i, o in failing.items()))
    if "--write-baseline" in sys.argv:  # the ratchet of test_bad_inputs.py: only ever shrink it
        BASELINE.write_text(json.dumps(failing, indent=1, sort_keys=True) + "\n")
        print(f"wrote {BASELINE}")
    return 0


if __name__ == "__main__":  # run as the module the call files extend (their roles join its ROLES)
    import bad_inputs

    sys.exit(bad_inputs.main())
