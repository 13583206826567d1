"""Parameters: an experiment's fields, declared once with their types, bounds, choices and help.

:func:`param` declares a field of an experiment (a frozen dataclass, :class:`~c2f_utils.experiments.Experiment`);
:func:`check_value` validates a value for it, with a message naming the field and the value;
:func:`parse_text` reads a value given on the command line. A chapter's parameters
(:class:`Parameter`) are derived from these fields (:class:`~c2f_utils.experiments.Chapter`):
a field swept in a grid becomes a list parameter named by its :func:`plural`.

Why frozen dataclasses rather than pydantic models: they are in the standard library
(nothing to pin for readers), immutable and hashable (an experiment is a value: a
cache key, a plan entry), copied with validation by :func:`dataclasses.replace`, and
their fields are plain annotations that the parameter derivation reads directly; the
validation they need (types, bounds, choices, device strings) is the library's own, with
its messages naming the field and the value.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["ParamInfo", "Parameter", "check_value", "field_default", "fields_of", "param", "parse_text", "plural"]

_DEVICE = re.compile(r"^(cpu|auto|mps|cuda(:\d+)?)$")
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
_PLURALS = {"criterion": "criteria", "analysis": "analyses", "index": "indices"}


@dataclass(frozen=True)
class ParamInfo:
    """Bounds, choices and help of one experiment field (``dataclasses.Field.metadata['c2f']``)."""

    help: str
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    choices: tuple[Any, ...] | None = None
    device: bool = False
    length: int | None = None
    omit_default: bool = False

    def describe(self) -> str:
        """``"in [0, 1)"``, ``"one of ['a', 'b']"``, ``"cpu, cuda[:N], mps or auto"`` or ``""``."""
        if self.choices is not None:
            return f"one of {list(self.choices)}"
        if self.device:
            return "cpu, cuda[:N], mps or auto"
        low = f"[{self.ge}" if self.ge is not None else (f"({self.gt}" if self.gt is not None else "")
        high = f"{self.le}]" if self.le is not None else (f"{self.lt})" if self.lt is not None else "")
        if not low and not high:
            return ""
        return f"in {low or '(-inf'}, {high or 'inf)'}"


def param(
    help: str,
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    choices: Sequence[Any] | None = None,
    device: bool = False,
    length: int | None = None,
    default: Any = dataclasses.MISSING,
    omit_default: bool = False,
) -> Any:
    """Declare an experiment field with its bounds (``ge``/``gt``/``le``/``lt``), ``choices``
    or ``device=True`` (``cpu``, ``cuda``, ``cuda:N``, ``mps``, ``auto``) and a ``help`` line.

    For tuple fields the bounds and choices apply to every element and ``length`` fixes
    the number of elements.

    ``omit_default=True`` (with a ``default``) leaves the field out of
    :meth:`Experiment.params`, and so out of the run's key, while it holds its default.
    It is the way to add a field to an experiment whose runs are recorded: when the
    default reproduces what the experiment computed before the field existed, the
    recorded runs keep their keys, and only a run that sets the field gets a new one.
    """
    if not isinstance(omit_default, bool):
        raise TypeError(f"Expected `omit_default` to be true or false, got {omit_default!r}")
    if omit_default and default is dataclasses.MISSING:
        raise ValueError(f"Expected a `default` with omit_default=True (field {help!r}), got none")
    info = ParamInfo(
        help, ge, gt, le, lt, tuple(choices) if choices is not None else None, device, length, omit_default
    )
    return field(default=default, metadata={"c2f": info})


def _element_type(annotation: Any) -> tuple[type, bool]:
    """``(int, True)`` for ``tuple[int, ...]``, ``(float, False)`` for ``float``."""
    if typing.get_origin(annotation) is tuple:
        return typing.get_args(annotation)[0], True
    return annotation, False


def _type_name(annotation: Any) -> str:
    base, many = _element_type(annotation)
    return f"list[{base.__name__}]" if many else base.__name__


def _check_scalar(name: str, value: Any, base: type, info: ParamInfo) -> Any:
    """Return ``value`` coerced to ``base`` (numpy scalars, ints as floats) or raise."""
    if isinstance(value, np.generic):
        value = value.item()
    if base is bool:
        if not isinstance(value, bool):
            raise TypeError(f"Expected `{name}` to be true or false, got {value!r}")
    elif base is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"Expected `{name}` to be an integer, got {value!r}")
    elif base is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"Expected `{name}` to be a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"Expected `{name}` to be a finite number, got {value!r}")
    elif base is str:
        if not isinstance(value, str):
            raise TypeError(f"Expected `{name}` to be a string, got {value!r}")
    else:  # a nested experiment
        if not isinstance(value, base):
            raise TypeError(f"Expected `{name}` to be a {base.__name__}, got {value!r}")
        return value
    if info.choices is not None and value not in info.choices:
        raise ValueError(f"Expected `{name}` to be one of {list(info.choices)}, got {value!r}")
    if info.device and not _DEVICE.match(value):
        raise ValueError(f"Expected `{name}` to be 'cpu', 'cuda', 'cuda:N', 'mps' or 'auto', got {value!r}")
    bad = (
        (info.ge is not None and value < info.ge)
        or (info.gt is not None and value <= info.gt)
        or (info.le is not None and value > info.le)
        or (info.lt is not None and value >= info.lt)
    )
    if bad:
        raise ValueError(f"Expected `{name}` {info.describe()}, got {value!r}")
    return value


def check_value(name: str, value: Any, annotation: Any, info: ParamInfo) -> Any:
    """Validate ``value`` for a field of type ``annotation``; tuples accept any sequence."""
    base, many = _element_type(annotation)
    if not many:
        return _check_scalar(name, value, base, info)
    if isinstance(value, str | bytes) or not isinstance(value, Sequence | np.ndarray):
        raise TypeError(f"Expected `{name}` to be a list of {base.__name__}, got {value!r}")
    items = tuple(_check_scalar(f"{name}[{i}]", v, base, info) for i, v in enumerate(value))
    if info.length is not None and len(items) != info.length:
        raise ValueError(f"Expected `{name}` to have {info.length} elements, got {value!r}")
    return items


def parse_text(name: str, text: str, annotation: Any) -> Any:
    """Parse a command-line value: ``"3"``, ``"0.1"``, ``"true"``, ``"0,1,2"`` or ``"[0, 1, 2]"``."""
    base, many = _element_type(annotation)
    if many:
        text = text.strip()
        try:
            parts = json.loads(text) if text.startswith("[") else [p.strip() for p in text.split(",") if p.strip()]
        except json.JSONDecodeError:
            raise ValueError(f"Expected `{name}` as 0,1,2 or [0, 1, 2], got {text!r}") from None
        return [parse_text(name, str(p), base) if not isinstance(p, bool | int | float) else p for p in parts]
    try:
        if base is int:
            return int(text)
        if base is float:
            return float(text)
    except ValueError:
        kind = "an integer" if base is int else "a number"
        raise TypeError(f"Expected `{name}` to be {kind}, got {text!r}") from None
    if base is bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise TypeError(f"Expected `{name}` to be true or false, got {text!r}")
    return text


def fields_of(cls: type) -> dict[str, tuple[Any, ParamInfo]]:
    """Field name -> (resolved type, :class:`ParamInfo`) of an experiment class."""
    hints = typing.get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        info = f.metadata.get("c2f")
        if info is None:
            raise TypeError(f"Field `{f.name}` of {cls.__name__} must be declared with c2f_utils.experiments.param")
        out[f.name] = (hints[f.name], info)
    return out


def field_default(cls: type, name: str) -> Any:
    """The declared default of field ``name`` of an experiment class (a tuple as the list a parameter holds)."""
    default = next(f.default for f in dataclasses.fields(cls) if f.name == name)
    return list(default) if isinstance(default, tuple) else default


def plural(name: str) -> str:
    """``seed`` -> ``seeds``, ``criterion`` -> ``criteria``, ``alpha`` -> ``alphas``."""
    return _PLURALS.get(name, name + ("es" if name.endswith(("s", "x")) else "s"))


@dataclass(frozen=True)
class Parameter:
    """A chapter parameter: which grid fields it sets, its type, bounds and profile values."""

    name: str
    annotation: Any
    info: ParamInfo
    targets: tuple[tuple[str, str], ...]  # (grid id, field)
    values: Mapping[str, Any]  # profile -> value

    @property
    def type_name(self) -> str:
        """``"int"``, ``"list[float]"``... as ``--list`` shows it."""
        return _type_name(self.annotation)

    def check(self, value: Any) -> Any:
        """Return ``value`` validated (and normalised) for this parameter, else raise naming it."""
        out = check_value(self.name, value, self.annotation, self.info)
        if isinstance(out, tuple) and not out and [] not in self.values.values():
            raise ValueError(f"Expected at least one value for `{self.name}`, got {value!r}")
        if isinstance(out, tuple) and len(set(out)) != len(out):  # `seeds 0,0,0`: one run counted three times
            repeated = sorted({repr(v) for i, v in enumerate(out) if v in out[:i]})
            raise ValueError(
                f"Expected distinct values in `{self.name}`, got {list(out)} ({', '.join(repeated)} repeated)"
            )
        return out

    def parse(self, text: str) -> Any:
        """Parse and validate a command-line value (``"3"``, ``"0,1,2"``, ``"true"``)."""
        return self.check(parse_text(self.name, text, self.annotation))
