"""Experiments as declared, typed, cached runs; chapters as grids of them.

An *experiment* is a frozen dataclass whose fields are exactly the arguments of one
run (with types, bounds and choices, declared once with :func:`param`) and whose
:meth:`Experiment.run` computes it. An instance is validated when it is made, so a
wrong value fails before anything trains, with a message naming the field and the
value. :meth:`Experiment.cached` runs it through :func:`c2f_utils.runs.cached_run`
under a key that depends on the experiment, its parameters, the code it executes
(:func:`code_fingerprint`) and the numerical libraries' versions, and on nothing else.

A *chapter* (:class:`Chapter`) names its notebook and, per profile (``quick``,
``real``, ``paper``), a :class:`Grid` per experiment group: a base instance and the
fields swept over (seeds, criteria, hyperparameter grids). The chapter's parameters
(the notebook's ``parameters`` cell, the runner's ``-p`` names, ``--list``) are
derived from these declarations by one rule, :meth:`Chapter.parameters`:

- a field swept in a grid becomes a list parameter named by the plural of the field
  (``seed`` -> ``seeds``), a fixed field a scalar parameter named by the field;
- unless the field is one of the chapter's ``shared`` names, the name is prefixed by
  the grid's group (``age_epochs`` sets ``epochs`` of every grid of group ``age``);
- fields listed in a grid's ``fixed`` are not parameters: the profile fixes them.

:meth:`Chapter.configure` applies a profile and overrides and returns a
:class:`Config`; :meth:`Config.plan` lists every run the chapter executes, in order,
before any of them runs (``python -m c2f_utils.run CHAPTER --plan``).

Why frozen dataclasses rather than pydantic models: they are in the standard library
(nothing to pin for readers), immutable and hashable (an experiment is a value: a
cache key, a plan entry), copied with validation by :func:`dataclasses.replace`, and
their fields are plain annotations that the fingerprinting and the parameter
derivation read directly; the validation they need (types, bounds, choices, device
strings) is the library's own, with its messages naming the field and the value.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import importlib
import importlib.util
import inspect
import itertools
import json
import math
import re
import sys
import textwrap
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

__all__ = [
    "PROFILES",
    "Chapter",
    "Config",
    "Experiment",
    "Grid",
    "ParamInfo",
    "Parameter",
    "check_value",
    "code_dependencies",
    "code_fingerprint",
    "library_versions",
    "param",
    "parse_text",
    "plural",
]

PROFILES = ("quick", "real", "paper")
"""Profiles a chapter may implement (see ``book/running.md``)."""

_PACKAGE = __name__.rpartition(".")[0]
_DEVICE = re.compile(r"^(cpu|auto|mps|cuda(:\d+)?)$")
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
_PLURALS = {"criterion": "criteria", "analysis": "analyses", "index": "indices"}
# Storage and declaration machinery: how a result is kept, not what it computes.
_NOT_COMPUTATION = {
    f"{_PACKAGE}.{m}"
    for m in ("runs", "experiments", "report", "plots", "evidence", "sweep", "run", "progress", "_lazy")
}


# --------------------------------------------------------------------------- fields


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
) -> Any:
    """Declare an experiment field with its bounds (``ge``/``gt``/``le``/``lt``), ``choices``
    or ``device=True`` (``cpu``, ``cuda``, ``cuda:N``, ``mps``, ``auto``) and a ``help`` line.

    For tuple fields the bounds and choices apply to every element and ``length`` fixes
    the number of elements.
    """
    info = ParamInfo(help, ge, gt, le, lt, tuple(choices) if choices is not None else None, device, length)
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


def _fields(cls: type) -> dict[str, tuple[Any, ParamInfo]]:
    """Field name -> (resolved type, :class:`ParamInfo`) of an experiment class."""
    hints = typing.get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        info = f.metadata.get("c2f")
        if info is None:
            raise TypeError(f"Field `{f.name}` of {cls.__name__} must be declared with c2f_utils.experiments.param")
        out[f.name] = (hints[f.name], info)
    return out


# --------------------------------------------------------------------------- experiments


@dataclass(frozen=True)
class Experiment:
    """Base of every experiment: a frozen dataclass of one run's arguments.

    Subclasses set ``name`` (the cache folder, ``"chapter.experiment"``), declare their
    fields with :func:`param` and implement :meth:`run`. Values are validated (and
    sequences turned into tuples) when an instance is made.
    """

    name: ClassVar[str] = ""

    def __post_init__(self) -> None:
        if not self.name:
            raise TypeError(f"{type(self).__name__} must set the class variable `name`")
        for fname, (annotation, info) in _fields(type(self)).items():
            object.__setattr__(self, fname, check_value(fname, getattr(self, fname), annotation, info))

    def run(self) -> Any:
        """Compute the run; returns a :class:`~c2f_utils.runs.RunOutput` or a dict of metrics."""
        raise NotImplementedError(f"{type(self).__name__} does not implement run()")

    def params(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict (nested experiments as ``{"name", "params"}``)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Experiment):
                value = {"experiment": value.name, "params": value.params()}
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    def replace(self, **changes: Any) -> Experiment:
        """A validated copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def requires(self) -> list[Experiment]:
        """Runs this run reads (a teacher, a pretrained source); planned before it."""
        return [v for f in dataclasses.fields(self) if isinstance(v := getattr(self, f.name), Experiment)]

    def key(self) -> str:
        """The run's cache key (see :func:`c2f_utils.runs.run_key`)."""
        from .runs import run_key

        return run_key(self.name, self.params(), code_fingerprint(type(self)))

    def cached(self, *, cache_dir: str | None = None, force: bool = False):
        """The run's :class:`~c2f_utils.runs.RunResult`, computed or read from the cache."""
        from .runs import cached_run

        return cached_run(
            self.name,
            lambda **_: self.run(),
            self.params(),
            cache_dir=cache_dir,
            force=force,
            code=code_fingerprint(type(self)),
        )

    def data_needs(self) -> list[str]:
        """The real datasets this run reads: the values of its ``dataset`` fields that are not embedded.

        Experiments that read other files (weights, a dataset chosen at run time) override it
        or :meth:`check_data`.
        """
        from . import data

        names = [getattr(self, f.name) for f in dataclasses.fields(self) if f.name.endswith("dataset")]
        return [n for n in names if isinstance(n, str) and n not in data.available("embedded")]

    def check_data(self) -> list[str]:
        """Problems with the files this run needs (empty when every one is there and readable).

        Each of :meth:`data_needs` is loaded, every split, without downloading: a missing
        file is reported with the loader's message (where to put it, how to get it).
        """
        from . import data

        problems = []
        for name in self.data_needs():
            if name not in data.available():
                problems.append(f"{name}: no loader is registered for this dataset (data.available() lists them)")
                continue
            for split in data.describe(name).splits:
                try:
                    data.load(name, split, download=False)
                except data.DatasetNotFoundError as exc:
                    problems.append(f"{name} ({split}): {exc}")
                    break
                except Exception as exc:  # noqa: BLE001 - an unreadable file is a problem to report, with the rest
                    problems.append(f"{name} ({split}): unreadable ({type(exc).__name__}: {exc})")
                    break
        return problems

    def is_cached(self, cache_dir: str | None = None) -> bool:
        """Whether a finished entry for this run is on disk (its checksums are checked on read)."""
        from .runs import entry_path

        return (entry_path(self.name, self.key(), cache_dir) / "record.json").is_file()


