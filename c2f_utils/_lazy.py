"""Modules imported on first use, so that listing and planning a chapter never import torch.

``python -m c2f_utils.run --list`` and ``--plan`` read the chapters' declarations (their
experiments' parameters and grids) and hash their code; neither executes a run. The
chapter modules and the few library modules they load at import bind torch, POT,
scikit-learn and the computing parts of the library as :class:`LazyModule` objects:
the real module is imported when code first reads one of its attributes, that is when
a run, a probe or a figure is computed.

Why not an existing package: ``importlib.util.LazyLoader`` (and ``lazy_loader.load``,
built on it) imports a submodule's parents eagerly, so ``torch.nn`` would import
torch; proxy-based shims (``lazy-importer``) hand out proxies of classes and functions,
which ``isinstance`` and the run fingerprints (:func:`c2f_utils.experiments.code_fingerprint`
follows module objects by name) would not see through. A :class:`LazyModule` *is* a
module object with the real module's ``__name__``, so the fingerprints follow it
without importing it, and each attribute read resolves to the real module's attribute.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

__all__ = ["LazyModule", "lazy_module"]


class LazyModule(types.ModuleType):
    """Stand-in for module ``name`` that imports it when one of its attributes is first read.

    ``isinstance(m, types.ModuleType)`` holds and ``m.__name__`` is the real module's name,
    without any import; any other attribute is read from the real module, imported once by
    :func:`importlib.import_module`. At that first read the real module replaces this object
    in every module of this package that holds it, so their later reads cost nothing extra.
    """

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name or not all(part.isidentifier() for part in name.split(".")):
            raise ValueError(f"Expected `name` to be a dotted module name, got {name!r}")
        super().__init__(name)

    def _module(self) -> types.ModuleType:
        own = super().__getattribute__("__dict__")
        module = own.get("__lazy_target__")
        if module is None:  # the first read: import it once
            module = own["__lazy_target__"] = importlib.import_module(own["__name__"])
            _rebind(self, module)
        return module

    def __getattribute__(self, attribute: str) -> Any:
        # Every read goes to the real module, live (a patched attribute is seen), without raising
        # and catching an AttributeError each time as a __getattr__ fallback would (~5 us a read).
        # This object's own dunders (__name__, __dict__, __class__) are read without any import.
        if attribute.startswith("__") and attribute.endswith("__"):
            try:
                return super().__getattribute__(attribute)
            except AttributeError:
                if "__lazy_target__" not in super().__getattribute__("__dict__"):
                    raise  # copy, pickle and inspect probing dunders: no import
        return getattr(LazyModule._module(self), attribute)

    def __dir__(self) -> list[str]:
        return dir(LazyModule._module(self))

    def __repr__(self) -> str:
        loaded = "imported" if self.__name__ in sys.modules else "not imported yet"
        return f"<lazy module {self.__name__!r} ({loaded})>"


def _rebind(lazy: LazyModule, module: types.ModuleType) -> None:
    """Bind ``module`` in place of ``lazy`` wherever a module of this package holds it
    (``from ._layers import torch`` copies the binding), so that later reads are plain module
    reads: argument checks read ``torch`` in every training step."""
    package = __name__.partition(".")[0]
    for name, holder in list(sys.modules.items()):
        if name == package or name.startswith(package + "."):
            namespace = getattr(holder, "__dict__", {})
            for key in [k for k, v in namespace.items() if v is lazy]:
                namespace[key] = module


def lazy_module(name: str) -> LazyModule:
    """Module ``name`` as a :class:`LazyModule`: imported on the first read of an attribute.

    Examples
    --------
    >>> nn = lazy_module("torch.nn")    # torch is not imported yet
    >>> layer = nn.Linear(2, 3)         # now it is
    """
    return LazyModule(name)
