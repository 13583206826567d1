"""Parameters: an experiment's fields, declared once with their types, bounds, choices and help.

:func:`param` declares a field of an experiment (a frozen dataclass, :class:`~c2f_utils.experiments.Experiment`);
:func:`check_value` validates a value for it and :func:`parse_text` reads one given on the command
line, both with pydantic: each declared field becomes a pydantic :class:`~pydantic.TypeAdapter`
(:func:`type_adapter`) of its annotation with its constraints (``Field(ge=..., strict=True)``, a
literal of its choices, a device pattern), and a validation error becomes a ``TypeError`` or
``ValueError`` whose message names the field and the value. A chapter's parameters
(:class:`Parameter`) are derived from these fields (:class:`~c2f_utils.experiments.Chapter`):
a field swept in a grid becomes a list parameter named by its :func:`plural`.

Why frozen dataclasses rather than pydantic models for the experiments themselves: they are
immutable and hashable (an experiment is a value: a cache key, a plan entry), copied with
validation by :func:`dataclasses.replace`, and their fields are plain annotations that the
parameter derivation reads directly; pydantic validates each field (strictly: a bool is not an
integer, ``"no"`` is not a bool, ``"0.1"`` is not a number), so values, and the run keys made
from them, are exactly the ones given.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

import numpy as np
from pydantic import Field, GetPydanticSchema, TypeAdapter, ValidationError
from pydantic_core import core_schema

__all__ = [
    "ParamInfo",
    "Parameter",
    "check_value",
    "field_default",
    "fields_of",
    "param",
    "parse_text",
    "plural",
    "type_adapter",
]

_DEVICE = re.compile(r"^(cpu|auto|mps|cuda(:\d+)?)$")
_PLURALS = {"criterion": "criteria", "analysis": "analyses", "index": "indices"}
_SCALARS = (int, float, str, bool)
_KINDS = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
# pydantic's error types that say the value has the wrong type (the rest: a wrong value)
_TYPE_ERRORS = {
    "int_type": int,
    "float_type": float,
    "string_type": str,
    "bool_type": bool,
    "int_parsing": int,
    "int_from_float": int,
    "float_parsing": float,
    "bool_parsing": bool,
}
_BOUND_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}


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


def _one_of(choices: tuple[Any, ...]) -> GetPydanticSchema:
    """A literal of ``choices`` checked after the field's strict type: a literal alone takes 0 for False."""
    return GetPydanticSchema(
        lambda source, handler: core_schema.chain_schema([handler(source), core_schema.literal_schema(list(choices))])
    )


def _scalar(base: type, info: ParamInfo) -> Any:
    """The annotation pydantic validates one value of type ``base`` with: strict, bounded, chosen."""
    if base not in _KINDS:  # a nested experiment: an instance of its class, as it is
        return Annotated[Any, GetPydanticSchema(lambda _source, _handler: core_schema.is_instance_schema(base))]
    bounds = {"ge": info.ge, "gt": info.gt, "le": info.le, "lt": info.lt}
    constraints: dict[str, Any] = {k: v for k, v in bounds.items() if v is not None}
    if base is float:
        constraints["allow_inf_nan"] = False
    if info.device:
        constraints["pattern"] = _DEVICE.pattern
    annotation = Annotated[base, Field(strict=True, **constraints)]
    return annotation if info.choices is None else Annotated[annotation, _one_of(info.choices)]