# --------------------------------------------------------------------------- code fingerprints


def _names_used(obj: Any) -> set[str]:
    """Global names read by a function or by the methods of a class (nested code included)."""
    codes: list[types.CodeType] = []
    if isinstance(obj, type):
        for member in vars(obj).values():
            func = getattr(member, "__func__", member)
            if isinstance(member, property):
                func = member.fget
            if hasattr(func, "__code__"):
                codes.append(func.__code__)
        for ann in getattr(obj, "__annotations__", {}).values():
            if isinstance(ann, str):
                codes.append(compile(ann, "<annotation>", "eval"))
    elif hasattr(obj, "__code__"):
        codes.append(obj.__code__)
    names: set[str] = set()
    while codes:
        code = codes.pop()
        names.update(code.co_names)
        codes.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    return names


def _is_library(module: str) -> bool:
    """Library modules are hashed whole; chapter modules object by object."""
    return module.startswith(_PACKAGE + ".") and not module.startswith(f"{_PACKAGE}.chapters")


_PACKAGE_DIR = Path(__file__).resolve().parent


def _source_file(module: str) -> Path | None:
    """Source file of ``module``. The package's own modules are located by path, not by
    :func:`importlib.util.find_spec`, which imports a submodule's parent packages (and with
    them torch): hashing a chapter's code for ``--plan`` imports nothing."""
    if module == _PACKAGE or module.startswith(_PACKAGE + "."):
        base = _PACKAGE_DIR.joinpath(*module.split(".")[1:])
        for candidate in (base / "__init__.py", base.with_suffix(".py")):
            if candidate.is_file():
                return candidate
        return None
    try:
        spec = importlib.util.find_spec(module)
    except (ModuleNotFoundError, ValueError):
        return None
    return Path(spec.origin) if spec is not None and spec.origin not in (None, "built-in", "frozen") else None


