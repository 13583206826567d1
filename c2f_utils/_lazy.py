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
    without any import; any other attribute is read from the real module (imported once,
    by :func:`importlib.import_module`, the import machinery's cache serving later reads).
    """

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name or not all(part.isidentifier() for part in name.split(".")):
            raise ValueError(f"Expected `name` to be a dotted module name, got {name!r}")
        super().__init__(name)

    def _module(self) -> types.ModuleType:
        return importlib.import_module(self.__name__)

    def __getattr__(self, attribute: str) -> Any:
        # Called only for attributes this object lacks: everything but __name__, __doc__ and the like.
        if attribute.startswith("__") and attribute.endswith("__"):
            raise AttributeError(attribute)  # copy, pickle and inspect probing dunders: no import
        return getattr(self._module(), attribute)

    def __dir__(self) -> list[str]:
        return dir(self._module())

    def __repr__(self) -> str:
        loaded = "imported" if self.__name__ in sys.modules else "not imported yet"
        return f"<lazy module {self.__name__!r} ({loaded})>"


def lazy_module(name: str) -> LazyModule:
    """Module ``name`` as a :class:`LazyModule`: imported on the first read of an attribute.

    Examples
    --------
    >>> nn = lazy_module("torch.nn")    # torch is not imported yet
    >>> layer = nn.Linear(2, 3)         # now it is
    """
    return LazyModule(name)
