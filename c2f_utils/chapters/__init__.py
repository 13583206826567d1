"""Chapter parameters: the contract between a notebook, its profiles and the runner.

Each chapter declares its parameters once, as a :class:`ChapterSpec`: a name, a type
and a default per profile (``quick``: offline, embedded data, CPU, minutes;
``paper``: the paper's data and recipe, GPU). The notebook's ``parameters`` cell sets
``profile`` and leaves every other parameter ``None``; :meth:`ChapterSpec.resolve`
fills the ``None`` values from the profile, so explicit values override the profile.
The runner (``python -m c2f_utils.run``) checks names and types against the same spec
before any work starts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["CHAPTERS", "PROFILES", "ChapterSpec", "Param", "get", "load_all", "register"]

PROFILES = ("quick", "paper")
_TYPES = ("int", "float", "str", "bool", "list[int]", "list[float]", "list[str]")
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


@dataclass(frozen=True)
class Param:
    """One notebook parameter: its type, a default per profile, and what it means."""

    type: str
    quick: Any
    paper: Any
    help: str
    choices: tuple[Any, ...] | None = None

    def __post_init__(self) -> None:
        if self.type not in _TYPES:
            raise ValueError(f"Expected `type` in {list(_TYPES)}, got {self.type!r}")

    def _element_type(self) -> tuple[str, bool]:
        """``("int", True)`` for ``"list[int]"``, ``("int", False)`` for ``"int"``."""
        is_list = self.type.startswith("list[")
        return (self.type[5:-1] if is_list else self.type), is_list

    def check(self, name: str, value: Any) -> Any:
        """Return ``value`` (ints accepted as floats) if it has this parameter's type, else raise."""
        base, is_list = self._element_type()
        items = value if is_list else [value]
        if is_list and not isinstance(value, list | tuple):
            raise TypeError(f"Expected parameter `{name}` to be a list of {base}, got {value!r}")
        out = []
        for v in items:
            ok = {
                "int": isinstance(v, int) and not isinstance(v, bool),
                "float": isinstance(v, int | float) and not isinstance(v, bool),
                "str": isinstance(v, str),
                "bool": isinstance(v, bool),
            }[base]
            if not ok:
                raise TypeError(f"Expected parameter `{name}` of type {self.type}, got {value!r}")
            out.append(float(v) if base == "float" else v)
            if self.choices is not None and v not in self.choices:
                raise ValueError(f"Expected parameter `{name}` in {list(self.choices)}, got {v!r}")
        return out if is_list else out[0]

    def parse(self, name: str, text: str) -> Any:
        """Parse a command-line string: ``"3"``, ``"0.1"``, ``"true"``, ``"0,1,2"`` or ``"[0, 1, 2]"``."""
        base, is_list = self._element_type()
        if is_list:
            text = text.strip()
            parts = json.loads(text) if text.startswith("[") else [p.strip() for p in text.split(",") if p.strip()]
            return self.check(name, [self._parse_one(name, base, str(p)) for p in parts])
        return self.check(name, self._parse_one(name, base, text))

    @staticmethod
    def _parse_one(name: str, base: str, text: str) -> Any:
        try:
            if base == "int":
                return int(text)
            if base == "float":
                return float(text)
        except ValueError:
            raise TypeError(f"Expected parameter `{name}` of type {base}, got {text!r}") from None
        if base == "bool":
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise TypeError(f"Expected parameter `{name}` to be true or false, got {text!r}")
        return text


@dataclass(frozen=True)
class ChapterSpec:
    """A chapter: its notebook source under ``book/`` and its parameters."""

    name: str
    source: str
    title: str
    params: Mapping[str, Param] = field(default_factory=dict)

    def defaults(self, profile: str = "quick") -> dict[str, Any]:
        """Every parameter's default in ``profile``."""
        _check_profile(profile)
        return {k: getattr(p, profile) for k, p in self.params.items()}

    def check_names(self, names: list[str] | tuple[str, ...] | Mapping[str, Any]) -> None:
        """Raise if a name is not a parameter of this chapter."""
        unknown = [n for n in names if n not in self.params and n != "profile"]
        if unknown:
            raise KeyError(
                f"Unknown parameter(s) {unknown} for chapter {self.name!r}; "
                f"its parameters are profile, {', '.join(self.params)}"
            )

    def resolve(self, profile: str = "quick", **given: Any) -> dict[str, Any]:
        """The chapter's parameters: ``given`` values where not None, else the profile's defaults."""
        _check_profile(profile)
        self.check_names(given)
        out = {"profile": profile}
        for name, param in self.params.items():
            value = given.get(name)
            out[name] = getattr(param, profile) if value is None else param.check(name, value)
        return out

    def source_path(self, book_dir: Path | None = None) -> Path:
        """Path of the chapter's MyST Markdown notebook."""
        return (book_dir or default_book_dir()) / self.source


def _check_profile(profile: str) -> None:
    if profile not in PROFILES:
        raise ValueError(f"Expected `profile` in {list(PROFILES)}, got {profile!r}")


def default_book_dir() -> Path:
    """The ``book/`` folder of the source tree this package was installed from."""
    return Path(__file__).resolve().parents[2] / "book"


CHAPTERS: dict[str, ChapterSpec] = {}


def register(spec: ChapterSpec) -> ChapterSpec:
    """Add a chapter to :data:`CHAPTERS`."""
    if spec.name in CHAPTERS and CHAPTERS[spec.name] != spec:
        raise ValueError(f"A chapter named {spec.name!r} is already registered")
    CHAPTERS[spec.name] = spec
    return spec


def load_all() -> dict[str, ChapterSpec]:
    """Import every chapter module of this package (each registers its spec) and return the registry."""
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return CHAPTERS


def get(name: str) -> ChapterSpec:
    """The registered chapter ``name``."""
    load_all()
    if name not in CHAPTERS:
        raise KeyError(f"Unknown chapter {name!r}; chapters: {sorted(CHAPTERS)}")
    return CHAPTERS[name]