def _is_module(name: str) -> bool:
    return _source_file(name) is not None


@cache
def _module_imports(module: str) -> tuple[str, ...]:
    """Package modules imported by ``module`` (from its source, relative imports resolved)."""
    origin = _source_file(module)
    if origin is None:
        return ()
    tree = ast.parse(origin.read_text())
    is_package = origin.name == "__init__.py"
    base = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = base.split(".")
                root = ".".join(parts[: len(parts) - node.level + 1])
                target = f"{root}.{node.module}" if node.module else root
            else:
                target = node.module or ""
            found.add(target)
            if target.startswith(_PACKAGE):  # `from . import losses` imports a module
                found.update(f"{target}.{a.name}" for a in node.names if _is_module(f"{target}.{a.name}"))
    return tuple(sorted(m for m in found if m.startswith(_PACKAGE + ".") and m not in _NOT_COMPUTATION))


@cache
def _package_layout(package: str) -> tuple[dict[str, str], frozenset[str], bool] | None:
    """What a package's ``__init__`` binds, read from its source: ``(exports, imported, own)``.

    ``exports`` maps each name bound by ``from .sub import name`` to ``package.sub``;
    ``imported`` are the submodules it imports as modules (``from . import sub``: for their
    registrations, as :mod:`c2f_utils.data` imports its datasets); ``own`` is whether it
    defines anything itself. ``None`` for a plain module.
    """
    origin = _source_file(package)
    if origin is None or origin.name != "__init__.py":
        return None
    exports: dict[str, str] = {}
    imported: set[str] = set()
    own = False
    for node in ast.parse(origin.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            for alias in node.names:
                if node.module:
                    exports[alias.asname or alias.name] = f"{package}.{node.module}"
                else:
                    imported.add(f"{package}.{alias.name}")
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            own = own or not (len(targets) == 1 and isinstance(targets[0], ast.Name) and targets[0].id == "__all__")
    return exports, frozenset(imported), own


def _modules_read(module: str, names: set[str]) -> set[str]:
    """The library modules that code reading ``names`` off module ``module`` reaches.

    A plain module is itself. For a package, the names are resolved statically from its
    ``__init__`` (:func:`_package_layout`), without importing it: each exported name read
    (``c2f_probes.linear_probe``) is its defining submodule, each submodule read
    (``c2f_data.core``) itself, and the submodules the ``__init__`` imports as modules
    always count, with the ``__init__``. A package that defines names of its own is
    counted whole. ``names`` are every name the code reads, attributes of other objects
    too, so the result may be larger than needed, never smaller.
    """
    layout = _package_layout(module)
    if layout is None:
        return {module}
    exports, imported, own = layout
    if own:
        return {module}
    read = {exports[n] for n in names if n in exports}
    read |= {f"{module}.{n}" for n in names if _is_module(f"{module}.{n}")}
    return {f"{module}.__init__", *imported, *read}


def _library_closure(modules: set[str]) -> list[str]:
    todo, seen = list(modules), set()
    while todo:
        m = todo.pop()
        if m in seen or m in _NOT_COMPUTATION or not _is_library(m):
            continue
        seen.add(m)
        if not m.endswith(".__init__"):  # a package's own file (see _modules_read): hashed, its imports not followed
            todo.extend(_module_imports(m))
    return sorted(seen)


def _walk(root: Any) -> tuple[dict[str, Any], set[str]]:
    """Objects (by qualified name) and library modules reached from ``root`` (see :func:`code_dependencies`)."""
    if not (inspect.isfunction(root) or inspect.isclass(root)):
        root = type(root)  # a callable instance: its class's code
    objects: dict[str, Any] = {}
    modules: set[str] = set()
    stack: list[Any] = [root]
    while stack:
        obj = stack.pop()
        qual = f"{obj.__module__}.{obj.__qualname__}"
        if qual in objects:
            continue
        objects[qual] = obj
        namespace = vars(sys.modules[obj.__module__])
        names = _names_used(obj)
        used = [n for n in names if n in namespace]
        for name in used:  # module-level constants (tables, defaults) the code reads
            if isinstance(namespace[name], _CONSTANT_TYPES) and not _is_library(obj.__module__):
                objects[f"{obj.__module__}.{name}"] = _Constant(namespace[name])
        candidates = [namespace[n] for n in used]
        if isinstance(obj, type):
            candidates += [b for b in obj.__mro__[1:] if b not in (Experiment, object)]
        for value in candidates:
            if isinstance(value, types.ModuleType):  # a module, or a LazyModule not imported yet
                if _is_library(value.__name__):
                    modules.update(_modules_read(value.__name__, names))
                continue
            module = getattr(value, "__module__", None)
            ours = isinstance(module, str) and (module.startswith(_PACKAGE + ".") or module == root.__module__)
            if not ours or module in _NOT_COMPUTATION:
                continue
            if _is_library(module):
                modules.add(module)
            elif inspect.isfunction(value) or inspect.isclass(value):
                stack.append(value)
    return objects, modules


_CONSTANT_TYPES = (int, float, str, bytes, bool, tuple, list, dict, frozenset, set, type(None))


@dataclass(frozen=True)
class _Constant:
    """A module-level constant reached by an experiment: hashed by its ``repr``."""

    value: Any


def code_dependencies(cls: Any) -> tuple[list[str], list[str]]:
    """What an experiment's run executes: ``(objects, library_modules)``.

    ``objects`` are the qualified names of the experiment class and of every function,
    class or constant of a chapter module (or of the caller's own module) it reaches
    through global names, hashed by source (constants by ``repr``); ``library_modules`` are the package modules it
    reaches, hashed whole and closed under their imports. Presentation and storage
    modules (``plots``, ``report``, ``runs``, ``experiments``) are never part of it.
    """
    objects, modules = _walk(cls)
    return sorted(objects), _library_closure(modules)


def _normalized(source: str) -> bytes:
    """The syntax tree of ``source`` without docstrings, comments or layout: what the code does."""
    tree = ast.parse(textwrap.dedent(source))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, include_attributes=False).encode()


