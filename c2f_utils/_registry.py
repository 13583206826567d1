"""Named constructors, the pattern of timm's ``create_model``: ``create(name, **options)``.

A :class:`Registry` maps a name to the function that builds it. The library's families
(:func:`c2f_utils.models.create`, :func:`c2f_utils.losses.create`) each keep one, so a chapter
declares what it builds as data, ``(name, options)``, and builds it with one call.

Names and options are checked before anything is built: an unknown name is a
:class:`ValueError` naming the known ones, an unknown option a :class:`TypeError` naming the
options the constructor takes, each with the nearest spelling ("did you mean"). Values are
checked by the constructors themselves, whose messages name the argument.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Mapping
from typing import Any


def _suggestion(value: str, known: list[str]) -> str:
    close = difflib.get_close_matches(value, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Registry:
    """Constructors of one family (``kind``: "model", "criterion") by name.

    Parameters
    ----------
    kind : str
        What the registry builds, as its messages say it.
    context : tuple of str
        Keywords that describe the problem rather than the choice of constructor (a model's
        ``n_classes`` and ``input_shape``, a criterion's ``n_classes``): :meth:`create` passes
        each to the constructors whose signature names it and leaves it out for the others.
    """

    def __init__(self, kind: str, context: tuple[str, ...] = ()) -> None:
        self.kind = kind
        self.context = context
        self._constructors: dict[str, Callable[..., Any]] = {}

    def register(self, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator: register the decorated function under ``name`` (a new name), unchanged."""
        if not isinstance(name, str) or not name:
            raise TypeError(f"Expected `name` to be a non-empty str, got {name!r}")
        if name in self._constructors:
            raise ValueError(f"Expected a new {self.kind} name, got {name!r}, already registered")

        def decorate(constructor: Callable[..., Any]) -> Callable[..., Any]:
            self._constructors[name] = constructor
            return constructor

        return decorate

    def names(self) -> tuple[str, ...]:
        """The registered names, sorted."""
        return tuple(sorted(self._constructors))

    def constructor(self, name: Any) -> Callable[..., Any]:
        """The constructor registered as ``name``; an unknown name raises :class:`ValueError`."""
        if not isinstance(name, str):
            raise TypeError(f"Expected `name` to be a str (a {self.kind} name), got {name!r}")
        if name not in self._constructors:
            known = list(self.names())
            raise ValueError(
                f"Expected `name` to be one of the {self.kind}s {known}, got {name!r}{_suggestion(name, known)}"
            )
        return self._constructors[name]

    def create(self, name: Any, context: Mapping[str, Any], options: Mapping[str, Any]) -> Any:
        """Build ``name`` from the ``context`` keywords it takes and every one of ``options``."""
        constructor = self.constructor(name)
        params = inspect.signature(constructor).parameters
        accepted = [p for p in params if p not in self.context]
        unknown = [k for k in options if k not in accepted]
        if unknown:
            hint = _suggestion(unknown[0], accepted)
            raise TypeError(f"Unknown option(s) {unknown} of {self.kind} {name!r}: it takes {accepted}{hint}")
        given = {k: v for k, v in context.items() if k in params and v is not None}
        missing = [
            p.name
            for p in params.values()
            if p.default is inspect.Parameter.empty and p.name not in {**given, **options}
        ]
        if missing:
            raise TypeError(f"Expected `{missing[0]}` to build the {self.kind} {name!r}, got none")
        return constructor(**given, **options)
