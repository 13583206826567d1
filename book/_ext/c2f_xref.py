"""Sphinx extension: resolve a Python reference by importing it.

The API pages document every object once, in the module that defines it
(``c2f_utils.probes.linear.linear_probe``). Chapters and docstrings refer to objects
by their public, re-exported names (``c2f_utils.probes.linear_probe``) or, inside a
module's docstrings, by short names (``anchor_entropy``). When Sphinx cannot find such
a target, this handler imports it, finds where the object is defined and resolves the
reference there. Names outside ``c2f_utils`` are left alone (the build is offline:
no intersphinx inventories).

A reference that stays unresolved is recorded when it names a ``c2f_utils`` object or
when it is written in a chapter (not in a docstring); the list is written to
``UNRESOLVED`` in the output folder, where ``tasks.py book`` reads it and fails.
"""

from __future__ import annotations

import importlib
import inspect
import json
import sys
from pathlib import Path
from typing import Any

PACKAGE = "c2f_utils"
UNRESOLVED = "unresolved-python-references.json"


def _import(dotted: str) -> tuple[Any, str] | None:
    """The object named ``dotted`` and the module it was found in, or None."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        owner = obj
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return None
            owner, obj = obj, getattr(obj, attr)
        return obj, getattr(owner, "__name__", "")
    return None


def canonical(target: str, module: str | None) -> str | None:
    """Where the object named ``target`` (seen from ``module``) is documented."""
    target = target.removeprefix("~").removesuffix("()")
    candidates = [f"{module}.{target}"] if module else []
    candidates.append(target)
    for name in candidates:
        if not name.startswith(PACKAGE):
            continue
        found = _import(name)
        if found is None:
            continue
        obj, owner = found
        if inspect.ismodule(obj):
            return obj.__name__ if obj.__name__.startswith(PACKAGE) else None
        if inspect.isclass(obj) or inspect.isroutine(obj):
            defined = getattr(obj, "__module__", "") or ""
            return f"{defined}.{obj.__qualname__}" if defined.startswith(PACKAGE) else None
        return _data_home(owner, name.rsplit(".", 1)[-1], obj)
    return None


def _data_home(owner: str, attr: str, obj: Any = None) -> str:
    """Where data (a constant, a type alias) is documented: in the module that holds it or, when
    that is a package re-exporting it (``c2f_utils.report.VERDICTS``), in its module whose
    ``__all__`` names it (``c2f_utils.report.policy.VERDICTS``); a name a module imported from
    another (a type alias in a signature) is documented where ``__all__`` names that object."""
    package = sys.modules.get(owner)
    if package is not None and hasattr(package, "__path__"):
        for name, module in sorted(sys.modules.items()):
            if name.startswith(f"{owner}.") and attr in getattr(module, "__all__", ()):
                return f"{name}.{attr}"
    if package is not None and attr not in getattr(package, "__all__", ()) and obj is not None:
        for name, module in sorted(sys.modules.items()):
            if not name.startswith(PACKAGE) or not isinstance(getattr(module, "__all__", None), list | tuple):
                continue
            if attr in module.__all__ and getattr(module, attr, None) is obj:
                return f"{name}.{attr}"
    return f"{owner}.{attr}"


def _missing_reference(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"]
    real = canonical(target, node.get("py:module"))
    if real is not None and real != target:
        domain = env.get_domain("py")
        for kind in (node["reftype"], "obj"):
            resolved = domain.resolve_xref(env, node["refdoc"], app.builder, kind, real, node, contnode)
            if resolved is not None:
                return resolved
    in_chapter = not node["refdoc"].startswith("book/api/")
    if in_chapter or real is not None or target.lstrip("~.").startswith(PACKAGE):
        app.env.c2f_unresolved = [*getattr(app.env, "c2f_unresolved", []), [node["refdoc"], target]]
    return None


def _write_unresolved(app, exception) -> None:
    if exception is None:
        found = sorted({tuple(x) for x in getattr(app.env, "c2f_unresolved", [])})
        (Path(app.outdir) / UNRESOLVED).write_text(json.dumps(found, indent=1))


def setup(app):
    app.connect("missing-reference", _missing_reference)
    app.connect("build-finished", _write_unresolved)
    return {"parallel_read_safe": True, "parallel_write_safe": False}