def _object_source(obj: Any) -> bytes:
    """Normalised source of a function or class (a constant's ``repr``; compiled code where no source)."""
    if isinstance(obj, _Constant):
        return repr(obj.value).encode()
    try:
        return _normalized(inspect.getsource(obj))
    except (OSError, TypeError, SyntaxError):
        code = getattr(obj, "__code__", None)
        return code.co_code + repr(code.co_consts).encode() if code is not None else repr(obj).encode()


@cache
def _module_digest(module: str) -> str:
    origin = _source_file(module)
    if origin is None:
        raise ModuleNotFoundError(f"No source file for module {module!r}")
    return hashlib.sha256(_normalized(origin.read_text())).hexdigest()


@cache
def code_fingerprint(cls: Any) -> str:
    """SHA-256 prefix of the code an experiment's run executes (:func:`code_dependencies`)
    and of :func:`library_versions`.

    Code is hashed as its syntax tree without docstrings and comments, so editing a
    docstring, a comment, a plot, a table, a scorecard or a notebook changes no
    fingerprint; editing a loss changes the fingerprints of the experiments that reach
    it, and only those.
    """
    objects, reached = _walk(cls)
    digest = hashlib.sha256()
    for qual in sorted(objects):
        digest.update(qual.encode())
        digest.update(_object_source(objects[qual]))
    for module in _library_closure(reached):
        digest.update(module.encode())
        digest.update(_module_digest(module).encode())
    digest.update(json.dumps(library_versions(), sort_keys=True).encode())
    return digest.hexdigest()[:16]