@functools.cache
def type_adapter(annotation: Any, info: ParamInfo) -> TypeAdapter:
    """The pydantic adapter that validates a field of type ``annotation`` declared with ``info``.

    Scalars are strict (a bool is not an integer, a string not a number; an integer is a
    number, and becomes a float) and finite; tuples take a tuple of such values, of
    ``info.length`` elements when it is set.
    """
    base, many = _element_type(annotation)
    element = _scalar(base, info)
    if not many:
        return TypeAdapter(element)
    length = {} if info.length is None else {"min_length": info.length, "max_length": info.length}
    return TypeAdapter(Annotated[tuple[element, ...], Field(strict=True, **length)])


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _error(name: str, error: Any, annotation: Any, info: ParamInfo, value: Any) -> TypeError | ValueError:
    """A pydantic validation error as the exception a caller expects, naming the field (and element) and the value."""
    base, _ = _element_type(annotation)
    where = name + "".join(f"[{i}]" for i in error["loc"] if isinstance(i, int))
    kind, got = error["type"], error["input"]
    if kind == "tuple_type":
        return TypeError(f"Expected `{name}` to be a list of {base.__name__}, got {value!r}")
    if kind in ("too_short", "too_long"):
        return ValueError(f"Expected `{name}` to have {info.length} elements, got {value!r}")
    if kind in _TYPE_ERRORS:
        return TypeError(f"Expected `{where}` to be {_KINDS[_TYPE_ERRORS[kind]]}, got {got!r}")
    if kind == "is_instance_of":
        return TypeError(f"Expected `{where}` to be a {base.__name__}, got {got!r}")
    if kind == "finite_number":
        return ValueError(f"Expected `{where}` to be a finite number, got {got!r}")
    if kind == "literal_error":
        return ValueError(f"Expected `{where}` to be one of {list(info.choices or ())}, got {got!r}")
    if kind == "string_pattern_mismatch":
        return ValueError(f"Expected `{where}` to be 'cpu', 'cuda', 'cuda:N', 'mps' or 'auto', got {got!r}")
    if kind in _BOUND_ERRORS:
        return ValueError(f"Expected `{where}` {info.describe()}, got {got!r}")
    return ValueError(f"Expected `{where}` to be valid ({error['msg']}), got {got!r}")


def check_value(name: str, value: Any, annotation: Any, info: ParamInfo) -> Any:
    """Validate ``value`` for a field of type ``annotation`` (:func:`type_adapter`); tuples accept
    any sequence, numpy scalars and arrays are read as Python values. Raises a ``TypeError``
    (wrong type) or ``ValueError`` (wrong value) naming ``name`` and the value."""
    _, many = _element_type(annotation)
    if not many:
        value = _plain(value)
    elif isinstance(value, Sequence | np.ndarray) and not isinstance(value, str | bytes):
        value = tuple(_plain(v) for v in value)
    try:
        return type_adapter(annotation, info).validate_python(value)
    except ValidationError as exc:
        raise _error(name, exc.errors()[0], annotation, info, value) from None


@functools.cache
def _text_adapter(base: type) -> TypeAdapter:
    return TypeAdapter(base)  # lax: "3" -> 3, "0.1" -> 0.1, "off" -> False


def parse_text(name: str, text: str, annotation: Any) -> Any:
    """Parse a command-line value: ``"3"``, ``"0.1"``, ``"true"``, ``"0,1,2"`` or ``"[0, 1, 2]"``.

    Numbers and booleans are read by pydantic's lax mode (``"yes"``, ``"on"``, ``"1"`` are true);
    :func:`check_value` then validates the result.
    """
    base, many = _element_type(annotation)
    if many:
        text = text.strip()
        try:
            parts = json.loads(text) if text.startswith("[") else [p.strip() for p in text.split(",") if p.strip()]
        except json.JSONDecodeError:
            raise ValueError(f"Expected `{name}` as 0,1,2 or [0, 1, 2], got {text!r}") from None
        return [parse_text(name, p, base) if isinstance(p, str) else p for p in parts]
    if base not in (int, float, bool):
        return text
    try:
        return _text_adapter(base).validate_python(text)
    except ValidationError:
        raise TypeError(f"Expected `{name}` to be {_KINDS[base]}, got {text!r}") from None


@functools.cache
def _fields(cls: type) -> tuple[tuple[str, Any, ParamInfo], ...]:
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        info = f.metadata.get("c2f")
        if info is None:
            raise TypeError(f"Field `{f.name}` of {cls.__name__} must be declared with c2f_utils.experiments.param")
        out.append((f.name, hints[f.name], info))
    return tuple(out)


def fields_of(cls: type) -> dict[str, tuple[Any, ParamInfo]]:
    """Field name -> (resolved type, :class:`ParamInfo`) of an experiment class."""
    return {name: (annotation, info) for name, annotation, info in _fields(cls)}


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
