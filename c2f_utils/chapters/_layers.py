"""The computing layers the chapter modules call, bound as lazy modules.

A chapter module imports them from here (``from ._layers import c2f_data, c2f_train, torch``)
instead of importing them: listing or planning a chapter (``--list``, ``--plan``) then
imports no torch, and the first attribute a run reads imports the real module
(:mod:`c2f_utils._lazy`). Run fingerprints follow these objects to the library modules by
name (:func:`c2f_utils.experiments.code_dependencies`).
"""

from __future__ import annotations

from .._lazy import lazy_module

__all__ = [
    "c2f_data",
    "c2f_folders",
    "c2f_losses",
    "c2f_models",
    "c2f_probes",
    "c2f_train",
    "c2f_weights",
    "nn",
    "torch",
]

c2f_data = lazy_module("c2f_utils.data")
c2f_folders = lazy_module("c2f_utils.data.folders")
c2f_losses = lazy_module("c2f_utils.losses")
c2f_models = lazy_module("c2f_utils.models")
c2f_probes = lazy_module("c2f_utils.probes")
c2f_train = lazy_module("c2f_utils.train")
c2f_weights = lazy_module("c2f_utils.weights")
nn = lazy_module("torch.nn")
torch = lazy_module("torch")