@lru_cache(maxsize=1)
def library_versions() -> dict[str, str]:
    """Versions of the numerical libraries a result depends on: torch, numpy, scikit-learn, POT."""
    from importlib.metadata import version

    return {name: version(name) for name in ("torch", "numpy", "scikit-learn", "pot")}


# --------------------------------------------------------------------------- grids and chapters


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def plural(name: str) -> str:
    """``seed`` -> ``seeds``, ``criterion`` -> ``criteria``, ``alpha`` -> ``alphas``."""
    return _PLURALS.get(name, name + ("es" if name.endswith(("s", "x")) else "s"))


@dataclass(frozen=True)
class Grid:
    """A base experiment and the fields it is swept over.

    Parameters
    ----------
    base : Experiment
        Values of the fields that are not swept (a swept field's base value is ignored).
    sweep : mapping
        Field -> the values it takes; runs are the product, in the order given. An
        empty sequence gives a grid with no runs (an experiment the profile skips);
        the parameter then accepts an empty list.
    group : str, optional
        Prefix of the chapter parameters that set this grid (grids sharing a group
        share their parameters); ``None``: no prefix.
    fixed : tuple of str
        Fields the profile fixes: not chapter parameters.
    follow : mapping
        Field -> id of another grid of the chapter: the field holds that grid's base
        experiment, overrides included (a student's teacher follows the teacher grid's
        recipe). Not chapter parameters.
    """

    base: Experiment
    sweep: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    group: str | None = None
    fixed: tuple[str, ...] = ()
    follow: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.base, Experiment):
            raise TypeError(f"Expected `base` to be an Experiment, got {self.base!r}")
        fields = _fields(type(self.base))
        for name in [*self.sweep, *self.fixed, *self.follow]:
            if name not in fields:
                raise ValueError(
                    f"Expected a field of {type(self.base).__name__} in `sweep`/`fixed`/`follow`, got {name!r}"
                )
        checked = {}
        for name, values in self.sweep.items():
            annotation, info = fields[name]
            checked[name] = tuple(check_value(name, v, annotation, info) for v in values)
        object.__setattr__(self, "sweep", checked)
        object.__setattr__(self, "fixed", tuple(self.fixed))
        object.__setattr__(self, "follow", dict(self.follow))

    def runs(self) -> list[Experiment]:
        """Every run of the grid: the base with each combination of the swept values."""
        names = list(self.sweep)
        return [
            self.base.replace(**dict(zip(names, combo, strict=True)))
            for combo in itertools.product(*self.sweep.values())
        ]


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
        return out

    def parse(self, text: str) -> Any:
        """Parse and validate a command-line value (``"3"``, ``"0,1,2"``, ``"true"``)."""
        return self.check(parse_text(self.name, text, self.annotation))


