"""Notebook binding: a chapter's parameters read from a notebook's globals.

A chapter notebook's ``parameters`` cell (the one papermill injects values into) sets two
globals: ``profile`` and ``overrides``, a dict keyed by the chapter's parameter names
(``{"unmix.lams": [0.3, 1.0]}``: one name per parameter, ``EXPERIMENT.FIELD``, as in the
runner and the code). Its configuration cell hands the notebook's globals to
:meth:`~c2f_utils.experiments.Chapter.from_namespace`, which reads them with
:func:`declared_globals`. Only declared names are read: the configuration cell can be run
again after later cells made globals of their own (``config``, a figure, an install cell's
leftovers), as a reader does after editing a parameter.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["declared_globals"]


def declared_globals(
    namespace: Mapping[str, Any], names: Sequence[str], chapter: str, rename: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The globals of ``namespace`` named in ``names`` (``profile``, ``overrides`` and the
    parameters a former notebook set as globals).

    Every other global is ignored, except one whose name is one letter or two away from a
    declared name (``a_lrr`` for ``a_lr``: a misspelt name injected by papermill): that is an
    error naming ``chapter`` and suggesting the parameter (through ``rename``, former name ->
    parameter), as it is in the runner. Private names, modules, classes and functions are
    never parameters.
    """
    rename = rename or {}
    names = list(names)
    candidates = [
        k
        for k, v in namespace.items()
        if not k.startswith("_") and k not in names and not isinstance(v, types.ModuleType | type) and not callable(v)
    ]
    misspelt = {k: close[0] for k in candidates if (close := difflib.get_close_matches(k, names, n=1, cutoff=0.85))}
    if misspelt:
        hints = ", ".join(f"{k!r} (did you mean {rename.get(v, v)!r}?)" for k, v in misspelt.items())
        raise KeyError(f"Unknown parameter(s) {hints} for chapter {chapter!r}")
    return {k: namespace[k] for k in names if k in namespace}