class Chapter:
    """A chapter: its notebook source, and its experiment grids per profile.

    Parameters
    ----------
    name, source, title : str
        Runner name, MyST source under ``book/``, title.
    profiles : mapping
        Profile -> grid id -> :class:`Grid`. Every profile has the same grid ids.
    shared : tuple of str
        Fields whose parameter is not prefixed by the group (``seed``, ``device``...).
    """

    def __init__(
        self,
        name: str,
        source: str,
        title: str,
        profiles: Mapping[str, Mapping[str, Grid]],
        shared: Sequence[str] = ("seed", "device"),
    ) -> None:
        if not profiles or "quick" not in profiles:
            raise ValueError(f"Expected a 'quick' profile in `profiles`, got {list(profiles)}")
        for p in profiles:
            if p not in PROFILES:
                raise ValueError(f"Expected profiles among {list(PROFILES)}, got {p!r}")
        ids = [list(g) for g in profiles.values()]
        if any(i != ids[0] for i in ids):
            raise ValueError(f"Expected every profile of {name!r} to declare the same grids, got {ids}")
        for grids in profiles.values():
            for gid, grid in grids.items():
                for other in grid.follow.values():
                    if other not in grids or other == gid:
                        raise ValueError(f"Expected `follow` of grid {gid!r} to name another grid, got {other!r}")
        self.name, self.source, self.title = name, source, title
        self.profiles = {p: dict(g) for p, g in profiles.items()}
        self.shared = tuple(shared)
        self.parameters = self._derive_parameters()

    def __repr__(self) -> str:
        return f"Chapter({self.name!r}, profiles={list(self.profiles)}, parameters={list(self.parameters)})"

    def _param_name(self, grid: Grid, fname: str) -> str:
        base = fname if (grid.group is None or fname in self.shared) else f"{grid.group}_{fname}"
        return plural(base) if fname in grid.sweep else base

    def _derive_parameters(self) -> dict[str, Parameter]:
        found: dict[str, dict[str, Any]] = {}
        for profile, grids in self.profiles.items():
            for gid, grid in grids.items():
                for fname, (annotation, info) in _fields(type(grid.base)).items():
                    if fname in grid.fixed or fname in grid.follow:
                        continue
                    swept = fname in grid.sweep
                    pname = self._param_name(grid, fname)
                    value = list(grid.sweep[fname]) if swept else getattr(grid.base, fname)
                    if isinstance(value, Experiment):
                        raise TypeError(f"Field `{fname}` of grid {gid!r} holds an experiment: list it in `fixed`")
                    value = list(value) if isinstance(value, tuple) else value
                    ann = tuple[annotation, ...] if swept else annotation
                    entry = found.setdefault(pname, {"ann": ann, "info": info, "targets": [], "values": {}})
                    if entry["ann"] != ann or entry["info"] != info:
                        raise TypeError(f"Parameter {pname!r} of chapter {self.name!r} is declared twice differently")
                    if (gid, fname) not in entry["targets"]:
                        entry["targets"].append((gid, fname))
                    if entry["values"].setdefault(profile, value) != value:
                        raise ValueError(
                            f"Parameter {pname!r} of chapter {self.name!r} has two values in profile {profile!r}: "
                            f"{entry['values'][profile]!r} and {value!r} (give the grids different groups)"
                        )
        return {
            n: Parameter(n, e["ann"], e["info"], tuple(e["targets"]), e["values"]) for n, e in sorted(found.items())
        }

    def check_profile(self, profile: Any) -> str:
        """Return ``profile`` if this chapter implements it, else raise naming the profiles it has."""
        if profile not in self.profiles:
            raise ValueError(
                f"Expected `profile` to be one of {list(self.profiles)} for chapter {self.name!r}, got {profile!r}"
            )
        return profile

    def check_names(self, names: Sequence[str] | Mapping[str, Any]) -> None:
        """Raise ``KeyError`` naming every name that is not a parameter of this chapter."""
        unknown = [n for n in names if n not in self.parameters and n != "profile"]
        if unknown:
            raise KeyError(
                f"Unknown parameter(s) {unknown} for chapter {self.name!r}; "
                f"its parameters are profile, {', '.join(self.parameters)}"
            )

    def configure(self, profile: str = "quick", **given: Any) -> Config:
        """The profile's grids with the given (non-``None``) parameters applied, all validated."""
        self.check_profile(profile)
        self.check_names(given)
        values = {n: p.values.get(profile) for n, p in self.parameters.items()}
        grids = dict(self.profiles[profile])
        changes: dict[str, dict[str, Any]] = {}  # base fields per grid, applied at once (fields checked together)
        for pname, value in given.items():
            if value is None:
                continue
            par = self.parameters[pname]
            value = par.check(value)
            values[pname] = list(value) if isinstance(value, tuple) else value
            for gid, fname in par.targets:
                grid = grids[gid]
                if fname in grid.sweep:
                    grids[gid] = dataclasses.replace(grid, sweep={**grid.sweep, fname: value})
                else:
                    changes.setdefault(gid, {})[fname] = value
        for gid, fields in changes.items():
            grids[gid] = dataclasses.replace(grids[gid], base=grids[gid].base.replace(**fields))
        for gid, grid in grids.items():
            if grid.follow:
                followed = {fname: grids[other].base for fname, other in grid.follow.items()}
                grids[gid] = dataclasses.replace(grid, base=grid.base.replace(**followed))
        return Config(self, profile, grids, {"profile": profile, **values})

    def from_namespace(self, namespace: Mapping[str, Any]) -> Config:
        """:meth:`configure` from a notebook's globals after its ``parameters`` cell.

        Every global that is not private, a module, a function or a class must be a
        parameter of the chapter: a name injected by papermill that the chapter does not
        have is an error here, as it is in the runner.
        """
        skip = {"In", "Out", "get_ipython", "exit", "quit", "open"}
        given = {
            k: v
            for k, v in namespace.items()
            if not k.startswith("_")
            and k not in skip
            and not isinstance(v, types.ModuleType | type)
            and not callable(v)
        }
        profile = given.pop("profile", "quick")
        return self.configure(profile, **given)

    def source_path(self, book_dir: str | Path) -> Path:
        """Path of the chapter's MyST Markdown notebook under ``book_dir``."""
        return Path(book_dir) / self.source

    def smoke_values(self, profile: str) -> dict[str, Any]:
        """Parameter values that cut ``profile`` to a smoke run: one seed, one epoch.

        Every parameter named ``seeds`` keeps its first value; every other swept numeric
        parameter (strengths, temperatures) keeps its first and last values (the two ends of a
        sweep, where code paths differ: 0 is often "off"); swept choices (criteria, methods)
        are all kept. Every integer parameter named ``epochs`` or ``*_epochs`` becomes 1 (0
        for a warm-up).
        With ``$C2F_SMOKE`` set, :func:`~c2f_utils.train.fit` also stops each epoch after a
        few batches (``c2f_utils.train.SMOKE_BATCHES``, 2).
        """
        self.check_profile(profile)
        out: dict[str, Any] = {}
        for name, par in self.parameters.items():
            value = par.values.get(profile)
            if name == "seeds" and isinstance(value, list) and value:
                out[name] = value[:1]
            elif isinstance(value, list) and len(value) > 2 and all(_is_number(v) for v in value):
                out[name] = [value[0], value[-1]]
            elif (name == "epochs" or name.endswith("_epochs")) and isinstance(value, int):
                out[name] = 0 if "warmup" in name else min(value, 1)
        return out

    def describe(self) -> Iterator[str]:
        """Lines for ``--list``: every parameter with type, bounds or choices and profile values."""
        yield f"{self.name}: {self.title} (book/{self.source}); profiles: {', '.join(self.profiles)}"
        for p in self.parameters.values():
            allowed = p.info.describe()
            values = ", ".join(f"{k}={v!r}" for k, v in p.values.items())
            yield f"  {p.name} ({p.type_name}{'; ' + allowed if allowed else ''}; {values}): {p.info.help}"


@dataclass(frozen=True)
class Config:
    """A chapter configured for one profile and overrides: its grids and parameter values."""

    chapter: Chapter
    profile: str
    grids: Mapping[str, Grid]
    values: Mapping[str, Any]
    store: Path | None = None
    """Folder of committed runs (:func:`c2f_utils.evidence.committed`): ``results`` then
    reads them only, and never computes."""

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def grid(self, gid: str) -> Grid:
        """The grid ``gid`` (raises naming the chapter's grids if there is none)."""
        if gid not in self.grids:
            raise KeyError(f"Expected a grid of chapter {self.chapter.name!r} among {list(self.grids)}, got {gid!r}")
        return self.grids[gid]

    def runs(self, gid: str) -> list[Experiment]:
        """The runs of grid ``gid``, in order."""
        return self.grid(gid).runs()

    def results(self, gid: str, progress: bool | None = None):
        """Run (or read from the cache) every run of grid ``gid``; returns their RunResults.

        ``progress``: show a bar over the runs (default: :func:`c2f_utils.progress.progress_mode`).
        """
        from .progress import progress_bar

        if self.store is not None:
            from .evidence import read_grid

            return read_grid(self, gid)
        runs = self.runs(gid)
        bar = progress_bar(runs, desc=f"{self.chapter.name}.{gid}", unit="run", enabled=progress)
        return [r.cached() for r in bar]

    def result(self, exp: Experiment):
        """One run's result (a grid's run or one it requires), computed or cached, or committed
        (read only) when the configuration reads committed runs."""
        if self.store is not None:
            from .evidence import read_committed

            return read_committed(self, "", exp)
        return exp.cached()

    def plan(self) -> list[tuple[str, Experiment]]:
        """Every run the chapter executes, as ``(grid id, experiment)``, required runs first, no repeats."""
        out: list[tuple[str, Experiment]] = []
        seen: set[str] = set()

        def add(gid: str, exp: Experiment) -> None:
            for dep in exp.requires():
                add(gid, dep)
            key = f"{exp.name}/{exp.key()}"
            if key not in seen:
                seen.add(key)
                out.append((gid, exp))

        for gid, grid in self.grids.items():
            for exp in grid.runs():
                add(gid, exp)
        return out

    def check_data(self) -> list[str]:
        """Every problem with the files the planned runs need, each reported once."""
        problems: list[str] = []
        seen: set[tuple[str, tuple[str, ...]]] = set()
        for _, exp in self.plan():
            needs = (type(exp).__name__, tuple(exp.data_needs()))
            if needs in seen:  # the files a run needs follow from its class and datasets
                continue
            seen.add(needs)
            problems += [p for p in exp.check_data() if p not in problems]
        return problems

    def plan_records(self, cache_dir: str | None = None) -> list[dict[str, Any]]:
        """:meth:`plan` as JSON-ready records (what ``--plan`` prints, one per line)."""
        return [
            {
                "chapter": self.chapter.name,
                "profile": self.profile,
                "grid": gid,
                "experiment": exp.name,
                "params": exp.params(),
                "key": exp.key(),
                "cached": exp.is_cached(cache_dir),
            }
            for gid, exp in self.plan()
        ]
